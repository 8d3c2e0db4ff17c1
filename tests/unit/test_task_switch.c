/* Host unit tests for hardware task switches (vmx/task_switch.c): the state machine task_switch()
 * on a struct ts_cpu over the fake guest RAM, and exit_task_switch on the fake VMCS.
 * Rules: SDM Vol. 3A 7.3 (the steps, Table 7-1 for the faults), 7.2.1 and 7.6 (the 32- and
 * 16-bit TSS), 7.4 (busy flag, NT, back link), 6.15 Table 6-5 (an exception while delivering
 * one); Vol. 3C Table 28-2 (the exit qualification). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

/* Guest memory (paging off: linear = physical). */
#define GDT      0x10000u
#define TSS_A    0x20000u           /* 32-bit, the current task */
#define TSS_B    0x21000u           /* 32-bit, available */
#define TSS_C    0x22000u           /* 16-bit, available */
#define LDT_MEM  0x23000u
#define TSS_D    0x24000u           /* 16-bit, busy */
#define STACK_B  0x30000u           /* the new task's ESP */
#define EIP_B    0x5000u

enum {
    SEL_CODE = 0x08, SEL_DATA = 0x10, SEL_A = 0x18, SEL_B = 0x20, SEL_C = 0x28, SEL_LDT = 0x30,
    SEL_DATA3 = 0x38, SEL_DATA_NP = 0x40, SEL_XONLY = 0x48, SEL_RODATA = 0x50, SEL_CODE_NP = 0x58,
    SEL_TSS_SMALL = 0x60, SEL_TSS_NP = 0x68, SEL_LDT_NP = 0x70, SEL_D = 0x78, SEL_CODE64K = 0x80,
    SEL_DATA_NA = 0x88, SEL_TSS_UNMAPPED = 0x90, SEL_TSS_NORAM = 0x98, GDT_ENTRIES = 20,
};
#define GDT_LIMIT (GDT_ENTRIES * 8 - 1)

/* A descriptor: access is byte 5 (P DPL S type), flags bits 55:52 (G D/B L AVL). */
static uint64_t desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
    return (limit & 0xFFFF) | (uint64_t)(base & 0xFFFFFF) << 16 | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xF) << 48 | (uint64_t)flags << 52 | (uint64_t)(base >> 24) << 56;
}

static uint64_t *gdt(unsigned sel) { return (uint64_t *)(ram + GDT + (sel & ~7u)); }
static uint32_t rd32(uint32_t a) { uint32_t x; memcpy(&x, ram + a, 4); return x; }
static uint16_t rd16(uint32_t a) { uint16_t x; memcpy(&x, ram + a, 2); return x; }
static void wr32(uint32_t a, uint32_t x) { memcpy(ram + a, &x, 4); }
static void wr16(uint32_t a, uint16_t x) { memcpy(ram + a, &x, 2); }
static unsigned desc_type(unsigned sel) { return (unsigned)(*gdt(sel) >> 40) & 15; }

/* A new 32-bit task: EIP_B, EFLAGS, registers 0xB0..0xB7 (ESP = STACK_B), flat selectors. */
static void tss32_write(uint32_t base, uint32_t eflags, uint16_t cs, uint16_t ss, uint16_t ds, uint16_t ldt)
{
    memset(ram + base, 0, 0x68);
    wr16(base, 0xBEEF);                                 /* back link: a CALL rewrites it */
    wr32(base + 0x1C, 0x7000);                          /* CR3 */
    wr32(base + 0x20, EIP_B);
    wr32(base + 0x24, eflags);
    for (unsigned i = 0; i < 8; i++)
        wr32(base + 0x28 + 4 * i, i == 4 ? STACK_B : 0xB0 + i);
    const uint16_t sel[6] = { ds, cs, ss, ds, ds, ds };
    for (unsigned s = 0; s < 6; s++)
        wr16(base + 0x48 + 4 * s, sel[s]);
    wr16(base + 0x60, ldt);
    wr16(base + 0x66, 0x68);                            /* I/O map base: none */
}

/* The GDT, the LDT and TSS B; the CPU in task A (TR 0x18), flat ring 0. */
static struct ts_cpu cpu;
static unsigned cr3_loads;
static uint32_t cr3_loaded;
static int cr3_result;

static void world(void)
{
    const uint64_t g[GDT_ENTRIES] = {
        [SEL_CODE / 8] = desc(0, 0xFFFFF, 0x9B, 0xC),
        [SEL_DATA / 8] = desc(0, 0xFFFFF, 0x93, 0xC),
        [SEL_A / 8] = desc(TSS_A, 0x67, 0x8B, 0),
        [SEL_B / 8] = desc(TSS_B, 0x67, 0x89, 0),
        [SEL_C / 8] = desc(TSS_C, 0x2B, 0x81, 0),
        [SEL_LDT / 8] = desc(LDT_MEM, 0x17, 0x82, 0),
        [SEL_DATA3 / 8] = desc(0, 0xFFFFF, 0xF3, 0xC),
        [SEL_DATA_NP / 8] = desc(0, 0xFFFFF, 0x13, 0xC),
        [SEL_XONLY / 8] = desc(0, 0xFFFFF, 0x99, 0xC),
        [SEL_RODATA / 8] = desc(0, 0xFFFFF, 0x91, 0xC),
        [SEL_CODE_NP / 8] = desc(0, 0xFFFFF, 0x1B, 0xC),
        [SEL_TSS_SMALL / 8] = desc(0x25000, 0x60, 0x89, 0),
        [SEL_TSS_NP / 8] = desc(0x25000, 0x67, 0x09, 0),
        [SEL_LDT_NP / 8] = desc(LDT_MEM, 0x17, 0x02, 0),
        [SEL_D / 8] = desc(TSS_D, 0x2B, 0x83, 0),
        [SEL_CODE64K / 8] = desc(0, 0xFFFF, 0x9B, 0x4),
        [SEL_DATA_NA / 8] = desc(0x1000, 0xFFFFF, 0x92, 0xC),
        [SEL_TSS_UNMAPPED / 8] = desc(0x400000, 0x67, 0x89, 0),
        [SEL_TSS_NORAM / 8] = desc(0x80000000u, 0x67, 0x89, 0),
    };
    memcpy(ram + GDT, g, sizeof g);
    *(uint64_t *)(ram + LDT_MEM) = desc(0x6000, 0xFFFF, 0x93, 0x4);   /* LDT selector 0x04 */
    tss32_write(TSS_B, 0x2 | RFLAGS_IF, SEL_CODE, SEL_DATA, SEL_DATA, 0);
    memset(&cpu, 0, sizeof cpu);
    for (unsigned i = 0; i < 8; i++)
        cpu.gpr[i] = 0x11111111u * (i + 1);
    cpu.eip = 0x1234;
    cpu.eflags = 0x2 | RFLAGS_ZF;
    cpu.cr0 = CR0_PE | CR0_ET;
    cpu.cr3 = 0x9000;
    cpu.dr7 = 0x400 | 0x3FF;
    cpu.seg[TS_CS] = (struct ts_seg){ SEL_CODE, 0, 0xFFFFFFFF, 0xC09B };
    for (unsigned s = TS_ES; s <= TS_GS; s++)
        if (s != TS_CS)
            cpu.seg[s] = (struct ts_seg){ SEL_DATA, 0, 0xFFFFFFFF, 0xC093 };
    cpu.seg[TS_LDTR] = (struct ts_seg){ 0, 0, 0, TS_AR_UNUSABLE };
    cpu.seg[TS_TR] = (struct ts_seg){ SEL_A, TSS_A, 0x67, 0x8B };
    cpu.gdt_base = GDT;
    cpu.gdt_limit = GDT_LIMIT;
    cr3_loads = 0;
    cr3_loaded = 0;
    cr3_result = 0;
}

/* Guest linear memory for task_switch(): the fake RAM below 2 MiB, nothing mapped from there
 * to 2 GiB (#PF), and no RAM above. */
static int flat_access(uint32_t gla, unsigned len)
{
    if (gla >= 0x80000000u)
        return TS_MEM_NOT_RAM;
    return (uint64_t)gla + len > RAM_SIZE ? TS_MEM_UNMAPPED : 0;
}
static int flat_read(void *ctx, uint32_t gla, void *dst, unsigned len)
{
    (void)ctx;
    int rc = flat_access(gla, len);
    if (!rc)
        memcpy(dst, ram + gla, len);
    return rc;
}
static int flat_write(void *ctx, uint32_t gla, const void *src, unsigned len)
{
    (void)ctx;
    int rc = flat_access(gla, len);
    if (!rc)
        memcpy(ram + gla, src, len);
    return rc;
}
static int flat_load_cr3(void *ctx, uint32_t cr3)
{
    (void)ctx;
    cr3_loads++;
    cr3_loaded = cr3;
    return cr3_result;
}
static const struct ts_ops flat = { NULL, flat_read, flat_write, flat_load_cr3, NULL };

static struct ts_outcome run(uint16_t sel, enum ts_source src)
{
    struct ts_request req = { .sel = sel, .source = src };
    struct ts_outcome out;
    task_switch(&cpu, &flat, &req, &out);
    return out;
}

static void assert_switched(struct ts_outcome o)
{
    if (o.fault || o.crash)
        fail_msg("fault %u(0x%x): %s", o.vector, o.error, o.rule ? o.rule : "?");
    assert_true(o.committed);
}

/* The old task's dynamic fields in its 32-bit TSS (SDM 7.2.1): EIP, EFLAGS, the registers, the
 * selectors, as they were at the switch. */
static void assert_saved_a(uint32_t eflags)
{
    assert_int_equal(rd32(TSS_A + 0x20), 0x1234);
    assert_int_equal(rd32(TSS_A + 0x24), eflags);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(rd32(TSS_A + 0x28 + 4 * i), 0x11111111u * (i + 1));
    assert_int_equal(rd16(TSS_A + 0x4C), SEL_CODE);
    for (unsigned s = 0; s < 6; s++)
        if (s != TS_CS)
            assert_int_equal(rd16(TSS_A + 0x48 + 4 * s), SEL_DATA);
}

/* The new task's state loaded from TSS B: TR busy, registers, EIP, flat segments, CR0.TS set
 * and DR7's local enables clear (SDM 7.3 steps 11-13, 18.2.4). */
static void assert_loaded_b(void)
{
    assert_int_equal(cpu.seg[TS_TR].sel, SEL_B);
    assert_int_equal(cpu.seg[TS_TR].base, TSS_B);
    assert_int_equal(cpu.seg[TS_TR].limit, 0x67);
    assert_int_equal(cpu.seg[TS_TR].ar, 0x8B);
    assert_int_equal(cpu.eip, EIP_B);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(cpu.gpr[i], i == 4 ? STACK_B : 0xB0 + i);
    assert_int_equal(cpu.seg[TS_CS].sel, SEL_CODE);
    assert_int_equal(cpu.seg[TS_CS].ar, 0xC09B);
    assert_int_equal(cpu.seg[TS_CS].limit, 0xFFFFFFFF);
    assert_int_equal(cpu.seg[TS_SS].ar, 0xC093);
    assert_int_equal(cpu.seg[TS_LDTR].ar, TS_AR_UNUSABLE);
    assert_true(cpu.cr0 & CR0_TS);
    assert_int_equal(cpu.dr7, 0x400 | 0x2AA);
    assert_int_equal(cpu.cr3, 0x9000);                  /* paging off: CR3 is not loaded */
    assert_int_equal(cr3_loads, 0);
}

/* JMP to a TSS (SDM 7.4 Table 7-2): the old TSS is no longer busy, the new one is; no back
 * link, no NT; the old task is saved with its own EFLAGS. */
static void test_jmp(void **state)
{
    (void)state;
    world();
    struct ts_outcome o = run(SEL_B, TS_SRC_JMP);
    assert_switched(o);
    assert_saved_a(0x2 | RFLAGS_ZF);
    assert_int_equal(desc_type(SEL_A), 0x9);
    assert_int_equal(desc_type(SEL_B), 0xB);
    assert_int_equal(rd16(TSS_B), 0xBEEF);
    assert_loaded_b();
    assert_int_equal(cpu.eflags, 0x2 | RFLAGS_IF);
    assert_false(o.debug_trap);
}

/* CALL to a TSS: the new task is nested, back link = the old TR and NT=1; the old one stays
 * busy (SDM 7.4). */
static void test_call(void **state)
{
    (void)state;
    world();
    struct ts_outcome o = run(SEL_B, TS_SRC_CALL);
    assert_switched(o);
    assert_saved_a(0x2 | RFLAGS_ZF);
    assert_int_equal(desc_type(SEL_A), 0xB);
    assert_int_equal(desc_type(SEL_B), 0xB);
    assert_int_equal(rd16(TSS_B), SEL_A);
    assert_loaded_b();
    assert_int_equal(cpu.eflags, 0x2 | RFLAGS_IF | (1u << 14));
}

/* IRET with NT=1 back to the task that called: the returning task is saved with NT=0 and is
 * no longer busy; the task returned to stays busy, its link untouched (SDM 7.4). */
static void test_iret(void **state)
{
    (void)state;
    world();
    assert_switched(run(SEL_B, TS_SRC_CALL));
    wr16(TSS_A, 0x1111);
    uint32_t eip_b = cpu.eip + 1;                       /* past the IRET */
    cpu.eip = eip_b;
    struct ts_outcome o = run(SEL_A, TS_SRC_IRET);
    assert_switched(o);
    assert_int_equal(desc_type(SEL_B), 0x9);
    assert_int_equal(desc_type(SEL_A), 0xB);
    assert_int_equal(rd32(TSS_B + 0x24), 0x2 | RFLAGS_IF);
    assert_int_equal(rd32(TSS_B + 0x20), eip_b);
    assert_int_equal(rd16(TSS_A), 0x1111);
    assert_int_equal(cpu.seg[TS_TR].sel, SEL_A);
    assert_int_equal(cpu.eip, 0x1234);                  /* where task A left off */
    assert_int_equal(cpu.eflags, 0x2 | RFLAGS_ZF);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(cpu.gpr[i], 0x11111111u * (i + 1));
}

/* An exception through a task gate: nested as a CALL is, and its error code on the new task's
 * stack (SDM 6.12.2: #DF's is 0). */
static void test_gate_pushes_error_code(void **state)
{
    (void)state;
    world();
    wr32(STACK_B - 4, 0xDEADBEEF);
    struct ts_request req = { .sel = SEL_B, .source = TS_SRC_GATE, .ext = true, .has_error = true, .error = 0 };
    struct ts_outcome o;
    task_switch(&cpu, &flat, &req, &o);
    assert_switched(o);
    assert_int_equal(cpu.gpr[4], STACK_B - 4);
    assert_int_equal(rd32(STACK_B - 4), 0);
    assert_int_equal(rd16(TSS_B), SEL_A);
    assert_true(cpu.eflags & (1u << 14));
    assert_int_equal(desc_type(SEL_A), 0xB);
}

/* A 16-bit TSS (SDM 7.6): limit >= 2BH, word fields, FS and GS null, the upper halves of the
 * general registers all ones (as Bochs), of EIP and EFLAGS zero. Then back: the 16-bit task is
 * saved in word fields. */
static void test_16bit_tss(void **state)
{
    (void)state;
    world();
    memset(ram + TSS_C, 0, 0x2C);
    wr16(TSS_C + 0x0E, 0x4321);
    wr16(TSS_C + 0x10, 0x0202);
    for (unsigned i = 0; i < 8; i++)
        wr16(TSS_C + 0x12 + 2 * i, (uint16_t)(0xC0 + i));
    const uint16_t sel[4] = { SEL_DATA, SEL_CODE, SEL_DATA, SEL_DATA };
    for (unsigned s = 0; s < 4; s++)
        wr16(TSS_C + 0x22 + 2 * s, sel[s]);
    struct ts_outcome o = run(SEL_C, TS_SRC_JMP);
    assert_switched(o);
    assert_int_equal(cpu.seg[TS_TR].ar, 0x83);
    assert_int_equal(cpu.eip, 0x4321);
    assert_int_equal(cpu.eflags, 0x0202);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(cpu.gpr[i], 0xFFFF0000u | (0xC0 + i));
    assert_int_equal(cpu.seg[TS_FS].ar, TS_AR_UNUSABLE);
    assert_int_equal(cpu.seg[TS_GS].ar, TS_AR_UNUSABLE);
    assert_int_equal(cpu.seg[TS_DS].ar, 0xC093);
    assert_int_equal(desc_type(SEL_C), 0x3);

    cpu.eip = 0x4400;
    cpu.gpr[0] = 0xFFFF1234;
    assert_switched(run(SEL_B, TS_SRC_JMP));
    assert_int_equal(rd16(TSS_C + 0x0E), 0x4400);
    assert_int_equal(rd16(TSS_C + 0x12), 0x1234);
    assert_int_equal(rd16(TSS_C + 0x24), SEL_CODE);
    assert_int_equal(desc_type(SEL_C), 0x1);
    assert_loaded_b();
}

/* EFLAGS.VM=1 in the new TSS: virtual-8086 segments, base = selector * 16, limit FFFFH and the
 * access rights VM entry requires (SDM 20.2.1; Vol. 3C 26.3.1.2). */
static void test_v86_task(void **state)
{
    (void)state;
    world();
    tss32_write(TSS_B, 0x2 | (1u << 17), 0x1000, 0x2000, 0x3000, 0);
    assert_switched(run(SEL_B, TS_SRC_JMP));
    assert_int_equal(cpu.seg[TS_CS].base, 0x10000);
    assert_int_equal(cpu.seg[TS_SS].base, 0x20000);
    assert_int_equal(cpu.seg[TS_DS].base, 0x30000);
    for (unsigned s = TS_ES; s <= TS_GS; s++) {
        assert_int_equal(cpu.seg[s].limit, 0xFFFF);
        assert_int_equal(cpu.seg[s].ar, 0xF3);
    }
}

/* A data segment from the new task's LDT (loaded first, SDM 7.3 step 12), and the accessed
 * bit set in a descriptor when it is loaded (3.4.5.1). */
static void test_ldt_and_accessed_bit(void **state)
{
    (void)state;
    world();
    tss32_write(TSS_B, 0x2, SEL_CODE, SEL_DATA, 0x04, SEL_LDT);
    wr16(TSS_B + 0x48, SEL_DATA_NA);                    /* ES */
    assert_switched(run(SEL_B, TS_SRC_JMP));
    assert_int_equal(cpu.seg[TS_LDTR].sel, SEL_LDT);
    assert_int_equal(cpu.seg[TS_LDTR].base, LDT_MEM);
    assert_int_equal(cpu.seg[TS_LDTR].ar, 0x82);
    assert_int_equal(cpu.seg[TS_DS].base, 0x6000);
    assert_int_equal(cpu.seg[TS_DS].limit, 0xFFFF);
    assert_int_equal(cpu.seg[TS_ES].base, 0x1000);
    assert_int_equal(cpu.seg[TS_ES].ar, 0xC093);
    assert_int_equal(desc_type(SEL_DATA_NA), 0x3);
}

/* With paging, CR3 comes from the new TSS (SDM 7.2.1); a PAE PDPTE with a reserved bit
 * faults #GP(0) in the new task. */
static void test_cr3_with_paging(void **state)
{
    (void)state;
    world();
    cpu.cr0 |= CR0_PG;
    assert_switched(run(SEL_B, TS_SRC_JMP));
    assert_int_equal(cr3_loads, 1);
    assert_int_equal(cr3_loaded, 0x7000);
    assert_int_equal(cpu.cr3, 0x7000);

    world();
    cpu.cr0 |= CR0_PG;
    cr3_result = -1;
    struct ts_outcome o = run(SEL_B, TS_SRC_JMP);
    assert_true(o.committed && o.fault);
    assert_int_equal(o.vector, 13);
    assert_int_equal(o.error, 0);
}

/* The T flag of the new TSS: a debug trap before its first instruction (SDM 7.2.1). */
static void test_trap_flag(void **state)
{
    (void)state;
    world();
    wr16(TSS_B + 0x64, 1);
    struct ts_outcome o = run(SEL_B, TS_SRC_JMP);
    assert_switched(o);
    assert_true(o.debug_trap);
}

/* Before the commit point a fault leaves the CPU and memory as they were and is the old task's
 * (SDM 7.3, the notes; Table 7-1 rows 1-3). An event through a task gate sets EXT. */
static void test_faults_before_commit(void **state)
{
    static const struct {
        uint16_t sel; enum ts_source src; bool ext; int tr_limit; uint8_t vector; uint32_t error;
    } cases[] = {
        { SEL_A, TS_SRC_JMP, false, 0, 13, SEL_A },             /* busy: #GP */
        { SEL_A, TS_SRC_CALL, false, 0, 13, SEL_A },
        { SEL_B, TS_SRC_IRET, false, 0, 10, SEL_B },            /* IRET to a TSS not busy: #TS */
        { SEL_TSS_NP, TS_SRC_JMP, false, 0, 11, SEL_TSS_NP },   /* not present: #NP */
        { SEL_TSS_SMALL, TS_SRC_JMP, false, 0, 10, SEL_TSS_SMALL }, /* limit < 67H: #TS */
        { SEL_TSS_SMALL, TS_SRC_GATE, true, 0, 10, SEL_TSS_SMALL | 1 },
        { SEL_CODE, TS_SRC_JMP, false, 0, 13, SEL_CODE },       /* not a TSS: #GP */
        { SEL_LDT, TS_SRC_CALL, false, 0, 13, SEL_LDT },
        { SEL_LDT, TS_SRC_IRET, false, 0, 10, SEL_LDT },
        { 0x24 | 3, TS_SRC_JMP, false, 0, 13, 0x24 },           /* TI=1 */
        { 0x200, TS_SRC_JMP, false, 0, 13, 0x200 },             /* beyond the GDT */
        { 0, TS_SRC_CALL, false, 0, 13, 0 },                    /* null */
        { SEL_B, TS_SRC_JMP, false, 0x5E, 10, SEL_A },          /* old TSS too small: #TS(old) */
        { SEL_TSS_UNMAPPED, TS_SRC_JMP, false, 0, 14, 0 },      /* #PF reading the new TSS */
    };
    static uint8_t before[0x30000];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        world();
        if (cases[i].tr_limit)
            cpu.seg[TS_TR].limit = (uint32_t)cases[i].tr_limit;
        struct ts_cpu cpu_before = cpu;
        memcpy(before, ram, sizeof before);
        struct ts_request req = { .sel = cases[i].sel, .source = cases[i].src, .ext = cases[i].ext };
        struct ts_outcome o;
        task_switch(&cpu, &flat, &req, &o);
        if (!o.fault || o.vector != cases[i].vector || o.error != cases[i].error)
            fail_msg("case %zu (sel 0x%x): fault %d vector %u error 0x%x", i, cases[i].sel, o.fault, o.vector, o.error);
        assert_false(o.committed);
        assert_non_null(o.rule);
        assert_memory_equal(&cpu, &cpu_before, sizeof cpu);
        assert_memory_equal(ram, before, sizeof before);
        if (cases[i].vector == 14)
            assert_int_equal(o.cr2, 0x400000);
    }
}

/* A TSS outside the guest's RAM stops the guest. */
static void test_tss_outside_ram(void **state)
{
    (void)state;
    world();
    struct ts_outcome o = run(SEL_TSS_NORAM, TS_SRC_JMP);
    assert_true(o.crash);
    assert_false(o.committed);
}

/* After the commit point the switch completes and the fault is raised in the new task (SDM 7.3
 * notes, Table 7-1 rows 5-17): #TS for a bad selector or type, #NP for a segment not present,
 * #SS for a stack not present, #GP(0) for EIP beyond CS's limit. */
static void test_faults_after_commit(void **state)
{
    static const struct {
        uint16_t cs, ss, ds, ldt; uint32_t eip; bool ext; uint8_t vector; uint32_t error;
    } cases[] = {
        { SEL_CODE, 0, SEL_DATA, 0, EIP_B, false, 10, 0 },                   /* SS null */
        { SEL_CODE, SEL_DATA_NP, SEL_DATA, 0, EIP_B, false, 12, SEL_DATA_NP },
        { SEL_CODE, SEL_RODATA, SEL_DATA, 0, EIP_B, false, 10, SEL_RODATA },  /* not writable */
        { SEL_CODE, SEL_CODE, SEL_DATA, 0, EIP_B, false, 10, SEL_CODE },      /* code as SS */
        { SEL_CODE, SEL_DATA3 | 3, SEL_DATA, 0, EIP_B, false, 10, SEL_DATA3 }, /* DPL 3 != CPL 0 */
        { SEL_CODE, SEL_DATA | 1, SEL_DATA, 0, EIP_B, false, 10, SEL_DATA },  /* RPL != DPL */
        { SEL_CODE, SEL_DATA, SEL_DATA_NP, 0, EIP_B, false, 11, SEL_DATA_NP },
        { SEL_CODE, SEL_DATA, SEL_XONLY, 0, EIP_B, false, 10, SEL_XONLY },   /* execute-only */
        { SEL_CODE, SEL_DATA, SEL_A, 0, EIP_B, false, 10, SEL_A },           /* a system segment */
        { SEL_CODE, SEL_DATA, 0x200, 0, EIP_B, false, 10, 0x200 },           /* beyond the GDT */
        { SEL_CODE, SEL_DATA, 0x04, 0, EIP_B, false, 10, 0x04 },             /* TI=1, no LDT */
        { SEL_CODE, SEL_DATA, SEL_DATA | 3, 0, EIP_B, false, 10, SEL_DATA }, /* RPL 3 > DPL 0 */
        { SEL_DATA, SEL_DATA, SEL_DATA, 0, EIP_B, false, 10, SEL_DATA },     /* data as CS */
        { SEL_CODE_NP, SEL_DATA, SEL_DATA, 0, EIP_B, false, 11, SEL_CODE_NP },
        { 0, SEL_DATA, SEL_DATA, 0, EIP_B, false, 10, 0 },                   /* CS null */
        { SEL_CODE, SEL_DATA, SEL_DATA, 0x34, EIP_B, false, 10, 0x34 },      /* LDT TI=1 */
        { SEL_CODE, SEL_DATA, SEL_DATA, SEL_CODE, EIP_B, false, 10, SEL_CODE }, /* not an LDT */
        { SEL_CODE, SEL_DATA, SEL_DATA, SEL_LDT_NP, EIP_B, false, 10, SEL_LDT_NP },
        { SEL_CODE, SEL_DATA, SEL_DATA, 0x400, EIP_B, false, 10, 0x400 },    /* LDT beyond */
        { SEL_CODE64K, SEL_DATA, SEL_DATA, 0, 0x10000, false, 13, 0 },       /* EIP > limit */
        { SEL_CODE, SEL_DATA_NP, SEL_DATA, 0, EIP_B, true, 12, SEL_DATA_NP | 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        world();
        tss32_write(TSS_B, 0x2, cases[i].cs, cases[i].ss, cases[i].ds, cases[i].ldt);
        wr32(TSS_B + 0x20, cases[i].eip);
        struct ts_request req = { .sel = SEL_B, .source = TS_SRC_JMP, .ext = cases[i].ext };
        struct ts_outcome o;
        task_switch(&cpu, &flat, &req, &o);
        if (!o.fault || o.vector != cases[i].vector || o.error != cases[i].error)
            fail_msg("case %zu: fault %d vector %u error 0x%x (%s)", i, o.fault, o.vector, o.error,
                     o.rule ? o.rule : "-");
        assert_true(o.committed);
        assert_int_equal(cpu.seg[TS_TR].sel, SEL_B);       /* the new task's, with its EIP */
        assert_int_equal(cpu.eip, cases[i].eip);
        assert_int_equal(desc_type(SEL_B), 0xB);
        assert_int_equal(desc_type(SEL_A), 0x9);
        assert_int_equal(rd32(TSS_A + 0x20), 0x1234);
        assert_true(cpu.cr0 & CR0_TS);
    }
}

/* A fault before CS is loaded leaves the old CS (VM entry needs a usable one) and the data
 * segments not loaded yet unusable, with their new selectors. */
static void test_fault_leaves_segments_unloaded(void **state)
{
    (void)state;
    world();
    tss32_write(TSS_B, 0x2, SEL_CODE64K, SEL_DATA_NP, SEL_DATA, 0);
    struct ts_outcome o = run(SEL_B, TS_SRC_JMP);
    assert_true(o.committed && o.fault);
    assert_int_equal(o.vector, 12);
    assert_int_equal(cpu.seg[TS_CS].limit, 0xFFFFFFFF);        /* still task A's CS */
    assert_int_equal(cpu.seg[TS_SS].sel, SEL_DATA);
    assert_int_equal(cpu.seg[TS_DS].sel, SEL_DATA);
    assert_int_equal(cpu.seg[TS_DS].ar, TS_AR_UNUSABLE);
}

/* Table 6-5: contributory + contributory and #PF + (#PF or contributory) give #DF; #DF + either
 * is a shutdown; everything else is delivered as the second. */
static void test_nested_exception(void **state)
{
    (void)state;
    static const struct { uint8_t first, second; int want; } cases[] = {
        { 13, 10, 8 }, { 0, 11, 8 }, { 12, 13, 8 }, { 10, 12, 8 },
        { 14, 10, 8 }, { 14, 14, 8 }, { 13, 14, 14 }, { 8, 10, -1 }, { 8, 14, -1 },
        { 2, 10, 10 }, { 1, 13, 13 }, { 6, 11, 11 }, { 8, 1, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (ts_nested_exception(cases[i].first, cases[i].second) != cases[i].want)
            fail_msg("%u then %u: %d", cases[i].first, cases[i].second,
                     ts_nested_exception(cases[i].first, cases[i].second));
}

/* ---- exit_task_switch on the fake VMCS. */

#define Q(sel, src) ((uint64_t)(sel) | (uint64_t)(src) << 30)

/* The VMCS of task A (the state world() gives cpu), and the exit's qualification. */
static void vmcs_task_a(uint64_t qual, unsigned insn_len)
{
    world();
    static const struct vmcs_field16 sels[TS_NSREG] = { GUEST_ES_SELECTOR, GUEST_CS_SELECTOR,
        GUEST_SS_SELECTOR, GUEST_DS_SELECTOR, GUEST_FS_SELECTOR, GUEST_GS_SELECTOR,
        GUEST_LDTR_SELECTOR, GUEST_TR_SELECTOR };
    for (unsigned s = 0; s < TS_NSREG; s++) {
        const struct ts_seg_fields *f = ts_fields(s);
        fake_vmcs_set(sels[s], cpu.seg[s].sel);
        fake_vmcs_set(f->base, cpu.seg[s].base);
        fake_vmcs_set(f->limit, cpu.seg[s].limit);
        fake_vmcs_set(f->ar, cpu.seg[s].ar);
    }
    fake_vmcs_set(GUEST_GDTR_BASE, GDT);
    fake_vmcs_set(GUEST_GDTR_LIMIT, GDT_LIMIT);
    fake_vmcs_set(GUEST_RSP, 0x11111111u * 5);
    v.regs.rax = 0x11111111u, v.regs.rcx = 0x22222222u, v.regs.rdx = 0x33333333u;
    v.regs.rbx = 0x44444444u, v.regs.rbp = 0x66666666u, v.regs.rsi = 0x77777777u;
    v.regs.rdi = 0x88888888u;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | RFLAGS_ZF);
    fake_vmcs_set(GUEST_CR0, CR0_PE | CR0_ET | CR0_NE | CR0_PG);
    fake_vmcs_set(CR0_READ_SHADOW, CR0_PE | CR0_ET);
    fake_vmcs_set(GUEST_CR3, 0x9000);
    fake_vmcs_set(GUEST_DR7, 0x400 | 0x3FF);
    fake_vmcs_set(GUEST_IA32_EFER, 0);
    fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STI_BLOCKING);
    fake_vmcs_set(IDT_VECTORING_INFO_FIELD, 0);
    fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, insn_len);
    v.exit_reason = EXIT_REASON_TASK_SWITCH;
    v.exit_qual = qual;
}

/* An event being delivered through a task gate, as vcpu_run leaves it: in the IDT-vectoring
 * information and requeued in pending_event. */
static void vectoring(uint32_t info, uint32_t error)
{
    fake_vmcs_set(IDT_VECTORING_INFO_FIELD, info);
    fake_vmcs_set(IDT_VECTORING_ERROR_CODE, error);
    v.pending_event = info;
    v.pending_error_code = error;
}

/* JMP far to TSS B (7 bytes): task A is saved with EIP past the JMP, the VMCS holds task B,
 * CR0.TS is set in the guest's CR0, STI blocking ends; nothing is injected. */
static void test_exit_jmp(void **state)
{
    (void)state;
    vmcs_task_a(Q(SEL_B, TS_SRC_JMP), 7);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(rd32(TSS_A + 0x20), START_RIP + 7);
    assert_int_equal(rd32(TSS_A + 0x38), 0x55555555u);
    assert_int_equal(rd32(TSS_A + 0x28), 0x11111111u);
    assert_int_equal(desc_type(SEL_A), 0x9);
    assert_int_equal(fake_vmcs_get(GUEST_TR_SELECTOR), SEL_B);
    assert_int_equal(fake_vmcs_get(GUEST_TR_BASE), TSS_B);
    assert_int_equal(fake_vmcs_get(GUEST_TR_AR_BYTES), 0x8B);
    assert_int_equal(fake_vmcs_get(GUEST_RIP), EIP_B);
    assert_int_equal(fake_vmcs_get(GUEST_RSP), STACK_B);
    assert_int_equal(v.regs.rax, 0xB0);
    assert_int_equal(v.regs.rdi, 0xB7);
    assert_int_equal(fake_vmcs_get(GUEST_RFLAGS), 0x2 | RFLAGS_IF);
    assert_true(fake_vmcs_get(GUEST_CR0) & CR0_TS);
    assert_true(v.cr0_shadow & CR0_TS);
    assert_int_equal(fake_vmcs_get(GUEST_DR7), 0x400 | 0x2AA);
    assert_int_equal(fake_vmcs_get(GUEST_INTERRUPTIBILITY_INFO), 0);
    assert_int_equal(fake_vmcs_writes(GUEST_CR3), 0);  /* paging off (the shadow's PG) */
    assert_int_equal(v.pending_event, 0);
    assert_no_unset_reads();
}

/* #DF through a task gate (exit source 3, the IDT-vectoring information): the faulting EIP is
 * saved, error code 0 on the handler's stack, back link and NT; the requeued #DF is dropped. */
static void test_exit_double_fault_gate(void **state)
{
    (void)state;
    vmcs_task_a(Q(SEL_B, TS_SRC_GATE), 3);
    vectoring(INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 8, 0);
    wr32(STACK_B - 4, 0xFFFFFFFF);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, 0);
    assert_int_equal(rd32(TSS_A + 0x20), START_RIP);
    assert_int_equal(rd16(TSS_B), SEL_A);
    assert_int_equal(desc_type(SEL_A), 0xB);
    assert_int_equal(fake_vmcs_get(GUEST_RSP), STACK_B - 4);
    assert_int_equal(rd32(STACK_B - 4), 0);
    assert_true(fake_vmcs_get(GUEST_RFLAGS) & (1u << 14));
    assert_int_equal(fake_vmcs_get(GUEST_RIP), EIP_B);
    assert_no_unset_reads();
}

/* INT n through a task gate: the old task resumes past the INT; no error code; NT. An NMI
 * through one blocks NMIs (SDM 6.7.1). */
static void test_exit_software_interrupt_and_nmi_gates(void **state)
{
    vmcs_task_a(Q(SEL_B, TS_SRC_GATE), 2);
    vectoring(INTR_INFO_VALID | INTR_TYPE_SW_INTR | 0x80, 0);
    v.pending_insn_len = 2;
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(rd32(TSS_A + 0x20), START_RIP + 2);
    assert_int_equal(fake_vmcs_get(GUEST_RSP), STACK_B);
    assert_int_equal(v.pending_event, 0);
    assert_int_equal(v.pending_insn_len, 0);
    assert_false(fake_vmcs_get(GUEST_INTERRUPTIBILITY_INFO) & GUEST_INTR_NMI_BLOCKING);

    fake_setup(state);
    vmcs_task_a(Q(SEL_B, TS_SRC_GATE), 0);
    vectoring(INTR_INFO_VALID | INTR_TYPE_NMI | 2, 0);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(rd32(TSS_A + 0x20), START_RIP);
    assert_int_equal(fake_vmcs_get(GUEST_INTERRUPTIBILITY_INFO), GUEST_INTR_NMI_BLOCKING);
}

/* IRET back from the nested task ends NMI blocking, as every IRET does. */
static void test_exit_iret(void **state)
{
    (void)state;
    vmcs_task_a(Q(SEL_A, TS_SRC_IRET), 1);
    *gdt(SEL_B) = desc(TSS_B, 0x67, 0x8B, 0);          /* task A is the one that called B */
    fake_vmcs_set(GUEST_TR_SELECTOR, SEL_B);
    fake_vmcs_set(GUEST_TR_BASE, TSS_B);
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | (1u << 14));
    fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_NMI_BLOCKING);
    wr32(TSS_A + 0x20, 0x2222);
    wr32(TSS_A + 0x24, 0x2);
    wr16(TSS_A + 0x4C, SEL_CODE);
    wr16(TSS_A + 0x50, SEL_DATA);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(fake_vmcs_get(GUEST_TR_SELECTOR), SEL_A);
    assert_int_equal(fake_vmcs_get(GUEST_RIP), 0x2222);
    assert_int_equal(rd32(TSS_B + 0x20), START_RIP + 1);
    assert_int_equal(rd32(TSS_B + 0x24), 0x2);          /* saved with NT clear */
    assert_int_equal(desc_type(SEL_B), 0x9);
    assert_int_equal(fake_vmcs_get(GUEST_INTERRUPTIBILITY_INFO), 0);
}

/* A fault before the commit point: injected with RIP on the JMP, the VMCS untouched. */
static void test_exit_fault_before_commit(void **state)
{
    (void)state;
    vmcs_task_a(Q(SEL_TSS_SMALL, TS_SRC_JMP), 7);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 10);
    assert_int_equal(v.pending_error_code, SEL_TSS_SMALL);
    assert_rip_kept();
    assert_int_equal(fake_vmcs_writes(GUEST_TR_SELECTOR), 0);
    assert_int_equal(fake_vmcs_writes(GUEST_CR0), 0);
    assert_int_equal(desc_type(SEL_A), 0xB);
}

/* After the commit point, during the delivery of an exception through a task gate: #GP then
 * #SS (both contributory) is #DF in the new task; #DF then #SS is a triple fault (Table 6-5). */
static void test_exit_fault_during_exception(void **state)
{
    vmcs_task_a(Q(SEL_B, TS_SRC_GATE), 0);
    vectoring(INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 13, 0x50);
    wr16(TSS_B + 0x50, SEL_DATA_NP);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 8);
    assert_int_equal(v.pending_error_code, 0);
    assert_int_equal(fake_vmcs_get(GUEST_TR_SELECTOR), SEL_B);
    assert_int_equal(fake_vmcs_get(GUEST_RIP), EIP_B);

    fake_setup(state);
    vmcs_task_a(Q(SEL_B, TS_SRC_GATE), 0);
    vectoring(INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 8, 0);
    wr16(TSS_B + 0x50, SEL_DATA_NP);
    assert_int_equal(exit_dispatch(&v), EXIT_CRASH);
    assert_string_equal(v.crash_reason, "triple fault (vector 12 in a task switch for #DF)");

    fake_setup(state);                                  /* an external interrupt: #SS, EXT set */
    vmcs_task_a(Q(SEL_B, TS_SRC_GATE), 0);
    vectoring(INTR_INFO_VALID | INTR_TYPE_EXT_INTR | 0x30, 0);
    wr16(TSS_B + 0x50, SEL_DATA_NP);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 12);
    assert_int_equal(v.pending_error_code, SEL_DATA_NP | 1);
}

/* PAE paging: a new CR3 loads the PDPTEs into the VMCS (SDM 4.4.1); a reserved bit in a
 * present one is #GP(0) in the new task. */
static void pae_identity(void)
{
    v.cr0_shadow |= CR0_PG;
    v.cr4_shadow = CR4_PAE;
    fake_vmcs_set(GUEST_PDPTE0, 0x8001);                /* the first 2 MiB, one large page */
    wr32(0x8000, 0x83);
}

static void test_exit_pae_cr3(void **state)
{
    vmcs_task_a(Q(SEL_B, TS_SRC_JMP), 7);
    pae_identity();
    const uint64_t pdpte[4] = { 0x8001, 0, 0xA001, 0 };
    memcpy(ram + 0x7000, pdpte, sizeof pdpte);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(fake_vmcs_get(GUEST_CR3), 0x7000);
    assert_int_equal(fake_vmcs_get(GUEST_PDPTE0), 0x8001);
    assert_int_equal(fake_vmcs_get(GUEST_PDPTE2), 0xA001);
    assert_int_equal(v.pending_event, 0);

    fake_setup(state);
    vmcs_task_a(Q(SEL_B, TS_SRC_JMP), 7);
    pae_identity();
    const uint64_t bad[4] = { 0x8001 | 0x20, 0, 0, 0 };        /* bit 5: reserved */
    memcpy(ram + 0x7000, bad, sizeof bad);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, GP_EVENT);
    assert_int_equal(fake_vmcs_get(GUEST_TR_SELECTOR), SEL_B);
    assert_int_equal(fake_vmcs_get(GUEST_PDPTE0), 0x8001);   /* not loaded */
}

/* The TSS's T flag: #DB with DR6.BT before the new task's first instruction (SDM 18.2.3). */
static void test_exit_trap_flag(void **state)
{
    (void)state;
    vmcs_task_a(Q(SEL_B, TS_SRC_JMP), 7);
    wr16(TSS_B + 0x64, 1);
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 1);
    assert_true(fake_dr[6] & (1u << 15));
}

/* IA-32e mode has no task switching (SDM 7.7); a TSS outside RAM stops the guest. */
static void test_exit_crashes(void **state)
{
    vmcs_task_a(Q(SEL_B, TS_SRC_JMP), 7);
    fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    assert_int_equal(exit_dispatch(&v), EXIT_CRASH);
    assert_string_equal(v.crash_reason, "task switch in IA-32e mode");

    fake_setup(state);
    vmcs_task_a(Q(SEL_TSS_NORAM, TS_SRC_JMP), 7);
    assert_int_equal(exit_dispatch(&v), EXIT_CRASH);
    assert_string_equal(v.crash_reason, "task switch to TSS 0x98: a TSS or descriptor outside the guest's RAM");
    assert_rip_kept();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_jmp),
        FAKE_TEST(test_call),
        FAKE_TEST(test_iret),
        FAKE_TEST(test_gate_pushes_error_code),
        FAKE_TEST(test_16bit_tss),
        FAKE_TEST(test_v86_task),
        FAKE_TEST(test_ldt_and_accessed_bit),
        FAKE_TEST(test_cr3_with_paging),
        FAKE_TEST(test_trap_flag),
        FAKE_TEST(test_faults_before_commit),
        FAKE_TEST(test_tss_outside_ram),
        FAKE_TEST(test_faults_after_commit),
        FAKE_TEST(test_fault_leaves_segments_unloaded),
        FAKE_TEST(test_nested_exception),
        FAKE_TEST(test_exit_jmp),
        FAKE_TEST(test_exit_double_fault_gate),
        FAKE_TEST(test_exit_software_interrupt_and_nmi_gates),
        FAKE_TEST(test_exit_iret),
        FAKE_TEST(test_exit_fault_before_commit),
        FAKE_TEST(test_exit_fault_during_exception),
        FAKE_TEST(test_exit_pae_cr3),
        FAKE_TEST(test_exit_trap_flag),
        FAKE_TEST(test_exit_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

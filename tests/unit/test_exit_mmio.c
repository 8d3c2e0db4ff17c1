/* Host unit tests for the emulation of instructions on device memory (vmx/exit_mmio.c:
 * exit_mmio builds the first request, mmio_complete the next ones and finishes the
 * instruction), over the fake VMCS, guest RAM and XMM registers of fake_vmcs.h. A fake
 * device page at 0xFEE00000 plays the VM layer's part as kernel/vm/run.c does: each request's
 * load, then its store; elsewhere outside RAM is memory of nothing (all-ones, writes dropped).
 * Rules: each instruction in SDM Vol. 2; flags in Vol. 1 3.4.3.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

#define DEV_BASE 0xFEE00000ull
#define NOTHING  0xFED90000ull

/* The device: 4 KiB of bytes, and a log of the accesses it saw. */
static uint8_t dev[4096];
static struct access { uint64_t gpa; unsigned size; bool store; uint64_t data; } log_[600];
static unsigned n_log, n_requests;

static uint64_t dev_read(uint64_t gpa, unsigned size)
{
    uint64_t v = 0;
    if (gpa >= DEV_BASE && gpa + size <= DEV_BASE + sizeof dev)
        memcpy(&v, dev + (gpa - DEV_BASE), size);
    else
        v = ~0ull;                      /* memory of nothing: bad_access() answers all-ones */
    return v;
}

static void dev_write(uint64_t gpa, unsigned size, uint64_t v)
{
    if (gpa >= DEV_BASE && gpa + size <= DEV_BASE + sizeof dev)
        memcpy(dev + (gpa - DEV_BASE), &v, size);
}

static void dev_log(uint64_t gpa, unsigned size, bool store, uint64_t data)
{
    if (n_log < sizeof log_ / sizeof log_[0])
        log_[n_log++] = (struct access){ gpa, size, store, data };
}

/* Answers requests until the instruction is done (what vm_run_slice's loop does). */
static enum exit_action answer(enum exit_action a)
{
    while (a == EXIT_REQUEST) {
        struct vcpu_req *q = &v.req;
        assert_int_equal(q->kind, VCPU_REQ_MMIO);
        assert_true(q->mmio.decoded);
        assert_true(q->mmio.size == 1 || q->mmio.size == 2 || q->mmio.size == 4 || q->mmio.size == 8);
        n_requests++;
        if (q->mmio.load) {
            q->mmio.data = dev_read(q->mmio.gpa, q->mmio.size);
            dev_log(q->mmio.gpa, q->mmio.size, false, q->mmio.data);
        }
        if (q->mmio.store) {
            dev_log(q->mmio.gpa, q->mmio.size, true, q->mmio.data);
            dev_write(q->mmio.gpa, q->mmio.size, q->mmio.data);
        }
        a = vcpu_complete(&v);
    }
    return a;
}

static void expect_access(unsigned i, uint64_t gpa, unsigned size, bool store, uint64_t data)
{
    if (i >= n_log)
        fail_msg("access %u missing (%u logged)", i, n_log);
    if (log_[i].gpa != gpa || log_[i].size != size || log_[i].store != store || log_[i].data != data)
        fail_msg("access %u: %s 0x%lx size %u data 0x%lx, want %s 0x%lx size %u data 0x%lx", i,
                 log_[i].store ? "store" : "load", log_[i].gpa, log_[i].size, log_[i].data,
                 store ? "store" : "load", gpa, size, data);
}

static uint32_t dev32(unsigned off) { uint32_t x; memcpy(&x, dev + off, 4); return x; }
static void set_dev32(unsigned off, uint32_t x) { memcpy(dev + off, &x, 4); }
static uint32_t ram32(uint64_t gpa) { uint32_t x; memcpy(&x, ram + gpa, 4); return x; }
static void set_ram32(uint64_t gpa, uint32_t x) { memcpy(ram + gpa, &x, 4); }

#define CS32 0xC09B                     /* 32-bit code: D set */
#define CS64 0xA09B                     /* 64-bit code: L set */
#define CS16 0x009B
#define SS32 0xC093                     /* B set: ESP */
#define SS16 0x0093

/* A vCPU in the given code mode with flat segments, the instruction's bytes at RIP. */
static void setup_insn(void **state, uint32_t cs_ar, const uint8_t *bytes, unsigned n)
{
    fake_setup(state);
    memset(dev, 0, sizeof dev);
    n_log = n_requests = 0;
    fake_vmcs_set(GUEST_CS_AR_BYTES, cs_ar);
    fake_vmcs_set(GUEST_IA32_EFER, cs_ar == CS64 ? EFER_LMA | EFER_LME : 0);
    fake_vmcs_set(GUEST_CS_BASE, 0);
    fake_vmcs_set(GUEST_DS_BASE, 0);
    fake_vmcs_set(GUEST_ES_BASE, 0);
    fake_vmcs_set(GUEST_SS_BASE, 0);
    fake_vmcs_set(GUEST_FS_BASE, 0);
    fake_vmcs_set(GUEST_SS_AR_BYTES, SS32);
    fake_vmcs_set(GUEST_RSP, 0x8000);
    memcpy(ram + START_RIP, bytes, n);
}

#define INSN(mode, ...) setup_insn(state, mode, (const uint8_t[]){__VA_ARGS__}, \
                                   sizeof((const uint8_t[]){__VA_ARGS__}))
#define RFLAGS() fake_vmcs_get(GUEST_RFLAGS)
#define STATUS_OF(f) ((f) & EMU_STATUS_FLAGS)

/* MOV keeps its one request: a load into the register, a store of it (regression). */
static void test_mov(void **state)
{
    INSN(CS32, 0x8b, 0x48, 0x30);                           /* mov 0x30(%eax),%ecx */
    set_dev32(0x30, 0x50014);
    v.regs.rax = DEV_BASE;
    v.regs.rcx = 0xFFFFFFFF00000000ull;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x30, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 0x50014);
    assert_int_equal(n_requests, 1);
    assert_rip_advanced(3);

    INSN(CS32, 0x89, 0x10);                                 /* mov %edx,(%eax) */
    v.regs.rax = DEV_BASE + 0x80;
    v.regs.rdx = 0x12345678;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, true)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 4, true, 0x12345678);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* XCHG: a load, then the store of the register's old value (two requests: the VM layer
 * answers a load in the request's data, which a single load-and-store would then store back). */
static void test_xchg(void **state)
{
    INSN(CS32, 0x87, 0x05, 0x80, 0x00, 0xe0, 0xfe);       /* xchg %eax,0xfee00080 */
    set_dev32(0x80, 0x1F);
    v.regs.rax = 0x40;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_CF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 4, false, 0x1F);
    expect_access(1, DEV_BASE + 0x80, 4, true, 0x40);
    assert_int_equal(dev32(0x80), 0x40);
    assert_int_equal(v.regs.rax, 0x1F);
    assert_int_equal(RFLAGS(), 0x2 | EMU_CF);               /* XCHG changes no flag */
    assert_rip_advanced(6);

    INSN(CS32, 0x86, 0x23);                                 /* xchg %ah,(%ebx) */
    set_dev32(0x80, 0x11);
    v.regs.rax = 0xFFFF2233, v.regs.rbx = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    expect_access(1, DEV_BASE + 0x80, 1, true, 0x22);
    assert_int_equal(v.regs.rax, 0xFFFF1133);
    assert_no_unset_reads();
}

/* lock orl $0x10,(mem): a load, then the store of the result; flags from the result. */
static void test_lock_or(void **state)
{
    INSN(CS32, 0xf0, 0x83, 0x08, 0x10);                     /* lock orl $0x10,(%eax) */
    set_dev32(0x80, 0x20);
    v.regs.rax = DEV_BASE + 0x80;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_CF | EMU_OF | EMU_ZF);
    enum exit_action a = exit_mmio(&v, DEV_BASE + 0x80, false);
    assert_int_equal(a, EXIT_REQUEST);
    assert_true(v.req.mmio.load && !v.req.mmio.store);
    assert_rip_kept();
    assert_int_equal(answer(a), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 4, false, 0x20);
    expect_access(1, DEV_BASE + 0x80, 4, true, 0x30);
    assert_int_equal(n_log, 2);
    /* OR clears CF and OF; 0x30 has two bits set (PF), not zero, not negative. */
    assert_int_equal(RFLAGS(), 0x2 | EMU_PF);
    assert_rip_advanced(4);
    assert_no_unset_reads();
}

/* Each ALU form, by what it leaves: the device, the register, RFLAGS (SDM Vol. 2 each). */
struct alu_case {
    const char *what;
    uint8_t bytes[8];
    unsigned n;
    uint32_t dev_before;
    uint64_t ecx_before, flags_in;
    unsigned accesses;
    uint32_t dev_after;
    uint64_t ecx_after, flags_out;
};

static const struct alu_case alu_cases[] = {
    /* add %ecx,(%eax): 0xFFFFFFFF + 1 carries out and is zero. */
    { "add", { 0x01, 0x08 }, 2, 0xFFFFFFFF, 1, 0, 2, 0, 1, EMU_CF | EMU_ZF | EMU_AF | EMU_PF },
    /* lock subl $1,(%eax) from 0: borrow, negative. */
    { "sub", { 0xf0, 0x83, 0x28, 0x01 }, 4, 0, 0, 0, 2, 0xFFFFFFFF, 0, EMU_CF | EMU_SF | EMU_AF | EMU_PF },
    /* cmpl $0x20,(%eax): equal, read only. */
    { "cmp", { 0x83, 0x38, 0x20 }, 3, 0x20, 0, EMU_CF, 1, 0x20, 0, EMU_ZF | EMU_PF },
    /* test %ecx,(%eax): no common bit. */
    { "test", { 0x85, 0x08 }, 2, 0xF0, 0x0F, EMU_CF | EMU_OF, 1, 0xF0, 0x0F, EMU_ZF | EMU_PF },
    /* add (%eax),%ecx: the register is the destination, the device only read. */
    { "add r,m", { 0x03, 0x08 }, 2, 0x7FFFFFFF, 1, 0, 1, 0x7FFFFFFF, 0x80000000, EMU_OF | EMU_SF | EMU_AF | EMU_PF },
    /* andb %ch,(%eax): AH..BH as the source. */
    { "and ch", { 0x20, 0x28 }, 2, 0x1FF, 0x0F00, 0, 2, 0x10F, 0x0F00, EMU_PF },
    /* incl (%eax) keeps CF. */
    { "inc", { 0xff, 0x00 }, 2, 0x7FFFFFFF, 0, EMU_CF, 2, 0x80000000, 0, EMU_CF | EMU_OF | EMU_SF | EMU_AF | EMU_PF },
    /* notl (%eax): no flag changes. */
    { "not", { 0xf7, 0x10 }, 2, 0x0000FFFF, 0, EMU_ZF, 2, 0xFFFF0000, 0, EMU_ZF },
    /* negl (%eax). */
    { "neg", { 0xf7, 0x18 }, 2, 1, 0, 0, 2, 0xFFFFFFFF, 0, EMU_CF | EMU_SF | EMU_AF | EMU_PF },
    /* btl $4,(%eax): CF is the bit, read only. */
    { "bt", { 0x0f, 0xba, 0x20, 0x04 }, 4, 0x10, 0, EMU_ZF, 1, 0x10, 0, EMU_ZF | EMU_CF },
    /* lock btsl %ecx,(%eax) with ECX = 1 (test_bit_string: larger offsets). */
    { "bts", { 0xf0, 0x0f, 0xab, 0x08 }, 4, 0x1, 1, EMU_CF, 2, 0x3, 1, 0 },
    /* btrl $0,(%eax). */
    { "btr", { 0x0f, 0xba, 0x30, 0x00 }, 4, 0x81, 0, 0, 2, 0x80, 0, EMU_CF },
    /* xorw %cx,(%eax): 16 bits, the device's upper half untouched by the 2-byte store. */
    { "xor16", { 0x66, 0x31, 0x08 }, 3, 0xAAAA5555, 0x5555, 0, 2, 0xAAAA0000, 0x5555, EMU_ZF | EMU_PF },
};

static void test_alu_forms(void **state)
{
    for (size_t i = 0; i < sizeof alu_cases / sizeof alu_cases[0]; i++) {
        const struct alu_case *c = &alu_cases[i];
        setup_insn(state, CS32, c->bytes, c->n);
        set_dev32(0x80, c->dev_before);
        v.regs.rax = DEV_BASE + 0x80;
        v.regs.rcx = c->ecx_before;
        fake_vmcs_set(GUEST_RFLAGS, 0x202 | c->flags_in);
        assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
        if (dev32(0x80) != c->dev_after || v.regs.rcx != c->ecx_after || RFLAGS() != (0x202 | c->flags_out) ||
            n_log != c->accesses)
            fail_msg("%s: device 0x%x ecx 0x%lx rflags 0x%lx accesses %u; want 0x%x 0x%lx 0x%lx %u", c->what,
                     dev32(0x80), v.regs.rcx, RFLAGS(), n_log, c->dev_after, c->ecx_after,
                     0x202 | c->flags_out, c->accesses);
        assert_rip_advanced(c->n);
        assert_no_unset_reads();
    }
}

/* BT* with a register offset address a bit string from the operand: the dword at EA +
 * 4 * (offset >> 5), signed, its bit offset & 31 (SDM Vol. 2 BT). */
static void test_bit_string(void **state)
{
    INSN(CS32, 0xf0, 0x0f, 0xab, 0x08);                     /* lock btsl %ecx,(%eax) */
    v.regs.rax = DEV_BASE + 0x80, v.regs.rcx = 33;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x84, false)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x84, 4, false, 0);
    expect_access(1, DEV_BASE + 0x84, 4, true, 2);

    INSN(CS32, 0x0f, 0xa3, 0x08);                           /* btl %ecx,(%eax): ECX = -1 */
    set_dev32(0x7C, 0x80000000);
    v.regs.rax = DEV_BASE + 0x80, v.regs.rcx = 0xFFFFFFFF;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x7C, false)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x7C, 4, false, 0x80000000);
    assert_true(RFLAGS() & EMU_CF);
    assert_int_equal(n_log, 1);
}

/* CMPXCHG: equal stores the source; not equal loads the accumulator and writes nothing. */
static void test_cmpxchg(void **state)
{
    INSN(CS64, 0xf0, 0x0f, 0xb1, 0x0a);                     /* lock cmpxchg %ecx,(%rdx) */
    set_dev32(0x80, 0x20);
    v.regs.rax = 0xFFFFFFFF00000020ull, v.regs.rcx = 0x30, v.regs.rdx = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(dev32(0x80), 0x30);
    assert_int_equal(v.regs.rax, 0xFFFFFFFF00000020ull);   /* success: RAX untouched */
    assert_int_equal(STATUS_OF(RFLAGS()), EMU_ZF | EMU_PF);
    assert_rip_advanced(4);

    INSN(CS64, 0xf0, 0x0f, 0xb1, 0x0a);
    set_dev32(0x80, 0x20);
    v.regs.rax = 0xFFFFFFFF00000010ull, v.regs.rcx = 0x30, v.regs.rdx = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 1);                             /* no write to the device */
    assert_int_equal(v.regs.rax, 0x20);                     /* EAX loaded, zero-extended */
    assert_int_equal(STATUS_OF(RFLAGS()), EMU_CF | EMU_SF | EMU_PF);   /* 0x10 - 0x20 */
    assert_rip_advanced(4);
    assert_no_unset_reads();
}

/* XADD: the sum to the device, the old value to the register. */
static void test_xadd(void **state)
{
    INSN(CS64, 0xf0, 0x0f, 0xc1, 0x02);                     /* lock xadd %eax,(%rdx) */
    set_dev32(0x80, 5);
    v.regs.rax = 0x1111111100000003ull, v.regs.rdx = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(dev32(0x80), 8);
    assert_int_equal(v.regs.rax, 5);
    assert_int_equal(STATUS_OF(RFLAGS()), 0);
    assert_no_unset_reads();
}

/* rep movsl from the device into RAM: one load per element, RAM written directly; RSI, RDI
 * step by 4, ECX counts down to 0, then RIP moves on. */
static void test_rep_movs_from_device(void **state)
{
    INSN(CS32, 0xf3, 0xa5);                                 /* rep movsl */
    for (unsigned i = 0; i < 3; i++)
        set_dev32(0x20 + 4 * i, 0x100 + i);
    v.regs.rsi = DEV_BASE + 0x20, v.regs.rdi = 0x2000, v.regs.rcx = 3;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x20, false)), EXIT_CONTINUE);
    for (unsigned i = 0; i < 3; i++) {
        expect_access(i, DEV_BASE + 0x20 + 4 * i, 4, false, 0x100 + i);
        assert_int_equal(ram32(0x2000 + 4 * i), 0x100 + i);
    }
    assert_int_equal(n_log, 3);
    assert_int_equal(v.regs.rsi, DEV_BASE + 0x2C);
    assert_int_equal(v.regs.rdi, 0x200C);
    assert_int_equal(v.regs.rcx, 0);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* movsl from RAM into the device (no REP: one element, ECX untouched). */
static void test_movs_into_device(void **state)
{
    INSN(CS32, 0xa5);                                       /* movsl */
    set_ram32(0x3000, 0xCAFE);
    v.regs.rsi = 0x3000, v.regs.rdi = DEV_BASE + 0x80, v.regs.rcx = 7;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, true)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 4, true, 0xCAFE);
    assert_int_equal(v.regs.rsi, 0x3004);
    assert_int_equal(v.regs.rdi, DEV_BASE + 0x84);
    assert_int_equal(v.regs.rcx, 7);
    assert_rip_advanced(1);
    assert_no_unset_reads();
}

/* Device to device: a load then a store per element; DF=1 walks down. */
static void test_movs_device_to_device_df(void **state)
{
    INSN(CS32, 0xf3, 0xa5);
    set_dev32(0x34, 0xA), set_dev32(0x30, 0xB);
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_DF);
    v.regs.rsi = DEV_BASE + 0x34, v.regs.rdi = DEV_BASE + 0x104, v.regs.rcx = 2;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x34, false)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x34, 4, false, 0xA);
    expect_access(1, DEV_BASE + 0x104, 4, true, 0xA);
    expect_access(2, DEV_BASE + 0x30, 4, false, 0xB);
    expect_access(3, DEV_BASE + 0x100, 4, true, 0xB);
    assert_int_equal(v.regs.rsi, DEV_BASE + 0x2C);
    assert_int_equal(v.regs.rdi, DEV_BASE + 0xFC);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* rep stosl into the device: a store of EAX per element; at most MMIO_STRING_BATCH per exit,
 * then RIP stays so that the guest executes the REP again for the rest. */
static void test_rep_stos_batches(void **state)
{
    INSN(CS32, 0xf3, 0xab);                                 /* rep stosl */
    v.regs.rax = 0x10000, v.regs.rdi = DEV_BASE, v.regs.rcx = MMIO_STRING_BATCH + 44;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, true)), EXIT_CONTINUE);
    assert_int_equal(n_requests, MMIO_STRING_BATCH);
    assert_int_equal(v.regs.rcx, 44);
    assert_int_equal(v.regs.rdi, DEV_BASE + 4 * MMIO_STRING_BATCH);
    assert_rip_kept();
    expect_access(0, DEV_BASE, 4, true, 0x10000);
    assert_int_equal(dev32(4 * (MMIO_STRING_BATCH - 1)), 0x10000);
    /* The re-executed instruction exits again and finishes. */
    n_requests = 0;
    assert_int_equal(answer(exit_mmio(&v, v.regs.rdi, true)), EXIT_CONTINUE);
    assert_int_equal(n_requests, 44);
    assert_int_equal(v.regs.rcx, 0);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* Under RFLAGS.TF a REP string traps after each iteration (SDM Vol. 3B 18.3.1.4): one element
 * per exit, a single-step #DB (DR6.BS), RIP kept while RCX is not 0; the last element ends
 * the instruction and still traps. */
static void test_rep_stos_single_step(void **state)
{
    (void)state;
    INSN(CS32, 0xf3, 0xab);                                 /* rep stosl */
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | RFLAGS_TF);
    v.regs.rax = 0x77, v.regs.rdi = DEV_BASE, v.regs.rcx = 2;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, true)), EXIT_CONTINUE);
    assert_int_equal(n_requests, 1);
    assert_int_equal(v.regs.rcx, 1);
    assert_int_equal(v.regs.rdi, DEV_BASE + 4);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 1);
    assert_true(fake_dr[6] & (1u << 14));
    assert_rip_kept();
    v.pending_event = 0;
    n_requests = 0;
    assert_int_equal(answer(exit_mmio(&v, v.regs.rdi, true)), EXIT_CONTINUE);
    assert_int_equal(n_requests, 1);
    assert_int_equal(v.regs.rcx, 0);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 1);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* 16-bit addressing (0x67 in 32-bit code): ES:DI, DI wraps at 64 KiB and bits 31:16 of EDI and
 * ECX are kept; the segment base is added. */
static void test_stos_addr16(void **state)
{
    INSN(CS32, 0x67, 0xf3, 0xab);                           /* rep stos %eax,%es:(%di) */
    fake_vmcs_set(GUEST_ES_BASE, DEV_BASE);
    v.regs.rax = 0x77, v.regs.rdi = 0xABCDFFFC, v.regs.rcx = 0x55550002;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0xFFFC, true)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0xFFFC, 4, true, 0x77);    /* nothing there: dropped */
    expect_access(1, DEV_BASE, 4, true, 0x77);             /* DI wrapped to 0 */
    assert_int_equal(dev32(0), 0x77);
    assert_int_equal(v.regs.rdi, 0xABCD0004);
    assert_int_equal(v.regs.rcx, 0x55550000);
    assert_rip_advanced(3);
    assert_no_unset_reads();
}

/* lodsw from memory of nothing: all-ones into AX, the rest of RAX kept; an FS override. */
static void test_lods_nothing(void **state)
{
    INSN(CS32, 0x64, 0x66, 0xad);                           /* lods %fs:(%esi),%ax */
    fake_vmcs_set(GUEST_FS_BASE, NOTHING);
    v.regs.rax = 0x12345678, v.regs.rsi = 0x10;
    assert_int_equal(answer(exit_mmio(&v, NOTHING + 0x10, false)), EXIT_CONTINUE);
    expect_access(0, NOTHING + 0x10, 2, false, ~0ull);
    assert_int_equal(v.regs.rax, 0x1234FFFF);
    assert_int_equal(v.regs.rsi, 0x12);
    assert_rip_advanced(3);
    assert_no_unset_reads();
}

/* A string whose RAM side is not mapped: #PF with CR2, the elements before it done. */
static void test_movs_page_fault(void **state)
{
    INSN(CS32, 0xf3, 0xa5);
    /* 32-bit paging with 4 MiB pages: 0-4 MiB and the device's 4 MiB identity-mapped. */
    uint32_t pd = 0x10000, pde0 = 0x83, pde_dev = (uint32_t)(DEV_BASE & 0xFFC00000) | 0x83;
    memcpy(ram + pd, &pde0, 4);
    memcpy(ram + pd + 4 * (DEV_BASE >> 22), &pde_dev, 4);
    v.cr0_shadow |= CR0_PG, v.cr4_shadow |= CR4_PSE;
    fake_vmcs_set(GUEST_CR3, pd);
    fake_vmcs_set(GUEST_SS_AR_BYTES, SS32);
    v.regs.rsi = DEV_BASE, v.regs.rdi = 0x3FFFFC, v.regs.rcx = 3;  /* the second element is at 4 MiB */
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, false)), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14);
    assert_int_equal(v.pending_error_code, 2);              /* not present, write, supervisor */
    assert_int_equal(v.regs.cr2, 0x400000);
    assert_int_equal(v.regs.rcx, 2);
    assert_int_equal(v.regs.rdi, 0x400000);
    assert_rip_kept();
    assert_no_unset_reads();
}

/* 64-bit mode: a non-canonical RDI is #GP(0) before any access. */
static void test_stos_noncanonical(void **state)
{
    INSN(CS64, 0xf3, 0x48, 0xab);                           /* rep stos %rax,%es:(%rdi) */
    v.regs.rdi = 0x0000800000000000ull, v.regs.rcx = 1;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, true)), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, GP_EVENT);
    assert_int_equal(n_requests, 0);
    assert_rip_kept();
}

/* movups load of 16 bytes at 0x2C: naturally aligned pieces of at most 8 bytes. */
static void test_sse_load_pieces(void **state)
{
    INSN(CS32, 0x0f, 0x10, 0x08);                           /* movups (%eax),%xmm1 */
    for (unsigned i = 0; i < 16; i++)
        dev[0x2C + i] = (uint8_t)(0xA0 + i);
    memset(fake_xmm[1], 0x55, 16);
    v.regs.rax = DEV_BASE + 0x2C;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x2C, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 3);
    expect_access(0, DEV_BASE + 0x2C, 4, false, 0xA3A2A1A0);
    expect_access(1, DEV_BASE + 0x30, 8, false, 0xABAAA9A8A7A6A5A4ull);
    expect_access(2, DEV_BASE + 0x38, 4, false, 0xAFAEADAC);
    assert_memory_equal(fake_xmm[1], dev + 0x2C, 16);
    assert_rip_advanced(3);
    assert_no_unset_reads();
}

/* movq xmm, m64 zeroes bits 127:64; from memory of nothing it reads all-ones. */
static void test_sse_movq_nothing(void **state)
{
    INSN(CS32, 0xf3, 0x0f, 0x7e, 0x18);                     /* movq (%eax),%xmm3 */
    memset(fake_xmm[3], 0x55, 16);
    v.regs.rax = NOTHING;
    assert_int_equal(answer(exit_mmio(&v, NOTHING, false)), EXIT_CONTINUE);
    expect_access(0, NOTHING, 8, false, ~0ull);
    static const uint8_t want[16] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    assert_memory_equal(fake_xmm[3], want, 16);
    assert_rip_advanced(4);
}

/* movdqu store from XMM9 in 64-bit mode: two 8-byte stores of the register's bytes. */
static void test_sse_store(void **state)
{
    INSN(CS64, 0xf3, 0x44, 0x0f, 0x7f, 0x08);               /* movdqu %xmm9,(%rax) */
    for (unsigned i = 0; i < 16; i++)
        fake_xmm[9][i] = (uint8_t)i;
    v.regs.rax = DEV_BASE + 0x100;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x100, true)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x100, 8, true, 0x0706050403020100ull);
    expect_access(1, DEV_BASE + 0x108, 8, true, 0x0F0E0D0C0B0A0908ull);
    assert_rip_advanced(5);
}

/* movdqa at an address that is not 16-byte aligned: #GP(0), no access. */
static void test_sse_misaligned(void **state)
{
    INSN(CS32, 0x66, 0x0f, 0x6f, 0x00);                     /* movdqa (%eax),%xmm0 */
    v.regs.rax = DEV_BASE + 0x28;
    assert_int_equal(exit_mmio(&v, DEV_BASE + 0x28, false), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, GP_EVENT);
    assert_rip_kept();
}

/* pushl (mem): the device's value below ESP in RAM; a 16-bit stack wraps SP and keeps the rest. */
static void test_push(void **state)
{
    INSN(CS32, 0xff, 0x30);                                 /* push (%eax) */
    set_dev32(0x30, 0x50014);
    v.regs.rax = DEV_BASE + 0x30;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x30, false)), EXIT_CONTINUE);
    assert_int_equal(ram32(0x7FFC), 0x50014);
    assert_int_equal(fake_vmcs_get(GUEST_RSP), 0x7FFC);
    assert_rip_advanced(2);
    assert_no_unset_reads();

    INSN(CS32, 0x66, 0xff, 0x30);                           /* pushw (%eax) */
    fake_vmcs_set(GUEST_SS_AR_BYTES, SS16);
    fake_vmcs_set(GUEST_RSP, 0x10000);                      /* SP = 0: the push wraps to 0xFFFE */
    set_dev32(0x30, 0xBEEF);
    v.regs.rax = DEV_BASE + 0x30;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x30, false)), EXIT_CONTINUE);
    assert_int_equal(ram[0xFFFE] | ram[0xFFFF] << 8, 0xBEEF);
    assert_int_equal(fake_vmcs_get(GUEST_RSP), 0x1FFFE);
    assert_rip_advanced(3);
}

/* popl (mem): the stack's value stored to the device, then ESP up by 4. */
static void test_pop(void **state)
{
    INSN(CS32, 0x8f, 0x00);                                 /* pop (%eax) */
    set_ram32(0x8000, 0xEF);
    v.regs.rax = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, true)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 4, true, 0xEF);
    assert_int_equal(fake_vmcs_get(GUEST_RSP), 0x8004);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* A stack outside RAM cannot be emulated: a clear crash before the device sees anything. */
static void test_push_stack_outside_ram(void **state)
{
    INSN(CS32, 0xff, 0x30);
    fake_vmcs_set(GUEST_RSP, NOTHING);
    v.regs.rax = DEV_BASE + 0x30;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x30, false)), EXIT_CRASH);
    assert_int_equal(n_requests, 0);
    assert_non_null(strstr(v.crash_reason, "stack outside RAM"));
}

/* LOCK on a MOV is #UD (the CPU's own check comes before any access). */
static void test_lock_mov_ud(void **state)
{
    INSN(CS32, 0xf0, 0x89, 0x10);                           /* lock mov %edx,(%eax) */
    assert_int_equal(exit_mmio(&v, DEV_BASE + 0x80, true), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, UD_EVENT);
    assert_rip_kept();
}

/* SETcc: one 1-byte store of the condition; flags unchanged (SDM Vol. 2 SETcc). */
static void test_setcc(void **state)
{
    INSN(CS32, 0x0f, 0x94, 0x00);                           /* sete (%eax) */
    set_dev32(0x80, 0x55);
    v.regs.rax = DEV_BASE + 0x80;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_ZF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, true)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 1, true, 1);
    assert_int_equal(n_log, 1);
    assert_int_equal(dev32(0x80), 1);
    assert_int_equal(RFLAGS(), 0x2 | EMU_ZF);
    assert_rip_advanced(3);

    INSN(CS32, 0x0f, 0x9f, 0x00);                           /* setg (%eax): ZF=0, SF != OF */
    v.regs.rax = DEV_BASE + 0x80;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_SF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, true)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 1, true, 0);
    assert_no_unset_reads();
}

/* CMOVcc: the device is read either way; false keeps the register but a 32-bit one has bits
 * 63:32 cleared (SDM Vol. 2 CMOVcc). */
static void test_cmov(void **state)
{
    INSN(CS64, 0x0f, 0x44, 0x08);                           /* cmove (%rax),%ecx */
    set_dev32(0x80, 0x1234);
    v.regs.rax = DEV_BASE + 0x80;
    v.regs.rcx = 0xAAAAAAAA55555555ull;
    fake_vmcs_set(GUEST_RFLAGS, 0x2);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 4, false, 0x1234);
    assert_int_equal(v.regs.rcx, 0x55555555);
    assert_rip_advanced(3);

    INSN(CS64, 0x0f, 0x44, 0x08);
    set_dev32(0x80, 0x1234);
    v.regs.rax = DEV_BASE + 0x80;
    v.regs.rcx = 0xAAAAAAAA55555555ull;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_ZF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 0x1234);

    INSN(CS64, 0x4c, 0x0f, 0x45, 0x4b, 0x08);               /* cmovne 0x8(%rbx),%r9: false */
    v.regs.r9 = 0xAAAAAAAA55555555ull, v.regs.rbx = DEV_BASE + 0x78;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_ZF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 1);
    assert_int_equal(v.regs.r9, 0xAAAAAAAA55555555ull);
    assert_no_unset_reads();
}

/* Shifts: load, store the result; a masked count of 0 stores nothing and changes no flag. */
static void test_shift(void **state)
{
    INSN(CS32, 0xd3, 0x20);                                 /* shll %cl,(%eax) */
    set_dev32(0x80, 0x80000001);
    v.regs.rax = DEV_BASE + 0x80;
    v.regs.rcx = 1;
    fake_vmcs_set(GUEST_RFLAGS, 0x2);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(dev32(0x80), 2);
    assert_int_equal(STATUS_OF(RFLAGS()), EMU_CF | EMU_OF);    /* CF the top bit; OF = MSB ^ CF */
    assert_rip_advanced(2);

    INSN(CS32, 0xd3, 0x20);
    set_dev32(0x80, 0x80000001);
    v.regs.rax = DEV_BASE + 0x80;
    v.regs.rcx = 0x20;                                      /* masked to 0 */
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_ZF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 1);
    assert_int_equal(RFLAGS(), 0x2 | EMU_ZF);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* DIV: EDX:EAX / m; a zero divisor is #DE, RIP and the registers kept (SDM Vol. 2 DIV). */
static void test_div(void **state)
{
    INSN(CS32, 0xf7, 0x33);                                 /* divl (%ebx) */
    set_dev32(0x80, 7);
    v.regs.rax = 100, v.regs.rdx = 0, v.regs.rbx = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rax, 14);
    assert_int_equal(v.regs.rdx, 2);
    assert_rip_advanced(2);

    INSN(CS32, 0xf7, 0x33);
    set_dev32(0x80, 0);
    v.regs.rax = 100, v.regs.rdx = 0, v.regs.rbx = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 0);
    assert_int_equal(v.regs.rax, 100);
    assert_rip_kept();

    INSN(CS32, 0xf7, 0x23);                                 /* mull (%ebx): EDX:EAX */
    set_dev32(0x80, 0x10);
    v.regs.rax = 0x80000000, v.regs.rdx = 5, v.regs.rbx = DEV_BASE + 0x80;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rax, 0);
    assert_int_equal(v.regs.rdx, 8);
    assert_true(RFLAGS() & EMU_CF && RFLAGS() & EMU_OF);
    assert_no_unset_reads();
}

/* BSF of 0 leaves the whole register; of a value, writes the index (zero-extended). */
static void test_bsf(void **state)
{
    INSN(CS64, 0x0f, 0xbc, 0x08);                           /* bsf (%rax),%ecx */
    v.regs.rax = DEV_BASE + 0x80;
    v.regs.rcx = 0xAAAAAAAA55555555ull;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 0xAAAAAAAA55555555ull);
    assert_true(RFLAGS() & EMU_ZF);
    INSN(CS64, 0x0f, 0xbc, 0x08);
    set_dev32(0x80, 0x100);
    v.regs.rax = DEV_BASE + 0x80;
    v.regs.rcx = 0xAAAAAAAA55555555ull;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 8);
    assert_false(RFLAGS() & EMU_ZF);
    assert_no_unset_reads();
}

/* repz cmpsl device against RAM: stops after the first element that differs (ZF = 0), with
 * RSI, RDI, ECX past it and RIP moved on (SDM Vol. 2 REPE). */
static void test_repz_cmps(void **state)
{
    INSN(CS32, 0xf3, 0xa7);                                 /* repz cmpsl */
    set_dev32(0x20, 1), set_dev32(0x24, 2), set_dev32(0x28, 3);
    set_ram32(0x2000, 1), set_ram32(0x2004, 9), set_ram32(0x2008, 3);
    v.regs.rsi = DEV_BASE + 0x20, v.regs.rdi = 0x2000, v.regs.rcx = 3;
    fake_vmcs_set(GUEST_RFLAGS, 0x2);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x20, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 2);
    assert_int_equal(v.regs.rcx, 1);
    assert_int_equal(v.regs.rsi, DEV_BASE + 0x28);
    assert_int_equal(v.regs.rdi, 0x2008);
    assert_int_equal(STATUS_OF(RFLAGS()), EMU_CF | EMU_SF | EMU_AF | EMU_PF);   /* 2 - 9 = 0xFFFFFFF9 */
    assert_rip_advanced(2);

    /* All equal and longer than a batch: RIP stays after MMIO_STRING_BATCH, then finishes. */
    INSN(CS32, 0xf3, 0xa7);
    v.regs.rsi = DEV_BASE, v.regs.rdi = 0x4000, v.regs.rcx = MMIO_STRING_BATCH + 5;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 5);
    assert_rip_kept();
    assert_int_equal(answer(exit_mmio(&v, v.regs.rsi, false)), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 0);
    assert_true(RFLAGS() & EMU_ZF);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* repnz scasb over the device: stops at the first byte equal to AL (ZF = 1). */
static void test_repnz_scas(void **state)
{
    INSN(CS32, 0xf2, 0xae);                                 /* repnz scasb */
    dev[0x40] = 5, dev[0x41] = 6, dev[0x42] = 7, dev[0x43] = 8;
    v.regs.rax = 0x107, v.regs.rdi = DEV_BASE + 0x40, v.regs.rcx = 10;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x40, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 3);
    assert_int_equal(v.regs.rcx, 7);
    assert_int_equal(v.regs.rdi, DEV_BASE + 0x43);
    assert_true(RFLAGS() & EMU_ZF);
    assert_rip_advanced(2);

    INSN(CS32, 0xae);                                       /* scasb, no REP: one element */
    dev[0x40] = 5;
    v.regs.rax = 7, v.regs.rdi = DEV_BASE + 0x40, v.regs.rcx = 10;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x40, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 1);
    assert_int_equal(v.regs.rcx, 10);
    assert_false(RFLAGS() & EMU_ZF);
    assert_no_unset_reads();
}

/* cmpxchg8b: two 4-byte loads; equal: two 4-byte stores of ECX:EBX; else EDX:EAX loaded and
 * nothing written (SDM Vol. 2 CMPXCHG8B). */
static void test_cmpxchg8b(void **state)
{
    INSN(CS64, 0xf0, 0x0f, 0xc7, 0x0e);                     /* lock cmpxchg8b (%rsi) */
    set_dev32(0x80, 0x11), set_dev32(0x84, 0x22);
    v.regs.rax = 0x11, v.regs.rdx = 0x22, v.regs.rbx = 0x33, v.regs.rcx = 0x44, v.regs.rsi = DEV_BASE + 0x80;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_CF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE + 0x80, 4, false, 0x11);
    expect_access(1, DEV_BASE + 0x84, 4, false, 0x22);
    expect_access(2, DEV_BASE + 0x80, 4, true, 0x33);
    expect_access(3, DEV_BASE + 0x84, 4, true, 0x44);
    assert_int_equal(RFLAGS(), 0x2 | EMU_CF | EMU_ZF);
    assert_rip_advanced(4);

    INSN(CS64, 0x0f, 0xc7, 0x0e);                           /* cmpxchg8b (%rsi): differs */
    set_dev32(0x80, 0x11), set_dev32(0x84, 0x22);
    v.regs.rax = 0xFFFFFFFF00000011ull, v.regs.rdx = 0x23, v.regs.rsi = DEV_BASE + 0x80;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | EMU_ZF);
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0x80, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 2);
    assert_int_equal(v.regs.rax, 0x11);
    assert_int_equal(v.regs.rdx, 0x22);
    assert_int_equal(RFLAGS(), 0x2);
    assert_rip_advanced(3);

    INSN(CS64, 0x48, 0x0f, 0xc7, 0x0e);                     /* cmpxchg16b, not 16-byte aligned */
    v.regs.rsi = DEV_BASE + 0x88;
    assert_int_equal(exit_mmio(&v, DEV_BASE + 0x88, false), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, GP_EVENT);
    assert_rip_kept();
}

/* ---- An operand that starts in RAM and ends past it: the EPT violation names the first byte
 * that is not RAM, not the operand's start, so the operand is located from its effective
 * address. As on a PC, the RAM bytes are RAM's and the rest goes where it is: all-ones from
 * nothing (writes dropped; the fake logs bad_access's 64-bit answer), or the device's bytes. */

#define RAM_END RAM_SIZE

static void set_ram_end(uint8_t below2, uint8_t below1)
{
    ram[RAM_END - 2] = below2, ram[RAM_END - 1] = below1;
}

static unsigned ram_end16(void) { return ram[RAM_END - 2] | ram[RAM_END - 1] << 8; }

/* A dword load at RAM end - 2, by MOV and by a string's element (LODS): two bytes of RAM, one
 * request for the two past it. */
static void test_split_load(void **state)
{
    static const struct { uint8_t bytes[2]; unsigned n; } forms[] = {
        { { 0x8b, 0x03 }, 2 },                              /* mov (%ebx),%eax */
        { { 0xad }, 1 },                                    /* lodsl */
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        setup_insn(state, CS32, forms[i].bytes, forms[i].n);
        set_ram_end(0x34, 0x12);
        v.regs.rbx = v.regs.rsi = RAM_END - 2;
        assert_int_equal(answer(exit_mmio(&v, RAM_END, false)), EXIT_CONTINUE);
        assert_int_equal(n_log, 1);
        expect_access(0, RAM_END, 2, false, ~0ull);
        assert_int_equal(v.regs.rax, 0xFFFF1234);
        assert_rip_advanced(forms[i].n);
        assert_no_unset_reads();
    }
    assert_int_equal(v.regs.rsi, RAM_END + 2);              /* LODS moved ESI by 4 */
}

/* A store there: RAM's two bytes written, the other two dropped by nothing. */
static void test_split_store(void **state)
{
    INSN(CS32, 0x89, 0x03);                                 /* mov %eax,(%ebx) */
    v.regs.rax = 0xABCD5678, v.regs.rbx = RAM_END - 2;
    assert_int_equal(answer(exit_mmio(&v, RAM_END, true)), EXIT_CONTINUE);
    assert_int_equal(n_log, 1);
    expect_access(0, RAM_END, 2, true, 0xABCD);
    assert_int_equal(ram_end16(), 0x5678);
    assert_rip_advanced(2);
    assert_no_unset_reads();
}

/* A read-modify-write: the load is RAM's bytes and all-ones, the sum's low half goes to RAM and
 * the high half to nothing, the flags from the whole dword (0xFFFF1234 + 1, SDM Vol. 2 ADD). */
static void test_split_rmw(void **state)
{
    INSN(CS32, 0xf0, 0x83, 0x03, 0x01);                     /* lock addl $1,(%ebx) */
    set_ram_end(0x34, 0x12);
    v.regs.rbx = RAM_END - 2;
    assert_int_equal(answer(exit_mmio(&v, RAM_END, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 2);
    expect_access(0, RAM_END, 2, false, ~0ull);
    expect_access(1, RAM_END, 2, true, 0xFFFF);
    assert_int_equal(ram_end16(), 0x1235);
    assert_int_equal(STATUS_OF(RFLAGS()), EMU_SF | EMU_PF);
    assert_rip_advanced(4);
    assert_no_unset_reads();
}

/* A qword at RAM end - 3: the five bytes past RAM in naturally aligned pieces, 4 then 1. */
static void test_split_odd_part(void **state)
{
    INSN(CS64, 0x48, 0x8b, 0x03);                           /* mov (%rbx),%rax */
    ram[RAM_END - 3] = 0x56;
    set_ram_end(0x34, 0x12);
    v.regs.rbx = RAM_END - 3;
    assert_int_equal(answer(exit_mmio(&v, RAM_END, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 2);
    expect_access(0, RAM_END, 4, false, ~0ull);
    expect_access(1, RAM_END + 4, 1, false, ~0ull);
    assert_int_equal(v.regs.rax, 0xFFFFFFFFFF123456ull);
    assert_rip_advanced(3);
}

/* movups across the end of RAM: its first piece is all RAM (no request), the others nothing;
 * the store writes the RAM piece and drops the rest. */
static void test_split_sse(void **state)
{
    INSN(CS32, 0x0f, 0x10, 0x03);                           /* movups (%ebx),%xmm0 */
    memcpy(ram + RAM_END - 4, "\x01\x02\x03\x04", 4);
    v.regs.rbx = RAM_END - 4;
    assert_int_equal(answer(exit_mmio(&v, RAM_END, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 2);
    expect_access(0, RAM_END, 8, false, ~0ull);
    expect_access(1, RAM_END + 8, 4, false, ~0ull);
    static const uint8_t want[16] = { 1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    assert_memory_equal(fake_xmm[0], want, 16);
    assert_rip_advanced(3);

    INSN(CS32, 0x0f, 0x11, 0x03);                           /* movups %xmm0,(%ebx) */
    for (unsigned i = 0; i < 16; i++)
        fake_xmm[0][i] = (uint8_t)(0xA0 + i);
    v.regs.rbx = RAM_END - 4;
    assert_int_equal(answer(exit_mmio(&v, RAM_END, true)), EXIT_CONTINUE);
    assert_memory_equal(ram + RAM_END - 4, fake_xmm[0], 4);
    expect_access(0, RAM_END, 8, true, 0xABAAA9A8A7A6A5A4ull);
    expect_access(1, RAM_END + 8, 4, true, 0xAFAEADAC);
    assert_no_unset_reads();
}

/* A dword at the device page's last two bytes: the device's two, then two of the page after it
 * (nothing there), each a request at its own address. */
static void test_split_device_end(void **state)
{
    INSN(CS32, 0x8b, 0x03);                                 /* mov (%ebx),%eax */
    dev[0xFFE] = 0x78, dev[0xFFF] = 0x56;
    v.regs.rbx = DEV_BASE + 0xFFE;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE + 0xFFE, false)), EXIT_CONTINUE);
    assert_int_equal(n_log, 2);
    expect_access(0, DEV_BASE + 0xFFE, 2, false, 0x5678);
    expect_access(1, DEV_BASE + 0x1000, 2, false, ~0ull);
    assert_int_equal(v.regs.rax, 0xFFFF5678);
}

/* 32-bit paging that puts the last RAM page (at linear 0x400000) right below the device's
 * (0x401000), the RAM page's PTE with the given flags; code identity-mapped by a 4 MiB page. */
static void map_ram_below_device(uint32_t ram_pte)
{
    uint32_t pd = 0x10000, pt = 0x11000, pde[2] = { 0x83, pt | 3 };
    uint32_t pte[2] = { (uint32_t)(RAM_END - 0x1000) | ram_pte, (uint32_t)DEV_BASE | 3 };
    memcpy(ram + pd, pde, sizeof pde);
    memcpy(ram + pt, pte, sizeof pte);
    v.cr0_shadow |= CR0_PG, v.cr4_shadow |= CR4_PSE;
    fake_vmcs_set(GUEST_CR3, pd);
}

/* Across RAM and the device page: a store writes RAM's part and gives the device its part, a
 * load reads both; with the RAM page read-only (CR0.WP) the store is #PF (present, write) at
 * the operand's start before any byte moves (SDM Vol. 3A 4.6, 4.7). */
static void test_split_ram_device(void **state)
{
    INSN(CS32, 0x89, 0x03);                                 /* mov %eax,(%ebx) */
    map_ram_below_device(3);
    v.regs.rax = 0xABCD5678, v.regs.rbx = 0x400FFE;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, true)), EXIT_CONTINUE);
    assert_int_equal(n_log, 1);
    expect_access(0, DEV_BASE, 2, true, 0xABCD);
    assert_int_equal(ram_end16(), 0x5678);
    assert_rip_advanced(2);

    INSN(CS32, 0x8b, 0x03);                                 /* mov (%ebx),%eax */
    map_ram_below_device(3);
    set_ram_end(0x34, 0x12);
    dev[0] = 0xCD, dev[1] = 0xAB;
    v.regs.rbx = 0x400FFE;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, false)), EXIT_CONTINUE);
    expect_access(0, DEV_BASE, 2, false, 0xABCD);
    assert_int_equal(v.regs.rax, 0xABCD1234);

    INSN(CS32, 0x89, 0x03);
    map_ram_below_device(1);
    v.cr0_shadow |= CR0_WP;
    v.regs.rax = 0xABCD5678, v.regs.rbx = 0x400FFE;
    assert_int_equal(answer(exit_mmio(&v, DEV_BASE, true)), EXIT_CONTINUE);
    assert_int_equal(n_requests, 0);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14);
    assert_int_equal(v.pending_error_code, 3);
    assert_int_equal(v.regs.cr2, 0x400FFE);
    assert_int_equal(ram_end16(), 0);
    assert_rip_kept();
}

/* What is not emulated goes up undecoded, with its bytes, for the VM layer's report. */
static void test_not_emulated(void **state)
{
    INSN(CS32, 0xff, 0x10);                                 /* call *(%eax) */
    assert_int_equal(exit_mmio(&v, DEV_BASE, false), EXIT_REQUEST);
    assert_false(v.req.mmio.decoded);
    assert_int_equal(v.req.mmio.gpa, DEV_BASE);
    assert_int_equal(v.req.mmio.bytes[1], 0x10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_mov),
        FAKE_TEST(test_xchg),
        FAKE_TEST(test_lock_or),
        FAKE_TEST(test_alu_forms),
        FAKE_TEST(test_bit_string),
        FAKE_TEST(test_cmpxchg),
        FAKE_TEST(test_xadd),
        FAKE_TEST(test_rep_movs_from_device),
        FAKE_TEST(test_movs_into_device),
        FAKE_TEST(test_movs_device_to_device_df),
        FAKE_TEST(test_rep_stos_batches),
        FAKE_TEST(test_rep_stos_single_step),
        FAKE_TEST(test_stos_addr16),
        FAKE_TEST(test_lods_nothing),
        FAKE_TEST(test_movs_page_fault),
        FAKE_TEST(test_stos_noncanonical),
        FAKE_TEST(test_sse_load_pieces),
        FAKE_TEST(test_sse_movq_nothing),
        FAKE_TEST(test_sse_store),
        FAKE_TEST(test_sse_misaligned),
        FAKE_TEST(test_push),
        FAKE_TEST(test_pop),
        FAKE_TEST(test_push_stack_outside_ram),
        FAKE_TEST(test_lock_mov_ud),
        FAKE_TEST(test_setcc),
        FAKE_TEST(test_cmov),
        FAKE_TEST(test_shift),
        FAKE_TEST(test_div),
        FAKE_TEST(test_bsf),
        FAKE_TEST(test_repz_cmps),
        FAKE_TEST(test_repnz_scas),
        FAKE_TEST(test_cmpxchg8b),
        FAKE_TEST(test_split_load),
        FAKE_TEST(test_split_store),
        FAKE_TEST(test_split_rmw),
        FAKE_TEST(test_split_odd_part),
        FAKE_TEST(test_split_sse),
        FAKE_TEST(test_split_device_end),
        FAKE_TEST(test_split_ram_device),
        FAKE_TEST(test_not_emulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

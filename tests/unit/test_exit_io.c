/* Host unit tests for the I/O instruction exits (vmx/exit_io.c: exit_io builds the request,
 * io_complete finishes the instruction), over the fake VMCS and guest RAM of fake_vmcs.h.
 * Rules: IN/OUT, INS/OUTS and REP in SDM Vol. 2; the exit qualification (Table 28-5) and the
 * instruction information of INS/OUTS (Table 28-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

#define Q_IN     (1u << 3)
#define Q_STRING (1u << 4)
#define Q_REP    (1u << 5)
enum { AS16, AS32, AS64 };                  /* instruction information bits 9:7 */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

/* An exit of an I/O instruction of size bytes at port, with the instruction information
 * (address size, segment) of INS/OUTS. */
static void io_exit(uint16_t port, unsigned size, unsigned flags, unsigned as, unsigned seg)
{
    v.exit_qual = ((uint64_t)port << 16) | (size - 1) | flags;
    fake_vmcs_set(VMX_INSTRUCTION_INFO, as << 7 | seg << 15);
}

struct size_case { unsigned size; uint64_t out_data, in_rax; };

/* AL/AX/EAX: an 8- or 16-bit IN keeps the rest of RAX, a 32-bit one zero-extends (SDM 3.4.1.1). */
static const struct size_case sizes[] = {
    { 1, 0xBE, 0x11223344556677DDull },
    { 2, 0xBABE, 0x112233445566CCDDull },
    { 4, 0xCAFEBABE, 0xAABBCCDDull },
};

/* OUT DX/imm8, AL/AX/EAX: the port, size and the register's low size bytes (SDM Vol. 2 OUT). */
static void test_out_sizes(void **state)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fake_setup(state);
        v.regs.rax = 0xDEADBEEFCAFEBABEull;
        io_exit(0x3F8, sizes[i].size, 0, AS64, SEG_DS);
        assert_int_equal(exit_io(&v), EXIT_REQUEST);
        assert_int_equal(v.req.kind, VCPU_REQ_IO);
        assert_int_equal(v.req.io.port, 0x3F8);
        assert_int_equal(v.req.io.size, sizes[i].size);
        assert_false(v.req.io.in);
        assert_int_equal(v.req.io.count, 1);
        assert_int_equal(v.req.io.data[0], sizes[i].out_data);
        assert_rip_kept();                  /* the instruction completes after the VM layer */
        assert_int_equal(io_complete(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rax, 0xDEADBEEFCAFEBABEull);
        assert_rip_advanced(2);
        assert_no_unset_reads();
    }
}

/* IN AL/AX/EAX, DX: the answer lands in the register with the width's merge rule (SDM 3.4.1.1). */
static void test_in_sizes(void **state)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fake_setup(state);
        v.regs.rax = 0x1122334455667788ull;
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 1);
        io_exit(0xCFC, sizes[i].size, Q_IN, AS64, SEG_DS);
        assert_int_equal(exit_io(&v), EXIT_REQUEST);
        assert_true(v.req.io.in);
        assert_int_equal(v.req.io.port, 0xCFC);
        assert_int_equal(v.req.io.size, sizes[i].size);
        v.req.io.data[0] = 0xAABBCCDD;      /* wider than the access: the upper bytes are not AL's */
        assert_int_equal(io_complete(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rax, sizes[i].in_rax);
        assert_rip_advanced(1);
        assert_no_unset_reads();
    }
}

/* OUTS reads DS:rSI, or the segment of an override prefix (SDM Vol. 2 OUTS, Table 28-8). */
static void test_outs_segment(void **state)
{
    static const struct { unsigned seg; uint64_t addr; } cases[] = {
        { SEG_DS, 0x20000 + 0x10 }, { SEG_FS, 0x30000 + 0x10 }, { SEG_ES, 0x40000 + 0x10 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_DS_BASE, 0x20000);
        fake_vmcs_set(GUEST_FS_BASE, 0x30000);
        fake_vmcs_set(GUEST_ES_BASE, 0x40000);
        memcpy(ram + cases[i].addr, "\x34\x12", 2);
        v.regs.rsi = 0x10;
        v.regs.rcx = 7;
        io_exit(0x80, 2, Q_STRING, AS32, cases[i].seg);
        assert_int_equal(exit_io(&v), EXIT_REQUEST);
        assert_int_equal(v.req.io.count, 1);
        assert_int_equal(v.req.io.data[0], 0x1234);
        assert_int_equal(io_complete(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rsi, 0x12);
        assert_int_equal(v.regs.rcx, 7);    /* without REP, RCX is not a count */
        assert_rip_advanced(2);
    }
}

/* REP OUTS: RCX elements, rSI stepping up, or down with RFLAGS.DF=1 (SDM Vol. 2 OUTS, REP). */
static void test_rep_outs_direction(void **state)
{
    for (int df = 0; df <= 1; df++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_RFLAGS, 0x2 | (df ? RFLAGS_DF : 0));
        for (int k = -2; k <= 2; k++)
            ram[0x500 + k] = (uint8_t)(0x50 + k);
        v.regs.rsi = 0x500;
        v.regs.rcx = 3;
        io_exit(0x60, 1, Q_STRING | Q_REP, AS64, SEG_DS);
        assert_int_equal(exit_io(&v), EXIT_REQUEST);
        assert_int_equal(v.req.io.count, 3);
        for (int k = 0; k < 3; k++)
            assert_int_equal(v.req.io.data[k], 0x50 + (df ? -k : k));
        assert_int_equal(io_complete(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rsi, df ? 0x4FD : 0x503);
        assert_int_equal(v.regs.rcx, 0);
        assert_rip_advanced(2);
    }
}

/* Address size 16: CX is the count and SI the pointer; the upper bits of RCX and RSI are
 * neither used nor changed (SDM Vol. 2 REP and OUTS: the registers by address size). */
static void test_rep_outs_16bit_address_size(void **state)
{
    (void)state;
    fake_vmcs_set(GUEST_DS_BASE, 0x10000);
    ram[0x1FFFE] = 0xA1, ram[0x1FFFF] = 0xA2;
    v.regs.rsi = 0x1234FFFEull;
    v.regs.rcx = 0xABCD000000000002ull;
    io_exit(0x80, 1, Q_STRING | Q_REP, AS16, SEG_DS);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_int_equal(v.req.io.count, 2);
    assert_int_equal(v.req.io.data[0], 0xA1);
    assert_int_equal(v.req.io.data[1], 0xA2);
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rsi, 0x12340000ull);        /* SI wrapped, RSI[63:16] kept */
    assert_int_equal(v.regs.rcx, 0xABCD000000000000ull);
    assert_rip_advanced(2);
}

/* Address size 16: the offset of each element wraps within 16 bits, SI or DI = 0xFFFF is followed
 * by offset 0, not 0x10000 (SDM Vol. 2 OUTS/INS: SI and DI are 16-bit registers there). */
static void test_rep_16bit_index_wraps(void **state)
{
    for (int in = 0; in <= 1; in++) {
        fake_setup(state);
        fake_vmcs_set(in ? GUEST_ES_BASE : GUEST_DS_BASE, 0x10000);
        ram[0x1FFFF] = 0xA1, ram[0x10000] = 0xA2, ram[0x10001] = 0xA3;
        v.regs.rsi = v.regs.rdi = 0xFFFF;
        v.regs.rcx = 3;
        io_exit(0x80, 1, Q_STRING | Q_REP | (in ? Q_IN : 0), AS16, SEG_DS);
        assert_int_equal(exit_io(&v), EXIT_REQUEST);
        if (in) {
            memset(ram + 0x10000, 0, 0x10002);
            v.req.io.data[0] = 0xB1, v.req.io.data[1] = 0xB2, v.req.io.data[2] = 0xB3;
        }
        assert_int_equal(io_complete(&v), EXIT_CONTINUE);
        assert_int_equal(in ? v.regs.rdi : v.regs.rsi, 0x0002);
        if (in) {
            assert_int_equal(ram[0x1FFFF], 0xB1);
            assert_int_equal(ram[0x10000], 0xB2);
            assert_int_equal(ram[0x10001], 0xB3);
            assert_int_equal(ram[0x20000], 0);      /* not past the 64 KiB of the segment */
        } else {
            assert_int_equal(v.req.io.data[0], 0xA1);
            assert_int_equal(v.req.io.data[1], 0xA2);
            assert_int_equal(v.req.io.data[2], 0xA3);
        }
    }
}

/* A REP longer than one request: VCPU_IO_BATCH elements, RCX counts them off and RIP stays, so
 * the guest re-executes the instruction for the rest (REP is interruptible, SDM Vol. 2 REP). */
static void test_rep_batch_limit(void **state)
{
    (void)state;
    for (unsigned k = 0; k < VCPU_IO_BATCH; k++)
        ram[0x2000 + k] = (uint8_t)k;
    v.regs.rsi = 0x2000;
    v.regs.rcx = VCPU_IO_BATCH + 10;
    io_exit(0x80, 1, Q_STRING | Q_REP, AS64, SEG_DS);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_int_equal(v.req.io.count, VCPU_IO_BATCH);
    assert_int_equal(v.req.io.data[VCPU_IO_BATCH - 1], (VCPU_IO_BATCH - 1) & 0xFF);
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 10);
    assert_int_equal(v.regs.rsi, 0x2000 + VCPU_IO_BATCH);
    assert_rip_kept();
}

/* REP with a zero count does nothing but end the instruction (SDM Vol. 2 REP); CX=0 with a
 * 16-bit address size though RCX is not 0. */
static void test_rep_count_zero(void **state)
{
    static const struct { unsigned as, flags; uint64_t rcx; } cases[] = {
        { AS64, 0, 0 }, { AS16, 0, 0x10000 }, { AS64, Q_IN, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.regs.rcx = cases[i].rcx;
        v.regs.rsi = v.regs.rdi = RAM_SIZE + 0x1000;     /* no element is touched */
        io_exit(0x80, 4, Q_STRING | Q_REP | cases[i].flags, cases[i].as, SEG_DS);
        assert_int_equal(exit_io(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rcx, cases[i].rcx);
        assert_rip_advanced(2);
    }
}

/* REP INS writes ES:rDI (no segment override, SDM Vol. 2 INS) size bytes per element, stepping
 * by DF, once the VM layer answered; RDI and RCX as the CPU leaves them. */
static void test_rep_ins_writes_memory(void **state)
{
    for (int df = 0; df <= 1; df++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_RFLAGS, 0x2 | (df ? RFLAGS_DF : 0));
        fake_vmcs_set(GUEST_ES_BASE, 0x3000);
        fake_vmcs_set(GUEST_FS_BASE, 0x9000);
        memset(ram + 0x3000, 0xEE, 0x100);
        v.regs.rdi = 0x40;
        v.regs.rcx = 3;
        io_exit(0x1F0, 2, Q_IN | Q_STRING | Q_REP, AS32, SEG_FS);
        assert_int_equal(exit_io(&v), EXIT_REQUEST);
        assert_true(v.req.io.in);
        assert_int_equal(v.req.io.count, 3);
        v.req.io.data[0] = 0xFFFF1111, v.req.io.data[1] = 0xFFFF2222, v.req.io.data[2] = 0xFFFF3333;
        assert_int_equal(io_complete(&v), EXIT_CONTINUE);
        static const uint8_t up[] = { 0xEE, 0xEE, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0xEE, 0xEE };
        static const uint8_t down[] = { 0x33, 0x33, 0x22, 0x22, 0x11, 0x11, 0xEE, 0xEE };
        if (df)
            assert_memory_equal(ram + 0x3000 + 0x3C, down, sizeof down);
        else
            assert_memory_equal(ram + 0x3000 + 0x3E, up, sizeof up);
        assert_int_equal(v.regs.rdi, df ? 0x3A : 0x46);
        assert_int_equal(v.regs.rcx, 0);
        assert_rip_advanced(2);
    }
}

/* A batch of REP INS: RDI moves by the batch, RCX keeps the rest and RIP stays (SDM Vol. 2 REP). */
static void test_rep_ins_batch_limit(void **state)
{
    (void)state;
    v.regs.rdi = 0x8000;
    v.regs.rcx = 300;
    io_exit(0x1F0, 4, Q_IN | Q_STRING | Q_REP, AS64, SEG_DS);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_int_equal(v.req.io.count, VCPU_IO_BATCH);
    for (unsigned k = 0; k < VCPU_IO_BATCH; k++)
        v.req.io.data[k] = 0xC0DE0000 + k;
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    uint32_t last;
    memcpy(&last, ram + 0x8000 + 4 * (VCPU_IO_BATCH - 1), 4);
    assert_int_equal(last, 0xC0DE0000 + VCPU_IO_BATCH - 1);
    assert_int_equal(v.regs.rdi, 0x8000 + 4 * VCPU_IO_BATCH);
    assert_int_equal(v.regs.rcx, 300 - VCPU_IO_BATCH);
    assert_rip_kept();
}

/* INS into memory of nothing: the value is dropped and the instruction completes, as on a PC
 * (reads of nothing are all-ones, writes go nowhere). */
static void test_ins_into_nothing(void **state)
{
    (void)state;
    v.regs.rdi = 0x300000;
    io_exit(0x60, 1, Q_IN | Q_STRING, AS32, SEG_ES);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_true(v.req.io.nothing);          /* for the VM layer to count (on_bad_access) */
    assert_int_equal(v.req.io.nothing_gpa, 0x300000);
    v.req.io.data[0] = 0x42;
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rdi, 0x300001);
    assert_rip_advanced(2);
}

/* OUTS of a word straddling the end of RAM: the RAM byte, then all-ones. */
static void test_outs_from_nothing(void **state)
{
    (void)state;
    ram[RAM_SIZE - 1] = 0x5A;
    v.regs.rsi = RAM_SIZE - 1;
    io_exit(0x60, 2, Q_STRING, AS32, SEG_DS);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_int_equal(v.req.io.data[0], 0xFF5A);
    assert_true(v.req.io.nothing);
    assert_int_equal(v.req.io.nothing_gpa, RAM_SIZE);
}

/* 64-bit mode (SDM Vol. 2B INS, Vol. 1 3.4.2.1): ES's base is ignored; a non-canonical RDI is
 * #GP(0) before the port is read; with a 32-bit address size (addr32) RDI and RCX are
 * written as 32-bit registers, their upper halves cleared. */
static void test_ins_64bit_mode(void **state)
{
    (void)state;
    fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    fake_vmcs_set(GUEST_CS_AR_BYTES, 0xA09B);
    fake_vmcs_set(GUEST_ES_BASE, 0x100000);
    v.regs.rdi = 0x5000;
    io_exit(0x60, 1, Q_IN | Q_STRING, AS64, SEG_ES);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    v.req.io.data[0] = 0x42;
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    assert_int_equal(ram[0x5000], 0x42);
    assert_int_equal(ram[0x105000], 0);

    fake_setup(state);
    fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    fake_vmcs_set(GUEST_CS_AR_BYTES, 0xA09B);
    v.regs.rdi = 0x8000000000000000ull;
    io_exit(0x60, 1, Q_IN | Q_STRING, AS64, SEG_ES);
    assert_int_equal(exit_io(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 13);

    fake_setup(state);
    fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    fake_vmcs_set(GUEST_CS_AR_BYTES, 0xA09B);
    v.regs.rdi = 0xFFFFFFFF00006000ull;
    v.regs.rcx = 0xFFFFFFFF00000002ull;
    io_exit(0x60, 1, Q_IN | Q_STRING | Q_REP, AS32, SEG_ES);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_int_equal(v.req.io.count, 2);
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rdi, 0x6002);
    assert_int_equal(v.regs.rcx, 0);
}

/* A ring-3 INSB with IOPL=3 into a supervisor page, or into a read-only page (from ring 3, or
 * from ring 0 with CR0.WP=1), is a #PF with the CPU's error code and CR2, and the port is not
 * read (SDM Vol. 3A 4.6, 4.7). The chaos guest wrote kernel memory this way. */
static void test_ins_page_permissions(void **state)
{
    static const struct { uint64_t pte; unsigned dpl; bool wp; uint32_t error; } cases[] = {
        { 0x7000 | 0x3, 3, false, 0x7 },    /* supervisor page from ring 3: P|W|U */
        { 0x7000 | 0x5, 3, false, 0x7 },    /* read-only user page from ring 3 */
        { 0x7000 | 0x1, 0, true, 0x3 },     /* read-only page, ring 0, WP=1: P|W */
        { 0x7000 | 0x1, 0, false, 0 },      /* ... WP=0: allowed */
        { 0x7000 | 0x7, 3, false, 0 },      /* user, writable: allowed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        uint32_t *pd = (uint32_t *)(ram + 0x20000), *pt = (uint32_t *)(ram + 0x21000);
        pd[0] = 0x21000 | 0x7;
        pt[7] = (uint32_t)cases[i].pte;
        v.cr0_shadow = CR0_PE | CR0_PG | CR0_ET | (cases[i].wp ? CR0_WP : 0);
        fake_vmcs_set(GUEST_CR3, 0x20000);
        fake_vmcs_set(GUEST_SS_AR_BYTES, 0xC093 | cases[i].dpl << 5);
        v.regs.rdi = 0x7010;
        io_exit(0x60, 1, Q_IN | Q_STRING, AS32, SEG_ES);
        if (!cases[i].error) {
            assert_int_equal(exit_io(&v), EXIT_REQUEST);
            continue;
        }
        assert_int_equal(exit_io(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14);
        assert_int_equal(v.pending_error_code, cases[i].error);
        assert_int_equal(v.regs.cr2, 0x7010);
        assert_rip_kept();
    }
}

/* REP INS under RFLAGS.TF: one element per exit, a single-step #DB after each with RIP still on
 * the instruction while RCX is not 0 (SDM Vol. 3B 18.3.1.4). */
static void test_rep_ins_single_step(void **state)
{
    (void)state;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | RFLAGS_TF);
    v.regs.rdi = 0x8000;
    v.regs.rcx = 3;
    io_exit(0x60, 1, Q_IN | Q_STRING | Q_REP, AS32, SEG_ES);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_int_equal(v.req.io.count, 1);
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 2);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 1);
    assert_true(fake_dr[6] & (1u << 14));
    assert_rip_kept();
}

/* INS/OUTS check their memory operand's segment in protected mode (SDM Vol. 2B INS/OUTS,
 * Vol. 3A 5.3-5.4): #GP(0) past the limit or for a segment INS cannot write (OUTS cannot read),
 * #SS(0) for SS; the elements before a faulting one complete, and the REP instruction faults
 * when re-executed with that element first. The chaos guest found these unchecked. */
static void test_string_segment_checks(void **state)
{
    static const struct { bool in; unsigned seg; uint32_t limit, ar; uint64_t index; int vec; } cases[] = {
        { true, SEG_ES, 0xFFF, 0xC093, 0x2000, 13 },    /* past ES's limit */
        { true, SEG_ES, 0xFFFFFFFF, 0xC091, 0x2000, 13 },   /* read-only ES */
        { false, SEG_SS, 0xFFF, 0xC093, 0x2000, 12 },   /* past SS's limit: #SS */
        { false, SEG_CS, 0xFFFFFFFF, 0xC099, 0x2000, 13 },  /* execute-only code */
        { false, SEG_CS, 0xFFFFFFFF, 0xC09B, 0x2000, -1 },  /* readable code: fine */
        { true, SEG_ES, 0x1FFF, 0xC097, 0x1000, 13 },   /* expand-down, at or below the limit */
        { true, SEG_ES, 0x0FFF, 0xC097, 0x2000, -1 },   /* expand-down, above it */
    };
    static const struct vmcs_field32 limits[6] = { GUEST_ES_LIMIT, GUEST_CS_LIMIT, GUEST_SS_LIMIT,
                                                   GUEST_DS_LIMIT, GUEST_FS_LIMIT, GUEST_GS_LIMIT };
    static const struct vmcs_field32 rights[6] = { GUEST_ES_AR_BYTES, GUEST_CS_AR_BYTES, GUEST_SS_AR_BYTES,
                                                   GUEST_DS_AR_BYTES, GUEST_FS_AR_BYTES, GUEST_GS_AR_BYTES };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(limits[cases[i].seg], cases[i].limit);
        fake_vmcs_set(rights[cases[i].seg], cases[i].ar);
        if (cases[i].in)
            v.regs.rdi = cases[i].index;
        else
            v.regs.rsi = cases[i].index;
        io_exit(0x80, 1, Q_STRING | (cases[i].in ? Q_IN : 0), AS32, cases[i].seg);
        enum exit_action a = exit_io(&v);
        if (cases[i].vec < 0) {
            assert_int_equal(a, EXIT_REQUEST);
            continue;
        }
        assert_int_equal(a, EXIT_CONTINUE);
        assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION |
                                          INTR_INFO_DELIVER_CODE | (uint32_t)cases[i].vec);
        assert_int_equal(v.pending_error_code, 0);
        assert_rip_kept();
    }
    /* REP INSB of 8 bytes from 0xFFC under a limit of 0xFFF: 4 complete, then the fault. */
    fake_setup(state);
    fake_vmcs_set(GUEST_ES_LIMIT, 0xFFF);
    v.regs.rdi = 0xFFC;
    v.regs.rcx = 8;
    io_exit(0x80, 1, Q_STRING | Q_IN | Q_REP, AS32, SEG_ES);
    assert_int_equal(exit_io(&v), EXIT_REQUEST);
    assert_int_equal(v.req.io.count, 4);
    assert_int_equal(io_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rcx, 4);
    assert_int_equal(v.regs.rdi, 0x1000);
    assert_rip_kept();
    assert_int_equal(exit_io(&v), EXIT_CONTINUE);     /* re-executed: element 0 faults */
    assert_int_equal(v.pending_event & 0xFF, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_out_sizes),
        FAKE_TEST(test_in_sizes),
        FAKE_TEST(test_outs_segment),
        FAKE_TEST(test_rep_outs_direction),
        FAKE_TEST(test_rep_outs_16bit_address_size),
        FAKE_TEST(test_rep_16bit_index_wraps),
        FAKE_TEST(test_rep_batch_limit),
        FAKE_TEST(test_rep_count_zero),
        FAKE_TEST(test_rep_ins_writes_memory),
        FAKE_TEST(test_rep_ins_batch_limit),
        FAKE_TEST(test_ins_into_nothing),
        FAKE_TEST(test_outs_from_nothing),
        FAKE_TEST(test_ins_64bit_mode),
        FAKE_TEST(test_ins_page_permissions),
        FAKE_TEST(test_rep_ins_single_step),
        FAKE_TEST(test_string_segment_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

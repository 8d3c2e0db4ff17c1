/* Host unit tests for the exit dispatcher and the handlers of vmx/exit.c (HLT, external
 * interrupt, XSETBV, VMCALL, EPT violation into vmx/exit_mmio.c, and the one-line handlers),
 * over the fake VMCS, guest RAM and int_n_stubs of fake_vmcs.h. Rules: exit reasons in SDM
 * Appendix C, the exit-reason field in SDM 25.9.1, the instructions in SDM Vol. 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

#define ENTRY_FAILURE (1u << 31)

/* A failed VM entry sets bit 31 of the exit reason (SDM 27.8): whatever the basic reason, the
 * guest stops; never run the handler of the basic reason (1 would be EXIT_EVENTS). */
static void test_entry_failure(void **state)
{
    static const struct { uint32_t reason; uint64_t qual; const char *why; } cases[] = {
        { 33, 0, "VM entry failed: invalid guest state" },
        { 33, 3, "VM entry failed: invalid guest state: NMI injection" },
        { 33, 9, "VM entry failed: invalid guest state" },
        { 34, 0, "VM entry failed: VM-entry failure: MSR loading" },
        { 41, 0, "VM entry failed: VM-entry failure: machine check" },
        { 1, 0, "VM entry failed: external interrupt" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.exit_reason = ENTRY_FAILURE | cases[i].reason;
        v.exit_qual = cases[i].qual;
        assert_int_equal(exit_dispatch(&v), EXIT_CRASH);
        assert_string_equal(v.crash_reason, cases[i].why);
    }
}

/* A basic exit reason (bits 15:0) without a handler, or beyond the table, stops the guest and
 * not the host (SDM Appendix C lists 0-64 with holes). */
static void test_unknown_reasons(void **state)
{
    static const struct { uint32_t reason; const char *why; } cases[] = {
        { 70, "exit that cannot be emulated: unknown exit reason (70)" },
        { 65, "exit that cannot be emulated: unknown exit reason (65)" },
        { 0xFFFF, "exit that cannot be emulated: unknown exit reason (65535)" },
        { 3, "exit that cannot be emulated: INIT signal (3)" },
        { 37, "exit that cannot be emulated: monitor trap flag (37)" },
        { 64, "exit that cannot be emulated: XRSTORS (64)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.exit_reason = cases[i].reason;
        assert_int_equal(exit_dispatch(&v), EXIT_CRASH);
        assert_string_equal(v.crash_reason, cases[i].why);
    }
}

/* The handlers of one line: #UD for VMX instructions (VMX hidden, CPUID.1:ECX.VMX=0) and
 * MONITOR/MWAIT (hidden), #GP for RDPMC (no counters, SDM Vol. 2 RDPMC), INVD/WBINVD skipped,
 * the window and the timer back to the VM layer, a triple fault fatal, a task switch emulated. Bits
 * 31:16 other than 31 do not change the basic reason (SDM 25.9.1). */
static void test_simple_handlers(void **state)
{
    static const struct { uint32_t reason; enum exit_action action; uint32_t event; unsigned len; const char *why; } cases[] = {
        { EXIT_REASON_INVD, EXIT_CONTINUE, 0, 2, NULL },
        { EXIT_REASON_WBINVD, EXIT_CONTINUE, 0, 2, NULL },
        { (1u << 27) | EXIT_REASON_WBINVD, EXIT_CONTINUE, 0, 2, NULL },
        { EXIT_REASON_RDPMC, EXIT_CONTINUE, GP_EVENT, 0, NULL },
        { EXIT_REASON_MWAIT, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_MONITOR, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMCLEAR, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMLAUNCH, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMPTRLD, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMPTRST, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMREAD, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMRESUME, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMWRITE, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMXOFF, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMXON, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_INVEPT, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_INVVPID, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_VMFUNC, EXIT_CONTINUE, UD_EVENT, 0, NULL },
        { EXIT_REASON_INTERRUPT_WINDOW, EXIT_EVENTS, 0, 0, NULL },
        { EXIT_REASON_PREEMPTION_TIMER, EXIT_YIELD, 0, 0, NULL },
        { EXIT_REASON_TRIPLE_FAULT, EXIT_CRASH, 0, 0, "triple fault" },
        { EXIT_REASON_TASK_SWITCH, EXIT_CONTINUE, GP_EVENT, 0, NULL },     /* CALL 0:0 (test_task_switch.c) */
        { EXIT_REASON_EPT_MISCONFIG, EXIT_CRASH, 0, 0, "EPT misconfiguration at guest-physical 0xfee00000 (a hypervisor bug)" },
        { EXIT_REASON_EXCEPTION_NMI, EXIT_CRASH, 0, 0, "unexpected exception 14" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_PHYSICAL_ADDRESS, 0xFEE00000);
        fake_vmcs_set(VM_EXIT_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14);
        v.exit_reason = cases[i].reason;
        if (exit_dispatch(&v) != cases[i].action)
            fail_msg("reason %u: action %d expected", cases[i].reason, cases[i].action);
        if (v.pending_event != cases[i].event)
            fail_msg("reason %u: event 0x%x, expected 0x%x", cases[i].reason, v.pending_event, cases[i].event);
        if (cases[i].len)
            assert_rip_advanced(cases[i].len);
        else
            assert_rip_kept();
        if (cases[i].why)
            assert_string_equal(v.crash_reason, cases[i].why);
    }
}

/* HLT: the vCPU halts until an interrupt, remembering RFLAGS.IF (HLT with IF=0 waits for an NMI
 * only, SDM Vol. 2 HLT); RIP moves past it, and the CPU goes back to the scheduler. */
static void test_hlt(void **state)
{
    for (int ifl = 0; ifl <= 1; ifl++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_RFLAGS, 0x2 | (ifl ? RFLAGS_IF : 0));
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 1);
        v.halt_if = !ifl;
        v.exit_reason = EXIT_REASON_HLT;
        assert_int_equal(exit_dispatch(&v), EXIT_YIELD);
        assert_true(v.halted);
        assert_int_equal(v.halt_if, ifl);
        assert_rip_advanced(1);
        assert_no_unset_reads();
    }
}

/* An external interrupt acknowledged on exit (SDM 28.2.2: VM_EXIT_INTR_INFO holds its vector)
 * runs the host's handler for that vector; without a valid vector nothing runs. The guest gets
 * nothing and the VM layer re-evaluates its events. */
static void test_external_interrupt(void **state)
{
    static const uint32_t infos[] = { 0x31, INTR_INFO_VALID | 0x31, INTR_INFO_VALID | 0xEF, INTR_INFO_VALID | 0x20 };
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(VM_EXIT_INTR_INFO, infos[i]);
        v.exit_reason = EXIT_REASON_EXTERNAL_INTERRUPT;
        assert_int_equal(exit_dispatch(&v), EXIT_EVENTS);
        bool valid = infos[i] & INTR_INFO_VALID;
        assert_int_equal(fake_int_calls, valid ? 1 : 0);
        if (valid)
            assert_int_equal(fake_int_vector, infos[i] & 0xFF);
        assert_int_equal(v.pending_event, 0);
        assert_rip_kept();
    }
}

/* XSETBV (SDM Vol. 2 XSETBV): #UD without CR4.OSXSAVE; #GP(0) at CPL>0, for ECX other than 0
 * (RCX[63:32] ignored), or a value XCR0 cannot hold; else XCR0 = EDX:EAX. */
static void test_xsetbv(void **state)
{
    enum { OK, UD, GP };
    static const struct { uint64_t cr4; uint32_t ss_ar; uint64_t rcx, rdx, rax; int want; } cases[] = {
        { 0, 0x93, 0, 0, 3, UD },
        { CR4_OSXSAVE, 0x93, 1, 0, 3, GP },
        { CR4_OSXSAVE, 0x93, 1ull << 32, 0, 3, OK },
        { CR4_OSXSAVE, 0xF3, 0, 0, 3, GP },                     /* SS.DPL = 3 */
        { CR4_OSXSAVE, 0x93, 0, 0, 2, GP },                     /* x87 clear */
        { CR4_OSXSAVE, 0x93, 0, 1, 7, GP },                     /* bit 32 */
        { CR4_OSXSAVE, 0x93, 0, 0, 0xFFFFFFFF00000007ull, OK },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.xcr0 = 1;
        v.cr4_shadow = cases[i].cr4;
        fake_vmcs_set(GUEST_SS_AR_BYTES, cases[i].ss_ar);
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 3);
        v.regs.rcx = cases[i].rcx, v.regs.rdx = cases[i].rdx, v.regs.rax = cases[i].rax;
        v.exit_reason = EXIT_REASON_XSETBV;
        assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, cases[i].want == UD ? UD_EVENT : cases[i].want == GP ? GP_EVENT : 0);
        assert_int_equal(v.xcr0, cases[i].want == OK ? (uint32_t)cases[i].rax : 1);
        if (cases[i].want == OK)
            assert_rip_advanced(3);
        else
            assert_rip_kept();
        assert_no_unset_reads();
    }
}

/* VMCALL: a hypercall for the VM layer, number in RAX and arguments in RBX, RCX, RDX, RSI
 * (docs/hypercalls.md); the answer returns in RAX (and RDX when the VM layer says so) and the
 * instruction (3 bytes) ends only then. In 64-bit mode the registers go up whole; outside
 * it their high halves are undefined and only the low halves go up; with every high half
 * zero the mode is not even read (no VMREAD of EFER or CS). */
static void test_vmcall(void **state)
{
    static const struct { bool high; uint64_t efer; uint32_t cs_ar; bool wide; } modes[] = {
        { true, EFER_LMA, 0xA09B, true },       /* 64-bit mode: CS.L */
        { true, EFER_LMA, 0xC09B, false },      /* compatibility mode */
        { true, 0, 0xC09B, false },             /* 32-bit protected mode */
        { false, 0, 0, false },                 /* high halves zero: mode not read */
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        fake_setup(state);
        if (modes[i].high) {
            fake_vmcs_set(GUEST_IA32_EFER, modes[i].efer);
            fake_vmcs_set(GUEST_CS_AR_BYTES, modes[i].cs_ar);
        }
        fake_vmcs_set(GUEST_SS_AR_BYTES, 0xC093);
        uint64_t h = modes[i].high ? 1ull << 32 : 0;
        v.regs.rax = h | 0x10, v.regs.rbx = 2 * h | 0x20, v.regs.rcx = 3 * h | 0x30;
        v.regs.rdx = 4 * h | 0x40, v.regs.rsi = 5 * h | 0x50, v.regs.rdi = 0x60;
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 3);
        v.exit_reason = EXIT_REASON_VMCALL;
        assert_int_equal(exit_dispatch(&v), EXIT_REQUEST);
        assert_int_equal(v.req.kind, VCPU_REQ_HYPERCALL);
        uint64_t hi = modes[i].wide ? h : 0;
        assert_int_equal(v.req.hypercall.nr, hi | 0x10);
        assert_int_equal(v.req.hypercall.a1, 2 * hi | 0x20);
        assert_int_equal(v.req.hypercall.a2, 3 * hi | 0x30);
        assert_int_equal(v.req.hypercall.a3, 4 * hi | 0x40);
        assert_int_equal(v.req.hypercall.a4, 5 * hi | 0x50);
        assert_int_equal(v.req.hypercall.cpl, 0);
        assert_rip_kept();
        v.req.hypercall.ret = 42;
        if (!modes[i].wide) {                   /* ANF_HC_TIME's high half for a 32-bit caller */
            v.req.hypercall.set_rdx = true;
            v.req.hypercall.rdx = 7;
        }
        assert_int_equal(vcpu_complete(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rax, 42);
        assert_int_equal(v.regs.rdx, modes[i].wide ? 4 * h | 0x40 : 7);
        assert_int_equal(v.regs.rbx, 2 * h | 0x20);     /* nothing else changes */
        assert_int_equal(v.regs.rsi, 5 * h | 0x50);
        assert_int_equal(v.regs.rdi, 0x60);
        assert_rip_advanced(3);
        assert_no_unset_reads();
    }
}

/* VMCALL exits at any CPL (SDM Vol. 3C 26.1.2): the caller's CPL, SS.DPL (25.4.1), goes up with
 * the request so that the VM layer can refuse user code (it answers -1); RIP still advances. */
static void test_vmcall_carries_cpl(void **state)
{
    static const struct { uint32_t ss_ar; uint8_t cpl; } cases[] = {
        { 0xC093, 0 }, { 0xC0B3, 1 }, { 0xC0F3, 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_SS_AR_BYTES, cases[i].ss_ar);
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 3);
        v.regs.rax = 0;
        v.exit_reason = EXIT_REASON_VMCALL;
        assert_int_equal(exit_dispatch(&v), EXIT_REQUEST);
        assert_int_equal(v.req.hypercall.cpl, cases[i].cpl);
        v.req.hypercall.ret = ~0ull;            /* the VM layer's "not permitted" */
        assert_int_equal(vcpu_complete(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rax, ~0ull);
        assert_rip_advanced(3);
        assert_no_unset_reads();
    }
}

/* An EPT violation on an instruction fetch (qualification bit 2, SDM Table 28-7): no device
 * can supply code, the guest stops. */
static void test_ept_violation_fetch(void **state)
{
    (void)state;
    fake_vmcs_set(GUEST_PHYSICAL_ADDRESS, 0xFEE00000);
    v.exit_reason = EXIT_REASON_EPT_VIOLATION;
    v.exit_qual = 1u << 2 | 1u << 0;
    assert_int_equal(exit_dispatch(&v), EXIT_CRASH);
    assert_string_equal(v.crash_reason, "instruction fetch outside its RAM at guest-physical 0xfee00000");
}

/* A data access outside RAM: the instruction at CS.base + RIP is decoded in the code segment's
 * mode (CS.L with EFER.LMA: 64-bit, else CS.D: 32- or 16-bit, SDM 3.4.5) into an MMIO request;
 * completion moves RIP by the decoded length, as VM_EXIT_INSTRUCTION_LEN is undefined for EPT
 * violations (SDM 28.2.5). */
static void test_ept_violation_mmio(void **state)
{
    /* The operand is at DS.base + BX in 16-bit code (its offset is 16 bits), at RBX otherwise. */
    static const struct { uint32_t cs_ar; uint64_t efer, ds_base; bool write; uint8_t bytes[3]; unsigned n, size; uint64_t rax_after; } cases[] = {
        { 0xC09B, 0, 0, true, { 0x89, 0x03 }, 2, 4, 0xFFFFFFFFCAFEBABEull },           /* mov %eax,(%ebx) */
        { 0x009B, 0, 0xFEE00000, true, { 0x89, 0x07 }, 2, 2, 0xFFFFFFFFCAFEBABEull },  /* mov %ax,(%bx) */
        { 0xA09B, EFER_LME | EFER_LMA, 0, true, { 0x48, 0x89, 0x03 }, 3, 8, 0xFFFFFFFFCAFEBABEull },
        { 0xC09B, 0, 0, false, { 0x8B, 0x03 }, 2, 4, 0x12345678 },                     /* mov (%ebx),%eax */
        { 0x009B, 0, 0xFEE00000, false, { 0x8B, 0x07 }, 2, 2, 0xFFFFFFFFCAFE5678ull },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_CS_BASE, 0x10000);
        fake_vmcs_set(GUEST_CS_AR_BYTES, cases[i].cs_ar);
        fake_vmcs_set(GUEST_IA32_EFER, cases[i].efer);
        fake_vmcs_set(GUEST_DS_BASE, cases[i].ds_base);
        fake_vmcs_set(GUEST_PHYSICAL_ADDRESS, 0xFEE000B0);
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 7);
        memcpy(ram + 0x10000 + START_RIP, cases[i].bytes, cases[i].n);
        v.regs.rax = 0xFFFFFFFFCAFEBABEull, v.regs.rbx = 0xFEE000B0;
        v.exit_reason = EXIT_REASON_EPT_VIOLATION;
        v.exit_qual = cases[i].write ? 2 : 1;
        assert_int_equal(exit_dispatch(&v), EXIT_REQUEST);
        assert_int_equal(v.req.kind, VCPU_REQ_MMIO);
        assert_int_equal(v.req.mmio.gpa, 0xFEE000B0);
        assert_int_equal(v.req.mmio.write, cases[i].write);
        assert_true(v.req.mmio.decoded);
        assert_int_equal(v.req.mmio.store, cases[i].write);
        assert_int_equal(v.req.mmio.load, !cases[i].write);
        assert_int_equal(v.req.mmio.size, cases[i].size);
        assert_memory_equal(v.req.mmio.bytes, cases[i].bytes, 2);
        if (cases[i].write)
            assert_int_equal(v.req.mmio.data, 0xFFFFFFFFCAFEBABEull & (~0ull >> (64 - 8 * cases[i].size)));
        assert_rip_kept();
        v.req.mmio.data = 0x12345678;
        assert_int_equal(vcpu_complete(&v), EXIT_CONTINUE);
        assert_int_equal(v.regs.rax, cases[i].rax_after);
        assert_rip_advanced(cases[i].n);
    }
}

/* An instruction the decoder refuses (an indirect call through device memory) still goes to the
 * VM layer, marked not decoded, with the bytes that could be fetched for the report. */
static void test_ept_violation_undecodable(void **state)
{
    (void)state;
    fake_vmcs_set(GUEST_CS_AR_BYTES, 0xC09B);
    fake_vmcs_set(GUEST_PHYSICAL_ADDRESS, 0xFEC00000);
    memcpy(ram + START_RIP, "\xFF\x10", 2);                 /* call *(%eax) */
    v.exit_reason = EXIT_REASON_EPT_VIOLATION;
    v.exit_qual = 2;
    assert_int_equal(exit_dispatch(&v), EXIT_REQUEST);
    assert_false(v.req.mmio.decoded);
    assert_int_equal(v.req.mmio.bytes[0], 0xFF);
    assert_int_equal(v.req.mmio.bytes[1], 0x10);
    assert_int_equal(v.req.mmio.nbytes, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_entry_failure),
        FAKE_TEST(test_unknown_reasons),
        FAKE_TEST(test_simple_handlers),
        FAKE_TEST(test_hlt),
        FAKE_TEST(test_external_interrupt),
        FAKE_TEST(test_xsetbv),
        FAKE_TEST(test_vmcall),
        FAKE_TEST(test_vmcall_carries_cpl),
        FAKE_TEST(test_ept_violation_fetch),
        FAKE_TEST(test_ept_violation_mmio),
        FAKE_TEST(test_ept_violation_undecodable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for event delivery in vmx/run.c: interruptibility, interrupt injection and
 * the interrupt window (prepare_events, static, reached since fake_vmcs.h includes run.c), the
 * re-delivery of an event whose delivery an exit interrupted (requeue_vectoring_event), RIP
 * advance ending STI blocking, single steps and the debug exceptions MOV SS holds pending, and
 * vcpu_run over the fake VM entry of fake_vmcs.h. Rules: SDM 25.4.2 (interruptibility), 27.3.1.5
 * (its entry checks), 27.6 (event injection), 27.7.3 (pending debug exceptions after entry),
 * 28.2.4 (IDT-vectoring information); Vol. 3A 6.8.3 (MOV SS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

#define RF_IF (0x2 | RFLAGS_IF)

/* External interrupts are blocked by RFLAGS.IF=0, by STI and MOV SS blocking (SDM 25.4.2,
 * 27.3.1.5), and here by an event already queued; NMI and SMI blocking do not block them. */
static void test_interruptible(void **state)
{
    static const struct { uint64_t rflags; uint32_t intr, pending; bool want; } cases[] = {
        { RF_IF, 0, 0, true },
        { 0x2, 0, 0, false },
        { RF_IF, GUEST_INTR_STI_BLOCKING, 0, false },
        { RF_IF, GUEST_INTR_MOV_SS_BLOCKING, 0, false },
        { RF_IF, 0, GP_EVENT, false },
        { RF_IF, GUEST_INTR_NMI_BLOCKING, 0, true },
        { RF_IF, GUEST_INTR_SMI_BLOCKING, 0, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_RFLAGS, cases[i].rflags);
        fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, cases[i].intr);
        v.pending_event = cases[i].pending;
        if (vcpu_interruptible(&v) != cases[i].want)
            fail_msg("case %zu: interruptible should be %d", i, cases[i].want);
        assert_int_equal(fake_vcpu_loads, 1);    /* the VM layer calls it outside vcpu_run */
    }
}

/* An external interrupt is injected as valid | type 0 | vector with no error code or length
 * (SDM 25.8.3), once; it ends HLT: the activity state HLT becomes active (SDM 27.6, event
 * injection). */
static void test_inject_interrupt_wakes_halted(void **state)
{
    (void)state;
    v.halted = true;
    v.pending_error_code = 7, v.pending_insn_len = 5;   /* left from an earlier event */
    fake_vmcs_set(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT);
    vcpu_inject_interrupt(&v, 0x30);
    assert_false(v.halted);
    prepare_events(&v);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD), INTR_INFO_VALID | INTR_TYPE_EXT_INTR | 0x30);
    assert_int_equal(fake_vmcs_writes(VM_ENTRY_EXCEPTION_ERROR_CODE), 1);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_EXCEPTION_ERROR_CODE), 0);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_INSTRUCTION_LEN), 0);
    assert_int_equal(fake_vmcs_get(GUEST_ACTIVITY_STATE), GUEST_ACTIVITY_ACTIVE);
    assert_int_equal(v.pending_event, 0);
    prepare_events(&v);                         /* delivered once, not at every entry */
    assert_int_equal(fake_vmcs_writes(VM_ENTRY_INTR_INFO_FIELD), 1);
}

/* Interrupt-window exiting is bit 2 of the primary processor-based controls (SDM 25.6.2);
 * the other controls are kept, and the field is written only when the bit changes. */
static void test_interrupt_window(void **state)
{
    (void)state;
    const uint32_t ctls = 0x8401E172;           /* HLT, MWAIT, RDPMC, CR3, ... exiting */
    v.proc_ctls = ctls;
    vcpu_set_interrupt_window(&v, true);
    prepare_events(&v);
    assert_int_equal(fake_vmcs_get(CPU_BASED_VM_EXEC_CONTROL), ctls | CPU_BASED_INTR_WINDOW_EXITING);
    prepare_events(&v);
    assert_int_equal(fake_vmcs_writes(CPU_BASED_VM_EXEC_CONTROL), 1);
    vcpu_set_interrupt_window(&v, false);
    prepare_events(&v);
    assert_int_equal(fake_vmcs_writes(CPU_BASED_VM_EXEC_CONTROL), 2);
    assert_int_equal(fake_vmcs_get(CPU_BASED_VM_EXEC_CONTROL), ctls);
}

/* An exit during event delivery leaves the event in the IDT-vectoring information, to be
 * injected again (SDM 28.2.4): software interrupts and exceptions with the exit's instruction
 * length, hardware exceptions with their error code, and never bit 12 (NMI unblocking due to
 * IRET), which is reserved in the VM-entry interruption information (SDM 27.2.1.3). */
static void test_requeue_vectoring_event(void **state)
{
    static const struct { uint32_t info, err, exit_len, event, len; } cases[] = {
        { INTR_INFO_VALID | INTR_TYPE_SW_INTR | 0x80, 0, 2, INTR_INFO_VALID | INTR_TYPE_SW_INTR | 0x80, 2 },
        { INTR_INFO_VALID | INTR_TYPE_SW_EXCEPTION | 3, 0, 1, INTR_INFO_VALID | INTR_TYPE_SW_EXCEPTION | 3, 1 },
        { INTR_INFO_VALID | INTR_TYPE_PRIV_SW_EXCEPTION | 1, 0, 1, INTR_INFO_VALID | INTR_TYPE_PRIV_SW_EXCEPTION | 1, 1 },
        { INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14, 6, 3,
          INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14, 0 },
        { INTR_INFO_VALID | INTR_TYPE_NMI | INTR_INFO_NMI_UNBLOCKED_IRET | 2, 0, 3, INTR_INFO_VALID | INTR_TYPE_NMI | 2, 0 },
        { INTR_INFO_VALID | INTR_TYPE_EXT_INTR | 0x30, 0, 3, INTR_INFO_VALID | INTR_TYPE_EXT_INTR | 0x30, 0 },
        { INTR_TYPE_HW_EXCEPTION | 14, 6, 3, 0, 0 },     /* not valid: nothing to deliver */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(IDT_VECTORING_INFO_FIELD, cases[i].info);
        fake_vmcs_set(IDT_VECTORING_ERROR_CODE, cases[i].err);
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, cases[i].exit_len);
        requeue_vectoring_event(&v);
        assert_int_equal(v.pending_event, cases[i].event);
        prepare_events(&v);
        if (!cases[i].event) {
            assert_int_equal(fake_vmcs_writes(VM_ENTRY_INTR_INFO_FIELD), 0);
            continue;
        }
        assert_int_equal(fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD), cases[i].event);
        assert_int_equal(fake_vmcs_get(VM_ENTRY_EXCEPTION_ERROR_CODE), cases[i].err);
        assert_int_equal(fake_vmcs_get(VM_ENTRY_INSTRUCTION_LEN), cases[i].len);
    }
}

/* Emulating an instruction ends the STI or MOV SS blocking that covered it (SDM 25.4.2: until
 * the next instruction completes); NMI blocking stays. */
static void test_advance_rip_ends_sti_blocking(void **state)
{
    static const uint32_t before[] = { GUEST_INTR_STI_BLOCKING, GUEST_INTR_MOV_SS_BLOCKING };
    for (size_t i = 0; i < 2; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, before[i] | GUEST_INTR_NMI_BLOCKING);
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 3);
        vcpu_skip_instruction(&v);
        assert_rip_advanced(3);
        assert_int_equal(fake_vmcs_get(GUEST_INTERRUPTIBILITY_INFO), GUEST_INTR_NMI_BLOCKING);
    }
}

/* ---- vcpu_run: the fake VM entry plays a guest whose first exit interrupts the delivery of a
 * #PF and whose second is HLT. */

static uint32_t entry_info[4], entry_error[4];

static enum vmx_status pf_then_hlt(struct guest_regs *regs, unsigned n)
{
    (void)regs;
    entry_info[n] = (uint32_t)fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD);
    entry_error[n] = (uint32_t)fake_vmcs_get(VM_ENTRY_EXCEPTION_ERROR_CODE);
    fake_vmcs_set(VM_ENTRY_INTR_INFO_FIELD, 0);     /* every exit clears its valid bit (SDM 28.2) */
    fake_vmcs_set(GUEST_RIP, START_RIP);
    fake_vmcs_set(EXIT_QUALIFICATION, 0);
    fake_vmcs_set(VM_EXIT_INTR_INFO, 0);
    if (n == 0) {                               /* an external interrupt while delivering #PF(2) */
        fake_vmcs_set(VM_EXIT_REASON, EXIT_REASON_EXTERNAL_INTERRUPT);
        fake_vmcs_set(IDT_VECTORING_INFO_FIELD, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14);
        fake_vmcs_set(IDT_VECTORING_ERROR_CODE, 2);
    } else {
        fake_vmcs_set(VM_EXIT_REASON, EXIT_REASON_HLT);
        fake_vmcs_set(IDT_VECTORING_INFO_FIELD, 0);
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 1);
    }
    return VMX_OK;
}

/* The interrupted #PF is delivered at the next entry with its error code (SDM 28.2.4); HLT ends
 * the run (EXIT_YIELD) with the vCPU halted and RIP past it. */
static void test_run_redelivers_interrupted_event(void **state)
{
    (void)state;
    fake_entry_hook = pf_then_hlt;
    fake_vmcs_set(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_HLT_EXITING);
    fake_vmcs_set(GUEST_RFLAGS, RF_IF);
    v.xcr0 = 7;
    assert_int_equal(vcpu_run(&v, UINT64_MAX), EXIT_EVENTS);
    assert_int_equal(v.exits[EXIT_REASON_EXTERNAL_INTERRUPT], 1);
    assert_int_equal(vcpu_run(&v, UINT64_MAX), EXIT_YIELD);
    assert_int_equal(fake_entries, 2);
    assert_int_equal(entry_info[0], 0);
    assert_int_equal(entry_info[1], INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14);
    assert_int_equal(entry_error[1], 2);
    assert_true(v.halted);
    assert_true(v.launched);
    assert_int_equal(fake_entry_xcr0, 7);       /* the guest's XCR0 is loaded for each entry */
    assert_int_equal(fake_vmcs_get(GUEST_RIP), START_RIP + 1);
}

static enum vmx_status entry_fails(struct guest_regs *regs, unsigned n)
{
    (void)regs, (void)n;
    return VMX_FAIL_INVALID;
}

/* VMLAUNCH failing with VMfailInvalid (SDM 31.2) stops the guest with the instruction's name. */
static void test_run_launch_failure(void **state)
{
    (void)state;
    fake_entry_hook = entry_fails;
    v.proc_ctls = CPU_BASED_HLT_EXITING;
    assert_int_equal(vcpu_run(&v, UINT64_MAX), EXIT_CRASH);
    assert_string_equal(v.crash_reason, "VMLAUNCH failed: VMfailInvalid");
    assert_false(v.launched);
}

/* An injected fault pushes RFLAGS.RF=1 (SDM 18.3.1.1): VM entry pushes the guest-state RFLAGS,
 * so RF is set there for fault-class vectors (#GP, #UD, #PF...) and not for traps (#BP). */
static void test_injected_fault_sets_rf(void **state)
{
    static const struct { uint32_t event; bool rf; } cases[] = {
        { GP_EVENT, true },
        { UD_EVENT, true },
        { INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 14, true },
        { INTR_INFO_VALID | INTR_TYPE_SW_EXCEPTION | 3, false },
        { INTR_INFO_VALID | INTR_TYPE_EXT_INTR | 0x30, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_RFLAGS, 0x202);
        v.pending_event = cases[i].event;
        prepare_events(&v);
        assert_int_equal(fake_vmcs_get(GUEST_RFLAGS), cases[i].rf ? 0x202 | RFLAGS_RF : 0x202);
        assert_int_equal(fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD), cases[i].event);
    }
}

/* In real mode (unrestricted guest, CR0.PE=0) an exception pushes no error code, and VM entry
 * fails if the injection asks for one (SDM Vol. 3C 27.2.1.3): #GP goes in without it. */
static void test_real_mode_exception_without_error_code(void **state)
{
    (void)state;
    v.cr0_shadow = CR0_ET;                      /* PE clear */
    v.pending_event = GP_EVENT;
    prepare_events(&v);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD), GP_EVENT & ~INTR_INFO_DELIVER_CODE);
    fake_setup(state);
    v.pending_event = GP_EVENT;                 /* protected mode keeps it */
    prepare_events(&v);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD), GP_EVENT);
}

/* Single step over an emulated instruction: with RFLAGS.TF the CPU traps after each
 * instruction (DR6.BS, SDM 18.3.1.4), so skipping one queues #DB (no error code) and sets BS. */
static void test_single_step_over_emulated(void **state)
{
    (void)state;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | RFLAGS_TF);
    fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 2);
    fake_dr[6] = 0xFFFF0FF0;
    vcpu_skip_instruction(&v);
    assert_int_equal(fake_vmcs_get(GUEST_RIP), START_RIP + 2);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 1);
    assert_int_equal(fake_dr[6], 0xFFFF0FF0 | (1u << 14));
    fake_setup(state);                          /* TF clear: nothing */
    fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 2);
    vcpu_skip_instruction(&v);
    assert_int_equal(v.pending_event, 0);
}

/* The pending debug exceptions field: B0-B3, the enabled breakpoint (bit 12) and BS (SDM Vol.
 * 3C 25.4.2, Table 25-4). */
#define PDBG_B0 (1u << 0)
#define PDBG_BP (1u << 12)
#define PDBG_BS (1u << 14)

/* TF, MOV SS, then an instruction that exits (CPUID): the CPU held MOV SS's single step and a data
 * breakpoint of it in the pending debug exceptions field (SDM Vol. 3A 6.8.3). Completing the
 * instruction ends the blocking and queues one #DB after it whose DR6 has BS and B0 (an entry
 * that injects it delivers none of the field, Vol. 3C 27.7.3), the field emptied. */
static void test_single_step_after_mov_ss(void **state)
{
    (void)state;
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | RFLAGS_TF);
    fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_MOV_SS_BLOCKING);
    fake_vmcs_set(GUEST_PENDING_DBG_EXCEPTIONS, PDBG_BS | PDBG_BP | PDBG_B0);
    fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 2);
    fake_dr[6] = 0xFFFF0FF0;
    vcpu_skip_instruction(&v);
    assert_rip_advanced(2);
    assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 1);
    assert_int_equal(fake_dr[6], 0xFFFF0FF0 | PDBG_BS | PDBG_B0);
    assert_int_equal(fake_vmcs_get(GUEST_PENDING_DBG_EXCEPTIONS), 0);
    assert_int_equal(fake_vmcs_get(GUEST_INTERRUPTIBILITY_INFO), 0);
    /* A REP string's step between iterations (RIP stays) is an instruction boundary too. */
    fake_setup(state);
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | RFLAGS_TF);
    fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_MOV_SS_BLOCKING | GUEST_INTR_NMI_BLOCKING);
    fake_vmcs_set(GUEST_PENDING_DBG_EXCEPTIONS, PDBG_BS);
    vcpu_inject_single_step(&v);
    assert_rip_kept();
    assert_int_equal(fake_vmcs_get(GUEST_INTERRUPTIBILITY_INFO), GUEST_INTR_NMI_BLOCKING);
    assert_int_equal(fake_dr[6], PDBG_BS);
}

/* VM entry's check (SDM Vol. 3C 27.3.1.5, Checks on Guest Non-Register State): under STI or MOV SS blocking, pending BS must equal
 * RFLAGS.TF (IA32_DEBUGCTL.BTF is 0); without that blocking the field is left alone. prepare_events
 * makes it so before every entry and writes the field only when it has to. */
static void test_entry_pending_dbg(void **state)
{
    static const struct { uint64_t pending; uint32_t intr; uint64_t rflags, want; } cases[] = {
        { 0, GUEST_INTR_MOV_SS_BLOCKING, 0x2 | RFLAGS_TF, PDBG_BS },
        { PDBG_BS, GUEST_INTR_STI_BLOCKING | GUEST_INTR_NMI_BLOCKING, 0x2 | RFLAGS_IF, 0 },
        { PDBG_BS | PDBG_BP | PDBG_B0, GUEST_INTR_MOV_SS_BLOCKING, 0x2 | RFLAGS_TF, PDBG_BS | PDBG_BP | PDBG_B0 },
        { PDBG_BP | PDBG_B0, GUEST_INTR_MOV_SS_BLOCKING, 0x2, PDBG_BP | PDBG_B0 },
        { PDBG_BS, 0, 0x2, PDBG_BS },
        { 0, GUEST_INTR_NMI_BLOCKING, 0x2 | RFLAGS_TF, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (entry_pending_dbg(cases[i].pending, cases[i].intr, cases[i].rflags) != cases[i].want)
            fail_msg("case %zu: 0x%lx", i, entry_pending_dbg(cases[i].pending, cases[i].intr, cases[i].rflags));
        fake_setup(state);
        fake_vmcs_set(GUEST_PENDING_DBG_EXCEPTIONS, cases[i].pending);
        fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, cases[i].intr);
        fake_vmcs_set(GUEST_RFLAGS, cases[i].rflags);
        prepare_events(&v);
        assert_int_equal(fake_vmcs_get(GUEST_PENDING_DBG_EXCEPTIONS), cases[i].want);
        assert_int_equal(fake_vmcs_writes(GUEST_PENDING_DBG_EXCEPTIONS), cases[i].want != cases[i].pending);
    }
}

/* A #DB the next entry delivers from the pending debug exceptions field (BS, or an enabled
 * breakpoint) is a trap of the previous instruction: it comes before an interrupt, an NMI and
 * HLT's sleep (SDM Vol. 3A 6.9), and injecting one of those would lose it (Vol. 3C 27.7.3). B0
 * alone (a breakpoint not enabled) is no #DB. */
static void test_pending_db_comes_first(void **state)
{
    static const struct { uint64_t pending; bool first; } cases[] = {
        { PDBG_BS, true }, { PDBG_BP | PDBG_B0, true }, { PDBG_B0, false }, { 0, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_RFLAGS, RF_IF);
        fake_vmcs_set(GUEST_PENDING_DBG_EXCEPTIONS, cases[i].pending);
        assert_int_equal(vcpu_interruptible(&v), !cases[i].first);
        assert_int_equal(vcpu_nmi_allowed(&v), !cases[i].first);
        assert_int_equal(vcpu_halt(&v), !cases[i].first);
    }
}

/* NMIs ignore IF but wait for NMI blocking (until IRET), STI and MOV SS blocking and a queued
 * event (SDM 6.7.1, 26.3.1.5); one is injected as type NMI, vector 2, and wakes HLT; the NMI
 * window is bit 22 of the primary controls (25.6.2), asked only with virtual NMIs. */
static void test_nmi(void **state)
{
    static const struct { uint32_t intr; bool allowed; } cases[] = {
        { 0, true }, { GUEST_INTR_NMI_BLOCKING, false }, { GUEST_INTR_STI_BLOCKING, false },
        { GUEST_INTR_MOV_SS_BLOCKING, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_RFLAGS, 0x2);                   /* IF=0: no matter */
        fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, cases[i].intr);
        assert_int_equal(vcpu_nmi_allowed(&v), cases[i].allowed);
    }
    fake_setup(state);
    v.pending_event = GP_EVENT;
    assert_false(vcpu_nmi_allowed(&v));
    fake_setup(state);
    v.halted = true;
    fake_vmcs_set(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT);
    vcpu_inject_nmi(&v);
    assert_false(v.halted);
    prepare_events(&v);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD), INTR_INFO_VALID | INTR_TYPE_NMI | 2);
    assert_int_equal(fake_vmcs_get(GUEST_ACTIVITY_STATE), GUEST_ACTIVITY_ACTIVE);
    fake_setup(state);
    v.proc_ctls = 0x84006172;
    vcpu_set_nmi_window(&v, true);                          /* no virtual NMIs: not asked */
    prepare_events(&v);
    assert_int_equal(fake_vmcs_writes(CPU_BASED_VM_EXEC_CONTROL), 0);
    v.virtual_nmis = true;
    vcpu_set_nmi_window(&v, true);
    prepare_events(&v);
    assert_int_equal(fake_vmcs_get(CPU_BASED_VM_EXEC_CONTROL), 0x84006172 | CPU_BASED_NMI_WINDOW_EXITING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_interruptible),
        FAKE_TEST(test_inject_interrupt_wakes_halted),
        FAKE_TEST(test_interrupt_window),
        FAKE_TEST(test_requeue_vectoring_event),
        FAKE_TEST(test_advance_rip_ends_sti_blocking),
        FAKE_TEST(test_run_redelivers_interrupted_event),
        FAKE_TEST(test_run_launch_failure),
        FAKE_TEST(test_injected_fault_sets_rf),
        FAKE_TEST(test_real_mode_exception_without_error_code),
        FAKE_TEST(test_single_step_over_emulated),
        FAKE_TEST(test_single_step_after_mov_ss),
        FAKE_TEST(test_entry_pending_dbg),
        FAKE_TEST(test_pending_db_comes_first),
        FAKE_TEST(test_nmi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The vCPU run loop: deliver pending events, enter the guest, handle its exits until the
 * slice ends (VMX-preemption timer, SDM 26.5.1) or the scheduler is needed. Also what the
 * host switches between vCPUs by hand: the SYSCALL MSRs and TSC_AUX, DR0-DR3 and DR6, XCR0 and
 * the FPU/SSE/AVX state. */
#include "vmx/exits.h"
#include "vmx/caps.h"
#include "vmx/cr.h"
#include "vmx/trace.h"
#include "vmx/xsave.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/printf.h"
#include "kernel/string.h"

static const uint32_t swap_msr_numbers[SWAP_MSR_COUNT] = {
    0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, MSR_IA32_KERNEL_GS_BASE, MSR_TSC_AUX,
};
static struct vcpu *state_owner;            /* whose MSRs and FPU state the CPU holds */

/* Gives the CPU's guest-owned state (not in the VMCS) to vcpu. */
static void switch_state(struct vcpu *vcpu)
{
    if (state_owner == vcpu)
        return;
    if (state_owner) {
        for (int i = 0; i < SWAP_MSR_COUNT; i++)
            state_owner->swap_msrs[i] = rdmsr(swap_msr_numbers[i]);
        state_owner->dr6 = dr_hw_read(6);   /* a #DB in the guest sets bits in it */
    }
    for (int i = 0; i < SWAP_MSR_COUNT; i++)
        wrmsr(swap_msr_numbers[i], vcpu->swap_msrs[i]);
    for (unsigned i = 0; i < 4; i++)
        dr_hw_write(i, vcpu->dr[i]);
    dr_hw_write(6, vcpu->dr6);
    xsave_switch(state_owner, vcpu);
    state_owner = vcpu;
}

void vcpu_release_state(struct vcpu *vcpu)
{
    if (state_owner == vcpu)
        state_owner = NULL;
}

void vcpu_inject_exception(struct vcpu *vcpu, uint8_t vector, bool has_error, uint32_t error)
{
    vcpu->pending_event = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | vector |
                          (has_error ? INTR_INFO_DELIVER_CODE : 0);
    vcpu->pending_error_code = error;
}

/* The pending debug exceptions field (SDM Vol. 3C 25.4.2, Table 25-4): B0-B3 (bits 3:0), the
 * enabled breakpoint (bit 12) and BS (bit 14), as DR6 has them. */
#define DR6_BS          (1u << 14)
#define PENDING_DBG_B   0xFu
#define PENDING_DBG_BP  (1u << 12)
#define SHADOW          (GUEST_INTR_STI_BLOCKING | GUEST_INTR_MOV_SS_BLOCKING)

/* Ends the STI or MOV SS blocking of an instruction completed here: it lasts until the next
 * instruction boundary (SDM Vol. 3A 6.8.3, Vol. 3C 25.4.2). */
static void end_shadow(void)
{
    uint32_t intr = vmcs_read32(GUEST_INTERRUPTIBILITY_INFO);
    if (intr & SHADOW)
        vmcs_write32(GUEST_INTERRUPTIBILITY_INFO, intr & ~SHADOW);
}

void vcpu_advance_rip(struct vcpu *vcpu, uint64_t len)
{
    vmcs_writenat(GUEST_RIP, vcpu->rip + len);
    end_shadow();
    /* Under RFLAGS.TF the CPU traps after each instruction (single step, DR6.BS, SDM 18.3.1.4);
     * an instruction that exited and was emulated here must trap too, or the step is lost. */
    if ((vmcs_readnat(GUEST_RFLAGS) & RFLAGS_TF) && !vcpu->pending_event)
        vcpu_inject_single_step(vcpu);
}

/* After MOV SS or POP SS the CPU holds debug exceptions until the next instruction is done (SDM
 * Vol. 3A 6.8.3): when that instruction exits, its MOV SS single step and a data breakpoint of
 * the MOV SS wait in the pending debug exceptions field. The #DB queued here is that boundary's
 * only one, and an entry that injects an event delivers none of the field (Vol. 3C 27.7.3), so
 * their B0-B3 join BS in DR6, as the CPU reports them all in one #DB. Delivering it at an
 * instruction boundary ends STI and MOV SS blocking. */
void vcpu_inject_single_step(struct vcpu *vcpu)
{
    uint64_t pending = vmcs_readnat(GUEST_PENDING_DBG_EXCEPTIONS);
    dr_hw_write(6, dr_hw_read(6) | DR6_BS | (pending & PENDING_DBG_B));
    if (pending)
        vmcs_writenat(GUEST_PENDING_DBG_EXCEPTIONS, 0);
    end_shadow();
    vcpu_inject_exception(vcpu, 1, false, 0);
}

/* Whether the next entry delivers a #DB from the pending debug exceptions field (a single step
 * or an enabled breakpoint held by MOV SS blocking that the emulated instruction ended, SDM Vol.
 * 3C 27.7.3): a trap of the previous instruction, it comes before an interrupt, an NMI or HLT's
 * sleep (Vol. 3A 6.9), and injecting one of those instead would lose it. */
static bool debug_trap_pending(void)
{
    return vmcs_readnat(GUEST_PENDING_DBG_EXCEPTIONS) & (DR6_BS | PENDING_DBG_BP);
}

/* The pending debug exceptions VM entry accepts (SDM Vol. 3C 27.3.1.5): under STI or MOV SS
 * blocking BS must be RFLAGS.TF, IA32_DEBUGCTL.BTF being always 0 here (exit_msr.c), and the
 * guest never enters in the HLT state (HLT exits). The CPU saves it so; this keeps it so
 * whatever a handler did to RFLAGS or the blocking, and a VM entry never fails on it. Pure. */
static uint64_t entry_pending_dbg(uint64_t pending, uint32_t intr, uint64_t rflags)
{
    if (!(intr & SHADOW))
        return pending;
    return (rflags & RFLAGS_TF) ? pending | DR6_BS : pending & ~(uint64_t)DR6_BS;
}

static void check_pending_dbg(void)
{
    uint32_t intr = vmcs_read32(GUEST_INTERRUPTIBILITY_INFO);
    if (!(intr & SHADOW))
        return;
    uint64_t pending = vmcs_readnat(GUEST_PENDING_DBG_EXCEPTIONS);
    uint64_t want = entry_pending_dbg(pending, intr, vmcs_readnat(GUEST_RFLAGS));
    if (want != pending)
        vmcs_writenat(GUEST_PENDING_DBG_EXCEPTIONS, want);
}

void vcpu_skip_instruction(struct vcpu *vcpu)
{
    vcpu_advance_rip(vcpu, vmcs_read32(VM_EXIT_INSTRUCTION_LEN));
}

uint64_t vcpu_guest_rip(struct vcpu *vcpu)
{
    vcpu_load(vcpu);
    return vmcs_readnat(GUEST_RIP);
}

/* An event whose delivery the exit interrupted must be delivered again (SDM 27.2.4). */
static void requeue_vectoring_event(struct vcpu *vcpu)
{
    uint32_t info = vmcs_read32(IDT_VECTORING_INFO_FIELD);
    if (!(info & INTR_INFO_VALID))
        return;
    vcpu->pending_event = info & ~INTR_INFO_NMI_UNBLOCKED_IRET;
    vcpu->pending_error_code = vmcs_read32(IDT_VECTORING_ERROR_CODE);
    uint32_t type = info & INTR_TYPE_MASK;
    vcpu->pending_insn_len = (type == INTR_TYPE_SW_INTR || type == INTR_TYPE_SW_EXCEPTION ||
                              type == INTR_TYPE_PRIV_SW_EXCEPTION) ? vmcs_read32(VM_EXIT_INSTRUCTION_LEN) : 0;
}

bool vcpu_in_64bit_mode(struct vcpu *vcpu)
{
    vcpu_load(vcpu);
    return guest_in_64bit_mode();
}

bool vcpu_halt(struct vcpu *vcpu)
{
    if (vcpu->pending_event || debug_trap_pending())
        return false;
    vcpu->halt_if = vmcs_readnat(GUEST_RFLAGS) & RFLAGS_IF;
    vcpu->halted = true;
    return true;
}

bool vcpu_interruptible(struct vcpu *vcpu)
{
    vcpu_load(vcpu);
    return !vcpu->pending_event && (vmcs_readnat(GUEST_RFLAGS) & RFLAGS_IF) &&
           !(vmcs_read32(GUEST_INTERRUPTIBILITY_INFO) & SHADOW) && !debug_trap_pending();
}

/* NMIs ignore RFLAGS.IF but wait while the CPU blocks them (from an NMI's delivery to the
 * next IRET, tracked by the CPU with virtual NMIs, SDM 25.3 and 31.7.1) and under STI or
 * MOV SS blocking (26.3.1.5). */
bool vcpu_nmi_allowed(struct vcpu *vcpu)
{
    vcpu_load(vcpu);
    return !vcpu->pending_event &&
           !(vmcs_read32(GUEST_INTERRUPTIBILITY_INFO) & (SHADOW | GUEST_INTR_NMI_BLOCKING)) &&
           !debug_trap_pending();
}

void vcpu_inject_nmi(struct vcpu *vcpu)
{
    vcpu->pending_event = INTR_INFO_VALID | INTR_TYPE_NMI | 2;
    vcpu->pending_error_code = 0;
    vcpu->pending_insn_len = 0;
    vcpu->halted = false;
}

void vcpu_set_nmi_window(struct vcpu *vcpu, bool on)
{
    vcpu->want_nmi_window = on && vcpu->virtual_nmis;  /* the exit needs virtual NMIs */
}

void vcpu_inject_interrupt(struct vcpu *vcpu, uint8_t vector)
{
    vcpu->pending_event = INTR_INFO_VALID | INTR_TYPE_EXT_INTR | vector;
    vcpu->pending_error_code = 0;
    vcpu->pending_insn_len = 0;
    vcpu->halted = false;
}

void vcpu_set_interrupt_window(struct vcpu *vcpu, bool on)
{
    vcpu->want_window = on;
}

/* Interrupt-window and NMI-window exiting as the VM layer asked (SDM 25.6.2). */
static void set_window_exiting(struct vcpu *vcpu)
{
    uint32_t ctl = vcpu->proc_ctls & ~(CPU_BASED_INTR_WINDOW_EXITING | CPU_BASED_NMI_WINDOW_EXITING);
    if (vcpu->want_window)
        ctl |= CPU_BASED_INTR_WINDOW_EXITING;
    if (vcpu->want_nmi_window)
        ctl |= CPU_BASED_NMI_WINDOW_EXITING;
    if (ctl != vcpu->proc_ctls) {
        vmcs_write32(CPU_BASED_VM_EXEC_CONTROL, ctl);
        vcpu->proc_ctls = ctl;
    }
}

/* Delivers the queued event at this entry (an exception, a re-queued event, or the external
 * interrupt the VM layer chose), and interrupt-window exiting as the VM layer asked. An
 * interrupt wakes a halted guest (activity state HLT, SDM 26.6.2). */
/* Exceptions of the fault class (SDM Vol. 3A Table 6-1): the CPU pushes RFLAGS.RF=1 for them
 * (18.3.1.1), so the instruction restarts without a second instruction breakpoint. #DB is
 * a fault or a trap, and the hypervisor never injects it here. */
#define FAULT_VECTORS ((1u << 0) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 10) | (1u << 11) | \
                       (1u << 12) | (1u << 13) | (1u << 14) | (1u << 16) | (1u << 17) | \
                       (1u << 19) | (1u << 20) | (1u << 21))

/* A hardware exception as VM entry must deliver it: RF set in the RFLAGS it pushes for a
 * fault, and no error code in real mode, where exceptions push none and VM entry refuses
 * one (unrestricted guest with CR0.PE=0, SDM Vol. 3C 27.2.1.3). */
static uint32_t exception_for_entry(struct vcpu *vcpu, uint32_t event)
{
    unsigned vector = event & 0xFF;
    if (vector < 32 && (FAULT_VECTORS >> vector & 1)) {
        uint64_t rflags = vmcs_readnat(GUEST_RFLAGS);
        if (!(rflags & RFLAGS_RF))
            vmcs_writenat(GUEST_RFLAGS, rflags | RFLAGS_RF);
    }
    if (!(vcpu->cr0_shadow & CR0_PE))
        event &= ~INTR_INFO_DELIVER_CODE;
    return event;
}

static void prepare_events(struct vcpu *vcpu)
{
    uint32_t event = vcpu->pending_event;
    if (event) {
        if ((event & INTR_TYPE_MASK) == INTR_TYPE_HW_EXCEPTION)
            event = exception_for_entry(vcpu, event);
        vmcs_write32(VM_ENTRY_INTR_INFO_FIELD, event);
        vmcs_write32(VM_ENTRY_EXCEPTION_ERROR_CODE, vcpu->pending_error_code);
        vmcs_write32(VM_ENTRY_INSTRUCTION_LEN, vcpu->pending_insn_len);
        vcpu->pending_event = 0;
        vcpu->pending_insn_len = 0;
        uint32_t type = event & INTR_TYPE_MASK;
        if ((type == INTR_TYPE_EXT_INTR || type == INTR_TYPE_NMI) &&
            vmcs_read32(GUEST_ACTIVITY_STATE) != GUEST_ACTIVITY_ACTIVE)
            vmcs_write32(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
    }
    check_pending_dbg();
    set_window_exiting(vcpu);
}

enum exit_action vcpu_run(struct vcpu *vcpu, uint64_t deadline)
{
    vcpu_load(vcpu);
    switch_state(vcpu);
    if (!vcpu->proc_ctls) {
        vcpu->proc_ctls = vmcs_read32(CPU_BASED_VM_EXEC_CONTROL);
        uint32_t pin = vmcs_read32(PIN_BASED_VM_EXEC_CONTROL);
        vcpu->preempt_timer = pin & PIN_BASED_PREEMPTION_TIMER;
        vcpu->virtual_nmis = pin & PIN_BASED_VIRTUAL_NMIS;
        vcpu->preempt_shift = (uint8_t)vmx_preemption_timer_shift();
    }
    uint64_t start = rdtsc();
    enum exit_action action;

    do {
        prepare_events(vcpu);
        if (vcpu->preempt_timer) {
            uint64_t now = rdtsc(), left = deadline > now ? deadline - now : 0;
            uint64_t ticks = (left >> vcpu->preempt_shift) + 1;
            vmcs_write32(VMX_PREEMPTION_TIMER_VALUE, ticks > 0xFFFFFFFFull ? 0xFFFFFFFF : (uint32_t)ticks);
        }
        xsave_enter(vcpu);

        enum vmx_status st = vmx_enter(&vcpu->regs, vcpu->launched);
        if (st != VMX_OK) {
            uint32_t err = st == VMX_FAIL_VALID ? vmx_instruction_error() : 0;
            action = exit_crash(vcpu, "%s failed: %s", vcpu->launched ? "VMRESUME" : "VMLAUNCH",
                                st == VMX_FAIL_VALID ? vmx_error_name(err) : "VMfailInvalid");
            break;
        }
        vcpu->launched = true;
        vcpu->exit_reason = vmcs_read32(VM_EXIT_REASON);
        vcpu->exit_qual = vmcs_readnat(EXIT_QUALIFICATION);
        vcpu->rip = vmcs_readnat(GUEST_RIP);
        vcpu->exits_total++;
        vcpu->exits[(vcpu->exit_reason & 0xFFFF) < EXIT_REASON_MAX ? vcpu->exit_reason & 0xFFFF : 0]++;
        requeue_vectoring_event(vcpu);
        action = exit_dispatch(vcpu);
        if (vcpu->trace_on && action != EXIT_REQUEST)   /* a request is traced once complete */
            trace_exit(vcpu, vcpu->name, action);
    } while (action == EXIT_CONTINUE && rdtsc() < deadline);
    if (action == EXIT_CONTINUE)
        action = EXIT_YIELD;
    vcpu->run_tsc += rdtsc() - start;
    return action;
}

enum exit_action vcpu_complete(struct vcpu *vcpu)
{
    enum exit_action action = EXIT_CONTINUE;
    switch (vcpu->req.kind) {
    case VCPU_REQ_IO:
        action = io_complete(vcpu);
        break;
    case VCPU_REQ_MMIO:
        action = mmio_complete(vcpu);
        break;
    case VCPU_REQ_MSR:
        action = msr_complete(vcpu);
        break;
    case VCPU_REQ_HYPERCALL:
        vcpu->regs.rax = vcpu->req.hypercall.ret;
        if (vcpu->req.hypercall.set_rdx)
            vcpu->regs.rdx = vcpu->req.hypercall.rdx;
        vcpu_skip_instruction(vcpu);
        break;
    }
    if (vcpu->trace_on)
        trace_exit(vcpu, vcpu->name, action);
    return action;
}

void vcpu_dump(struct vcpu *vcpu)
{
    const struct guest_regs *r = &vcpu->regs;
    kprintf("  RIP=%016lx RSP=%016lx RFLAGS=%016lx\n", vmcs_readnat(GUEST_RIP),
            vmcs_readnat(GUEST_RSP), vmcs_readnat(GUEST_RFLAGS));
    kprintf("  RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", r->rax, r->rbx, r->rcx, r->rdx);
    kprintf("  RSI=%016lx RDI=%016lx RBP=%016lx CR2=%016lx\n", r->rsi, r->rdi, r->rbp, r->cr2);
    kprintf("  R8 =%016lx R9 =%016lx R10=%016lx R11=%016lx\n", r->r8, r->r9, r->r10, r->r11);
    kprintf("  R12=%016lx R13=%016lx R14=%016lx R15=%016lx\n", r->r12, r->r13, r->r14, r->r15);
    kprintf("  CR0=%08lx CR3=%08lx CR4=%08lx EFER=%lx CS=%04x (base %lx, ar %x)\n",
            vcpu->cr0_shadow, vmcs_readnat(GUEST_CR3), vcpu->cr4_shadow, vmcs_read64(GUEST_IA32_EFER),
            vmcs_read16(GUEST_CS_SELECTOR), vmcs_readnat(GUEST_CS_BASE), vmcs_read32(GUEST_CS_AR_BYTES));
    kprintf("  exit: %s (%u), qualification 0x%lx, guest-physical 0x%lx, guest-linear 0x%lx\n",
            exit_reason_name(vcpu->exit_reason), vcpu->exit_reason & 0xFFFF, vcpu->exit_qual,
            vmcs_read64(GUEST_PHYSICAL_ADDRESS), vmcs_readnat(GUEST_LINEAR_ADDRESS));
}

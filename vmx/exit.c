/* The VM-exit dispatcher: a bounds-checked table from basic exit reason to handler (SDM
 * Appendix C). A reason without a handler stops that guest with its name; never the host. */
#include "vmx/exits.h"
#include "vmx/caps.h"
#include "vmx/xsave.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/printf.h"

enum exit_action exit_crash(struct vcpu *vcpu, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vcpu->crash_reason, sizeof vcpu->crash_reason, fmt, ap);
    va_end(ap);
    return EXIT_CRASH;
}

enum exit_action exit_inject_gp(struct vcpu *vcpu)
{
    vcpu_inject_exception(vcpu, 13, true, 0);
    return EXIT_CONTINUE;
}

enum exit_action exit_inject_ud(struct vcpu *vcpu)
{
    vcpu_inject_exception(vcpu, 6, false, 0);
    return EXIT_CONTINUE;
}

/* Host interrupts taken while the guest ran: acknowledged on exit (SDM 27.2.2), so we run
 * the host handler through its IDT gate with INT n. The guest never sees them. */
extern const uint8_t int_n_stubs[];
static enum exit_action exit_external_interrupt(struct vcpu *vcpu)
{
    uint32_t info = vmcs_read32(VM_EXIT_INTR_INFO);
    (void)vcpu;
    if (info & INTR_INFO_VALID) {
        unsigned v = info & 0xFF;
        ((void (*)(void))(int_n_stubs + v * 4))();
    }
    return EXIT_EVENTS;                     /* the VM layer looks at host work and its devices */
}

static enum exit_action exit_exception_nmi(struct vcpu *vcpu)
{
    uint32_t info = vmcs_read32(VM_EXIT_INTR_INFO);
    if ((info & INTR_TYPE_MASK) == INTR_TYPE_NMI) {
        __asm__ volatile("int $2");         /* a host NMI: the host's handler reports it */
        return EXIT_CONTINUE;
    }
    /* The exception bitmap is empty, so this is a guest exception we did not ask for. */
    return exit_crash(vcpu, "unexpected exception %u", info & 0xFF);
}

static enum exit_action exit_triple_fault(struct vcpu *vcpu)
{
    return exit_crash(vcpu, "triple fault");
}

static enum exit_action exit_hlt(struct vcpu *vcpu)
{
    vcpu->halt_if = vmcs_readnat(GUEST_RFLAGS) & RFLAGS_IF;
    vcpu_skip_instruction(vcpu);
    if (vcpu->pending_event)
        return EXIT_CONTINUE;   /* HLT under TF: the single-step #DB comes first (the chaos guest's hang) */
    vcpu->halted = true;
    return EXIT_YIELD;
}

static enum exit_action exit_invd(struct vcpu *vcpu)
{
    /* INVD would discard the host's dirty cache lines too; WBINVD is harmless but slow.
     * Guest RAM is always write-back cached, so both are no-ops here. */
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

static enum exit_action exit_vmx_instruction(struct vcpu *vcpu)
{
    return exit_inject_ud(vcpu);            /* VMX is hidden from guests (CPUID.1:ECX.VMX=0) */
}

/* Hypercalls are the VM layer's: RAX (number), RBX and RCX go up; RAX comes back. */
static enum exit_action exit_vmcall(struct vcpu *vcpu)
{
    struct guest_regs *r = &vcpu->regs;
    vcpu->req.kind = VCPU_REQ_HYPERCALL;
    vcpu->req.hypercall.nr = r->rax;
    vcpu->req.hypercall.a1 = r->rbx;
    vcpu->req.hypercall.a2 = r->rcx;
    vcpu->req.hypercall.ret = ~0ull;
    return EXIT_REQUEST;
}

static enum exit_action exit_rdpmc(struct vcpu *vcpu)
{
    return exit_inject_gp(vcpu);            /* no performance counters (CPUID leaf 0xA is 0) */
}

static enum exit_action exit_monitor_mwait(struct vcpu *vcpu)
{
    return exit_inject_ud(vcpu);            /* CPUID.1:ECX.MONITOR is hidden */
}

/* XSETBV (SDM Vol. 2C): #UD without CR4.OSXSAVE; #GP at CPL>0, for an XCR other than 0
 * (ECX; RCX[63:32] is ignored) and for a value the CPU would refuse (xcr0_valid). */
static enum exit_action exit_xsetbv(struct vcpu *vcpu)
{
    uint64_t v = (vcpu->regs.rdx << 32) | (uint32_t)vcpu->regs.rax;
    if (!(vcpu->cr4_shadow & CR4_OSXSAVE))
        return exit_inject_ud(vcpu);
    if ((uint32_t)vcpu->regs.rcx != 0 || (vmcs_read32(GUEST_SS_AR_BYTES) >> 5 & 3) ||
        !xcr0_valid(v, xsave_guest_features()))
        return exit_inject_gp(vcpu);
    vcpu->xcr0 = v;                         /* loaded into the real XCR0 before each entry */
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

static enum exit_action exit_dr_access(struct vcpu *vcpu)
{
    uint64_t q = vcpu->exit_qual;
    unsigned dr = dr_qual_number(q), reg = dr_qual_gpr(q);
    if ((dr == 4 || dr == 5) && (vcpu->cr4_shadow & CR4_DE))
        return exit_inject_ud(vcpu);        /* DR4/DR5 alias DR6/DR7 only with CR4.DE=0 (SDM 18.2.2) */
    if (dr == 4 || dr == 5)
        dr += 2;                            /* the aliases */
    if (dr_qual_to_gpr(q)) {
        /* DR0-3 and DR6 are in the CPU while this vCPU owns it (debugreg.c); a #DB in the
         * guest may have changed DR6 there. */
        vcpu_gpr_write(vcpu, reg, dr == 7 ? vmcs_readnat(GUEST_DR7) : dr_hw_read(dr));
    } else if (dr == 7) {
        vmcs_writenat(GUEST_DR7, (vcpu_gpr_read(vcpu, reg) & 0xFFFFFFFFull) | 0x400);
    } else {
        uint64_t v = vcpu_gpr_read(vcpu, reg);
        if (dr == 6)
            v &= 0xFFFFFFFFull;
        dr_hw_write(dr, v);
        if (dr < 4)
            vcpu->dr[dr] = v;
    }
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

/* Outside the guest's RAM (which the EPT maps whole): a data access goes to the VM layer,
 * whose devices may own the address; an instruction fetch there is always fatal. */
static enum exit_action exit_ept_violation(struct vcpu *vcpu)
{
    uint64_t gpa = vmcs_read64(GUEST_PHYSICAL_ADDRESS);
    if (ept_qual_fetch(vcpu->exit_qual))
        return exit_crash(vcpu, "instruction fetch outside its RAM at guest-physical 0x%lx", gpa);
    return exit_mmio(vcpu, gpa, ept_qual_write(vcpu->exit_qual));
}

static enum exit_action exit_ept_misconfig(struct vcpu *vcpu)
{
    return exit_crash(vcpu, "EPT misconfiguration at guest-physical 0x%lx (a hypervisor bug)",
                      vmcs_read64(GUEST_PHYSICAL_ADDRESS));
}

static enum exit_action exit_entry_failed(struct vcpu *vcpu)
{
    static const char *const quals[] = { "", "", "PDPTE loading", "NMI injection", "VMCS link pointer" };
    uint64_t q = vcpu->exit_qual;
    return exit_crash(vcpu, "VM entry failed: invalid guest state%s%s",
                      q < 5 && q >= 2 ? ": " : "", q < 5 ? quals[q] : "");
}

static enum exit_action exit_interrupt_window(struct vcpu *vcpu)
{
    (void)vcpu;
    return EXIT_EVENTS;                     /* the guest can take interrupts: the VM layer injects */
}

static enum exit_action exit_nmi_window(struct vcpu *vcpu)
{
    (void)vcpu;
    return EXIT_EVENTS;                     /* NMIs unblocked (the guest's IRET): the VM layer injects */
}

static enum exit_action exit_preemption_timer(struct vcpu *vcpu)
{
    (void)vcpu;
    return EXIT_YIELD;
}

typedef enum exit_action (*exit_handler_fn)(struct vcpu *vcpu);

static const exit_handler_fn handlers[EXIT_REASON_MAX] = {
    [EXIT_REASON_EXCEPTION_NMI] = exit_exception_nmi,
    [EXIT_REASON_EXTERNAL_INTERRUPT] = exit_external_interrupt,
    [EXIT_REASON_TRIPLE_FAULT] = exit_triple_fault,
    [EXIT_REASON_INTERRUPT_WINDOW] = exit_interrupt_window,
    [EXIT_REASON_NMI_WINDOW] = exit_nmi_window,
    [EXIT_REASON_TASK_SWITCH] = exit_task_switch,
    [EXIT_REASON_CPUID] = exit_cpuid,
    [EXIT_REASON_HLT] = exit_hlt,
    [EXIT_REASON_INVD] = exit_invd,
    [EXIT_REASON_RDPMC] = exit_rdpmc,
    [EXIT_REASON_VMCALL] = exit_vmcall,
    [EXIT_REASON_VMCLEAR] = exit_vmx_instruction,
    [EXIT_REASON_VMLAUNCH] = exit_vmx_instruction,
    [EXIT_REASON_VMPTRLD] = exit_vmx_instruction,
    [EXIT_REASON_VMPTRST] = exit_vmx_instruction,
    [EXIT_REASON_VMREAD] = exit_vmx_instruction,
    [EXIT_REASON_VMRESUME] = exit_vmx_instruction,
    [EXIT_REASON_VMWRITE] = exit_vmx_instruction,
    [EXIT_REASON_VMXOFF] = exit_vmx_instruction,
    [EXIT_REASON_VMXON] = exit_vmx_instruction,
    [EXIT_REASON_INVEPT] = exit_vmx_instruction,
    [EXIT_REASON_INVVPID] = exit_vmx_instruction,
    [EXIT_REASON_VMFUNC] = exit_vmx_instruction,
    [EXIT_REASON_CR_ACCESS] = exit_cr_access,
    [EXIT_REASON_DR_ACCESS] = exit_dr_access,
    [EXIT_REASON_IO_INSTRUCTION] = exit_io,
    [EXIT_REASON_RDMSR] = exit_rdmsr,
    [EXIT_REASON_WRMSR] = exit_wrmsr,
    [EXIT_REASON_ENTRY_FAIL_GUEST_STATE] = exit_entry_failed,
    [EXIT_REASON_MWAIT] = exit_monitor_mwait,
    [EXIT_REASON_MONITOR] = exit_monitor_mwait,
    [EXIT_REASON_EPT_VIOLATION] = exit_ept_violation,
    [EXIT_REASON_EPT_MISCONFIG] = exit_ept_misconfig,
    [EXIT_REASON_PREEMPTION_TIMER] = exit_preemption_timer,
    [EXIT_REASON_WBINVD] = exit_invd,
    [EXIT_REASON_XSETBV] = exit_xsetbv,
};

enum exit_action exit_dispatch(struct vcpu *vcpu)
{
    uint32_t reason = vcpu->exit_reason & 0xFFFF;
    if (vcpu->exit_reason & (1u << 31))     /* VM-entry failure (SDM 26.8) */
        return reason == EXIT_REASON_ENTRY_FAIL_GUEST_STATE ? exit_entry_failed(vcpu)
               : exit_crash(vcpu, "VM entry failed: %s", exit_reason_name(reason));
    if (reason >= EXIT_REASON_MAX || !handlers[reason])
        return exit_crash(vcpu, "exit that cannot be emulated: %s (%u)", exit_reason_name(reason), reason);
    return handlers[reason](vcpu);
}

/* The VM-exit dispatcher: a bounds-checked table from basic exit reason to handler (SDM
 * Appendix C). A reason without a handler stops that guest with its name; never the host. */
#include "vmx/exits.h"
#include "vmx/cr.h"
#include "vmx/caps.h"
#include "vmx/xsave.h"
#include "vmx/task_switch.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/printf.h"
#include "kernel/string.h"

/* A reason longer than the buffer (n characters) ends at a word with "...", never mid-word. */
static void crash_reason_cut(char *buf, size_t size, int n)
{
    if (n < 0 || (size_t)n < size || size < 8)
        return;
    size_t end = size - 4;                  /* room for "..." and the NUL */
    while (end > size / 2 && buf[end] != ' ')
        end--;
    memcpy(buf + end, "...", 4);
}

enum exit_action exit_crash(struct vcpu *vcpu, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(vcpu->crash_reason, sizeof vcpu->crash_reason, fmt, ap);
    va_end(ap);
    crash_reason_cut(vcpu->crash_reason, sizeof vcpu->crash_reason, n);
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
    vcpu_skip_instruction(vcpu);
    /* HLT under TF: the single-step #DB comes first (the chaos guest's hang). */
    return vcpu_halt(vcpu) ? EXIT_YIELD : EXIT_CONTINUE;
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

/* Hypercalls are the VM layer's: RAX (number), RBX, RCX, RDX and RSI go up; RAX (and for
 * a 32-bit caller that asks, RDX) comes back. Outside 64-bit mode the registers' high halves
 * are undefined, so only their low halves go up (as KVM does); the mode is read only when a
 * high half is not zero (the VM layer asks vcpu_in_64bit_mode() when it needs it). In VMX
 * non-root operation VMCALL exits whatever the CPL (SDM Vol. 3C 26.1.2), so the caller's CPL
 * goes up too: the VM layer refuses user code (kernel/vm/hypercall.c). */
static enum exit_action exit_vmcall(struct vcpu *vcpu)
{
    struct guest_regs *r = &vcpu->regs;
    uint64_t m = ~0ull;
    if (((r->rax | r->rbx | r->rcx | r->rdx | r->rsi) >> 32) && !guest_in_64bit_mode())
        m = 0xFFFFFFFFull;
    vcpu->req.kind = VCPU_REQ_HYPERCALL;
    vcpu->req.hypercall.nr = r->rax & m;
    vcpu->req.hypercall.a1 = r->rbx & m;
    vcpu->req.hypercall.a2 = r->rcx & m;
    vcpu->req.hypercall.a3 = r->rdx & m;
    vcpu->req.hypercall.a4 = r->rsi & m;
    vcpu->req.hypercall.cpl = (uint8_t)guest_cpl();
    vcpu->req.hypercall.ret = ~0ull;
    vcpu->req.hypercall.set_rdx = false;
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
    if ((uint32_t)vcpu->regs.rcx != 0 || guest_cpl() ||
        !xcr0_valid(v, xsave_guest_features()))
        return exit_inject_gp(vcpu);
    vcpu->xcr0 = v;                         /* loaded into the real XCR0 before each entry */
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

#define DR6_BD (1u << 13)
#define DR7_GD (1u << 13)

/* DR7.GD (general detect): a MOV to or from any debug register faults with #DB before it does
 * anything, RIP on the MOV, DR6.BD set, and the CPU clears GD as it enters the #DB handler so
 * that the handler may use the debug registers (SDM Vol. 3B 18.2.3, 18.2.4, 18.3.1.2). The
 * exit comes before the CPU's own check (Vol. 3C 26.1.3), so the #DB, BD and the clearing of
 * GD are all ours, as in KVM's handle_dr(). DR6 is in the CPU while this vCPU owns it. */
static enum exit_action dr_general_detect(struct vcpu *vcpu, uint64_t dr7)
{
    dr_hw_write(6, dr_hw_read(6) | DR6_BD);
    vmcs_writenat(GUEST_DR7, dr7 & ~(uint64_t)DR7_GD);
    vcpu_inject_exception(vcpu, 1, false, 0);
    return EXIT_CONTINUE;
}

/* MOV to or from a debug register (SDM Vol. 2B MOV DR). This exit takes priority over the
 * instruction's own #GP at CPL > 0 and #UD for DR4/DR5 (SDM Vol. 3C 26.1.1 footnote, 26.1.3
 * "MOV DR"), so every check is ours, in the CPU's order: #UD for DR4/DR5 with CR4.DE=1 (a
 * decoding fault, Vol. 3A Table 6-2), #GP(0) at CPL > 0, #DB for DR7.GD, then #GP(0) for a 1
 * in bits 63:32 of DR6 or DR7 in 64-bit mode. Outside 64-bit mode the operand is 32 bits. */
static enum exit_action exit_dr_access(struct vcpu *vcpu)
{
    uint64_t q = vcpu->exit_qual;
    unsigned dr = dr_qual_number(q), reg = dr_qual_gpr(q);
    if ((dr == 4 || dr == 5) && (vcpu->cr4_shadow & CR4_DE))
        return exit_inject_ud(vcpu);        /* DR4/DR5 alias DR6/DR7 only with CR4.DE=0 (SDM 18.2.2) */
    if (guest_cpl() > 0)
        return exit_inject_gp(vcpu);
    uint64_t dr7 = vmcs_readnat(GUEST_DR7);
    if (dr7 & DR7_GD)
        return dr_general_detect(vcpu, dr7);
    if (dr == 4 || dr == 5)
        dr += 2;                            /* the aliases */
    uint64_t width = guest_in_64bit_mode() ? ~0ull : 0xFFFFFFFFull;
    if (dr_qual_to_gpr(q)) {
        /* DR0-3 and DR6 are in the CPU while this vCPU owns it (debugreg.c); a #DB in the
         * guest may have changed DR6 there. */
        vcpu_gpr_write(vcpu, reg, (dr == 7 ? dr7 : dr_hw_read(dr)) & width);
    } else {
        uint64_t v = vcpu_gpr_read(vcpu, reg) & width;
        if (dr >= 6 && (v >> 32))
            return exit_inject_gp(vcpu);
        if (dr == 7) {
            vmcs_writenat(GUEST_DR7, v | 0x400);
        } else {
            dr_hw_write(dr, v);
            if (dr < 4)
                vcpu->dr[dr] = v;
        }
    }
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

/* Exit qualification of an EPT violation, bits 7 and 8 (SDM Vol. 3C Table 28-7): the guest
 * linear address is valid, and the access was to the page it translates to, not to an entry
 * of the guest's paging structures. */
#define EPT_QUAL_GLA_VALID  (1u << 7)
#define EPT_QUAL_TRANSLATED (1u << 8)

/* The CPU's own access, delivering an event (to the IDT, a descriptor table, the stack, a
 * TSS), reached memory that is not RAM. It is no access of the instruction at RIP, which must
 * not be emulated. Such memory reads all-ones on a PC: an IDT gate of all-ones cannot be used
 * (its selector, or in IA-32e mode its reserved type bits), so delivery raises #GP with the
 * IDT error code (vector, IDT bit, EXT for an event from outside the program; SDM Vol. 3A
 * 6.13), which combines with an exception being delivered as Table 6-5 says: #DF, or a triple
 * fault. A stack or TSS in device memory is handled the same way: the push does not reach
 * the device. */
static enum exit_action ept_during_delivery(struct vcpu *vcpu, uint64_t gpa, uint32_t info)
{
    uint8_t vector = info & 0xFF;
    uint32_t type = info & INTR_TYPE_MASK;
    bool ext = type == INTR_TYPE_EXT_INTR || type == INTR_TYPE_NMI || type == INTR_TYPE_HW_EXCEPTION;
    int second = type == INTR_TYPE_HW_EXCEPTION ? ts_nested_exception(vector, 13) : 13;
    if (second < 0)
        return exit_crash(vcpu, "triple fault (delivering #DF reached guest-physical 0x%lx, which is not RAM)", gpa);
    if (second == 8)
        vcpu_inject_exception(vcpu, 8, true, 0);
    else
        vcpu_inject_exception(vcpu, 13, true, (uint32_t)vector << 3 | 2u | (ext ? 1u : 0u));
    return EXIT_CONTINUE;
}

/* Outside the guest's RAM (which the EPT maps whole). The CPU's own accesses first: during
 * event delivery (IDT-vectoring information valid), or to an entry of the guest's paging
 * structures (its page walk): a page table there is a #PF with RSVD for the linear address
 * being translated (SDM 4.7; all-ones, what memory of nothing reads, has reserved bits in PAE
 * and 4-level paging), as guest_translate() gives for the same entry. Then an instruction fetch, which is fatal; a data access goes to the
 * VM layer, whose devices may own the address. */
static enum exit_action exit_ept_violation(struct vcpu *vcpu)
{
    uint64_t gpa = vmcs_read64(GUEST_PHYSICAL_ADDRESS), q = vcpu->exit_qual;
    uint32_t info = vmcs_read32(IDT_VECTORING_INFO_FIELD);
    if (info & INTR_INFO_VALID)
        return ept_during_delivery(vcpu, gpa, info);
    if ((q & EPT_QUAL_GLA_VALID) && !(q & EPT_QUAL_TRANSLATED)) {
        bool nxe = (vmcs_read64(GUEST_IA32_EFER) & EFER_NXE) && (vcpu->cr4_shadow & CR4_PAE);
        /* The walk's own access is a read: whether the instruction meant to write, the
         * error code's W, is the instruction's, looked at (not carried out). */
        uint64_t gla = vmcs_readnat(GUEST_LINEAR_ADDRESS);
        int writes = ept_qual_fetch(q) ? -1 : mmio_insn_writes(vcpu, gla);
        bool fetch = writes < 0, write = writes > 0;
        struct guest_fault f = {
            .vector = 14,
            .cr2 = gla,
            .error = PF_P | PF_RSVD | (write ? PF_W : 0) | (guest_cpl() == 3 ? PF_U : 0) |
                     (fetch && (nxe || (vcpu->cr4_shadow & CR4_SMEP)) ? PF_I : 0),
        };
        guest_fault_inject(vcpu, &f);
        return EXIT_CONTINUE;
    }
    if (ept_qual_fetch(q))
        return exit_crash(vcpu, "instruction fetch outside its RAM at guest-physical 0x%lx", gpa);
    return exit_mmio(vcpu, gpa, ept_qual_write(q));
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

/* RDMSR/WRMSR emulation: an explicit list of the MSRs a guest may use; any other injects
 * #GP, as a CPU without that MSR would. (The passed-through ones are in vmx/vmcs.c.) */
#include "vmx/exits.h"
#include "kernel/cpu.h"

#define MSR_IA32_BIOS_SIGN_ID  0x8B
#define MSR_IA32_MISC_ENABLE   0x1A0
#define MSR_TSC_AUX            0xC0000103

static enum exit_action msr_done(struct vcpu *vcpu, bool read, uint64_t v)
{
    if (read) {
        vcpu->regs.rax = (uint32_t)v;
        vcpu->regs.rdx = v >> 32;
    }
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

/* Emulates one access; returns false for an MSR that does not exist for the guest or a
 * value it may not write (the caller injects #GP). */
static bool msr_access(struct vcpu *vcpu, uint32_t msr, bool read, uint64_t *v)
{
    /* The local APIC's MSRs (IA32_APIC_BASE, x2APIC, TSC deadline) belong to the VM's vLAPIC. */
    int dev = read ? vm_msr_read(vcpu->vm, msr, v) : vm_msr_write(vcpu->vm, msr, *v);
    if (dev != 0)
        return dev > 0;
    switch (msr) {
    case MSR_IA32_TSC:
        if (read)
            *v = rdtsc() + vmcs_read64(TSC_OFFSET);
        else
            vmcs_write64(TSC_OFFSET, *v - rdtsc());
        return true;
    case MSR_IA32_FEATURE_CONTROL:
        if (!read)
            return false;                       /* locked */
        *v = 1;                                 /* locked, VMXON disabled */
        return true;
    case MSR_IA32_BIOS_SIGN_ID:
        if (read)
            *v = 0;
        return true;                            /* microcode updates are ignored */
    case MSR_IA32_MISC_ENABLE:
        if (read)
            *v = 1;                             /* fast strings; no MONITOR, no EIST */
        return true;
    case MSR_IA32_PAT:
        if (read) {
            *v = vmcs_read64(GUEST_IA32_PAT);
            return true;
        }
        for (int i = 0; i < 8; i++) {           /* memory types 0,1,4,5,6,7 only */
            uint8_t t = (*v >> (i * 8)) & 0xFF;
            if (t == 2 || t == 3 || t > 7)
                return false;
        }
        vmcs_write64(GUEST_IA32_PAT, *v);
        return true;
    case MSR_IA32_EFER: {
        uint64_t cur = vmcs_read64(GUEST_IA32_EFER);
        if (read) {
            *v = cur;
            return true;
        }
        if (*v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
            return false;
        /* LME may not change while paging is on; LMA is the CPU's (SDM 10.8.5). */
        if ((vcpu->cr0_shadow & CR0_PG) && ((*v ^ cur) & EFER_LME))
            return false;
        vmcs_write64(GUEST_IA32_EFER, (*v & ~EFER_LMA) | (cur & EFER_LMA));
        return true;
    }
    case MSR_TSC_AUX:
        if (read)
            *v = 0;
        return true;
    default:
        return false;
    }
}

enum exit_action exit_rdmsr(struct vcpu *vcpu)
{
    uint64_t v = 0;
    if (!msr_access(vcpu, (uint32_t)vcpu->regs.rcx, true, &v))
        return exit_inject_gp(vcpu);
    return msr_done(vcpu, true, v);
}

enum exit_action exit_wrmsr(struct vcpu *vcpu)
{
    uint64_t v = (vcpu->regs.rdx << 32) | (uint32_t)vcpu->regs.rax;
    if (!msr_access(vcpu, (uint32_t)vcpu->regs.rcx, false, &v))
        return exit_inject_gp(vcpu);
    return msr_done(vcpu, false, 0);
}

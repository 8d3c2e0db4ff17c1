/* RDMSR/WRMSR emulation: an explicit list of the CPU's MSRs a guest may use. Any other goes
 * to the VM layer as a request (its devices' MSRs: the local APIC's); if no device has it,
 * the guest gets #GP, as from a CPU without that MSR. (The passed-through ones are in
 * vmx/vmcs.c.) */
#include "vmx/exits.h"
#include "kernel/cpu.h"

#define MSR_IA32_TSC_ADJUST    0x3B
#define MSR_IA32_BIOS_SIGN_ID  0x8B
#define MSR_IA32_MCG_CAP       0x179
#define MSR_IA32_MCG_STATUS    0x17A
#define MSR_IA32_MISC_ENABLE   0x1A0
#define MSR_IA32_DEBUGCTL      0x1D9

/* IA32_MISC_ENABLE (SDM Vol. 4, Table 2-2): fast strings is the guest's to change; BTS and
 * PEBS unavailable are read-only facts (no performance monitoring); the rest would ask for
 * features the guest does not have (EIST, MONITOR, limited CPUID, XD disable), so setting
 * them is #GP, as KVM does for the ones it does not emulate. */
#define MISC_ENABLE_FAST_STRINGS  (1ull << 0)
#define MISC_ENABLE_BTS_UNAVAIL   (1ull << 11)
#define MISC_ENABLE_PEBS_UNAVAIL  (1ull << 12)
#define MISC_ENABLE_READ_ONLY     (MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL)

void msr_reset(struct vcpu *vcpu)
{
    vcpu->misc_enable = MISC_ENABLE_FAST_STRINGS | MISC_ENABLE_READ_ONLY;
    vcpu->tsc_offset = 0;
    vcpu->tsc_adjust = 0;
    vcpu->swap_msrs[SWAP_TSC_AUX] = 0;
}

/* Moves the guest's TSC by delta: the VMCS's offset (RDTSC, RDTSCP and IA32_TSC follow it)
 * and IA32_TSC_ADJUST, which the CPU moves with every write to the TSC (SDM 18.17.3). */
static void tsc_move(struct vcpu *vcpu, uint64_t delta)
{
    vcpu->tsc_offset += delta;
    vcpu->tsc_adjust += delta;
    vmcs_write64(TSC_OFFSET, vcpu->tsc_offset);
}

static enum exit_action msr_done(struct vcpu *vcpu, bool read, uint64_t v)
{
    if (read) {
        vcpu->regs.rax = (uint32_t)v;
        vcpu->regs.rdx = v >> 32;
    }
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

enum msr_result { MSR_DONE, MSR_GP, MSR_NOT_CPU };

/* Emulates one access to an MSR of the CPU's: MSR_GP for a value it may not write,
 * MSR_NOT_CPU for an MSR that is not the CPU's. */
static enum msr_result cpu_msr(struct vcpu *vcpu, uint32_t msr, bool read, uint64_t *v)
{
    switch (msr) {
    case MSR_IA32_TSC:
        if (read)
            *v = rdtsc() + vcpu->tsc_offset;
        else
            tsc_move(vcpu, *v - (rdtsc() + vcpu->tsc_offset));
        return MSR_DONE;
    case MSR_IA32_TSC_ADJUST:
        if (read)
            *v = vcpu->tsc_adjust;
        else
            tsc_move(vcpu, *v - vcpu->tsc_adjust);
        return MSR_DONE;
    case MSR_IA32_MCG_CAP:                      /* no banks, no MCG_CTL: MCA is hidden */
        if (!read)
            return MSR_GP;                      /* read-only */
        *v = 0;
        return MSR_DONE;
    case MSR_IA32_DEBUGCTL:                     /* architectural since the P6 (SDM 18.4.1) */
        if (read)
            *v = 0;
        return read || *v == 0 ? MSR_DONE : MSR_GP;   /* no LBR, BTF or BTS to turn on */
    case MSR_IA32_MCG_STATUS:
        if (read)
            *v = 0;
        return read || *v == 0 ? MSR_DONE : MSR_GP;   /* software may write only 0 */
    case MSR_IA32_FEATURE_CONTROL:
        if (!read)
            return MSR_GP;                       /* locked */
        *v = 1;                                 /* locked, VMXON disabled */
        return MSR_DONE;
    case MSR_IA32_BIOS_SIGN_ID:
        if (read)
            *v = 0;
        return MSR_DONE;                            /* microcode updates are ignored */
    case MSR_IA32_MISC_ENABLE:
        if (read) {
            *v = vcpu->misc_enable;
            return MSR_DONE;
        }
        if (*v & ~(MISC_ENABLE_FAST_STRINGS | MISC_ENABLE_READ_ONLY))
            return MSR_GP;
        vcpu->misc_enable = (*v & MISC_ENABLE_FAST_STRINGS) | MISC_ENABLE_READ_ONLY;
        return MSR_DONE;
    case MSR_IA32_PAT:
        if (read) {
            *v = vmcs_read64(GUEST_IA32_PAT);
            return MSR_DONE;
        }
        for (int i = 0; i < 8; i++) {           /* memory types 0,1,4,5,6,7 only */
            uint8_t t = (*v >> (i * 8)) & 0xFF;
            if (t == 2 || t == 3 || t > 7)
                return MSR_GP;
        }
        vmcs_write64(GUEST_IA32_PAT, *v);
        return MSR_DONE;
    case MSR_IA32_EFER: {
        uint64_t cur = vmcs_read64(GUEST_IA32_EFER);
        if (read) {
            *v = cur;
            return MSR_DONE;
        }
        if (*v & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
            return MSR_GP;
        /* LME may not change while paging is on; LMA is the CPU's (SDM 10.8.5). */
        if ((vcpu->cr0_shadow & CR0_PG) && ((*v ^ cur) & EFER_LME))
            return MSR_GP;
        vmcs_write64(GUEST_IA32_EFER, (*v & ~EFER_LMA) | (cur & EFER_LMA));
        return MSR_DONE;
    }
    default:
        return MSR_NOT_CPU;
    }
}

/* Either the CPU's answer, or a request for the VM layer. */
static enum exit_action msr_exit(struct vcpu *vcpu, bool read, uint64_t v)
{
    uint32_t msr = (uint32_t)vcpu->regs.rcx;
    switch (cpu_msr(vcpu, msr, read, &v)) {
    case MSR_DONE:
        return msr_done(vcpu, read, v);
    case MSR_GP:
        return exit_inject_gp(vcpu);
    default:
        vcpu->req.kind = VCPU_REQ_MSR;
        vcpu->req.msr.index = msr;
        vcpu->req.msr.write = !read;
        vcpu->req.msr.data = v;
        vcpu->req.msr.ok = false;
        return EXIT_REQUEST;
    }
}

enum exit_action exit_rdmsr(struct vcpu *vcpu)
{
    return msr_exit(vcpu, true, 0);
}

enum exit_action exit_wrmsr(struct vcpu *vcpu)
{
    return msr_exit(vcpu, false, (vcpu->regs.rdx << 32) | (uint32_t)vcpu->regs.rax);
}

enum exit_action msr_complete(struct vcpu *vcpu)
{
    if (!vcpu->req.msr.ok)
        return exit_inject_gp(vcpu);
    return msr_done(vcpu, !vcpu->req.msr.write, vcpu->req.msr.data);
}

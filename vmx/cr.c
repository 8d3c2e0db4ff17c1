/* Control-register virtualization: CR0/CR4 through guest/host masks and read shadows,
 * MOV to/from CR exits (SDM 28.2.1 Table 28-3), long-mode activation on CR0.PG. */
#include "vmx/cr.h"
#include "vmx/exits.h"
#include "vmx/caps.h"
#include "kernel/cpu.h"
#include "kernel/printf.h"

/* Bits the CPU requires at 1 or 0 in VMX operation; NE/CD/NW, whose guest values differ
 * from the real ones; and PE/PG, so that every paging-mode change exits and long mode is
 * activated here (unrestricted guest lets the guest run with either clear, SDM 26.3.1.1).
 * The rest (TS, MP, EM, WP, AM) the guest changes without exits. */
uint64_t cr0_host_owned(void)
{
    uint64_t fixed = (vmx_caps.cr0_fixed0 | ~vmx_caps.cr0_fixed1) & 0xFFFFFFFFull;
    return fixed | CR0_PE | CR0_PG | CR0_NE | CR0_CD | CR0_NW;
}

/* All of CR4: its bits change the paging mode (PAE, PSE, PGE, LA57, PCIDE...) or features
 * we filter, and they change rarely, so the shadow is always the guest's CR4. */
uint64_t cr4_host_owned(void)
{
    return 0xFFFFFFFFull;
}

uint64_t cr0_real(uint64_t v)
{
    v |= vmx_caps.cr0_fixed0 & ~(CR0_PE | CR0_PG);
    v &= ~(CR0_CD | CR0_NW);                /* the guest's caching wishes stay in its shadow */
    return v & (vmx_caps.cr0_fixed1 | CR0_PE | CR0_PG);
}

uint64_t cr4_real(uint64_t v)
{
    return (v | vmx_caps.cr4_fixed0 | CR4_VMXE) & vmx_caps.cr4_fixed1;
}

/* VMXE and SMXE are never allowed: CPUID hides VMX and SMX from guests. */
uint64_t cr4_guest_allowed(struct vcpu *vcpu)
{
    return vmx_caps.cr4_fixed1 & cpuid_cr4_features(vcpu);
}

bool guest_in_64bit_mode(void)
{
    return (vmcs_read64(GUEST_IA32_EFER) & EFER_LMA) && (vmcs_read32(GUEST_CS_AR_BYTES) & (1u << 13));
}

/* PAE paging outside IA-32e mode (CR0.PG, CR4.PAE, EFER.LME clear) reads its four PDPTEs
 * from CR3 when a MOV to CR0 or CR4 changes PG, CD, NW, PAE, PGE, PSE or SMEP (SDM 4.4.1):
 * a present one with a reserved bit set makes the MOV #GP and changes nothing; else they go
 * into the VMCS, where VM entry with EPT takes them (26.3.2.4). Memory of nothing reads
 * all-ones, as every PDPTE read outside RAM does on a PC. Returns false for #GP. */
static bool pdptes_load(struct vcpu *vcpu, uint64_t cr0, uint64_t cr4)
{
    const uint64_t cr0_bits = CR0_PG | CR0_CD | CR0_NW;
    const uint64_t cr4_bits = CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP;
    if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || (vmcs_read64(GUEST_IA32_EFER) & EFER_LME))
        return true;
    if (!((cr0 ^ vcpu->cr0_shadow) & cr0_bits) && !((cr4 ^ vcpu->cr4_shadow) & cr4_bits))
        return true;
    uint64_t e[4] = { ~0ull, ~0ull, ~0ull, ~0ull };
    const uint64_t *p = guest_ram_ptr(vcpu->ram, vmcs_readnat(GUEST_CR3) & 0xFFFFFFE0ull, 32);
    for (int i = 0; i < 4; i++) {
        if (p)
            e[i] = p[i];
        if ((e[i] & 1) && (e[i] & guest_pdpte_reserved()))
            return false;
    }
    static const struct vmcs_field64 fields[4] = { GUEST_PDPTE0, GUEST_PDPTE1, GUEST_PDPTE2, GUEST_PDPTE3 };
    for (int i = 0; i < 4; i++)
        vmcs_write64(fields[i], e[i]);
    return true;
}

/* After CR0 or CR4 changed: long mode is activated or left with paging (SDM 10.8.5). */
static void paging_mode_changed(struct vcpu *vcpu)
{
    uint64_t efer = vmcs_read64(GUEST_IA32_EFER);
    uint32_t entry = vmcs_read32(VM_ENTRY_CONTROLS);
    if ((vcpu->cr0_shadow & CR0_PG) && (efer & EFER_LME)) {
        efer |= EFER_LMA;
        entry |= VM_ENTRY_IA32E_MODE;
    } else {
        efer &= ~EFER_LMA;
        entry &= ~VM_ENTRY_IA32E_MODE;
    }
    vmcs_write64(GUEST_IA32_EFER, efer);
    vmcs_write32(VM_ENTRY_CONTROLS, entry);
}

uint64_t guest_cr0(const struct vcpu *vcpu)
{
    uint64_t host_owned = vmcs_readnat(CR0_GUEST_HOST_MASK);
    return (vcpu->cr0_shadow & host_owned) | (vmcs_readnat(GUEST_CR0) & ~host_owned);
}

/* CLTS and LMSW change only some bits and keep the rest, so they start from the merged value. */
static void guest_cr0_sync(struct vcpu *vcpu)
{
    vcpu->cr0_shadow = guest_cr0(vcpu);
}

/* CR0's defined bits: PE MP EM TS ET NE WP AM NW CD PG (SDM 2.5). */
#define CR0_DEFINED 0xE005003Full

/* MOV to CR0 (SDM Vol. 2B MOV CR, Vol. 3A 2.5): #GP for bits 63:32, PG without PE, NW
 * without CD, clearing PG while CR4.PCIDE=1 or in 64-bit mode, and PG with EFER.LME but not
 * CR4.PAE; reserved bits in 31:0 are ignored. */
static enum exit_action guest_write_cr0(struct vcpu *vcpu, uint64_t v)
{
    if ((v >> 32) || ((v & CR0_PG) && !(v & CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
        return exit_inject_gp(vcpu);
    if (!(v & CR0_PG) && (vcpu->cr4_shadow & CR4_PCIDE))
        return exit_inject_gp(vcpu);
    /* IA-32e mode is left only from compatibility mode: clearing PG in 64-bit mode is #GP(0)
     * (SDM Vol. 2B MOV CR, 64-bit mode exceptions; Vol. 3A 10.8.5.4). */
    if (!(v & CR0_PG) && guest_in_64bit_mode())
        return exit_inject_gp(vcpu);
    v &= CR0_DEFINED;
    if ((v & CR0_PG) && !(vcpu->cr0_shadow & CR0_PG) && (vmcs_read64(GUEST_IA32_EFER) & EFER_LME) &&
        !(vcpu->cr4_shadow & CR4_PAE))
        return exit_inject_gp(vcpu);
    if (!pdptes_load(vcpu, v | CR0_ET, vcpu->cr4_shadow))
        return exit_inject_gp(vcpu);
    vcpu->cr0_shadow = v | CR0_ET;
    vmcs_writenat(CR0_READ_SHADOW, vcpu->cr0_shadow);
    vmcs_writenat(GUEST_CR0, cr0_real(vcpu->cr0_shadow));
    paging_mode_changed(vcpu);
    return EXIT_CONTINUE;
}

#define CR4_CET (1ull << 23)

/* MOV to CR4 (SDM Vol. 2B MOV CR): #GP for reserved bits (a bit whose feature the guest's
 * CPUID does not report is one: MCE, and VMXE as VMX is hidden), clearing PAE or changing
 * LA57 in IA-32e mode, setting PCIDE outside IA-32e mode or while CR3[11:0] is not 0, and
 * setting CET while CR0.WP=0 (a VM-entry check too, SDM Vol. 3C 27.3.1.1). */
static enum exit_action guest_write_cr4(struct vcpu *vcpu, uint64_t v)
{
    bool ia32e = vmcs_read64(GUEST_IA32_EFER) & EFER_LMA;
    if (v & ~cr4_guest_allowed(vcpu))
        return exit_inject_gp(vcpu);
    if ((v & CR4_CET) && !(guest_cr0(vcpu) & CR0_WP))
        return exit_inject_gp(vcpu);
    if (ia32e && (!(v & CR4_PAE) || ((v ^ vcpu->cr4_shadow) & CR4_LA57)))
        return exit_inject_gp(vcpu);
    if ((v & CR4_PCIDE) && !(vcpu->cr4_shadow & CR4_PCIDE) &&
        (!ia32e || (vmcs_readnat(GUEST_CR3) & 0xFFF)))
        return exit_inject_gp(vcpu);
    if (!pdptes_load(vcpu, vcpu->cr0_shadow, v))
        return exit_inject_gp(vcpu);
    vcpu->cr4_shadow = v;
    vmcs_writenat(CR4_READ_SHADOW, v);
    vmcs_writenat(GUEST_CR4, cr4_real(v));
    paging_mode_changed(vcpu);
    return EXIT_CONTINUE;
}

/* The GPRs in the encoding of exit qualifications (SDM Table 28-3): 0 RAX, 1 RCX, 2 RDX,
 * 3 RBX, 4 RSP (kept in the VMCS), 5 RBP ... 15 R15. */
static uint64_t *gpr_slot(struct guest_regs *r, unsigned n)
{
    switch (n & 15) {
    case 0: return &r->rax;
    case 1: return &r->rcx;
    case 2: return &r->rdx;
    case 3: return &r->rbx;
    case 5: return &r->rbp;
    case 6: return &r->rsi;
    case 7: return &r->rdi;
    case 8: return &r->r8;
    case 9: return &r->r9;
    case 10: return &r->r10;
    case 11: return &r->r11;
    case 12: return &r->r12;
    case 13: return &r->r13;
    case 14: return &r->r14;
    default: return &r->r15;
    }
}

uint64_t vcpu_gpr_read(struct vcpu *vcpu, unsigned n)
{
    return (n & 15) == 4 ? vmcs_readnat(GUEST_RSP) : *gpr_slot(&vcpu->regs, n);
}

void vcpu_gpr_write(struct vcpu *vcpu, unsigned n, uint64_t v)
{
    if ((n & 15) == 4)
        vmcs_writenat(GUEST_RSP, v);
    else
        *gpr_slot(&vcpu->regs, n) = v;
}

/* CR8 is the local APIC's task-priority register as the CPU sees it: MOV to CR8 sets TPR[7:4]
 * to CR8[3:0] and clears TPR[3:0], MOV from CR8 reads TPR[7:4] (SDM Vol. 3A 11.8.6.1;
 * 10.8.6.1 in older editions); bits 63:4 are reserved (#GP(0)). The TPR itself is the VM
 * layer's vLAPIC register, which vcpu->tpr points to: one register whichever way the guest
 * reaches it (CR8, the xAPIC page, the x2APIC MSR), as the CPU's TPR shadow keeps VTPR in the
 * virtual-APIC page (SDM Vol. 3C 30.1.1). A lower priority class may let a pending interrupt
 * in: EXIT_EVENTS makes the VM layer look again before the next entry, as the CPU evaluates
 * pending interrupts once the MOV completes. */
static enum exit_action guest_write_cr8(struct vcpu *vcpu, uint64_t v)
{
    if (v & ~0xFull)
        return exit_inject_gp(vcpu);
    uint8_t old = *vcpu->tpr, tpr = (uint8_t)(v << 4);
    *vcpu->tpr = tpr;
    vcpu_skip_instruction(vcpu);
    return tpr < (old & 0xF0) ? EXIT_EVENTS : EXIT_CONTINUE;
}

enum exit_action exit_cr_access(struct vcpu *vcpu)
{
    uint64_t q = vcpu->exit_qual;
    unsigned cr = cr_qual_number(q), type = cr_qual_type(q), reg = cr_qual_gpr(q);
    enum exit_action a = EXIT_CONTINUE;

    if (cr == 8 && !vcpu->tpr)
        return exit_crash(vcpu, "MOV CR8 without a local APIC (a hypervisor bug)");
    if (type == CR_ACCESS_MOV_TO) {
        uint64_t v = vcpu_gpr_read(vcpu, reg);
        if (cr == 0)
            a = guest_write_cr0(vcpu, v);
        else if (cr == 4)
            a = guest_write_cr4(vcpu, v);
        else if (cr == 8)
            return guest_write_cr8(vcpu, v);
        else
            return exit_crash(vcpu, "MOV to CR%u cannot be emulated", cr);
    } else if (type == CR_ACCESS_MOV_FROM) {
        if (cr != 8)
            return exit_crash(vcpu, "MOV from CR%u cannot be emulated", cr);
        vcpu_gpr_write(vcpu, reg, *vcpu->tpr >> 4);
    } else if (type == CR_ACCESS_CLTS) {
        guest_cr0_sync(vcpu);
        a = guest_write_cr0(vcpu, vcpu->cr0_shadow & ~CR0_TS);
    } else {                                                /* LMSW: only the low 4 bits */
        guest_cr0_sync(vcpu);
        uint64_t msw = cr_qual_lmsw_source(q) & 0xF;
        a = guest_write_cr0(vcpu, (vcpu->cr0_shadow & ~0xEull) | msw);   /* LMSW cannot clear PE */
    }
    if (a == EXIT_CONTINUE && !vcpu->pending_event)
        vcpu_skip_instruction(vcpu);
    return a;
}

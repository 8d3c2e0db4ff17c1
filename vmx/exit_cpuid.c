/* CPUID emulation: the host's answers with what is not virtualized taken out (VMX, SMX,
 * performance monitoring, MONITOR/MWAIT, MTRRs, machine checks), what the virtual
 * devices offer put in (the local APIC with x2APIC and TSC-deadline), the TSC frequency
 * in leaves 0x15/0x16, the hypervisor-present bit set, and the hypervisor leaves: anfitrion's
 * at 0x40000000-1 and, with pv=on, KVM's at 0x40000100-1 (docs/hypercalls.md; the VM layer
 * fills in vcpu->pv_cpuid). */
#include "vmx/exits.h"
#include "vmx/cr.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "vmx/vcpu.h"
#include "vmx/xsave.h"

#define HV_LEAF_BASE 0x40000000u
#define KVM_LEAF_BASE 0x40000100u                 /* KVM's interface beside ours (pv=on) */

/* CPUID.1:ECX */
#define ECX_MONITOR   (1u << 3)
#define ECX_DS_CPL    (1u << 4)
#define ECX_VMX       (1u << 5)
#define ECX_SMX       (1u << 6)
#define ECX_EST       (1u << 7)
#define ECX_TM2       (1u << 8)
#define ECX_SDBG      (1u << 11)
#define ECX_XTPR      (1u << 14)
#define ECX_PDCM      (1u << 15)
#define ECX_DCA       (1u << 18)
#define ECX_X2APIC    (1u << 21)
#define ECX_TSC_DEADLINE (1u << 24)
#define ECX_OSXSAVE   (1u << 27)
#define ECX_HYPERVISOR (1u << 31)
/* CPUID.1:EDX */
#define EDX_MCE       (1u << 7)
#define EDX_APIC      (1u << 9)
#define EDX_MTRR      (1u << 12)
#define EDX_MCA       (1u << 14)
#define EDX_PSN       (1u << 18)
#define EDX_DS        (1u << 21)
#define EDX_ACPI      (1u << 22)
#define EDX_HTT       (1u << 28)
#define EDX_TM        (1u << 29)
#define EDX_PBE       (1u << 31)
/* CPUID.(EAX=7,ECX=0):EBX */
#define L7_EBX_SGX        (1u << 2)
#define L7_EBX_HLE        (1u << 4)
#define L7_EBX_INVPCID    (1u << 10)
#define L7_EBX_RTM        (1u << 11)
#define L7_EBX_PQM        (1u << 12)
#define L7_EBX_MPX        (1u << 14)
#define L7_EBX_PQE        (1u << 15)
#define L7_EBX_PT         (1u << 25)
/* CPUID.(EAX=7,ECX=0):ECX */
#define L7_ECX_PKU        (1u << 3)
#define L7_ECX_OSPKE      (1u << 4)
#define L7_ECX_WAITPKG    (1u << 5)
#define L7_ECX_CET_SS     (1u << 7)
#define L7_ECX_KL         (1u << 23)
#define L7_ECX_SGX_LC     (1u << 30)
#define L7_ECX_PKS        (1u << 31)
#define L7_EDX_UINTR      (1u << 5)
#define L7_EDX_CET_IBT    (1u << 20)
/* CPUID.(EAX=7,ECX=0):EDX */
#define L7_EDX_IBRS_IBPB  (1u << 26)
#define L7_EDX_STIBP      (1u << 27)
#define L7_EDX_L1D_FLUSH  (1u << 28)
#define L7_EDX_ARCH_CAPS  (1u << 29)
#define L7_EDX_SSBD       (1u << 31)
/* CPUID.80000007H:EDX */
#define EXT7_EDX_INVARIANT_TSC (1u << 8)

/* Pure: the guest's view of one leaf given the host's answer. */
static void filter_leaf(struct vcpu *vcpu, uint32_t leaf, uint32_t subleaf, struct cpuid_regs *r)
{
    switch (leaf) {
    case 0:
        if (r->eax < 0x16)
            r->eax = 0x16;                      /* leaves 0x15/0x16 are ours */
        break;
    case 1:
        r->ecx &= ~(ECX_MONITOR | ECX_DS_CPL | ECX_VMX | ECX_SMX | ECX_EST | ECX_TM2 | ECX_SDBG |
                    ECX_XTPR | ECX_PDCM | ECX_DCA | ECX_OSXSAVE);
        if (vcpu->cr4_shadow & CR4_OSXSAVE)
            r->ecx |= ECX_OSXSAVE;
        r->ecx |= ECX_HYPERVISOR | ECX_X2APIC | ECX_TSC_DEADLINE;   /* the vLAPIC has both */
        r->edx &= ~(EDX_MCE | EDX_APIC | EDX_MTRR | EDX_MCA | EDX_PSN | EDX_DS | EDX_ACPI |
                    EDX_HTT | EDX_TM | EDX_PBE);
        if (vcpu->cpuid_apic)
            r->edx |= EDX_APIC;                 /* cleared while IA32_APIC_BASE.EN is 0 */
        r->ebx = (r->ebx & 0xFFFF) | (1u << 16);   /* one logical CPU, initial APIC ID 0 */
        break;
    case 0x15: {
        /* TSC = crystal * EBX / EAX with a 1 MHz crystal (the vLAPIC timer's clock), so
         * EBX/EAX = tsc_khz / 1000, reduced: Linux multiplies crystal kHz by EBX in 32 bits
         * (native_calibrate_tsc), so the product must stay below 2^32 (SDM Vol. 2A, 15H). */
        uint32_t num = (uint32_t)(time_tsc_hz() / 1000), den = 1000;
        for (uint32_t a = num, b = den; ; ) {       /* gcd */
            if (b == 0) {
                num /= a;
                den /= a;
                break;
            }
            uint32_t t = a % b;
            a = b;
            b = t;
        }
        while ((uint64_t)num * 1000 > 0xFFFFFFFFull) {
            num >>= 1;
            den = den > 1 ? den >> 1 : 1;
        }
        r->eax = den;
        r->ebx = num;
        r->ecx = VCPU_CRYSTAL_HZ;
        r->edx = 0;
        break;
    }
    case 0x16: {
        uint32_t mhz = (uint32_t)(time_tsc_hz() / 1000000);
        r->eax = mhz;                           /* base */
        r->ebx = mhz;                           /* maximum */
        r->ecx = VCPU_CRYSTAL_HZ / 1000000;      /* bus (the APIC timer's clock), MHz */
        r->edx = 0;
        break;
    }
    case 4:                                     /* cache topology: one core, one thread */
        r->eax &= 0x3FFF;
        break;
    case 5: case 6: case 0xA: case 0xB: case 0x1F:
        /* MONITOR/MWAIT, power management, performance monitoring, topology: none */
        r->eax = r->ebx = r->ecx = r->edx = 0;
        break;
    case 7:
        if (subleaf == 0) {
            r->ebx &= ~(L7_EBX_SGX | L7_EBX_HLE | L7_EBX_INVPCID | L7_EBX_RTM |
                        L7_EBX_PQM | L7_EBX_MPX | L7_EBX_PQE | L7_EBX_PT);
            /* Hidden, so their CR4 bits are reserved (cr.c): protection keys (the emulated
             * accesses of guest_mem.c do not apply PKRU, and PKRU is not among the XSAVE
             * components switched between guests), CET, Key Locker and user interrupts
             * (their MSRs and state are not virtualized). */
            r->ecx &= ~(L7_ECX_WAITPKG | L7_ECX_SGX_LC | L7_ECX_PKU | L7_ECX_OSPKE | L7_ECX_CET_SS |
                        L7_ECX_KL | L7_ECX_PKS);
            r->edx &= ~(L7_EDX_UINTR | L7_EDX_CET_IBT);
            /* speculation controls and their MSRs are not emulated */
            r->edx &= ~(L7_EDX_IBRS_IBPB | L7_EDX_STIBP | L7_EDX_L1D_FLUSH | L7_EDX_ARCH_CAPS | L7_EDX_SSBD);
        } else {
            r->eax = r->ebx = r->ecx = r->edx = 0;
        }
        break;
    case 0xD: {
        /* Only the components a guest may enable (vmx/xsave.c); EBX is the CPU's own answer
         * for the XCR0 it holds, which is the guest's while its exit is handled. */
        uint64_t allowed = xsave_guest_features();
        if (subleaf == 0) {
            r->eax &= (uint32_t)allowed;
            r->edx &= (uint32_t)(allowed >> 32);
            r->ecx = xsave_guest_max_size();
        } else if (subleaf == 1) {
            r->eax &= ~(1u << 3);               /* XSAVES/XRSTORS: not offered, */
            r->ecx = r->edx = 0;                /* so no IA32_XSS components */
        } else if (subleaf >= 63 || !(allowed >> subleaf & 1)) {
            r->eax = r->ebx = r->ecx = r->edx = 0;
        }
        break;
    }
    case 0x80000007:
        /* With KVM's interface shown (pv=on), no invariant TSC, as under QEMU/KVM's CPU
         * models by default: Linux rates kvm-clock above the TSC only then (kvmclock_init
         * lowers it to 299, below the TSC's 300, when the TSC is invariant). */
        if (vcpu->pv_cpuid.kvm)
            r->edx &= ~EXT7_EDX_INVARIANT_TSC;
        break;
    default:
        break;
    }
}

/* What CPUID(leaf, subleaf) answers the guest. */
static struct cpuid_regs cpuid_guest(struct vcpu *vcpu, uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    if (leaf >= HV_LEAF_BASE && leaf <= HV_LEAF_BASE + 0xFFFF) {
        memset(&r, 0, sizeof r);
        /* LAB(exit-cpuid) BEGIN: anfitrion's own leaves (docs/hypercalls.md, Discovery).
         * 0x40000000: EAX the highest anfitrion leaf, EBX ECX EDX the signature "anfitrion"
         * NUL-padded; 0x40000001: EAX the ABI version and EBX the feature bits that the VM
         * layer put in vcpu->pv_cpuid (ECX = EDX = 0). Until then both read zeros. */
        /* LAB(exit-cpuid) STUB: nothing, the memset above already answers zeros */
        if (leaf == HV_LEAF_BASE) {
            r.eax = HV_LEAF_BASE + 1;           /* highest anfitrion leaf */
            memcpy(&r.ebx, "anfi", 4);
            memcpy(&r.ecx, "trio", 4);
            memcpy(&r.edx, "n\0\0\0", 4);
        } else if (leaf == HV_LEAF_BASE + 1) {
            r.eax = vcpu->pv_cpuid.version;
            r.ebx = vcpu->pv_cpuid.features;
        } else
        /* LAB(exit-cpuid) END */
        if (leaf == KVM_LEAF_BASE && vcpu->pv_cpuid.kvm) {
            r.eax = KVM_LEAF_BASE + 1;          /* Linux scans for it every 0x100 leaves */
            memcpy(&r.ebx, "KVMK", 4);
            memcpy(&r.ecx, "VMKV", 4);
            memcpy(&r.edx, "M\0\0\0", 4);
        } else if (leaf == KVM_LEAF_BASE + 1 && vcpu->pv_cpuid.kvm) {
            r.eax = vcpu->pv_cpuid.kvm_features;
        }
    } else {
        r = cpuid(leaf, subleaf);
        filter_leaf(vcpu, leaf, subleaf, &r);
    }
    return r;
}

/* Each CR4 bit and the CPUID flag that says the processor has it (SDM Vol. 3A 2.5; the feature
 * flags of Vol. 2A CPUID): a bit whose flag the guest does not see is reserved for it (KVM's
 * __cr4_reserved_bits does the same), so hiding a feature above hides its CR4 bit too. CET
 * has two flags (CET_SS, CET_IBT). Bits not listed (LAM_SUP, LASS, FRED: leaf 7 subleaf 1,
 * which the guest sees as 0) are reserved. */
enum { CPUID_EBX, CPUID_ECX, CPUID_EDX };
static const struct { uint8_t cr4_bit; uint8_t leaf; uint8_t reg; uint8_t flag; } cr4_cpuid[] = {
    { 0, 1, CPUID_EDX, 1 },         /* VME: VME */
    { 1, 1, CPUID_EDX, 1 },         /* PVI: VME */
    { 2, 1, CPUID_EDX, 4 },         /* TSD: TSC */
    { 3, 1, CPUID_EDX, 2 },         /* DE: DE */
    { 4, 1, CPUID_EDX, 3 },         /* PSE: PSE */
    { 5, 1, CPUID_EDX, 6 },         /* PAE: PAE */
    { 6, 1, CPUID_EDX, 7 },         /* MCE: MCE (hidden above) */
    { 7, 1, CPUID_EDX, 13 },        /* PGE: PGE */
    { 9, 1, CPUID_EDX, 24 },        /* OSFXSR: FXSR */
    { 10, 1, CPUID_EDX, 25 },       /* OSXMMEXCPT: SSE */
    { 11, 7, CPUID_ECX, 2 },        /* UMIP: UMIP */
    { 12, 7, CPUID_ECX, 16 },       /* LA57: LA57 */
    { 13, 1, CPUID_ECX, 5 },        /* VMXE: VMX (hidden above) */
    { 14, 1, CPUID_ECX, 6 },        /* SMXE: SMX (hidden above) */
    { 16, 7, CPUID_EBX, 0 },        /* FSGSBASE: FSGSBASE */
    { 17, 1, CPUID_ECX, 17 },       /* PCIDE: PCID */
    { 18, 1, CPUID_ECX, 26 },       /* OSXSAVE: XSAVE */
    { 19, 7, CPUID_ECX, 23 },       /* KL: Key Locker */
    { 20, 7, CPUID_EBX, 7 },        /* SMEP: SMEP */
    { 21, 7, CPUID_EBX, 20 },       /* SMAP: SMAP */
    { 22, 7, CPUID_ECX, 3 },        /* PKE: PKU */
    { 23, 7, CPUID_ECX, 7 },        /* CET: CET_SS */
    { 23, 7, CPUID_EDX, 20 },       /* CET: CET_IBT */
    { 24, 7, CPUID_ECX, 31 },       /* PKS: PKS */
    { 25, 7, CPUID_EDX, 5 },        /* UINTR: UINTR */
};

uint64_t cpuid_cr4_features(struct vcpu *vcpu)
{
    struct cpuid_regs l1 = cpuid_guest(vcpu, 1, 0), l7 = cpuid_guest(vcpu, 7, 0);
    uint64_t bits = 1ull << 8;                  /* PCE: no CPUID flag */
    for (unsigned i = 0; i < sizeof cr4_cpuid / sizeof cr4_cpuid[0]; i++) {
        const struct cpuid_regs *r = cr4_cpuid[i].leaf == 1 ? &l1 : &l7;
        unsigned which = cr4_cpuid[i].reg;
        uint32_t reg = which == CPUID_EBX ? r->ebx : which == CPUID_ECX ? r->ecx : r->edx;
        if (reg >> cr4_cpuid[i].flag & 1)
            bits |= 1ull << cr4_cpuid[i].cr4_bit;
    }
    return bits;
}

enum exit_action exit_cpuid(struct vcpu *vcpu)
{
    struct cpuid_regs r = cpuid_guest(vcpu, (uint32_t)vcpu->regs.rax, (uint32_t)vcpu->regs.rcx);
    vcpu->regs.rax = r.eax;
    vcpu->regs.rbx = r.ebx;
    vcpu->regs.rcx = r.ecx;
    vcpu->regs.rdx = r.edx;
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

/* Building a VMCS (SDM Vol. 3 Chapters 24-26): host state, the execution/exit/entry
 * controls computed from the capability MSRs, and the Multiboot guest's initial state. */
#include "vmx/vcpu.h"
#include "vmx/exits.h"
#include "vmx/caps.h"
#include "vmx/cr.h"
#include "boot/boot.h"
#include "kernel/cpu.h"
#include "kernel/gdt.h"
#include "kernel/log.h"
#include "kernel/paging.h"
#include "kernel/string.h"

extern char vmx_exit[];

/* Shared by all vCPUs: every port and every MSR exits (bitmaps all ones), except the MSRs
 * below, which the VMCS's guest state holds or the scheduler swaps between vCPUs. */
static uint8_t *io_bitmap_a, *io_bitmap_b, *msr_bitmap;
static struct vcpu *current;
static uint16_t next_vpid = 1;

static const uint32_t passthrough_msrs[] = {
    MSR_IA32_FS_BASE, MSR_IA32_GS_BASE,
    MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
    0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084,     /* STAR, LSTAR, CSTAR, SFMASK */
    MSR_IA32_KERNEL_GS_BASE,
    MSR_TSC_AUX,                                        /* RDTSCP and RDPID read it natively */
};

/* SDM 25.6.9: read bitmaps for MSRs 0-0x1FFF and 0xC0000000-0xC0001FFF at offsets 0 and
 * 1024, the matching write bitmaps at 2048 and 3072. */
static void msr_bitmap_pass(uint32_t msr)
{
    uint32_t base = msr >= 0xC0000000 ? 1024 : 0, bit = msr & 0x1FFF;
    msr_bitmap[base + bit / 8] &= ~(1u << (bit % 8));
    msr_bitmap[base + 2048 + bit / 8] &= ~(1u << (bit % 8));
}

static const char *bitmaps_init(void)
{
    if (msr_bitmap)
        return NULL;
    io_bitmap_a = page_alloc_zeroed();
    io_bitmap_b = page_alloc_zeroed();
    msr_bitmap = page_alloc_zeroed();
    if (!io_bitmap_a || !io_bitmap_b || !msr_bitmap)
        return "out of memory for the I/O and MSR bitmaps";
    memset(io_bitmap_a, 0xFF, 4096);
    memset(io_bitmap_b, 0xFF, 4096);
    memset(msr_bitmap, 0xFF, 4096);
    for (unsigned i = 0; i < sizeof passthrough_msrs / sizeof passthrough_msrs[0]; i++)
        msr_bitmap_pass(passthrough_msrs[i]);
    return NULL;
}

/* The one place VM-execution controls are computed: wanted bits must be allowed by the
 * capability MSR, optional bits are taken when allowed (SDM A.3-A.5). */
static const char *controls_init(void)
{
    uint32_t pin, proc, proc2, exit, entry;
    const struct vmx_caps *c = &vmx_caps;
    if (!vmx_adjust_controls(c->pinbased, PIN_BASED_EXT_INTR_EXITING | PIN_BASED_NMI_EXITING,
                             PIN_BASED_PREEMPTION_TIMER | PIN_BASED_VIRTUAL_NMIS, &pin))
        return "pin-based controls: external-interrupt or NMI exiting not allowed";
    if (!vmx_adjust_controls(c->procbased,
                             CPU_BASED_HLT_EXITING | CPU_BASED_USE_IO_BITMAPS |
                             CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_ACTIVATE_SECONDARY |
                             CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING |
                             CPU_BASED_MOV_DR_EXITING | CPU_BASED_RDPMC_EXITING |
                             CPU_BASED_MWAIT_EXITING | CPU_BASED_MONITOR_EXITING |
                             CPU_BASED_USE_TSC_OFFSETTING,
                             0, &proc))
        return "processor-based controls: a required exiting control is not allowed";
    proc &= ~(CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING |
              CPU_BASED_INVLPG_EXITING | CPU_BASED_RDTSC_EXITING);
    if ((uint32_t)c->procbased & (CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING))
        return "CR3 exiting cannot be turned off";
    if (!vmx_adjust_controls(c->procbased2,
                             SECONDARY_ENABLE_EPT | SECONDARY_UNRESTRICTED_GUEST |
                             SECONDARY_WBINVD_EXITING,
                             SECONDARY_ENABLE_VPID | SECONDARY_ENABLE_RDTSCP, &proc2))
        return "secondary controls: EPT or unrestricted guest not allowed";
    if (!vmx_adjust_controls(c->exit,
                             VM_EXIT_HOST_ADDR_SPACE_SIZE | VM_EXIT_ACK_INTR_ON_EXIT |
                             VM_EXIT_SAVE_IA32_PAT | VM_EXIT_LOAD_IA32_PAT |
                             VM_EXIT_SAVE_IA32_EFER | VM_EXIT_LOAD_IA32_EFER,
                             VM_EXIT_SAVE_PREEMPTION_TIMER | VM_EXIT_SAVE_DEBUG_CONTROLS, &exit))
        return "VM-exit controls: 64-bit host, acknowledge-on-exit or PAT/EFER switching not allowed";
    if (!vmx_adjust_controls(c->entry, VM_ENTRY_LOAD_IA32_PAT | VM_ENTRY_LOAD_IA32_EFER,
                             VM_ENTRY_LOAD_DEBUG_CONTROLS, &entry))
        return "VM-entry controls: PAT/EFER loading not allowed";
    entry &= ~VM_ENTRY_IA32E_MODE;

    vmcs_write32(PIN_BASED_VM_EXEC_CONTROL, pin);
    vmcs_write32(CPU_BASED_VM_EXEC_CONTROL, proc);
    vmcs_write32(SECONDARY_VM_EXEC_CONTROL, proc2);
    vmcs_write32(VM_EXIT_CONTROLS, exit);
    vmcs_write32(VM_ENTRY_CONTROLS, entry);
    vmcs_write32(EXCEPTION_BITMAP, 0);
    vmcs_write32(PAGE_FAULT_ERROR_CODE_MASK, 0);
    vmcs_write32(PAGE_FAULT_ERROR_CODE_MATCH, 0);
    vmcs_write32(CR3_TARGET_COUNT, 0);
    vmcs_write32(VM_EXIT_MSR_STORE_COUNT, 0);
    vmcs_write32(VM_EXIT_MSR_LOAD_COUNT, 0);
    vmcs_write32(VM_ENTRY_MSR_LOAD_COUNT, 0);
    vmcs_write32(VM_ENTRY_INTR_INFO_FIELD, 0);
    vmcs_write64(IO_BITMAP_A, (uint64_t)io_bitmap_a);
    vmcs_write64(IO_BITMAP_B, (uint64_t)io_bitmap_b);
    vmcs_write64(MSR_BITMAP, (uint64_t)msr_bitmap);
    vmcs_write64(TSC_OFFSET, 0);
    return NULL;
}

static void host_state_init(void)
{
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    vmcs_writenat(HOST_CR0, read_cr0());
    vmcs_writenat(HOST_CR3, read_cr3());
    vmcs_writenat(HOST_CR4, read_cr4());
    vmcs_write16(HOST_CS_SELECTOR, SEL_KCODE);
    vmcs_write16(HOST_SS_SELECTOR, SEL_KDATA);
    vmcs_write16(HOST_DS_SELECTOR, SEL_KDATA);
    vmcs_write16(HOST_ES_SELECTOR, SEL_KDATA);
    vmcs_write16(HOST_FS_SELECTOR, 0);
    vmcs_write16(HOST_GS_SELECTOR, 0);
    vmcs_write16(HOST_TR_SELECTOR, SEL_TSS);
    vmcs_writenat(HOST_FS_BASE, 0);
    vmcs_writenat(HOST_GS_BASE, 0);
    vmcs_writenat(HOST_TR_BASE, tss_base());
    vmcs_writenat(HOST_GDTR_BASE, gdt_base());
    vmcs_writenat(HOST_IDTR_BASE, idtr.base);
    vmcs_write32(HOST_IA32_SYSENTER_CS, 0);
    vmcs_writenat(HOST_IA32_SYSENTER_ESP, 0);
    vmcs_writenat(HOST_IA32_SYSENTER_EIP, 0);
    vmcs_write64(HOST_IA32_EFER, rdmsr(MSR_IA32_EFER));
    vmcs_write64(HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
    vmcs_writenat(HOST_RIP, (uint64_t)vmx_exit);
}

/* The Multiboot 1 machine state (Multiboot spec 3.2), which is also the Linux 32-bit boot
 * protocol's: flat 32-bit code (0x10) and data (0x18) segments, protected mode with paging
 * off (allowed by unrestricted guest), interrupts off. */
static void guest_state_init(struct vcpu *vcpu, const struct vcpu_boot *boot)
{
    const uint32_t code_ar = 0xC09B, data_ar = 0xC093;     /* G, D/B, P, S, type */
    struct { struct vmcs_field16 sel; struct vmcs_fieldNAT base; struct vmcs_field32 limit, ar; } segs[] = {
        { GUEST_CS_SELECTOR, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_AR_BYTES },
        { GUEST_DS_SELECTOR, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR_BYTES },
        { GUEST_ES_SELECTOR, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR_BYTES },
        { GUEST_FS_SELECTOR, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR_BYTES },
        { GUEST_GS_SELECTOR, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR_BYTES },
        { GUEST_SS_SELECTOR, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR_BYTES },
    };
    for (unsigned i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        vmcs_write16(segs[i].sel, i == 0 ? 0x10 : 0x18);
        vmcs_writenat(segs[i].base, 0);
        vmcs_write32(segs[i].limit, 0xFFFFFFFF);
        vmcs_write32(segs[i].ar, i == 0 ? code_ar : data_ar);
    }
    vmcs_write16(GUEST_TR_SELECTOR, 0);
    vmcs_writenat(GUEST_TR_BASE, 0);
    vmcs_write32(GUEST_TR_LIMIT, 0xFFFF);
    vmcs_write32(GUEST_TR_AR_BYTES, 0x8B);                  /* present, busy 32-bit TSS */
    vmcs_write16(GUEST_LDTR_SELECTOR, 0);
    vmcs_writenat(GUEST_LDTR_BASE, 0);
    vmcs_write32(GUEST_LDTR_LIMIT, 0);
    vmcs_write32(GUEST_LDTR_AR_BYTES, 1u << 16);            /* unusable */
    vmcs_writenat(GUEST_GDTR_BASE, boot->gdt_base);
    vmcs_write32(GUEST_GDTR_LIMIT, boot->gdt_limit);
    vmcs_writenat(GUEST_IDTR_BASE, 0);
    vmcs_write32(GUEST_IDTR_LIMIT, 0);

    vcpu->cr0_shadow = CR0_PE | CR0_ET;
    vcpu->cr4_shadow = 0;
    vmcs_writenat(CR0_GUEST_HOST_MASK, cr0_host_owned());
    vmcs_writenat(CR4_GUEST_HOST_MASK, cr4_host_owned());
    vmcs_writenat(CR0_READ_SHADOW, vcpu->cr0_shadow);
    vmcs_writenat(CR4_READ_SHADOW, vcpu->cr4_shadow);
    vmcs_writenat(GUEST_CR0, cr0_real(vcpu->cr0_shadow));
    vmcs_writenat(GUEST_CR4, cr4_real(vcpu->cr4_shadow));
    vmcs_writenat(GUEST_CR3, 0);
    vmcs_writenat(GUEST_DR7, 0x400);
    vmcs_writenat(GUEST_RSP, 0x7000);
    vmcs_writenat(GUEST_RIP, boot->entry);
    vmcs_writenat(GUEST_RFLAGS, 0x2);
    vmcs_writenat(GUEST_PENDING_DBG_EXCEPTIONS, 0);
    vmcs_write32(GUEST_INTERRUPTIBILITY_INFO, 0);
    vmcs_write32(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
    vmcs_write32(GUEST_SYSENTER_CS, 0);
    vmcs_writenat(GUEST_SYSENTER_ESP, 0);
    vmcs_writenat(GUEST_SYSENTER_EIP, 0);
    vmcs_write64(GUEST_IA32_DEBUGCTL, 0);
    vmcs_write64(GUEST_IA32_PAT, 0x0007040600070406ull);    /* the reset value */
    vmcs_write64(GUEST_IA32_EFER, 0);
    vmcs_write64(VMCS_LINK_POINTER, ~0ull);
    vcpu->xcr0 = 1;                                         /* x87 only, as at reset */
    msr_reset(vcpu);
    vcpu->dr6 = 0xFFFF0FF0;
}

void vcpu_load(struct vcpu *vcpu)
{
    if (current == vcpu)
        return;
    enum vmx_status st = vmptrld(vcpu->vmcs_pa);
    if (st != VMX_OK)
        vmx_report_failure("VMPTRLD", st);
    current = vcpu;
}

const char *vmcs_create(struct vcpu *vcpu, uint64_t eptp, const struct vcpu_boot *boot)
{
    const char *why = bitmaps_init();
    if (why)
        return why;
    uint32_t *vmcs = page_alloc_zeroed();
    vcpu->fpu_area = page_alloc_zeroed();
    if (!vmcs || !vcpu->fpu_area)
        return "out of memory for the VMCS";
    vmcs[0] = (uint32_t)(vmx_caps.basic & 0x7FFFFFFF);     /* revision identifier */
    vcpu->vmcs_pa = (uint64_t)vmcs;
    vcpu->launched = false;
    enum vmx_status st = vmclear(vcpu->vmcs_pa);
    if (st != VMX_OK) {
        vmx_report_failure("VMCLEAR", st);
        return "VMCLEAR failed";
    }
    current = NULL;
    vcpu_load(vcpu);
    why = controls_init();
    if (why)
        return why;
    if (vmx_has_vpid()) {
        vcpu->vpid = next_vpid++;
        if (next_vpid == 0)
            next_vpid = 1;
        vmcs_write16(VIRTUAL_PROCESSOR_ID, vcpu->vpid);
    }
    vmcs_write64(EPT_POINTER, eptp);
    host_state_init();
    guest_state_init(vcpu, boot);
    memset(&vcpu->regs, 0, sizeof vcpu->regs);
    vcpu->regs.rax = boot->eax;
    vcpu->regs.rbx = boot->ebx;
    vcpu->regs.rsi = boot->esi;
    return NULL;
}

void vmcs_destroy(struct vcpu *vcpu)
{
    if (!vcpu->vmcs_pa)
        return;
    vmclear(vcpu->vmcs_pa);
    if (current == vcpu)
        current = NULL;
    vcpu_release_state(vcpu);
    if (vcpu->vpid)
        invvpid(INVVPID_SINGLE_CONTEXT, vcpu->vpid, 0);
    page_free((void *)vcpu->vmcs_pa);
    if (vcpu->fpu_area)
        page_free(vcpu->fpu_area);
    vcpu->vmcs_pa = 0;
    vcpu->fpu_area = NULL;
}

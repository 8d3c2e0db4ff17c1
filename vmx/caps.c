/* VT-x capability discovery: one read of CPUID and the IA32_VMX_* MSRs, predicates for the rest. */
#include "vmx/caps.h"
#include "vmx/msr.h"
#include "vmx/vmcs_fields.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/string.h"

struct vmx_caps vmx_caps;

bool vmx_has_ept(void)
{
    return vmx_caps.vmx && (vmx_caps.procbased >> 32) & CPU_BASED_ACTIVATE_SECONDARY &&
           (vmx_caps.procbased2 >> 32) & SECONDARY_ENABLE_EPT;
}

bool vmx_has_unrestricted_guest(void)
{
    return vmx_has_ept() && (vmx_caps.procbased2 >> 32) & SECONDARY_UNRESTRICTED_GUEST;
}

bool vmx_has_vpid(void)
{
    return vmx_caps.vmx && (vmx_caps.procbased >> 32) & CPU_BASED_ACTIVATE_SECONDARY &&
           (vmx_caps.procbased2 >> 32) & SECONDARY_ENABLE_VPID;
}

bool vmx_has_preemption_timer(void)
{
    return vmx_caps.vmx && (vmx_caps.pinbased >> 32) & PIN_BASED_PREEMPTION_TIMER &&
           (vmx_caps.exit >> 32) & VM_EXIT_SAVE_PREEMPTION_TIMER;
}

unsigned vmx_preemption_timer_shift(void)
{
    return vmx_caps.misc & 0x1F;
}

bool vmx_adjust_controls(uint64_t cap, uint32_t want, uint32_t optional, uint32_t *out)
{
    uint32_t must_be_one = (uint32_t)cap, may_be_one = (uint32_t)(cap >> 32);
    *out = ((want | optional) & may_be_one) | must_be_one;
    return (want & may_be_one) == want;
}

static const char *yes_no(bool b)
{
    return b ? "yes" : "no";
}

void vmx_caps_read(void)
{
    struct vmx_caps *c = &vmx_caps;
    memset(c, 0, sizeof *c);
    struct cpuid_regs r = cpuid(0, 0);
    memcpy(c->vendor, &r.ebx, 4);
    memcpy(c->vendor + 4, &r.edx, 4);
    memcpy(c->vendor + 8, &r.ecx, 4);
    r = cpuid(1, 0);
    c->family = (r.eax >> 8) & 0xF;
    c->model = (r.eax >> 4) & 0xF;
    c->stepping = r.eax & 0xF;
    if (c->family == 0xF)
        c->family += (r.eax >> 20) & 0xFF;
    if (c->family == 0x6 || c->family >= 0xF)
        c->model |= ((r.eax >> 16) & 0xF) << 4;
    c->vmx = r.ecx & (1u << 5);

    if (c->vmx) {
        c->feature_control = rdmsr(MSR_IA32_FEATURE_CONTROL);
        c->basic = rdmsr(IA32_VMX_BASIC);
        c->misc = rdmsr(IA32_VMX_MISC);
        bool true_ctls = c->basic & VMX_BASIC_TRUE_CTLS;
        c->pinbased = rdmsr(true_ctls ? IA32_VMX_TRUE_PINBASED_CTLS : IA32_VMX_PINBASED_CTLS);
        c->procbased = rdmsr(true_ctls ? IA32_VMX_TRUE_PROCBASED_CTLS : IA32_VMX_PROCBASED_CTLS);
        c->exit = rdmsr(true_ctls ? IA32_VMX_TRUE_EXIT_CTLS : IA32_VMX_EXIT_CTLS);
        c->entry = rdmsr(true_ctls ? IA32_VMX_TRUE_ENTRY_CTLS : IA32_VMX_ENTRY_CTLS);
        if ((c->procbased >> 32) & CPU_BASED_ACTIVATE_SECONDARY)
            c->procbased2 = rdmsr(IA32_VMX_PROCBASED_CTLS2);
        if ((c->procbased2 >> 32) & (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_VPID))
            c->ept_vpid = rdmsr(IA32_VMX_EPT_VPID_CAP);
        c->cr0_fixed0 = rdmsr(IA32_VMX_CR0_FIXED0);
        c->cr0_fixed1 = rdmsr(IA32_VMX_CR0_FIXED1);
        c->cr4_fixed0 = rdmsr(IA32_VMX_CR4_FIXED0);
        c->cr4_fixed1 = rdmsr(IA32_VMX_CR4_FIXED1);
    }
    hv_info("cpu: %s family %u model %u stepping %u vmx=%s ept=%s ug=%s vpid=%s preempt=%s",
            c->vendor, c->family, c->model, c->stepping, yes_no(c->vmx), yes_no(vmx_has_ept()),
            yes_no(vmx_has_unrestricted_guest()), yes_no(vmx_has_vpid()),
            yes_no(vmx_has_preemption_timer()));
}

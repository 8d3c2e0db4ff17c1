/* What this CPU's VT-x can do, read once from CPUID and the VMX capability MSRs. */
#ifndef VMX_CAPS_H
#define VMX_CAPS_H

#include <stdint.h>
#include <stdbool.h>

struct vmx_caps {
    char vendor[13];
    uint32_t family, model, stepping;
    bool vmx;                           /* CPUID.1:ECX.VMX */
    uint64_t feature_control;
    uint64_t basic, misc, ept_vpid;
    uint64_t pinbased, procbased, procbased2, exit, entry;   /* effective (TRUE_ when offered) */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
};

extern struct vmx_caps vmx_caps;

/* Reads CPUID and, when VMX exists, the capability MSRs; prints the "hv: cpu:" line. */
void vmx_caps_read(void);

bool vmx_has_ept(void);
bool vmx_has_unrestricted_guest(void);
bool vmx_has_vpid(void);
bool vmx_has_preemption_timer(void);
/* The VMX-preemption timer counts down once every 2^N TSC ticks; N from IA32_VMX_MISC. */
unsigned vmx_preemption_timer_shift(void);

/* Applies a capability MSR's allowed-0 (low half: must be 1) and allowed-1 (high half: may be 1)
 * settings to the wanted controls (SDM A.3). Returns false if a required bit is not allowed. */
bool vmx_adjust_controls(uint64_t cap_msr_value, uint32_t want, uint32_t optional, uint32_t *out);

#endif

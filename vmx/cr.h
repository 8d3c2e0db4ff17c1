/* Control registers as the guest sees them (read shadows) and as the CPU runs them:
 * the VMX fixed bits (SDM A.7-A.8) are forced in the real value and hidden from the guest. */
#ifndef VMX_CR_H
#define VMX_CR_H

#include <stdint.h>
#include <stdbool.h>

struct vcpu;

/* CR0/CR4 bits the host owns (guest writes to them exit; reads see the shadow). */
uint64_t cr0_host_owned(void);
uint64_t cr4_host_owned(void);
/* The value the CPU runs with for a guest-visible value (PE/PG free: unrestricted guest). */
uint64_t cr0_real(uint64_t guest_value);
uint64_t cr4_real(uint64_t guest_value);
/* CR4 bits a guest may set: those the CPU allows in VMX operation (IA32_VMX_CR4_FIXED1) whose
 * feature the guest's CPUID reports; any other bit is reserved for it (MOV to CR4 #GPs). */
uint64_t cr4_guest_allowed(struct vcpu *vcpu);
/* The CR4 bits whose feature the guest's CPUID (exit_cpuid.c) reports, plus PCE, which has no
 * CPUID flag (SDM Vol. 3A 2.5). (exit_cpuid.c, beside the filter it must agree with) */
uint64_t cpuid_cr4_features(struct vcpu *vcpu);

/* CR0 as the guest has it: the bits it owns (clear in the guest/host mask, WP among them)
 * change without an exit, so GUEST_CR0 holds them, the read shadow the rest (SDM Vol. 3C
 * 26.1.3). */
uint64_t guest_cr0(const struct vcpu *vcpu);
/* The guest is in 64-bit mode: IA-32e mode active and CS.L = 1 (SDM Vol. 3A 2.2.1).
 * (Its CPL is guest_cpl(), guest_mem.h.) */
bool guest_in_64bit_mode(void);

#endif

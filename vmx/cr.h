/* Control registers as the guest sees them (read shadows) and as the CPU runs them:
 * the VMX fixed bits (SDM A.7-A.8) are forced in the real value and hidden from the guest. */
#ifndef VMX_CR_H
#define VMX_CR_H

#include <stdint.h>

/* CR0/CR4 bits the host owns (guest writes to them exit; reads see the shadow). */
uint64_t cr0_host_owned(void);
uint64_t cr4_host_owned(void);
/* The value the CPU runs with for a guest-visible value (PE/PG free: unrestricted guest). */
uint64_t cr0_real(uint64_t guest_value);
uint64_t cr4_real(uint64_t guest_value);
/* CR4 bits a guest may set (those the CPU allows, minus VMXE and SMXE). */
uint64_t cr4_guest_allowed(void);

#endif

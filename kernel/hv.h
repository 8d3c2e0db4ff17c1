/* The hypervisor proper: bring up VT-x, create the guests from the boot modules, and run
 * the main loop (shell input, scheduling of virtual CPUs, idling). */
#ifndef KERNEL_HV_H
#define KERNEL_HV_H

#include "kernel/bootinfo.h"
#include "kernel/options.h"

extern struct boot_info boot_info;


/* Enters VMX operation and creates a guest per boot module; without VT-x says why
 * ("hv: no VT-x: ...") and leaves the host running without guests. */
void hv_start_guests(const struct boot_info *bi);
/* Never returns: serves the console, runs guests, halts when there is nothing to do. */
__attribute__((noreturn)) void hv_main_loop(void);

#endif

/* The scheduler of virtual CPUs: round robin over the running guests with a time slice
 * (option slice=) enforced by the VMX-preemption timer; the host halts when none can run. */
#ifndef KERNEL_SCHED_H
#define KERNEL_SCHED_H

#include <stdint.h>

/* Never returns: serves the console and runs guests. */
__attribute__((noreturn)) void sched_loop(void);
/* TSC ticks each running guest got (for CPU shares in `stats`). */
uint64_t sched_total_run_tsc(void);

#endif

/* The scheduler of virtual CPUs: round robin over the running guests with a time slice
 * (option slice=) enforced by the VMX-preemption timer. */
#ifndef KERNEL_VM_SCHED_H
#define KERNEL_VM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

/* Runs the next runnable guest for one slice (option slice=); false if none can run. */
bool sched_run_next(void);
/* TSC ticks each running guest got (for CPU shares in `stats`). */
uint64_t sched_total_run_tsc(void);

#endif

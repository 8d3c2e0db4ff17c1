/* The host side of `make bench`: the guest benchmark's loops run by the hypervisor itself. */
#ifndef KERNEL_BENCH_H
#define KERNEL_BENCH_H

#include <stdint.h>

/* Times the empty loop, CPUID and a scratch write `iters` times each, without any VM exit,
 * and logs "hv: bench: host NAME ITERS TOTAL PER_OP" lines, then "hv: bench: host done". */
void bench_host_run(uint32_t iters);

#endif

/* Host-side benchmark baseline (option bench_host=N): the loops of the bench guest
 * (guest/bench), run in the hypervisor itself where nothing causes a VM exit, so that
 * guest minus host is the cost of the exit. Timed with RDTSC, interrupts off: under Bochs
 * with clock sync=none the figures are deterministic emulator path lengths, not cycles. */
#include "kernel/bench.h"
#include "kernel/cpu.h"
#include "kernel/log.h"

typedef void (*bench_fn)(uint32_t iters);

static uint8_t bench_scratch;          /* stands in for the UART's scratch register */

/* noinline: each loop is a call, as in the guest, and not folded into its caller. */
static __attribute__((noinline)) void run_empty(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++)
        __asm__ volatile("" : : : "memory");
}

static __attribute__((noinline)) void run_cpuid(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++)
        (void)cpuid(0, 0);
}

static __attribute__((noinline)) void run_scratch(uint32_t iters)
{
    volatile uint8_t *scr = &bench_scratch;
    for (uint32_t i = 0; i < iters; i++)
        *scr = (uint8_t)i;
}

/* CPU-bound loop with no exit: xorshift32, written in assembly with 32-bit registers
 * only, so that the hypervisor (64-bit) and the bench guest (32-bit) run exactly the same
 * instruction sequence (guest/bench/bench.c has the twin). */
static __attribute__((noinline)) void run_compute(uint32_t iters)
{
    uint32_t x = 2463534242u, n = iters, t;
    __asm__ volatile("1:\n\t"
                     "movl %0, %2\n\t" "shll $13, %2\n\t" "xorl %2, %0\n\t"
                     "movl %0, %2\n\t" "shrl $17, %2\n\t" "xorl %2, %0\n\t"
                     "movl %0, %2\n\t" "shll $5, %2\n\t"  "xorl %2, %0\n\t"
                     "decl %1\n\t" "jnz 1b"
                     : "+r"(x), "+r"(n), "=&r"(t) : : "cc");
    __asm__ volatile("" : : "r"(x));
}

/* Times one loop with interrupts off (no timer tick in the figure) and logs it. */
static void report(const char *name, uint32_t iters, bench_fn fn)
{
    uint64_t flags = irq_save();
    uint64_t start = rdtsc();
    fn(iters);
    uint64_t total = rdtsc() - start;
    irq_restore(flags);
    hv_info("bench: host %-12s %8u %14lu %10lu", name, iters, total, total / iters);
}

void bench_host_run(uint32_t iters)
{
    if (iters == 0)
        return;
    hv_info("bench: host %-12s %8s %14s %10s", "name", "iters", "total_ticks", "ticks_per_op");
    report("empty_loop", iters, run_empty);
    report("cpuid_0", iters, run_cpuid);
    report("mem_scratch", iters, run_scratch);
    report("compute", iters * 100, run_compute);
    hv_info("bench: host done");
}

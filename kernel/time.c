/* Host time from the TSC (invariant on the CPUs VT-x hosts use; deterministic in Bochs). */
#include "kernel/time.h"
#include "kernel/cpu.h"

static uint64_t tsc_hz = 1000000000;
static uint64_t tsc_boot;

void time_init(uint64_t hz)
{
    tsc_hz = hz ? hz : 1000000000;
    tsc_boot = rdtsc();
}

uint64_t time_tsc_hz(void)
{
    return tsc_hz;
}

/* a * b / c with a 128-bit intermediate product (MUL then DIV); saturates instead of #DE. */
static uint64_t mul_div(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t hi, lo, q;
    __asm__("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(b) : "cc");
    if (hi >= c)
        return ~0ull;
    __asm__("divq %4" : "=a"(q), "=d"(hi) : "a"(lo), "d"(hi), "rm"(c) : "cc");
    return q;
}

uint64_t time_tsc_to_ns(uint64_t tsc)
{
    return mul_div(tsc, 1000000000u, tsc_hz);
}

uint64_t time_ns_to_tsc(uint64_t ns)
{
    return mul_div(ns, tsc_hz, 1000000000u);
}

uint64_t time_ns(void)
{
    return time_tsc_to_ns(rdtsc() - tsc_boot);
}

void time_delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + time_ns_to_tsc(us * 1000);
    while (rdtsc() < end)
        pause();
}

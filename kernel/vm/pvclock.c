/* pvclock math (kernel/vm/pvclock.h). */
#include "kernel/vm/pvclock.h"

#define NS_PER_S 1000000000ull

void pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift)
{
    /* mul = 1e9 * 2^32 / (tsc_hz scaled by 2^s): below 2^32 once the scaled rate is above
     * 1 GHz. Take the smallest such s (the largest mul); s >= -2 keeps 1e9 << (32 - s)
     * within 64 bits, and a TSC above 8 GHz only loses a little precision. */
    int s = -2;
    while (s < 31 && (s < 0 ? tsc_hz >> -s : tsc_hz << s) <= NS_PER_S)
        s++;
    *shift = (int8_t)s;
    *mul = (uint32_t)((NS_PER_S << (32 - s)) / tsc_hz);
}

uint64_t pvclock_scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
    delta = shift < 0 ? delta >> -shift : delta << shift;
    /* (delta * mul) >> 32 in two halves: delta_hi * mul + (delta_lo * mul >> 32). */
    return (delta >> 32) * mul + (((delta & 0xFFFFFFFFull) * mul) >> 32);
}

uint64_t pvclock_read(const struct pvclock_time *t, uint64_t tsc)
{
    return t->system_time + pvclock_scale_delta(tsc - t->tsc_timestamp, t->tsc_to_system_mul,
                                                t->tsc_shift);
}

void pvclock_write(volatile struct pvclock_time *page, uint64_t tsc, uint64_t ns, uint32_t mul,
                   int8_t shift, uint8_t flags)
{
    uint32_t v = page->version;
    page->version = (v | 1) + ((v & 1) ? 2 : 0);    /* odd: being written */
    __asm__ volatile("" ::: "memory");
    page->tsc_timestamp = tsc;
    page->system_time = ns;
    page->tsc_to_system_mul = mul;
    page->tsc_shift = shift;
    page->flags = flags;
    __asm__ volatile("" ::: "memory");
    page->version = (page->version + 1) & ~1u;      /* even again, never the old value */
}

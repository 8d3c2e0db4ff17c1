/* The pvclock time page (KVM's layout, used by kvm-clock and by anfitrion's own time page,
 * docs/hypercalls.md): a guest turns its TSC into nanoseconds without an exit. Pure math
 * here; the VM layer decides what goes in the page and when. */
#ifndef KERNEL_VM_PVCLOCK_H
#define KERNEL_VM_PVCLOCK_H

#include <stdint.h>

struct pvclock_time {
    uint32_t version;           /* odd while the page is being written */
    uint32_t pad0;
    uint64_t tsc_timestamp;     /* a guest TSC ... */
    uint64_t system_time;       /* ... and the guest time (ns) at it */
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
} __attribute__((packed));
_Static_assert(sizeof(struct pvclock_time) == 32, "pvclock layout");
#define PVCLOCK_TSC_STABLE 1u   /* flags: constant TSC, the page never goes back */

/* The scale for a TSC of tsc_hz: ns = ((tsc << shift) or (tsc >> -shift)) * mul >> 32, with
 * mul below 2^32 and as large as the shift allows. tsc_hz > 0. */
void pvclock_scale(uint64_t tsc_hz, uint32_t *mul, int8_t *shift);
/* delta TSC ticks in ns with that scale (no 128-bit arithmetic). */
uint64_t pvclock_scale_delta(uint64_t delta, uint32_t mul, int8_t shift);
/* The page's guest time at guest TSC tsc (what a guest computes from it). */
uint64_t pvclock_read(const struct pvclock_time *t, uint64_t tsc);
/* Writes the page as a guest must see it change: version made odd, the fields, then version
 * even again (one more than before), so a reader never takes a half-written copy. */
void pvclock_write(volatile struct pvclock_time *page, uint64_t tsc, uint64_t ns, uint32_t mul,
                   int8_t shift, uint8_t flags);

#endif

/* Identity-mapped 32-bit paging for guests that want paging on. */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include <stdint.h>

/*
 * Identity-map [0, bytes) (rounded up to 4 MiB) read/write, supervisor, and
 * turn paging on. Uses 4 MiB pages when CPUID has PSE, else 4 KiB page tables
 * (up to 64 MiB). Returns the number of bytes mapped.
 */
uint32_t paging_identity_map(uint64_t bytes);

#endif

/* Identity-mapped 32-bit paging for guests that want paging on. */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include <stdint.h>

/*
 * Identity-map [0, bytes) (at least up to the end of our image; rounded up to 4 MiB)
 * read/write, supervisor, and turn paging on. Uses 4 MiB pages when CPUID has PSE, else 4 KiB page tables
 * (up to 64 MiB). Returns the number of bytes mapped.
 */
uint32_t paging_identity_map(uint64_t bytes);

/*
 * Identity-map [0, 64 MiB) with 4 KiB pages, every one present, writable and user-accessible
 * (a test then changes single entries: paging_pte), and turn paging on.
 */
void paging_identity_map_user(void);
/* The page-directory entry of linear address addr, and its page-table entry (under 64 MiB). */
uint32_t *paging_pde(uint32_t addr);
uint32_t *paging_pte(uint32_t addr);
/* Reloads CR3: the TLB forgets every non-global translation. */
void paging_flush(void);

#endif

/* Host memory: the frame allocator instance and the host's own page tables, an identity
 * map of all RAM and the first 4 GiB with per-section rights for the kernel image. */
#ifndef KERNEL_PAGING_H
#define KERNEL_PAGING_H

#include "kernel/frame.h"

#define PTE_P    (1ull << 0)
#define PTE_W    (1ull << 1)
#define PTE_PWT  (1ull << 3)
#define PTE_PCD  (1ull << 4)
#define PTE_PS   (1ull << 7)
#define PTE_NX   (1ull << 63)
#define PTE_ADDR 0x000FFFFFFFFFF000ull

extern struct frame_alloc host_frames;

/* Builds the frame allocator from the boot information (everything it lists as reserved,
 * plus the kernel image) and switches to the host page tables. Panics if memory is short. */
void mm_init(struct boot_info *bi);
/* A zeroed 4 KiB frame (identity-mapped pointer), or NULL when memory is exhausted. */
void *page_alloc_zeroed(void);
void page_free(void *page);
/* Bytes of RAM the host page tables map (the identity map's end). */
uint64_t mm_mapped_top(void);
/* Frames the allocator handed out to the host itself (page tables, VMCS, ...). */
uint64_t mm_host_pages(void);

#endif

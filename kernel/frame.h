/* The physical frame allocator: a bitmap of 4 KiB frames built from the memory map,
 * which never hands out firmware areas, the first MiB, or any reserved range (kernel,
 * boot modules, Multiboot structures, the bitmap itself). */
#ifndef KERNEL_FRAME_H
#define KERNEL_FRAME_H

#include "kernel/bootinfo.h"

#define FRAME_SIZE 4096ull
#define FRAME_LOW_LIMIT 0x100000ull     /* frames below 1 MiB are never handed out */

struct frame_alloc {
    uint64_t *bitmap;                   /* bit set = frame in use or not RAM */
    uint64_t nframes;                   /* frames covered: [0, nframes * 4 KiB) */
    uint64_t free_frames;
    uint64_t managed_frames;            /* frames that were free at init */
    uint64_t hint;                      /* where the next single-frame search starts */
};

/* Highest end address of a usable region, rounded down to a frame. */
uint64_t frame_top(const struct mem_region *regions, unsigned n);
/* Bytes of bitmap needed to cover [0, top). */
uint64_t frame_bitmap_bytes(uint64_t top);
/* A page-aligned physical address of `bytes` of usable RAM above 1 MiB that overlaps no
 * reserved range, or 0 if there is none. */
uint64_t frame_place(const struct mem_region *regions, unsigned n,
                     const struct phys_range *reserved, unsigned nres, uint64_t bytes);
/* Builds the allocator over `bitmap` (frame_bitmap_bytes(top) bytes): usable regions free,
 * everything else, the first MiB and every reserved range in use. */
void frame_init(struct frame_alloc *fa, uint64_t *bitmap, uint64_t top,
                const struct mem_region *regions, unsigned n,
                const struct phys_range *reserved, unsigned nres);
/* Allocates `count` contiguous frames aligned to `align` bytes (a power of two >= 4 KiB);
 * returns the physical address or 0 when no such run is free. */
uint64_t frame_alloc_contig(struct frame_alloc *fa, uint64_t count, uint64_t align);
/* One frame, or 0. */
uint64_t frame_alloc_one(struct frame_alloc *fa);
/* Returns `count` frames starting at phys to the free pool. */
void frame_free(struct frame_alloc *fa, uint64_t phys, uint64_t count);

#endif

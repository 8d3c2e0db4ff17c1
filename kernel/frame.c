/* The physical frame allocator: one bit per 4 KiB frame; pure logic over a caller-given bitmap. */
#include "kernel/frame.h"
#include "kernel/string.h"

static inline bool test_bit(const uint64_t *bm, uint64_t i) { return bm[i / 64] & (1ull << (i % 64)); }
static inline void set_bit(uint64_t *bm, uint64_t i) { bm[i / 64] |= 1ull << (i % 64); }
static inline void clear_bit(uint64_t *bm, uint64_t i) { bm[i / 64] &= ~(1ull << (i % 64)); }

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

uint64_t frame_top(const struct mem_region *regions, unsigned n)
{
    uint64_t top = 0;
    for (unsigned i = 0; i < n; i++)
        if (regions[i].type == MEM_USABLE && regions[i].end > top)
            top = regions[i].end;
    return align_down(top, FRAME_SIZE);
}

uint64_t frame_bitmap_bytes(uint64_t top)
{
    return align_up(top / FRAME_SIZE, 64) / 8;
}

static bool overlaps_reserved(uint64_t start, uint64_t end, const struct phys_range *reserved, unsigned nres)
{
    for (unsigned i = 0; i < nres; i++)
        if (start < reserved[i].end && reserved[i].start < end)
            return true;
    return false;
}

/* True if [start, end) lies in usable RAM and in no non-usable region (maps may overlap). */
static bool all_usable(uint64_t start, uint64_t end, const struct mem_region *regions, unsigned n)
{
    bool inside = false;
    for (unsigned i = 0; i < n; i++) {
        if (start < regions[i].end && regions[i].start < end) {
            if (regions[i].type != MEM_USABLE)
                return false;
            if (regions[i].start <= start && end <= regions[i].end)
                inside = true;
        }
    }
    return inside;
}

uint64_t frame_place(const struct mem_region *regions, unsigned n,
                     const struct phys_range *reserved, unsigned nres, uint64_t bytes)
{
    bytes = align_up(bytes, FRAME_SIZE);
    for (unsigned i = 0; i < n; i++) {
        if (regions[i].type != MEM_USABLE)
            continue;
        uint64_t start = align_up(regions[i].start, FRAME_SIZE);
        if (start < FRAME_LOW_LIMIT)
            start = FRAME_LOW_LIMIT;
        for (; start + bytes <= regions[i].end; start += FRAME_SIZE) {
            if (!overlaps_reserved(start, start + bytes, reserved, nres) &&
                all_usable(start, start + bytes, regions, n))
                return start;
        }
    }
    return 0;
}

static void mark_range(struct frame_alloc *fa, uint64_t first, uint64_t last_excl, bool used)
{
    if (last_excl > fa->nframes)
        last_excl = fa->nframes;
    for (uint64_t f = first; f < last_excl; f++) {
        if (used && !test_bit(fa->bitmap, f)) {
            set_bit(fa->bitmap, f);
            fa->free_frames--;
        } else if (!used && test_bit(fa->bitmap, f)) {
            clear_bit(fa->bitmap, f);
            fa->free_frames++;
        }
    }
}

void frame_init(struct frame_alloc *fa, uint64_t *bitmap, uint64_t top,
                const struct mem_region *regions, unsigned n,
                const struct phys_range *reserved, unsigned nres)
{
    fa->bitmap = bitmap;
    fa->nframes = top / FRAME_SIZE;
    fa->free_frames = 0;
    fa->hint = FRAME_LOW_LIMIT / FRAME_SIZE;
    memset(bitmap, 0xFF, frame_bitmap_bytes(top));

    /* Usable frames first (shrunk inward to whole frames), then everything that is not
     * usable in any region of the map (maps may overlap), then the reserved ranges. */
    for (unsigned i = 0; i < n; i++)
        if (regions[i].type == MEM_USABLE)
            mark_range(fa, align_up(regions[i].start, FRAME_SIZE) / FRAME_SIZE,
                       align_down(regions[i].end, FRAME_SIZE) / FRAME_SIZE, false);
    for (unsigned i = 0; i < n; i++)
        if (regions[i].type != MEM_USABLE)
            mark_range(fa, align_down(regions[i].start, FRAME_SIZE) / FRAME_SIZE,
                       align_up(regions[i].end, FRAME_SIZE) / FRAME_SIZE, true);
    mark_range(fa, 0, FRAME_LOW_LIMIT / FRAME_SIZE, true);
    for (unsigned i = 0; i < nres; i++)
        mark_range(fa, align_down(reserved[i].start, FRAME_SIZE) / FRAME_SIZE,
                   align_up(reserved[i].end, FRAME_SIZE) / FRAME_SIZE, true);
    fa->managed_frames = fa->free_frames;
}

uint64_t frame_alloc_contig(struct frame_alloc *fa, uint64_t count, uint64_t align)
{
    if (count == 0 || align < FRAME_SIZE || (align & (align - 1)))
        return 0;
    uint64_t step = align / FRAME_SIZE;
    for (uint64_t f = align_up(FRAME_LOW_LIMIT / FRAME_SIZE, step); f + count <= fa->nframes; f += step) {
        uint64_t k = 0;
        while (k < count && !test_bit(fa->bitmap, f + k))
            k++;
        if (k == count) {
            mark_range(fa, f, f + count, true);
            return f * FRAME_SIZE;
        }
    }
    return 0;
}

uint64_t frame_alloc_one(struct frame_alloc *fa)
{
    for (uint64_t pass = 0; pass < 2; pass++) {
        uint64_t start = pass == 0 ? fa->hint : FRAME_LOW_LIMIT / FRAME_SIZE;
        for (uint64_t f = start; f < fa->nframes; f++) {
            if (fa->bitmap[f / 64] == ~0ull) {
                f |= 63;                /* skip a full word */
                continue;
            }
            if (!test_bit(fa->bitmap, f)) {
                mark_range(fa, f, f + 1, true);
                fa->hint = f + 1;
                return f * FRAME_SIZE;
            }
        }
    }
    return 0;
}

void frame_free(struct frame_alloc *fa, uint64_t phys, uint64_t count)
{
    uint64_t f = phys / FRAME_SIZE;
    if (f < FRAME_LOW_LIMIT / FRAME_SIZE)
        return;
    mark_range(fa, f, f + count, false);
    if (f < fa->hint)
        fa->hint = f;
}

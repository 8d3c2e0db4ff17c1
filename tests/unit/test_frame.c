/* Host unit tests for the physical frame allocator (kernel/frame.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/frame.c"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

/* A PC-like map: low RAM, the EBDA and BIOS ROM, RAM from 1 MiB to 64 MiB with an ACPI hole
 * overlapping its top (the reserved entry must win) and an unaligned usable region. */
static const struct mem_region pc_map[] = {
    { 0, 0x9FC00, MEM_USABLE },
    { 0x9FC00, 0xA0000, MEM_RESERVED },
    { 0xF0000, 0x100000, MEM_RESERVED },
    { 1 * MiB, 64 * MiB, MEM_USABLE },
    { 60 * MiB + 0x800, 62 * MiB, MEM_ACPI },       /* inside the usable one, unaligned */
    { 80 * MiB + 0x123, 96 * MiB - 0x10, MEM_USABLE },
    { 0xFEC00000, 0xFEC01000, MEM_RESERVED },
};
#define PC_N (sizeof pc_map / sizeof pc_map[0])

/* The kernel image and a boot module. */
static const struct phys_range pc_reserved[] = {
    { 1 * MiB, 3 * MiB + 0x10 },
    { 8 * MiB + 0x800, 9 * MiB },
};
#define PC_NRES (sizeof pc_reserved / sizeof pc_reserved[0])

static struct frame_alloc fa;
static uint64_t *bitmap;
static uint64_t top;

static bool in_range(uint64_t a, uint64_t start, uint64_t end) { return a >= start && a < end; }

/* True if the frame at `phys` may be handed out under pc_map/pc_reserved. */
static bool pc_frame_ok(uint64_t phys)
{
    if (phys % FRAME_SIZE || phys < FRAME_LOW_LIMIT)
        return false;
    uint64_t end = phys + FRAME_SIZE;
    for (unsigned i = 0; i < PC_NRES; i++)
        if (phys < pc_reserved[i].end && pc_reserved[i].start < end)
            return false;
    bool usable = false;
    for (unsigned i = 0; i < PC_N; i++) {
        if (phys < pc_map[i].end && pc_map[i].start < end) {
            if (pc_map[i].type != MEM_USABLE)
                return false;
            if (pc_map[i].start <= phys && end <= pc_map[i].end)
                usable = true;
        }
    }
    return usable;
}

static uint64_t pc_expected_free(void)
{
    uint64_t n = 0;
    for (uint64_t p = 0; p < top; p += FRAME_SIZE)
        n += pc_frame_ok(p);
    return n;
}

static int setup_pc(void **state)
{
    (void)state;
    top = frame_top(pc_map, PC_N);
    bitmap = malloc(frame_bitmap_bytes(top));
    if (!bitmap)
        return -1;
    memset(&fa, 0, sizeof fa);
    frame_init(&fa, bitmap, top, pc_map, PC_N, pc_reserved, PC_NRES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(bitmap);
    bitmap = NULL;
    return 0;
}

static void test_top_and_bitmap_size(void **state)
{
    (void)state;
    assert_int_equal(frame_top(pc_map, PC_N), 96 * MiB - FRAME_SIZE);     /* reserved 0xFEC00000 ignored */
    const struct mem_region one[] = { { 0, 0x12345, MEM_USABLE } };
    assert_int_equal(frame_top(one, 1), 0x12000);
    const struct mem_region none[] = { { 0, 1 * GiB, MEM_RESERVED } };
    assert_int_equal(frame_top(none, 1), 0);
    assert_int_equal(frame_top(NULL, 0), 0);

    assert_int_equal(frame_bitmap_bytes(0), 0);
    assert_int_equal(frame_bitmap_bytes(FRAME_SIZE), 8);                /* whole 64-bit words */
    assert_int_equal(frame_bitmap_bytes(64 * FRAME_SIZE), 8);
    assert_int_equal(frame_bitmap_bytes(65 * FRAME_SIZE), 16);
    assert_int_equal(frame_bitmap_bytes(4 * GiB), 128 * KiB);
    assert_int_equal(frame_bitmap_bytes(4 * GiB + FRAME_SIZE), 128 * KiB + 8);
}

static void test_place(void **state)
{
    (void)state;
    /* The first fit above 1 MiB that avoids the kernel image. */
    uint64_t p = frame_place(pc_map, PC_N, pc_reserved, PC_NRES, 3000);
    assert_int_equal(p, 3 * MiB + FRAME_SIZE);

    /* Too big to fit between the two reserved ranges: goes after the module. */
    p = frame_place(pc_map, PC_N, pc_reserved, PC_NRES, 5 * MiB + 1);
    assert_int_equal(p, 9 * MiB);

    /* Without reserved ranges it still never goes below 1 MiB, though RAM starts at 0. */
    const struct mem_region low[] = { { 0, 2 * MiB, MEM_USABLE } };
    assert_int_equal(frame_place(low, 1, NULL, 0, FRAME_SIZE), 1 * MiB);
    assert_int_equal(frame_place(low, 1, NULL, 0, 1 * MiB), 1 * MiB);
    assert_int_equal(frame_place(low, 1, NULL, 0, 1 * MiB + 1), 0);

    /* An overlapping non-usable entry is avoided, whichever order the entries come in. */
    const struct mem_region hole[] = {
        { 1 * MiB + 0x10, 1 * MiB + 0x20, MEM_NVS },
        { 0x100000, 16 * MiB, MEM_USABLE },
    };
    assert_int_equal(frame_place(hole, 2, NULL, 0, 8 * KiB), 1 * MiB + FRAME_SIZE);

    /* 51 MiB fits exactly between the module and the ACPI hole at 60 MiB; 52 MiB nowhere. */
    p = frame_place(pc_map, PC_N, pc_reserved, PC_NRES, 51 * MiB);
    assert_int_equal(p, 9 * MiB);
    p = frame_place(pc_map, PC_N, pc_reserved, PC_NRES, 52 * MiB);
    assert_int_equal(p, 0);

    /* First fit: 15 MiB goes after the module, not into the later region. */
    assert_int_equal(frame_place(pc_map, PC_N, pc_reserved, PC_NRES, 15 * MiB), 9 * MiB);
    /* With all of [1, 64) MiB reserved, the unaligned region is used, its start rounded up
     * and its partial last frame left out. */
    const struct phys_range low_taken[] = { { 1 * MiB, 64 * MiB } };
    assert_int_equal(frame_place(pc_map, PC_N, low_taken, 1, 16 * MiB - 2 * FRAME_SIZE),
                     80 * MiB + FRAME_SIZE);
    assert_int_equal(frame_place(pc_map, PC_N, low_taken, 1, 16 * MiB - FRAME_SIZE), 0);

    /* Nothing usable at all. */
    const struct mem_region rom[] = { { 1 * MiB, 2 * MiB, MEM_RESERVED } };
    assert_int_equal(frame_place(rom, 1, NULL, 0, FRAME_SIZE), 0);
}

static void test_init_matches_map(void **state)
{
    (void)state;
    assert_int_equal(fa.nframes, top / FRAME_SIZE);
    uint64_t expect = pc_expected_free();
    assert_int_equal(fa.free_frames, expect);
    assert_int_equal(fa.managed_frames, expect);
    /* Every bit says exactly what the map allows. */
    for (uint64_t f = 0; f < fa.nframes; f++)
        assert_int_equal(!test_bit(fa.bitmap, f), pc_frame_ok(f * FRAME_SIZE));
    /* The padding bits of the last word are in use. */
    for (uint64_t f = fa.nframes; f < frame_bitmap_bytes(top) * 8; f++)
        assert_true(test_bit(fa.bitmap, f));

    /* Spot checks of the edges. */
    assert_true(test_bit(fa.bitmap, 0x9F));                 /* below 1 MiB */
    assert_true(test_bit(fa.bitmap, (3 * MiB) / FRAME_SIZE));   /* kernel's partial last frame */
    assert_false(test_bit(fa.bitmap, (3 * MiB) / FRAME_SIZE + 1));
    assert_true(test_bit(fa.bitmap, (8 * MiB) / FRAME_SIZE));   /* module's partial first frame */
    assert_true(test_bit(fa.bitmap, (60 * MiB) / FRAME_SIZE));  /* ACPI hole's partial frame */
    assert_false(test_bit(fa.bitmap, (60 * MiB) / FRAME_SIZE - 1));
    assert_false(test_bit(fa.bitmap, (62 * MiB) / FRAME_SIZE));
    assert_true(test_bit(fa.bitmap, (80 * MiB) / FRAME_SIZE));  /* unaligned start shrinks in */
    assert_false(test_bit(fa.bitmap, (80 * MiB) / FRAME_SIZE + 1));
    assert_true(test_bit(fa.bitmap, (64 * MiB) / FRAME_SIZE));  /* gap between regions */
}

static void test_alloc_one_until_exhausted(void **state)
{
    (void)state;
    uint64_t expect = fa.free_frames;
    uint8_t *seen = calloc(fa.nframes, 1);
    assert_non_null(seen);
    uint64_t got = 0, phys;
    while ((phys = frame_alloc_one(&fa)) != 0) {
        assert_true(pc_frame_ok(phys));
        assert_false(seen[phys / FRAME_SIZE]);          /* never twice */
        seen[phys / FRAME_SIZE] = 1;
        got++;
        assert_int_equal(fa.free_frames, expect - got);
        assert_true(got <= expect);
    }
    assert_int_equal(got, expect);
    assert_int_equal(fa.free_frames, 0);
    assert_int_equal(frame_alloc_one(&fa), 0);
    assert_int_equal(frame_alloc_contig(&fa, 1, FRAME_SIZE), 0);
    assert_int_equal(fa.managed_frames, expect);
    free(seen);
}

static void test_free_and_realloc(void **state)
{
    (void)state;
    uint64_t before = fa.free_frames;
    uint64_t a = frame_alloc_one(&fa);
    uint64_t b = frame_alloc_one(&fa);
    assert_int_equal(a, 3 * MiB + FRAME_SIZE);          /* the first free frame */
    assert_int_equal(b, a + FRAME_SIZE);
    assert_int_equal(fa.free_frames, before - 2);

    frame_free(&fa, a, 1);
    assert_int_equal(fa.free_frames, before - 1);
    assert_int_equal(frame_alloc_one(&fa), a);           /* the hint moves back */

    /* Freeing a free frame twice does not inflate the count. */
    frame_free(&fa, b, 1);
    frame_free(&fa, b, 1);
    assert_int_equal(fa.free_frames, before - 1);

    /* Frees below 1 MiB are ignored. */
    frame_free(&fa, 0x1000, 4);
    assert_int_equal(fa.free_frames, before - 1);
    assert_true(test_bit(fa.bitmap, 1));

    /* Frees past the end are clipped. */
    frame_free(&fa, top - FRAME_SIZE, 100);
    assert_int_equal(fa.free_frames, before - 1);

    /* Exhaust, free one in the middle, and get exactly it back (the search wraps). */
    while (frame_alloc_one(&fa))
        ;
    uint64_t mid = 40 * MiB;
    frame_free(&fa, mid, 1);
    fa.hint = fa.nframes - 1;
    assert_int_equal(frame_alloc_one(&fa), mid);
    assert_int_equal(frame_alloc_one(&fa), 0);
}

static void test_alloc_contig(void **state)
{
    (void)state;
    uint64_t before = fa.free_frames;
    /* 2 MiB aligned, 512 frames: 2 MiB is taken by the kernel (up to 3 MiB + 0x10), so the
     * first free aligned run is at 4 MiB. */
    uint64_t p = frame_alloc_contig(&fa, 512, 2 * MiB);
    assert_int_equal(p, 4 * MiB);
    assert_int_equal(fa.free_frames, before - 512);
    for (uint64_t f = p / FRAME_SIZE; f < p / FRAME_SIZE + 512; f++)
        assert_true(test_bit(fa.bitmap, f));

    /* The next aligned run: 6 MiB; then 8 MiB is blocked by the module, so 10 MiB. */
    assert_int_equal(frame_alloc_contig(&fa, 512, 2 * MiB), 6 * MiB);
    assert_int_equal(frame_alloc_contig(&fa, 512, 2 * MiB), 10 * MiB);

    /* Runs never cross a hole or a reserved range, and every frame is allowed. */
    uint64_t q;
    while ((q = frame_alloc_contig(&fa, 512, 2 * MiB)) != 0) {
        assert_int_equal(q % (2 * MiB), 0);
        for (uint64_t a = q; a < q + 2 * MiB; a += FRAME_SIZE)
            assert_true(pc_frame_ok(a));
    }
    /* Smaller alignments still find room; free the first block and get it back. */
    assert_int_not_equal(frame_alloc_contig(&fa, 3, FRAME_SIZE), 0);
    frame_free(&fa, 4 * MiB, 512);
    assert_int_equal(frame_alloc_contig(&fa, 512, 2 * MiB), 4 * MiB);

    /* Bad requests. */
    assert_int_equal(frame_alloc_contig(&fa, 0, FRAME_SIZE), 0);
    assert_int_equal(frame_alloc_contig(&fa, 1, 2048), 0);
    assert_int_equal(frame_alloc_contig(&fa, 1, 3 * FRAME_SIZE), 0);
    assert_int_equal(frame_alloc_contig(&fa, fa.nframes + 1, FRAME_SIZE), 0);
}

static void test_unaligned_region_shrinks_inward(void **state)
{
    (void)state;
    free(bitmap);
    const struct mem_region map[] = { { 80 * MiB + 0x123, 96 * MiB - 0x10, MEM_USABLE } };
    top = frame_top(map, 1);
    assert_int_equal(top, 96 * MiB - FRAME_SIZE);
    bitmap = malloc(frame_bitmap_bytes(top));
    assert_non_null(bitmap);
    frame_init(&fa, bitmap, top, map, 1, NULL, 0);
    const uint64_t whole = (16 * MiB) / FRAME_SIZE - 2;    /* both partial frames lost */
    assert_int_equal(fa.free_frames, whole);
    assert_int_equal(frame_alloc_contig(&fa, whole + 1, FRAME_SIZE), 0);
    assert_int_equal(frame_alloc_contig(&fa, whole, FRAME_SIZE), 80 * MiB + FRAME_SIZE);
    assert_int_equal(frame_alloc_one(&fa), 0);

    /* 2 MiB-aligned runs: 82, 84, ..., 92 MiB; 94 MiB would end past the last whole frame. */
    frame_init(&fa, bitmap, top, map, 1, NULL, 0);
    for (uint64_t want = 82 * MiB; want <= 92 * MiB; want += 2 * MiB)
        assert_int_equal(frame_alloc_contig(&fa, 512, 2 * MiB), want);
    assert_int_equal(frame_alloc_contig(&fa, 512, 2 * MiB), 0);
    assert_int_equal(fa.free_frames, whole - 6 * 512);
    assert_int_equal(frame_alloc_one(&fa), 80 * MiB + FRAME_SIZE);
}

static void test_unaligned_end_below_top(void **state)
{
    (void)state;
    free(bitmap);
    /* The partial last frame of a region that is not the highest one stays in use. */
    const struct mem_region map[] = {
        { 1 * MiB, 2 * MiB + 0x800, MEM_USABLE },
        { 4 * MiB - 0x800, 5 * MiB, MEM_USABLE },
    };
    top = frame_top(map, 2);
    bitmap = malloc(frame_bitmap_bytes(top));
    assert_non_null(bitmap);
    frame_init(&fa, bitmap, top, map, 2, NULL, 0);
    assert_int_equal(fa.free_frames, 256 + 256);
    assert_true(test_bit(fa.bitmap, (2 * MiB) / FRAME_SIZE));
    assert_true(test_bit(fa.bitmap, (4 * MiB) / FRAME_SIZE - 1));
    uint64_t phys;
    while ((phys = frame_alloc_one(&fa)) != 0)
        assert_true(in_range(phys, 1 * MiB, 2 * MiB) || in_range(phys, 4 * MiB, 5 * MiB));
}

static void test_overlapping_maps_reserved_wins(void **state)
{
    (void)state;
    free(bitmap);
    /* A reserved entry listed before the usable one that covers it, plus a duplicate usable. */
    const struct mem_region map[] = {
        { 2 * MiB, 3 * MiB, MEM_RESERVED },
        { 0, 4 * MiB, MEM_USABLE },
        { 3 * MiB + 0x10, 3 * MiB + 0x20, MEM_BAD },
        { 1 * MiB, 4 * MiB, MEM_USABLE },
    };
    top = frame_top(map, 4);
    assert_int_equal(top, 4 * MiB);
    bitmap = malloc(frame_bitmap_bytes(top));
    assert_non_null(bitmap);
    frame_init(&fa, bitmap, top, map, 4, NULL, 0);
    /* [1,2) MiB and [3,4) MiB minus one frame. */
    assert_int_equal(fa.free_frames, 256 + 255);
    uint64_t phys;
    while ((phys = frame_alloc_one(&fa)) != 0) {
        assert_true(phys >= 1 * MiB);
        assert_false(in_range(phys, 2 * MiB, 3 * MiB));
        assert_int_not_equal(phys, 3 * MiB);
    }
    assert_int_equal(fa.free_frames, 0);
}

static void test_nothing_usable(void **state)
{
    (void)state;
    free(bitmap);
    const struct mem_region map[] = { { 0, 1 * MiB, MEM_USABLE } };
    top = frame_top(map, 1);
    bitmap = malloc(frame_bitmap_bytes(top));
    assert_non_null(bitmap);
    frame_init(&fa, bitmap, top, map, 1, NULL, 0);
    assert_int_equal(fa.free_frames, 0);
    assert_int_equal(frame_alloc_one(&fa), 0);
    assert_int_equal(frame_alloc_contig(&fa, 1, FRAME_SIZE), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_pc, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_top_and_bitmap_size),
        T(test_place),
        T(test_init_matches_map),
        T(test_alloc_one_until_exhausted),
        T(test_free_and_realloc),
        T(test_alloc_contig),
        T(test_unaligned_region_shrinks_inward),
        T(test_unaligned_end_below_top),
        T(test_overlapping_maps_reserved_wins),
        T(test_nothing_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

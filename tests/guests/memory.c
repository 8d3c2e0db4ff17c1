/*
 * Guest test memory: all of the RAM the Multiboot map gives us is writable,
 * and a write outside it stops the guest (the runner expects a crash).
 */
#include "guest.h"

#define MAX_REGIONS     32
#define PATTERN         0x5aa5c33cu
#define OUTSIDE_GAP     (16ull << 20)

struct region {
    uint32_t start, end;        /* [start, end), within 4 GiB */
};

static struct region regions[MAX_REGIONS];
static unsigned region_count;

/* Copy the usable regions above our image, since the test may overwrite the map itself. */
static void collect_regions(const struct mb_info *mbi)
{
    uint32_t floor = ((uint32_t)guest_image_end + 4095) & ~4095u;
    for (const struct mb_mmap_entry *e = mb_mmap_next(mbi, NULL); e; e = mb_mmap_next(mbi, e)) {
        if (e->type != MB_MMAP_AVAILABLE || region_count == MAX_REGIONS)
            continue;
        uint64_t start = e->base, end = e->base + e->length;
        if (end > 0x100000000ull)
            end = 0x100000000ull;
        if (start < floor)
            start = floor;
        if (start >= end)
            continue;
        regions[region_count].start = (uint32_t)start;
        regions[region_count].end = (uint32_t)(end - 1) + 1;
        region_count++;
    }
}

static uint64_t check_regions(void)
{
    uint64_t tested = 0, bad = 0;
    /* Write everything first, then verify: an address pattern also catches aliasing. */
    for (unsigned i = 0; i < region_count; i++)
        for (uint32_t a = regions[i].start; a < regions[i].end - 3 && a >= regions[i].start; a += 4)
            *(volatile uint32_t *)a = a ^ PATTERN;
    for (unsigned i = 0; i < region_count; i++) {
        for (uint32_t a = regions[i].start; a < regions[i].end - 3 && a >= regions[i].start; a += 4) {
            uint32_t got = *(volatile uint32_t *)a;
            if (got != (a ^ PATTERN) && bad++ < 4)
                test_note("RAM at 0x%08x reads 0x%08x, wrote 0x%08x", a, got, a ^ PATTERN);
        }
        tested += regions[i].end - regions[i].start;
    }
    return bad ? 0 : tested;
}

static void write_outside(uint64_t addr)
{
    if (addr >= 0x100000000ull)
        return;
    printf("writing outside RAM at 0x%08llx\n", addr);
    *(volatile uint32_t *)(uint32_t)addr = 0xdeadbeef;
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    test_title("memory: own RAM writable, writes outside RAM stop the guest");
    uint64_t ram_end = mb_ram_end(mbi);
    if (!(mbi->flags & MB_INFO_MMAP) || ram_end == 0) {
        test_fail("no Multiboot memory map");
        test_end();
    }
    test_note("RAM ends at 0x%08llx, %llu KiB usable", ram_end, mb_usable_bytes(mbi) >> 10);
    collect_regions(mbi);

    uint64_t tested = check_regions();
    if (tested)
        test_pass("own RAM writable (%llu KiB above the image verified)", tested >> 10);
    else
        test_fail("own RAM: pattern mismatch (see notes) or nothing to test");

    write_outside(ram_end + OUTSIDE_GAP);
    if (ram_end + OUTSIDE_GAP < 0x40000000ull)
        write_outside(0x40000000ull);
    test_fail("write outside RAM did not stop the guest");
    test_end();
}

/* Host memory setup: the frame allocator over the memory map, then page tables that map
 * [0, max(4 GiB, end of RAM)) 1:1 with 2 MiB pages, and the kernel's first MiBs with 4 KiB
 * pages so that text is read-only, data is no-execute, and page 0 and the stack guard are absent. */
#include "kernel/paging.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/string.h"

extern char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];
extern char boot_stack_guard[];
extern uint32_t boot_has_nx;

struct frame_alloc host_frames;
static uint64_t mapped_top;
static uint64_t host_pages;
static uint64_t nx;

void *page_alloc_zeroed(void)
{
    uint64_t p = frame_alloc_one(&host_frames);
    if (!p)
        return NULL;
    host_pages++;
    memset((void *)p, 0, FRAME_SIZE);
    return (void *)p;
}

void page_free(void *page)
{
    frame_free(&host_frames, (uint64_t)page, 1);
    host_pages--;
}

static uint64_t *must_alloc_table(void)
{
    uint64_t *t = page_alloc_zeroed();
    if (!t)
        panic("out of memory for the host page tables");
    return t;
}

/* Rights of the 4 KiB page at addr inside the low, finely mapped region. */
static uint64_t small_page_flags(uint64_t addr)
{
    if (addr == 0 || addr == (uint64_t)boot_stack_guard)
        return 0;                               /* not present: null pointers, stack overflow */
    if (addr >= (uint64_t)__kernel_start && addr < (uint64_t)__text_end)
        return PTE_P;                           /* text: read and execute */
    if (addr >= (uint64_t)__text_end && addr < (uint64_t)__rodata_end)
        return PTE_P | nx;                      /* read-only data */
    return PTE_P | PTE_W | nx;
}

static void build_page_tables(void)
{
    uint64_t *pml4 = must_alloc_table();
    uint64_t fine_end = ((uint64_t)__kernel_end + 0x1FFFFF) & ~0x1FFFFFull;

    for (uint64_t gib = 0; gib < mapped_top >> 30; gib++) {
        uint64_t pml4_i = gib >> 9, pdpt_i = gib & 511;
        if (!(pml4[pml4_i] & PTE_P))
            pml4[pml4_i] = (uint64_t)must_alloc_table() | PTE_P | PTE_W;
        uint64_t *pdpt = (uint64_t *)(pml4[pml4_i] & PTE_ADDR);
        uint64_t *pd = must_alloc_table();
        pdpt[pdpt_i] = (uint64_t)pd | PTE_P | PTE_W;
        for (uint64_t i = 0; i < 512; i++) {
            uint64_t addr = (gib << 30) | (i << 21);
            if (addr < fine_end) {
                uint64_t *pt = must_alloc_table();
                for (uint64_t j = 0; j < 512; j++) {
                    uint64_t a = addr | (j << 12);
                    uint64_t f = small_page_flags(a);
                    pt[j] = f ? a | f : 0;
                }
                pd[i] = (uint64_t)pt | PTE_P | PTE_W;
                continue;
            }
            uint64_t flags = PTE_P | PTE_W | PTE_PS | nx;
            if (addr >= 0xFEC00000ull && addr < 0xFF000000ull)
                flags |= PTE_PCD | PTE_PWT;     /* IOAPIC and LAPIC registers: uncached */
            pd[i] = addr | flags;
        }
    }
    write_cr0(read_cr0() | CR0_WP);             /* read-only pages hold in ring 0 too */
    write_cr3((uint64_t)pml4);
}

void mm_init(struct boot_info *bi)
{
    nx = boot_has_nx ? PTE_NX : 0;

    /* The kernel image joins the boot structures and modules as reserved. */
    struct phys_range reserved[BOOT_MAX_RESERVED + 2];
    unsigned nres = 0;
    for (unsigned i = 0; i < bi->n_reserved; i++)
        reserved[nres++] = bi->reserved[i];
    reserved[nres++] = (struct phys_range){ (uint64_t)__kernel_start, (uint64_t)__kernel_end };

    uint64_t top = frame_top(bi->regions, bi->n_regions);
    uint64_t bytes = frame_bitmap_bytes(top);
    uint64_t where = frame_place(bi->regions, bi->n_regions, reserved, nres, bytes);
    if (!where)
        panic("no room for the frame bitmap (%lu bytes)", bytes);
    reserved[nres++] = (struct phys_range){ where, where + bytes };
    frame_init(&host_frames, (uint64_t *)where, top, bi->regions, bi->n_regions, reserved, nres);

    mapped_top = top > (4ull << 30) ? (top + (1ull << 30) - 1) & ~((1ull << 30) - 1) : 4ull << 30;
    build_page_tables();
}

uint64_t mm_mapped_top(void)
{
    return mapped_top;
}

uint64_t mm_host_pages(void)
{
    return host_pages;
}

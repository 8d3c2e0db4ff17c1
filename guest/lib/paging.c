/* Identity-mapped 32-bit paging for guests that want paging on. */
#include "arch.h"
#include "paging.h"

extern char guest_image_end[];          /* guest.ld: the end of our image, bss included */

#define PTE_P       0x001
#define PTE_RW      0x002
#define PTE_US      0x004
#define PDE_PS      0x080
#define PAGE_4M     (4u << 20)
#define SMALL_TABLES 16             /* 4 KiB-page fallback: 16 tables map 64 MiB */

static uint32_t page_dir[1024] __attribute__((aligned(4096)));
static uint32_t page_tables[SMALL_TABLES][1024] __attribute__((aligned(4096)));

uint32_t paging_identity_map(uint64_t bytes)
{
    if (bytes < (uint32_t)guest_image_end)
        bytes = (uint32_t)guest_image_end;      /* our own image at least, bss included */
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    uint64_t rounded = (bytes + PAGE_4M - 1) & ~(uint64_t)(PAGE_4M - 1);
    uint32_t dirs = (uint32_t)(rounded >> 22);
    if (dirs == 0)
        dirs = 1;
    if (dirs > 1024)
        dirs = 1024;

    if (d & CPUID1_EDX_PSE) {
        for (uint32_t i = 0; i < dirs; i++)
            page_dir[i] = (i << 22) | PDE_PS | PTE_RW | PTE_P;
        write_cr4(read_cr4() | CR4_PSE);
    } else {
        if (dirs > SMALL_TABLES)
            dirs = SMALL_TABLES;
        for (uint32_t i = 0; i < dirs; i++) {
            for (uint32_t j = 0; j < 1024; j++)
                page_tables[i][j] = (i << 22) | (j << 12) | PTE_RW | PTE_P;
            page_dir[i] = (uint32_t)page_tables[i] | PTE_RW | PTE_P;
        }
    }
    write_cr3((uint32_t)page_dir);
    write_cr0(read_cr0() | CR0_PG);
    return dirs == 1024 ? 0xffffffffu : dirs << 22;
}

void paging_identity_map_user(void)
{
    for (uint32_t i = 0; i < SMALL_TABLES; i++) {
        for (uint32_t j = 0; j < 1024; j++)
            page_tables[i][j] = (i << 22) | (j << 12) | PTE_US | PTE_RW | PTE_P;
        page_dir[i] = (uint32_t)page_tables[i] | PTE_US | PTE_RW | PTE_P;
    }
    write_cr3((uint32_t)page_dir);
    write_cr0(read_cr0() | CR0_PG);
}

uint32_t *paging_pde(uint32_t addr)
{
    return &page_dir[addr >> 22];
}

uint32_t *paging_pte(uint32_t addr)
{
    return &page_tables[(addr >> 22) % SMALL_TABLES][(addr >> 12) & 1023];
}

void paging_flush(void)
{
    write_cr3(read_cr3());
}

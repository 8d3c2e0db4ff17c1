/* EPT construction: a 4-level table whose leaves are 2 MiB pages when gpa, hpa and size
 * allow it and 4 KiB pages otherwise. Unmapped guest-physical addresses cause EPT violations. */
#include "vmx/ept.h"
#include "vmx/caps.h"
#include "vmx/vmx.h"
#include "kernel/log.h"
#include "kernel/paging.h"

#define EPT_MEMTYPE_WB   (6ull << 3)
#define EPT_LARGE        (1ull << 7)
#define EPT_ADDR_MASK    0x000FFFFFFFFFF000ull
#define EPT_CAP_2M       (1ull << 16)
#define EPT_CAP_INVEPT_SINGLE (1ull << 25)

int ept_init(struct ept *ept)
{
    ept->pml4 = page_alloc_zeroed();
    ept->table_pages = ept->pml4 ? 1 : 0;
    return ept->pml4 ? 0 : -1;
}

/* The table one level down from entry *e, created if absent; NULL when out of memory. */
static uint64_t *next_table(struct ept *ept, uint64_t *e)
{
    if (!(*e & EPT_RWX)) {
        uint64_t *t = page_alloc_zeroed();
        if (!t)
            return NULL;
        ept->table_pages++;
        *e = (uint64_t)t | EPT_RWX;     /* non-leaf: rights are the union, leaves restrict */
    }
    return (uint64_t *)(*e & EPT_ADDR_MASK);
}

int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t rights)
{
    bool big_ok = vmx_caps.ept_vpid & EPT_CAP_2M;
    while (size) {
        uint64_t *pdpt = next_table(ept, &ept->pml4[(gpa >> 39) & 511]);
        uint64_t *pd = pdpt ? next_table(ept, &pdpt[(gpa >> 30) & 511]) : NULL;
        if (!pd)
            return -1;
        uint64_t *pde = &pd[(gpa >> 21) & 511];
        if (big_ok && !(gpa & 0x1FFFFF) && !(hpa & 0x1FFFFF) && size >= 0x200000 && !(*pde & EPT_RWX)) {
            *pde = hpa | rights | EPT_MEMTYPE_WB | EPT_LARGE;
            gpa += 0x200000, hpa += 0x200000, size -= 0x200000;
            continue;
        }
        uint64_t *pt = next_table(ept, pde);
        if (!pt)
            return -1;
        pt[(gpa >> 12) & 511] = hpa | rights | EPT_MEMTYPE_WB;
        gpa += 0x1000, hpa += 0x1000, size -= 0x1000;
    }
    return 0;
}

uint64_t ept_pointer(const struct ept *ept)
{
    return (uint64_t)ept->pml4 | (3ull << 3) | 6;  /* walk length 4 (encoded 3), WB */
}

static void free_level(uint64_t *table, int level)
{
    for (int i = 0; i < 512 && level > 1; i++) {
        uint64_t e = table[i];
        if ((e & EPT_RWX) && !(e & EPT_LARGE))
            free_level((uint64_t *)(e & EPT_ADDR_MASK), level - 1);
    }
    page_free(table);
}

void ept_destroy(struct ept *ept)
{
    if (ept->pml4)
        free_level(ept->pml4, 4);
    ept->pml4 = NULL;
    ept->table_pages = 0;
}

void ept_invalidate(const struct ept *ept)
{
    bool single = vmx_caps.ept_vpid & EPT_CAP_INVEPT_SINGLE;
    enum vmx_status st = invept(single ? INVEPT_SINGLE_CONTEXT : INVEPT_ALL_CONTEXT, ept_pointer(ept));
    if (st != VMX_OK)
        vmx_report_failure("INVEPT", st);
}

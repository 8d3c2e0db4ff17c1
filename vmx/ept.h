/* Extended page tables (SDM Vol. 3 Section 29.3): one per guest, mapping only that guest's
 * RAM, built from host frames with 2 MiB pages where the alignment allows. */
#ifndef VMX_EPT_H
#define VMX_EPT_H

#include <stdint.h>

#define EPT_READ  1ull
#define EPT_WRITE 2ull
#define EPT_EXEC  4ull
#define EPT_RWX   (EPT_READ | EPT_WRITE | EPT_EXEC)

struct ept {
    uint64_t *pml4;
    uint64_t table_pages;       /* pages used by the tables (per-guest overhead) */
};

/* Returns 0, or -1 when out of memory. */
int ept_init(struct ept *ept);
/* Maps [gpa, gpa+size) to [hpa, hpa+size) with rights (EPT_*), write-back; 4 KiB aligned.
 * Returns 0, or -1 when out of memory. */
int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t rights);
/* The EPT pointer for the VMCS (4-level walk, write-back). */
uint64_t ept_pointer(const struct ept *ept);
/* Frees every table (not the mapped memory). */
void ept_destroy(struct ept *ept);
/* INVEPT for this EPT (single context when supported, else all contexts). */
void ept_invalidate(const struct ept *ept);

#endif

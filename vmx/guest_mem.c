/* Guest memory: the RAM map (guest_ram_ptr), and by linear address: walks the guest's own page tables (none, 32-bit, PAE or
 * 4-level, SDM 4.3-4.5) to a guest-physical address, then the VM's RAM to a host address. */
#include "vmx/exits.h"
#include "kernel/cpu.h"
#include "kernel/string.h"

#define PG_P  1ull
#define PG_PS (1ull << 7)
#define PG_ADDR 0x000FFFFFFFFFF000ull

void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa || gpa + len > ram->size)
        return 0;
    uint64_t first = gpa / GUEST_RAM_CHUNK, last = (gpa + len - 1) / GUEST_RAM_CHUNK;
    /* A range crossing chunks is contiguous on the host only if the chunks are. */
    for (uint64_t c = first; c < last; c++)
        if (ram->chunks[c + 1] != ram->chunks[c] + GUEST_RAM_CHUNK)
            return 0;
    return (void *)(ram->chunks[first] + (gpa & (GUEST_RAM_CHUNK - 1)));
}

static int read_entry(struct vcpu *vcpu, uint64_t gpa, unsigned size, uint64_t *out)
{
    const void *p = guest_ram_ptr(vcpu->ram, gpa, size);
    if (!p)
        return -1;
    *out = 0;
    memcpy(out, p, size);
    return 0;
}

int guest_linear_to_phys(struct vcpu *vcpu, uint64_t gla, uint64_t *gpa)
{
    if (!(vcpu->cr0_shadow & CR0_PG)) {
        *gpa = gla & 0xFFFFFFFFull;
        return 0;
    }
    uint64_t cr3 = vmcs_readnat(GUEST_CR3), e;
    if (!(vcpu->cr4_shadow & CR4_PAE)) {            /* 32-bit paging, 4 MiB pages with PSE */
        if (read_entry(vcpu, (cr3 & 0xFFFFF000) + ((gla >> 22) & 1023) * 4, 4, &e) || !(e & PG_P))
            return -1;
        if ((e & PG_PS) && (vcpu->cr4_shadow & CR4_PSE)) {
            *gpa = (e & 0xFFC00000) | (gla & 0x3FFFFF);
            return 0;
        }
        if (read_entry(vcpu, (e & 0xFFFFF000) + ((gla >> 12) & 1023) * 4, 4, &e) || !(e & PG_P))
            return -1;
        *gpa = (e & 0xFFFFF000) | (gla & 0xFFF);
        return 0;
    }
    int levels;
    uint64_t table;
    if (vmcs_read64(GUEST_IA32_EFER) & EFER_LMA) {
        levels = 4;
        table = cr3 & PG_ADDR;
    } else {                                        /* PAE: the PDPTE comes from the VMCS */
        static const struct vmcs_field64 pdptes[4] = { GUEST_PDPTE0, GUEST_PDPTE1, GUEST_PDPTE2, GUEST_PDPTE3 };
        e = vmcs_read64(pdptes[(gla >> 30) & 3]);
        if (!(e & PG_P))
            return -1;
        levels = 2;
        table = e & PG_ADDR;
    }
    for (int level = levels; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        if (read_entry(vcpu, table + ((gla >> shift) & 511) * 8, 8, &e) || !(e & PG_P))
            return -1;
        if (level == 1 || ((e & PG_PS) && level <= 3)) {
            uint64_t page_mask = (1ull << shift) - 1;
            *gpa = (e & PG_ADDR & ~page_mask) | (gla & page_mask);
            return 0;
        }
        table = e & PG_ADDR;
    }
    return -1;
}

/* Copies between guest and host memory page by page (a range may cross pages). */
static int guest_copy(struct vcpu *vcpu, uint64_t gla, void *buf, uint64_t len, bool to_guest)
{
    uint8_t *b = buf;
    while (len) {
        uint64_t chunk = 4096 - (gla & 4095), gpa;
        if (chunk > len)
            chunk = len;
        if (guest_linear_to_phys(vcpu, gla, &gpa) < 0)
            return -1;
        void *h = guest_ram_ptr(vcpu->ram, gpa, chunk);
        if (!h)
            return -1;
        if (to_guest)
            memcpy(h, b, chunk);
        else
            memcpy(b, h, chunk);
        gla += chunk, b += chunk, len -= chunk;
    }
    return 0;
}

int guest_read(struct vcpu *vcpu, uint64_t gla, void *dst, uint64_t len)
{
    return guest_copy(vcpu, gla, dst, len, false);
}

int guest_write(struct vcpu *vcpu, uint64_t gla, const void *src, uint64_t len)
{
    return guest_copy(vcpu, gla, (void *)src, len, true);
}

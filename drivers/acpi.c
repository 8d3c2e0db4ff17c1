/* ACPI table discovery (RSDP -> RSDT/XSDT -> MADT) and MADT parsing. Physical memory is identity-mapped. */
#include "drivers/acpi.h"
#include "kernel/cpu.h"
#include "kernel/string.h"

struct sdt_header {
    char signature[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem_id[6], oem_table_id[8];
    uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct sdt_header) == 36, "ACPI table header layout");

struct rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_address;
    uint32_t length;                    /* ACPI 2.0+ from here */
    uint64_t xsdt_address;
    uint8_t ext_checksum, reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct rsdp) == 36, "RSDP layout");

bool acpi_checksum_ok(const void *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += ((const uint8_t *)p)[i];
    return sum == 0;
}

int acpi_parse_madt(const uint8_t *table, size_t len, struct madt_info *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < 16; i++)
        out->isa_gsi[i] = i;
    if (len < sizeof(struct sdt_header) + 8)
        return -1;
    const struct sdt_header *h = (const struct sdt_header *)table;
    if (memcmp(h->signature, "APIC", 4) != 0 || h->length > len || h->length < sizeof *h + 8)
        return -1;
    uint32_t lapic32;
    memcpy(&lapic32, table + sizeof *h, 4);
    out->lapic_address = lapic32;

    for (size_t off = sizeof *h + 8; off + 2 <= h->length;) {
        uint8_t type = table[off], elen = table[off + 1];
        if (elen < 2 || off + elen > h->length)
            return -1;
        const uint8_t *e = table + off;
        if (type == 0 && elen >= 8) {                   /* processor local APIC */
            uint32_t flags;
            memcpy(&flags, e + 4, 4);
            if ((flags & 1) && out->n_cpus < MADT_MAX_CPUS)
                out->apic_ids[out->n_cpus++] = e[3];
        } else if (type == 1 && elen >= 12 && out->n_ioapics < MADT_MAX_IOAPICS) {
            struct madt_ioapic *io = &out->ioapics[out->n_ioapics++];
            io->id = e[2];
            memcpy(&io->address, e + 4, 4);
            memcpy(&io->gsi_base, e + 8, 4);
        } else if (type == 2 && elen >= 10) {           /* interrupt source override */
            uint8_t source = e[3];
            if (e[2] == 0 && source < 16) {
                memcpy(&out->isa_gsi[source], e + 4, 4);
                memcpy(&out->isa_flags[source], e + 8, 2);
            }
        } else if (type == 5 && elen >= 12) {           /* 64-bit LAPIC address override */
            memcpy(&out->lapic_address, e + 4, 8);
        } else if (type == 9 && elen >= 16) {           /* processor local x2APIC */
            uint32_t id, flags;
            memcpy(&id, e + 4, 4);
            memcpy(&flags, e + 8, 4);
            if ((flags & 1) && out->n_cpus < MADT_MAX_CPUS)
                out->apic_ids[out->n_cpus++] = id;
        }
        off += elen;
    }
    out->found = true;
    return 0;
}

static const struct rsdp *scan_rsdp(uint64_t start, uint64_t len)
{
    for (uint64_t p = start; p + 20 <= start + len; p += 16) {
        const struct rsdp *r = phys_ptr(p);
        if (memcmp(r->signature, "RSD PTR ", 8) == 0 && acpi_checksum_ok(r, 20))
            return r;
    }
    return NULL;
}

static const struct sdt_header *valid_table(uint64_t phys)
{
    if (phys == 0 || phys >= (1ull << 32) * 16)
        return NULL;
    const struct sdt_header *h = phys_ptr(phys);
    if (h->length < sizeof *h || h->length > (1u << 20) || !acpi_checksum_ok(h, h->length))
        return NULL;
    return h;
}

void acpi_find_madt(const void *rsdp_copy, uint64_t ebda, struct madt_info *out, const char **why)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < 16; i++)
        out->isa_gsi[i] = i;
    const struct rsdp *r = rsdp_copy;
    if (!r) {
        if (ebda >= 0x80000 && ebda < 0xA0000)
            r = scan_rsdp(ebda, 1024);
        if (!r)
            r = scan_rsdp(0xE0000, 0x20000);
    }
    if (!r) {
        *why = "no ACPI RSDP";
        return;
    }
    const struct sdt_header *root = NULL;
    unsigned entry_size = 4;
    if (r->revision >= 2 && r->xsdt_address)
        root = valid_table(r->xsdt_address), entry_size = 8;
    if (!root)
        root = valid_table(r->rsdt_address), entry_size = 4;
    if (!root) {
        *why = "no valid RSDT/XSDT";
        return;
    }
    const uint8_t *entries = (const uint8_t *)(root + 1);
    unsigned n = (root->length - sizeof *root) / entry_size;
    for (unsigned i = 0; i < n; i++) {
        uint64_t addr = 0;
        memcpy(&addr, entries + i * entry_size, entry_size);
        const struct sdt_header *t = valid_table(addr);
        if (t && memcmp(t->signature, "APIC", 4) == 0) {
            if (acpi_parse_madt((const uint8_t *)t, t->length, out) < 0)
                *why = "malformed MADT";
            return;
        }
    }
    *why = "no MADT in the ACPI tables";
}

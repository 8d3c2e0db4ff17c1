/* Just enough ACPI to find the interrupt hardware: the RSDP, the RSDT/XSDT and the MADT. */
#ifndef DRIVERS_ACPI_H
#define DRIVERS_ACPI_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define MADT_MAX_CPUS    64
#define MADT_MAX_IOAPICS 8

struct madt_ioapic { uint8_t id; uint32_t address; uint32_t gsi_base; };

struct madt_info {
    bool found;
    uint64_t lapic_address;
    unsigned n_cpus;                        /* enabled processors */
    uint32_t apic_ids[MADT_MAX_CPUS];
    unsigned n_ioapics;
    struct madt_ioapic ioapics[MADT_MAX_IOAPICS];
    /* ISA IRQ -> GSI and polarity/trigger (MPS INTI flags), identity unless overridden. */
    uint32_t isa_gsi[16];
    uint16_t isa_flags[16];
};

/* Parses a MADT table (header included); returns 0 or -1 if it is malformed. Pure. */
int acpi_parse_madt(const uint8_t *table, size_t len, struct madt_info *out);
/* True if the `len` bytes at p sum to 0 mod 256. */
bool acpi_checksum_ok(const void *p, size_t len);

/* Finds the MADT from an RSDP copy (Multiboot 2) or by scanning the BIOS areas (the EBDA
 * at `ebda`, read from the BIOS data area before page 0 was unmapped, and 0xE0000-0xFFFFF), and fills
 * out; out->found is false when there is no ACPI or no MADT. `why` says what was missing. */
void acpi_find_madt(const void *rsdp_copy, uint64_t ebda, struct madt_info *out, const char **why);

#endif

/* The ACPI tables a guest's firmware would leave in memory: how a Linux guest finds its
 * interrupt controllers, its power-management ports and how to switch itself off. */
#ifndef GUEST_LOADER_ACPI_H
#define GUEST_LOADER_ACPI_H

/*
 * Overview. A PC operating system learns what it cannot probe from tables the firmware
 * writes into RAM (ACPI 6.0 specification, chapter 5). It finds the RSDP by scanning the
 * BIOS area 0xE0000-0xFFFFF for "RSD PTR " on a 16-byte boundary; the RSDP points to
 * the XSDT (and the older RSDT), which list the other tables:
 *
 *   RSDP -> XSDT/RSDT -> FADT -> FACS, DSDT      fixed hardware, power-off package
 *                     -> MADT                    LAPIC, IOAPIC, ISA IRQ overrides
 *
 * We describe the machine the hypervisor emulates: one vCPU, one LAPIC, one IOAPIC,
 * the 8259 pair, and the PM ports of kernel/vdev/vacpi.c. The DSDT holds only the
 * sleep packages \_S0 and \_S5 (no devices, no methods): enough for Linux to power off.
 * No HPET, MCFG (PCI express), SRAT or SSDT: Linux then uses its defaults.
 *
 * All tables fit in a few hundred bytes at ACPI_TABLES_GPA; the guest's memory map
 * must not report [ACPI_TABLES_GPA, ACPI_TABLES_END) as usable RAM (e820 "reserved").
 */

#include <stdint.h>
#include "guest/loader/multiboot.h"   /* struct guest_mem */

/* The RSDP at the start of the BIOS area Linux scans (0xE0000-0xFFFFF), the tables after it. */
#define ACPI_TABLES_GPA   0xE0000u
#define ACPI_TABLES_END   0x100000u

/* The fixed-hardware I/O ports the FADT announces (kernel/vdev/vacpi.c implements them). */
#define ACPI_PM1A_EVT_PORT 0x600   /* 4 bytes: PM1_STS (2), PM1_EN (2) */
#define ACPI_PM1A_CNT_PORT 0x604   /* 2 bytes */
#define ACPI_PM_TMR_PORT   0x608   /* 4 bytes, 24-bit timer at 3.579545 MHz */
#define ACPI_RESET_PORT    0xCF9   /* FADT RESET_REG: system I/O, value 0x06 */
#define ACPI_RESET_VALUE   0x06
#define ACPI_SCI_IRQ       9
#define ACPI_SLP_TYP_S5    5       /* in \_S5; PM1a_CNT.SLP_TYP must hold it to power off */

#define ACPI_PM1_EVT_LEN   4
#define ACPI_PM1_CNT_LEN   2
#define ACPI_PM_TMR_LEN    4

struct acpi_config {
    uint32_t lapic_addr;     /* 0xFEE00000 */
    uint8_t lapic_id;        /* 0 */
    uint32_t ioapic_addr;    /* 0xFEC00000 */
    uint8_t ioapic_id;       /* 1 */
    /* one vCPU */
};

/* Writes RSDP (ACPI 2.0, with XSDT address), RSDT, XSDT, FADT (revision 6), FACS, DSDT and
 * MADT at ACPI_TABLES_GPA in mem, zeroing the bytes between them. Returns the RSDP's
 * guest-physical address, or 0 if they do not fit (mem smaller than ACPI_TABLES_END, the
 * region not all RAM, or the tables outgrowing it). */
uint32_t acpi_build_tables(const struct guest_mem *mem, const struct acpi_config *cfg);

#endif

/* The ACPI tables a guest's firmware would leave in memory: how a Linux guest finds its
 * interrupt controllers, its power-management ports and how to switch itself off. */
#ifndef KERNEL_VM_LOADER_ACPI_TABLES_H
#define KERNEL_VM_LOADER_ACPI_TABLES_H

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
 * the 8259 pair, and the PM ports of kernel/vm/vdev/vacpi.c. The DSDT holds only the
 * sleep packages \_S0 and \_S5 (no devices, no methods): enough for Linux to power off.
 * No HPET, MCFG (PCI express), SRAT or SSDT: Linux then uses its defaults.
 *
 * All tables fit in a few hundred bytes at ACPI_TABLES_GPA, in the BIOS area every guest
 * has (util.h), whatever it boots: the guest's memory map reports
 * [ACPI_TABLES_GPA, ACPI_TABLES_END) reserved, never usable RAM. The SMBIOS tables follow
 * (smbios.h).
 */

#include <stdint.h>
#include "kernel/vm/loader/multiboot.h"   /* struct guest_mem */
#include "kernel/vm/loader/util.h"        /* the PC's BIOS area */
#include "kernel/vm/vdev/vacpi.h"        /* the ports and SLP_TYP the FADT and DSDT announce */

/* The RSDP at the start of the BIOS area an OS scans (0xE0000-0xFFFFF, ACPI 6.0 5.2.5.1), the
 * tables after it, up to the SMBIOS tables. */
#define ACPI_TABLES_GPA   PC_BIOS_GPA
#define ACPI_TABLES_END   PC_SMBIOS_GPA

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

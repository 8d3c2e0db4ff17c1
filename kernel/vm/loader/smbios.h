/* The SMBIOS tables a guest's firmware would leave in memory: who made the machine, its
 * BIOS release date and its memory, as dmidecode and the Linux DMI layer read them. */
#ifndef KERNEL_VM_LOADER_SMBIOS_H
#define KERNEL_VM_LOADER_SMBIOS_H

/*
 * Overview. SMBIOS (DMTF DSP0134, version 2.8) describes the machine in a table of typed
 * structures. A legacy-BIOS operating system finds them by scanning 0xF0000-0xFFFFF on
 * 16-byte boundaries for the 32-bit entry point, anchored "_SM_" and again "_DMI_"
 * (section 5.2.1); the entry point gives the table's address, length and count.
 *
 *   0xF0000  entry point   "_SM_" ... "_DMI_" length, address, count   (31 bytes)
 *   0xF0020  structures    type 0, 1, 3, 16, 17, 19, 32, 127 (end of table)
 *
 * Each structure is a formatted area (type, length, handle, then fields) followed by its
 * strings, each NUL-terminated, the set ended by one more NUL; a string field holds the
 * string's number in that set, 1-based, or 0 for none.
 *
 * Linux needs it for more than a name: arch/x86/pci/direct.c trusts PCI configuration
 * mechanism 1 without finding a device through it only when dmi_get_bios_year() >= 2001,
 * and we model no PCI device, so the BIOS release date (type 0) is what lets a Linux guest
 * use the configuration ports at all.
 *
 * Every guest has them, whatever it boots: the guest's memory map reports
 * [SMBIOS_GPA, SMBIOS_END) reserved, never usable RAM (the BIOS area of util.h, after the
 * ACPI tables at 0xE0000).
 */

#include <stdint.h>
#include "kernel/vm/loader/multiboot.h"   /* struct guest_mem */
#include "kernel/vm/loader/util.h"        /* the PC's BIOS area */

/* The 32-bit entry point on a 16-byte boundary of the area Linux's dmi_scan scans; the
 * structure table right after it. */
#define SMBIOS_GPA PC_SMBIOS_GPA
#define SMBIOS_END PC_BIOS_END

/* Strings longer than this (a VM name, say) are cut: they keep the table small and bounded. */
#define SMBIOS_STRING_MAX 64

#define SMBIOS_BIOS_VENDOR  "anfitrion"
#define SMBIOS_BIOS_VERSION "0.1"
#define SMBIOS_BIOS_DATE    "11/24/2026"   /* mm/dd/yyyy, as dmi_get_date() parses it */

struct smbios_config {
    const char *vm_name;     /* the system's serial number (type 1) and its UUID's seed */
    uint64_t ram_size;       /* bytes of RAM at guest-physical 0 (types 16, 17, 19) */
};

/* Writes the entry point and the structure table at SMBIOS_GPA in mem. Returns the entry
 * point's guest-physical address, or 0 if it does not fit (mem smaller than SMBIOS_END,
 * the region not all RAM); nothing with an anchor is left behind then. */
uint32_t smbios_build(const struct guest_mem *mem, const struct smbios_config *cfg);

#endif

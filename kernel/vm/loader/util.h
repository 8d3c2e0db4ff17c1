/* Small helpers the guest loaders share: refusal reasons, table checksums, and the PC's
 * first MiB as every guest finds it. */
#ifndef KERNEL_VM_LOADER_UTIL_H
#define KERNEL_VM_LOADER_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Formats a one-line reason into why (at most size bytes) and returns -1. */
int loader_fail(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The byte that makes the len bytes at p sum to zero (ACPI and SMBIOS checksums). */
uint8_t loader_checksum(const void *p, uint32_t len);

/*
 * The first MiB of every guest, as a PC's BIOS leaves it whatever boots:
 *
 *   0x00000-0x9FC00  RAM (conventional memory): the guest's, and its image's if it loads there
 *   0x9FC00-0xA0000  reserved: the EBDA (1 KiB)
 *   0xA0000-0xE0000  not listed: the legacy VGA window and option ROMs
 *   0xE0000-0xF0000  reserved: the ACPI tables (acpi_tables.h)
 *   0xF0000-0x100000 reserved: the SMBIOS entry point and tables (smbios.h)
 *   0x100000-        RAM (extended memory)
 *
 * [PC_EBDA_GPA, PC_BIOS_END) is the firmware's: no kernel image, module or boot
 * structure goes there. The memory maps the loaders hand over (Linux's e820, the
 * Multiboot mmap) are this one.
 */
#define PC_EBDA_GPA   0x9FC00u
#define PC_HOLE_GPA   0xA0000u
#define PC_BIOS_GPA   0xE0000u         /* ACPI_TABLES_GPA */
#define PC_SMBIOS_GPA 0xF0000u         /* ACPI_TABLES_END, SMBIOS_GPA */
#define PC_BIOS_END   0x100000u        /* SMBIOS_END */

#define PC_MAP_RAM       1u            /* e820 and Multiboot "available" */
#define PC_MAP_RESERVED  2u
#define PC_MAP_ENTRIES   4u

struct pc_map_entry { uint64_t base, len; uint32_t type; };

/* Fills map with the PC_MAP_ENTRIES ranges above for ram_size (at least 1 MiB) bytes of RAM. */
void loader_pc_map(uint64_t ram_size, struct pc_map_entry map[PC_MAP_ENTRIES]);

#endif

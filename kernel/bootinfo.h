/* What the boot loader told us, in one protocol-independent structure: memory map,
 * command line, modules with their command lines, and the ranges we must never reuse. */
#ifndef KERNEL_BOOTINFO_H
#define KERNEL_BOOTINFO_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define BOOT_MAX_REGIONS  64
#define BOOT_MAX_MODULES  32
#define BOOT_MAX_RESERVED (2 * BOOT_MAX_MODULES + 16)
#define BOOT_CMDLINE_MAX  512

/* Memory types as in the e820 map (the values Multiboot uses too). */
enum mem_type { MEM_USABLE = 1, MEM_RESERVED = 2, MEM_ACPI = 3, MEM_NVS = 4, MEM_BAD = 5 };

struct mem_region { uint64_t start, end; uint32_t type; };     /* [start, end) */
struct phys_range { uint64_t start, end; };                      /* [start, end) */

struct boot_module {
    uint64_t start, end;            /* [start, end) physical */
    char cmdline[BOOT_CMDLINE_MAX];
};

struct boot_info {
    int protocol;                   /* 1 or 2 (Multiboot 1 or 2) */
    char loader[64];
    char cmdline[BOOT_CMDLINE_MAX];
    struct mem_region regions[BOOT_MAX_REGIONS];
    unsigned n_regions;
    struct boot_module modules[BOOT_MAX_MODULES];
    unsigned n_modules;
    unsigned modules_dropped;       /* modules beyond BOOT_MAX_MODULES */
    struct phys_range reserved[BOOT_MAX_RESERVED];  /* boot structures and module images */
    unsigned n_reserved;
    uint64_t rsdp;                  /* physical address of an ACPI RSDP copy, or 0 */
    uint8_t rsdp_copy[36];          /* Multiboot 2 hands us a copy in its own tag */
    bool has_rsdp_copy;
    uint64_t ebda;                  /* the BIOS's extended data area (set by kmain), or 0 */
};

/* Maps a physical range for reading (identity in the kernel, a fake memory in tests);
 * returns NULL if the range cannot be read. */
typedef const void *(*boot_map_fn)(uint64_t phys, size_t len, void *ctx);

/* Fills bi from the loader's magic and info address. Returns 0, or -1 with a reason
 * in bi->loader when the magic is neither Multiboot 1 nor 2 or the structure is unreadable. */
int bootinfo_parse(struct boot_info *bi, uint32_t magic, uint64_t info_phys, boot_map_fn map, void *ctx);

/* Total bytes of MEM_USABLE regions. */
uint64_t bootinfo_usable_bytes(const struct boot_info *bi);
const char *mem_type_name(uint32_t type);

#endif

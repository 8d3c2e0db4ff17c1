/* Multiboot 1 boot information as a guest receives it, and helpers to read it. */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_BOOT_MAGIC       0x2badb002
#define MB_INFO_MEMORY      (1u << 0)
#define MB_INFO_CMDLINE     (1u << 2)
#define MB_INFO_MODS        (1u << 3)
#define MB_INFO_MMAP        (1u << 6)
#define MB_MMAP_AVAILABLE   1

struct mb_info {
    uint32_t flags;
    uint32_t mem_lower;         /* KiB below 1 MiB */
    uint32_t mem_upper;         /* KiB from 1 MiB to the first hole */
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
} __attribute__((packed));
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "Multiboot 1 info layout");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64, "Multiboot 1 info layout");

/* One entry of the module list at mods_addr. */
struct mb_module_entry {
    uint32_t mod_start, mod_end;
    uint32_t string;            /* address of a NUL-terminated string, or 0 */
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mb_module_entry) == 16, "Multiboot 1 module entry layout");

/* size does not count itself: the next entry starts size + 4 bytes further. */
struct mb_mmap_entry {
    uint32_t size;
    uint64_t base;
    uint64_t length;
    uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "Multiboot 1 mmap entry layout");

/* The command line ("" if none). */
const char *mb_cmdline(const struct mb_info *mbi);
/* Walk the memory map: pass NULL for the first entry; NULL when done or absent. */
const struct mb_mmap_entry *mb_mmap_next(const struct mb_info *mbi, const struct mb_mmap_entry *e);
/* Bytes of usable RAM: the sum of available mmap entries, else from mem_lower/mem_upper. */
uint64_t mb_usable_bytes(const struct mb_info *mbi);
/* End (exclusive) of the highest usable RAM region. */
uint64_t mb_ram_end(const struct mb_info *mbi);

/*
 * Find word "key=value" in a space-separated command line: returns the value
 * and its length in *len, or NULL. A bare "key" gives an empty value.
 */
const char *cmdline_find(const char *cmdline, const char *key, size_t *len);
/* The numeric value of key (decimal or 0x hex), or def if absent or malformed. */
uint32_t cmdline_u32(const char *cmdline, const char *key, uint32_t def);
/* Copy the value of key into buf (truncated, NUL-terminated); false if absent. */
bool cmdline_str(const char *cmdline, const char *key, char *buf, size_t size);

#endif

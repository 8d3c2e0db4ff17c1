/* Loading a Multiboot 1 kernel into a guest's memory, as a Multiboot boot loader would
 * (Multiboot specification 0.6.96): the image (ELF32, or the a.out kludge's addresses)
 * and the information structure the kernel finds in EBX. */
#ifndef KERNEL_VM_LOADER_MULTIBOOT_H
#define KERNEL_VM_LOADER_MULTIBOOT_H

#include <stdint.h>
#include <stddef.h>

#define MB_GUEST_MAGIC    0x2BADB002u
#define MB_INFO_GPA       0x8000u      /* the information structure and its strings */
#define MB_INFO_END       0x10000u
#define MB_LOAD_MIN       0x100000u    /* images load at or above 1 MiB */

/* A guest's RAM as the loader sees it: [0, size), reached through ptr(). */
struct guest_mem {
    void *ctx;
    uint64_t size;
    /* Host pointer to len bytes of guest RAM at gpa, or NULL if not all RAM. */
    void *(*ptr)(void *ctx, uint64_t gpa, uint64_t len);
};

struct mb_image {
    uint32_t entry;
    uint64_t load_start, load_end;      /* guest-physical range the image occupies */
    int aout_kludge;                    /* loaded by the header's addresses rather than ELF */
};

/* Finds the Multiboot header in the first 8 KiB of img, then loads the image into mem.
 * Returns 0, or -1 with a one-line reason in why (not a Multiboot image, unsupported
 * features, segments outside its RAM, truncated file...). */
int mb_load(const uint8_t *img, size_t len, const struct guest_mem *mem, struct mb_image *out,
            char *why, size_t why_size);

/* A boot module handed to the guest (GRUB's module2 ... for=NAME): its bytes and its string. */
struct mb_module {
    const uint8_t *data;
    uint64_t len;
    const char *string;
};
#define MB_MODULES_MAX 8

/* Writes the Multiboot information (memory sizes, a memory map of the guest's RAM, the
 * command line, the loader name, the module list) at MB_INFO_GPA, and copies the n_mods
 * modules into RAM at page-aligned addresses from free_from up (above the kernel image).
 * Returns the information's address, or 0 if it or the modules do not fit. */
uint32_t mb_build_info(const struct guest_mem *mem, const char *cmdline, const char *loader_name,
                       const struct mb_module *mods, unsigned n_mods, uint64_t free_from);

#endif

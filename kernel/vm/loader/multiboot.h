/* Loading a Multiboot 1 kernel into a guest's memory, as a Multiboot boot loader would
 * (Multiboot specification 0.6.96): the image (ELF32, or the a.out kludge's addresses)
 * and the information structure the kernel finds in EBX. */
#ifndef KERNEL_VM_LOADER_MULTIBOOT_H
#define KERNEL_VM_LOADER_MULTIBOOT_H

/*
 * Where things go. The guest's RAM is a PC's (util.h): [0x9FC00, 0x100000) is the
 * firmware's (EBDA, VGA hole, the ACPI and SMBIOS tables every guest gets), the rest is
 * RAM, conventional memory below 640 KiB included.
 *
 *   image        where its ELF program headers (or a.out kludge) say, anywhere in RAM
 *                outside the firmware's area; a real overlap with it is refused, by name
 *   modules      page-aligned, in order, each at the lowest free address above the image
 *                and 1 MiB, else the lowest free from 1 MiB
 *   information  MB_INFO_SIZE bytes (structure, memory map, strings, module list) at
 *                MB_INFO_GPA if free, else the lowest free page from there to the EBDA,
 *                else from MB_LOW_MIN, else from 1 MiB
 *
 * "Free" means overlapping neither the image's [load_start, load_end) nor a module
 * (Multiboot 3.3: the information may go anywhere but the kernel and the modules). Page 0
 * (real-mode IVT, BIOS data area) is left to the guest.
 */

#include <stdint.h>
#include <stddef.h>

#define MB_GUEST_MAGIC    0x2BADB002u
#define MB_INFO_GPA       0x8000u      /* the information's preferred place */
#define MB_INFO_SIZE      0x8000u      /* the structure, its memory map, strings, module list */
#define MB_LOW_MIN        0x1000u      /* the lowest address the information takes */

/* A guest's RAM as the loader sees it: [0, size), reached through ptr(). */
struct guest_mem {
    void *ctx;
    uint64_t size;
    /* Host pointer to len bytes of guest RAM at gpa, or NULL if not all RAM. */
    void *(*ptr)(void *ctx, uint64_t gpa, uint64_t len);
    /* Optional: the image's large copies (len bytes of src to gpa, then zero bytes of zeroes),
     * done later and in order by the VM, piecewise. The loader has checked the range with
     * ptr() and writes nothing else over it. NULL: the loader copies at once. */
    void (*copy)(void *ctx, uint64_t gpa, const uint8_t *src, uint64_t len, uint64_t zero);
};

struct mb_image {
    uint32_t entry;
    uint64_t load_start, load_end;      /* guest-physical range the image occupies */
    int aout_kludge;                    /* loaded by the header's addresses rather than ELF */
};

/* Finds the Multiboot header in the first 8 KiB of img, then loads the image into mem.
 * Returns 0, or -1 with a one-line reason in why (not a Multiboot image, unsupported
 * features, a segment outside its RAM or over the firmware's area, truncated file...). */
int mb_load(const uint8_t *img, size_t len, const struct guest_mem *mem, struct mb_image *out,
            char *why, size_t why_size);

/* A boot module handed to the guest (GRUB's module2 ... for=NAME): its bytes and its string. */
struct mb_module {
    const uint8_t *data;
    uint64_t len;
    const char *string;
};
#define MB_MODULES_MAX 8

/* What the information holds besides the memory map, and the image it must avoid. */
struct mb_boot_args {
    const char *cmdline;
    const char *loader_name;            /* cut to 63 bytes */
    const struct mb_module *mods;
    unsigned n_mods;
    uint64_t image_start, image_end;    /* mb_image's load_start, load_end */
};

/* Copies the modules into RAM and writes the Multiboot information (memory sizes, the PC's
 * memory map of util.h, the command line, the loader name, the module list), placed as
 * the overview says. Returns the information's address, or 0 with a one-line reason in
 * why (no room beside the image, naming both; strings too long for MB_INFO_SIZE). Nothing
 * is written then. */
uint32_t mb_build_info(const struct guest_mem *mem, const struct mb_boot_args *args,
                       char *why, size_t why_size);

#endif

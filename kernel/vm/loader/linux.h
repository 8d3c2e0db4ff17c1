/* Loading a Linux bzImage into a guest's memory, as a boot loader using the kernel's 32-bit
 * boot protocol would (Documentation/arch/x86/boot.rst): the protected-mode kernel at 1 MiB,
 * the zero page (struct boot_params), the command line, the initrd and a boot GDT.
 *
 * The guest then starts at entry in 32-bit protected mode, paging off, interrupts off:
 * CS = LINUX_BOOT_CS and DS = ES = SS = LINUX_BOOT_DS, flat 4 GiB, GDTR = gdt_base/gdt_limit,
 * ESI = boot_params, EBP = EDI = EBX = 0 (FS, GS: LINUX_BOOT_DS too; ESP is not used).
 *
 * Guest-physical layout: GDT at 0x6000, zero page at 0x7000, command line at 0x20000, the
 * kernel from 1 MiB; it decompresses itself into [run_addr, run_end) (16 MiB up for Debian);
 * the initrd at the top of RAM. The e820 map given to the kernel is the PC's of util.h:
 * [0, 0x9FC00) RAM, [0x9FC00, 0xA0000) and [0xE0000, 0x100000) reserved (the EBDA, then
 * the ACPI and SMBIOS tables), [0x100000, RAM size) RAM. */
#ifndef KERNEL_VM_LOADER_LINUX_H
#define KERNEL_VM_LOADER_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/vm/loader/multiboot.h"     /* struct guest_mem */

#define LINUX_GDT_GPA          0x6000u     /* boot GDT: null, null, 0x10 code, 0x18 data */
#define LINUX_BOOT_PARAMS_GPA  0x7000u     /* the zero page (4 KiB) */
#define LINUX_CMDLINE_GPA      0x20000u    /* command line, NUL included, up to 4 KiB */
#define LINUX_CMDLINE_MAX      0x1000u
#define LINUX_LOAD_GPA         0x100000u   /* the protected-mode kernel, and its 32-bit entry */

/* The boot GDT's selectors and the VMCS access rights matching its descriptors (G, D/B, P, S,
 * accessed type: VM entry wants CS type 11 and data type 3, SDM 26.3.1.2). */
#define LINUX_BOOT_CS          0x10u
#define LINUX_BOOT_DS          0x18u
#define LINUX_BOOT_CS_AR       0xC09Bu
#define LINUX_BOOT_DS_AR       0xC093u

struct linux_image {
    uint32_t entry;                 /* 32-bit entry point: where the protected-mode kernel sits */
    uint32_t boot_params;           /* LINUX_BOOT_PARAMS_GPA: goes in ESI */
    uint32_t gdt_base;              /* LINUX_GDT_GPA */
    uint16_t gdt_limit;             /* 31: four descriptors */
    uint16_t version;               /* boot protocol version, e.g. 0x020f */
    uint32_t load_addr, load_end;   /* where the protected-mode kernel was copied */
    uint32_t run_addr, run_end;     /* where it decompresses itself (needs init_size bytes) */
    uint32_t initrd_addr, initrd_size;  /* 0, 0 without an initrd */
};

struct linux_boot_args {
    const char *cmdline;            /* the guest's command line; NULL or "" for none */
    const uint8_t *initrd;          /* NULL if none */
    size_t initrd_len;
    uint32_t acpi_rsdp;             /* 0 if none; else given to kernels speaking protocol >= 2.14 */
};

/* True if img looks like a bzImage: boot_flag 0xAA55 at 0x1FE, "HdrS" at 0x202, a version. */
bool linux_is_bzimage(const uint8_t *img, size_t len);

/* Loads bzImage img into mem with its zero page, command line, initrd and boot GDT, as
 * described above. Returns 0, or -1 with a one-line reason in why (not a bzImage, protocol
 * older than 2.06, not loadable at 1 MiB, truncated, too little RAM, command line too long,
 * initrd does not fit...); guest memory is untouched on failure. */
int linux_load(const uint8_t *img, size_t len, const struct guest_mem *mem,
               const struct linux_boot_args *args, struct linux_image *out,
               char *why, size_t why_size);

#endif

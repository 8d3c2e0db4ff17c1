/* Multiboot 2 header (GRUB's multiboot2) and Multiboot 1 header (QEMU -kernel), both in the first 8 KiB. */
#include "boot/boot.h"

    .section .multiboot, "a"

    /* Multiboot 2: magic, architecture (i386 protected mode), length, checksum, tags. */
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long 0
    .long mb2_header_end - mb2_header
    .long -(MB2_HEADER_MAGIC + 0 + (mb2_header_end - mb2_header))
    /* End tag. GRUB loads our ELF64 segments itself and enters at e_entry. */
    .balign 8
    .short 0
    .short 0
    .long 8
mb2_header_end:

    /* Multiboot 1 with the a.out kludge (flag 16): QEMU refuses ELF64 images, so it
     * loads the file from this header's offset using the addresses given here. */
    .balign 4
mb1_header:
    .long MB1_HEADER_MAGIC
    .long MB1_HEADER_FLAGS
    .long -(MB1_HEADER_MAGIC + MB1_HEADER_FLAGS)
    .long mb1_header            /* header_addr */
    .long __kernel_start        /* load_addr */
    .long __data_end            /* load_end_addr */
    .long __kernel_end          /* bss_end_addr */
    .long _start                /* entry_addr */

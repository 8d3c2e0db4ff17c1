/* Constants shared by the boot assembly and the C kernel. */
#ifndef BOOT_BOOT_H
#define BOOT_BOOT_H

#define MB1_HEADER_MAGIC      0x1BADB002
#define MB1_BOOTLOADER_MAGIC  0x2BADB002
/* page-align modules, memory info, a.out kludge addresses */
#define MB1_HEADER_FLAGS      0x00010003
#define MB2_HEADER_MAGIC      0xE85250D6
#define MB2_BOOTLOADER_MAGIC  0x36D76289

/* Boot GDT selectors, kept by kernel/gdt.c. */
#define SEL_KCODE  0x08
#define SEL_KDATA  0x10
#define SEL_TSS    0x18

#define BOOT_STACK_SIZE 16384

#endif

/* 32-bit entry from either Multiboot loader: checks for long mode, identity-maps the
 * first 4 GiB with 2 MiB pages, enables long mode (and NX when present) and calls kmain. */
#include "boot/boot.h"

#define CR0_PG   (1 << 31)
#define CR4_PAE  (1 << 5)
#define EFER_MSR 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define COM1     0x3F8

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    movl %eax, boot_magic_value
    movl %ebx, boot_info_phys
    movl $boot_stack_top, %esp

    /* Long mode needs CPUID leaf 0x80000001 with LM (EDX bit 29). */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    btl $29, %edx
    jnc no_long_mode
    btl $20, %edx               /* NX */
    jnc 1f
    movl $1, boot_has_nx
1:
    /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; each PD maps 1 GiB with 2 MiB pages. */
    movl $boot_pdpt, %eax
    orl $3, %eax
    movl %eax, boot_pml4
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $12, %eax
    addl $boot_pd, %eax
    orl $3, %eax
    movl %eax, boot_pdpt(,%ecx,8)
    incl %ecx
    cmpl $4, %ecx
    jb 2b
    xorl %ecx, %ecx             /* 2048 entries of 2 MiB: 0..4 GiB */
3:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax             /* present, writable, large */
    movl %eax, boot_pd(,%ecx,8)
    movl %ecx, %eax
    shrl $11, %eax
    movl %eax, boot_pd+4(,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 3b

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $EFER_MSR, %ecx
    rdmsr
    orl $EFER_LME, %eax
    cmpl $0, boot_has_nx
    je 4f
    orl $EFER_NXE, %eax
4:  wrmsr
    movl %cr0, %eax
    orl $CR0_PG, %eax
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $SEL_KCODE, $long_mode_entry

/* No long mode: say so on COM1 (polled, no setup beyond the BIOS's) and stop. */
no_long_mode:
    movl $no_lm_msg, %esi
5:  lodsb
    testb %al, %al
    jz 7f
    movb %al, %bl
    movw $COM1 + 5, %dx
6:  inb %dx, %al
    testb $0x20, %al
    jz 6b
    movw $COM1, %dx
    movb %bl, %al
    outb %al, %dx
    jmp 5b
7:  hlt
    jmp 7b

    .code64
long_mode_entry:
    movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movl boot_magic_value, %edi
    movl boot_info_phys, %esi
    call kmain
8:  cli
    hlt
    jmp 8b

    .section .rodata
no_lm_msg:
    .asciz "hv: cannot boot: this CPU has no 64-bit long mode\r\n"

    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00CF92000000FFFF    /* 0x10: data, DPL 0 */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .data
    .globl boot_magic_value, boot_info_phys, boot_has_nx
boot_magic_value:  .long 0
boot_info_phys:   .long 0
boot_has_nx: .long 0

    .bss
    .balign 4096
    .globl boot_pml4
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4096 * 4
    /* One unmapped guard page below the boot stack (kernel/paging.c leaves it out). */
    .globl boot_stack_guard, boot_stack_top
boot_stack_guard:
    .skip 4096
boot_stack:
    .skip BOOT_STACK_SIZE
boot_stack_top:

/* Multiboot 1 header, first instructions, interrupt stubs and setjmp/longjmp of every guest. */

#define MB_MAGIC        0x1BADB002
#define MB_FLAGS        0x00000003      /* bit 0: page-align modules, bit 1: memory info */
#define STACK_SIZE      16384

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    /* Multiboot enters with IF=0; the POPF below makes the flags clean (no CLI: pvos, the
     * paravirtual guest, executes none). */
    cld
    /* Keep the Multiboot registers while bss is zeroed (loaders should, we do not rely on it). */
    mov     %eax, %ebp
    mov     %ebx, %esi
    mov     $guest_bss_start, %edi
    mov     $guest_bss_end, %ecx
    sub     %edi, %ecx
    xor     %eax, %eax
    rep stosb
    mov     $boot_stack_top, %esp
    push    $0                  /* clean flags: IF=0, DF=0, AC=0 */
    popf
    xor     %eax, %eax
    push    %eax                /* fake return address ends backtraces */
    push    %esi                /* mbi */
    push    %ebp                /* magic */
    call    guest_start
1:  cli
    hlt
    jmp     1b

/* One stub per vector 0..47 (48..255 further down): push a zero error code where the CPU
 * pushes none, then the vector. */
    .text
.macro ISR_NOERR vec
isr_stub_\vec:
    pushl   $0
    pushl   $\vec
    jmp     isr_common
.endm
.macro ISR_ERR vec
isr_stub_\vec:
    pushl   $\vec
    jmp     isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31
.irp vec, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
ISR_NOERR \vec
.endr

/* Vectors 48..255 (LAPIC, IOAPIC, IPIs): one 16-byte stub each, found by arithmetic. */
#define HI_STUB_SIZE    16
    .balign HI_STUB_SIZE
isr_stubs_hi:
    .set hi_vec, 48
    .rept 256 - 48
    .balign HI_STUB_SIZE
    pushl   $0
    pushl   $hi_vec
    jmp     isr_common
    .set hi_vec, hi_vec + 1
    .endr

/*
 * Common path: save the general registers (struct int_frame), let C handle the
 * vector, and resume whichever frame C returns, which is how tinyos switches tasks.
 */
isr_common:
    pusha
    cld
    push    %esp
    call    int_dispatch
    mov     %eax, %esp
    popa
    add     $8, %esp            /* vector and error code */
    iret

    .section .rodata
    .balign 4
    .globl isr_stub_table
isr_stub_table:
.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
    .long isr_stub_\vec
.endr
    .set hi_vec, 48
    .rept 256 - 48
    .long isr_stubs_hi + (hi_vec - 48) * HI_STUB_SIZE
    .set hi_vec, hi_vec + 1
    .endr

/* int guest_setjmp(struct jmp_ctx *ctx): returns 0 now, and again non-zero from guest_longjmp. */
    .text
    .globl guest_setjmp
guest_setjmp:
    mov     4(%esp), %eax
    mov     %ebx, 0(%eax)
    mov     %esi, 4(%eax)
    mov     %edi, 8(%eax)
    mov     %ebp, 12(%eax)
    lea     4(%esp), %ecx
    mov     %ecx, 16(%eax)      /* esp as it will be after our ret */
    mov     (%esp), %ecx
    mov     %ecx, 20(%eax)      /* return address */
    pushf
    pop     %ecx
    mov     %ecx, 24(%eax)      /* eflags, so IF comes back as it was */
    xor     %eax, %eax
    ret

/* void guest_longjmp(struct jmp_ctx *ctx, int val): resume at guest_setjmp returning val. */
    .globl guest_longjmp
guest_longjmp:
    mov     4(%esp), %edx
    mov     8(%esp), %eax
    mov     0(%edx), %ebx
    mov     4(%edx), %esi
    mov     8(%edx), %edi
    mov     12(%edx), %ebp
    mov     16(%edx), %esp
    pushl   24(%edx)
    popf
    jmp     *20(%edx)

    .bss
    .balign 16
boot_stack:
    .skip STACK_SIZE
boot_stack_top:

    .section .note.GNU-stack, "", @progbits

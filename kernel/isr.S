/* Interrupt entry stubs: push a vector (and a dummy error code where the CPU pushes none),
 * save the general registers as a struct trap_frame, call trap_dispatch, restore, iretq. */

    .text
/* Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30. */

    .macro stub v
    .balign 16
isr_\v:
    .if !(\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21 || \v == 29 || \v == 30)
    pushq $0
    .endif
    pushq $\v
    jmp isr_common
    .endm

    .altmacro
    .set i, 0
    .rept 256
    stub %i
    .set i, i + 1
    .endr

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movq %rsp, %rdi
    /* Align the stack for C; keep the frame pointer chain ending here for backtraces. */
    movq %rsp, %rbx
    andq $-16, %rsp
    call trap_dispatch
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/* Table of the 256 stub addresses for idt_init. */
    .section .rodata
    .balign 8
    .globl isr_stubs
isr_stubs:
    .macro stubaddr v
    .quad isr_\v
    .endm
    .set i, 0
    .rept 256
    stubaddr %i
    .set i, i + 1
    .endr

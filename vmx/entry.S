/* VM entry and exit (SDM 26-27). vmx_enter saves the host's callee-saved registers on its
 * stack, points HOST_RSP there, loads the guest registers and launches or resumes; the
 * exit lands at vmx_exit (HOST_RIP) with that stack, saves the guest registers and returns. */

#define HOST_RSP_FIELD 0x6C14
/* struct guest_regs offsets */
#define R_RAX 0
#define R_RBX 8
#define R_RCX 16
#define R_RDX 24
#define R_RSI 32
#define R_RDI 40
#define R_RBP 48
#define R_R8  56
#define R_R9  64
#define R_R10 72
#define R_R11 80
#define R_R12 88
#define R_R13 96
#define R_R14 104
#define R_R15 112
#define R_CR2 120

    .text
    .globl vmx_enter, vmx_exit
/* enum vmx_status vmx_enter(struct guest_regs *regs, bool launched) */
vmx_enter:
    pushq %rbp
    movq %rsp, %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                      /* regs, found again at exit */
    movl %esi, %r12d                /* launched? */

    movq $HOST_RSP_FIELD, %rax
    vmwrite %rsp, %rax

    movq R_CR2(%rdi), %rax
    movq %rax, %cr2
    movq R_RAX(%rdi), %rax
    movq R_RBX(%rdi), %rbx
    movq R_RCX(%rdi), %rcx
    movq R_RDX(%rdi), %rdx
    movq R_RSI(%rdi), %rsi
    movq R_RBP(%rdi), %rbp
    movq R_R8(%rdi), %r8
    movq R_R9(%rdi), %r9
    movq R_R10(%rdi), %r10
    movq R_R11(%rdi), %r11
    movq R_R13(%rdi), %r13
    movq R_R14(%rdi), %r14
    movq R_R15(%rdi), %r15
    testl %r12d, %r12d
    movq R_R12(%rdi), %r12          /* mov leaves the flags alone */
    movq R_RDI(%rdi), %rdi
    jnz 1f
    vmlaunch
    jmp entry_failed
1:  vmresume
entry_failed:
    /* Still in the host with our stack: CF=1 VMfailInvalid, ZF=1 VMfailValid. */
    movl $1, %eax
    jc 2f
    movl $2, %eax
2:  popq %rdi
    jmp restore_host

vmx_exit:
    /* RSP = HOST_RSP: the regs pointer is on top. */
    pushq %rdi
    movq 8(%rsp), %rdi
    movq %rax, R_RAX(%rdi)
    movq %rbx, R_RBX(%rdi)
    movq %rcx, R_RCX(%rdi)
    movq %rdx, R_RDX(%rdi)
    movq %rsi, R_RSI(%rdi)
    movq %rbp, R_RBP(%rdi)
    movq %r8, R_R8(%rdi)
    movq %r9, R_R9(%rdi)
    movq %r10, R_R10(%rdi)
    movq %r11, R_R11(%rdi)
    movq %r12, R_R12(%rdi)
    movq %r13, R_R13(%rdi)
    movq %r14, R_R14(%rdi)
    movq %r15, R_R15(%rdi)
    popq %rax                       /* the guest's RDI */
    movq %rax, R_RDI(%rdi)
    movq %cr2, %rax
    movq %rax, R_CR2(%rdi)
    popq %rdi
    xorl %eax, %eax                 /* VMX_OK */
restore_host:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

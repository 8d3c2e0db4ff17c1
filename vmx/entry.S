/* VM entry and exit (SDM 26-27). vmx_enter saves the host's callee-saved registers on its
 * stack, points HOST_RSP there, loads the guest registers and launches or resumes; the
 * exit lands at vmx_exit (HOST_RIP) with that stack, saves the guest registers and returns. */

#include "vmx/guest_regs.h"

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

    movq $VMCS_HOST_RSP_ENCODING, %rax
    vmwrite %rsp, %rax

    movq GUEST_REGS_CR2(%rdi), %rax
    movq %rax, %cr2
    movq GUEST_REGS_RAX(%rdi), %rax
    movq GUEST_REGS_RBX(%rdi), %rbx
    movq GUEST_REGS_RCX(%rdi), %rcx
    movq GUEST_REGS_RDX(%rdi), %rdx
    movq GUEST_REGS_RSI(%rdi), %rsi
    movq GUEST_REGS_RBP(%rdi), %rbp
    movq GUEST_REGS_R8(%rdi), %r8
    movq GUEST_REGS_R9(%rdi), %r9
    movq GUEST_REGS_R10(%rdi), %r10
    movq GUEST_REGS_R11(%rdi), %r11
    movq GUEST_REGS_R13(%rdi), %r13
    movq GUEST_REGS_R14(%rdi), %r14
    movq GUEST_REGS_R15(%rdi), %r15
    testl %r12d, %r12d
    movq GUEST_REGS_R12(%rdi), %r12          /* mov leaves the flags alone */
    movq GUEST_REGS_RDI(%rdi), %rdi
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
    movq %rax, GUEST_REGS_RAX(%rdi)
    movq %rbx, GUEST_REGS_RBX(%rdi)
    movq %rcx, GUEST_REGS_RCX(%rdi)
    movq %rdx, GUEST_REGS_RDX(%rdi)
    movq %rsi, GUEST_REGS_RSI(%rdi)
    movq %rbp, GUEST_REGS_RBP(%rdi)
    movq %r8, GUEST_REGS_R8(%rdi)
    movq %r9, GUEST_REGS_R9(%rdi)
    movq %r10, GUEST_REGS_R10(%rdi)
    movq %r11, GUEST_REGS_R11(%rdi)
    movq %r12, GUEST_REGS_R12(%rdi)
    movq %r13, GUEST_REGS_R13(%rdi)
    movq %r14, GUEST_REGS_R14(%rdi)
    movq %r15, GUEST_REGS_R15(%rdi)
    popq %rax                       /* the guest's RDI */
    movq %rax, GUEST_REGS_RDI(%rdi)
    movq %cr2, %rax
    movq %rax, GUEST_REGS_CR2(%rdi)
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

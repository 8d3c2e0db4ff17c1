/* The guest registers VT-x does not keep in the VMCS, saved by vmx/entry.S on every exit.
 * entry.S and C share the offsets below; vcpu.h checks them against the struct with
 * _Static_assert, so the assembly cannot drift from the layout. */
#ifndef VMX_GUEST_REGS_H
#define VMX_GUEST_REGS_H

#define GUEST_REGS_RAX 0
#define GUEST_REGS_RBX 8
#define GUEST_REGS_RCX 16
#define GUEST_REGS_RDX 24
#define GUEST_REGS_RSI 32
#define GUEST_REGS_RDI 40
#define GUEST_REGS_RBP 48
#define GUEST_REGS_R8  56
#define GUEST_REGS_R9  64
#define GUEST_REGS_R10 72
#define GUEST_REGS_R11 80
#define GUEST_REGS_R12 88
#define GUEST_REGS_R13 96
#define GUEST_REGS_R14 104
#define GUEST_REGS_R15 112
#define GUEST_REGS_CR2 120
#define GUEST_REGS_SIZE 128

/* The VMCS encoding entry.S writes RSP to before each entry (HOST_RSP, SDM Appendix B.4);
 * vmx/vmcs_fields.h checks it against its table. */
#define VMCS_HOST_RSP_ENCODING 0x6C14

#endif

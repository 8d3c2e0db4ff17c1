/* A virtual CPU: the guest registers VMX does not keep in the VMCS, the VMCS itself, and
 * the per-vCPU state the exit handlers and the scheduler share. */
#ifndef VMX_VCPU_H
#define VMX_VCPU_H

#include <stdint.h>
#include <stdbool.h>
#include "vmx/vmx.h"

/* Saved by vmx/entry.S on every exit; the order is the assembly's (offsets in entry.S). */
struct guest_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t cr2;
};

/* What an exit handler tells the run loop. */
enum exit_action {
    EXIT_CONTINUE,          /* re-enter the guest */
    EXIT_YIELD,             /* give the CPU back to the scheduler (slice over, HLT, host work) */
    EXIT_STOP,              /* the guest ended itself (power-off, debug exit) */
    EXIT_CRASH,             /* the guest did something fatal: stop it and report */
};

/* MSRs that guest code uses without exits and the host must switch between vCPUs. */
enum { SWAP_STAR, SWAP_LSTAR, SWAP_CSTAR, SWAP_SFMASK, SWAP_KERNEL_GS_BASE, SWAP_MSR_COUNT };

#define VCPU_STAT_REASONS 66

struct vm;

struct vcpu {
    struct guest_regs regs;
    uint64_t vmcs_pa;
    bool launched;
    uint16_t vpid;
    struct vm *vm;

    /* Guest-visible state we emulate. */
    uint64_t cr0_shadow, cr4_shadow;        /* what the guest wrote (read shadows) */
    uint64_t xcr0;
    uint64_t dr[4], dr6;
    uint64_t cr8;
    uint64_t swap_msrs[SWAP_MSR_COUNT];
    uint8_t *fpu_area;                      /* XSAVE/FXSAVE area, 4 KiB, 64-byte aligned */

    /* The exit being handled. */
    uint32_t exit_reason;
    uint64_t exit_qual;
    uint64_t rip;                           /* GUEST_RIP at exit */

    /* Crash report, filled by the handler that returns EXIT_CRASH. */
    char crash_reason[96];

    bool halted;                            /* in HLT, waiting for an interrupt */
    uint32_t pending_event;                 /* entry interruption info to deliver, 0 if none */
    uint32_t pending_error_code;
    uint32_t pending_insn_len;              /* for software interrupts and exceptions */
    uint32_t proc_ctls;                     /* cached CPU_BASED_VM_EXEC_CONTROL */
    bool fpu_ready;                         /* fpu_area holds a valid state */

    bool trace_on;                          /* shell: trace NAME on */
    uint64_t trace_mask[2];                 /* exit reasons traced */
    uint64_t trace_window_ns, trace_lines, trace_suppressed;
    const char *name;                       /* the guest's name, for traces */

    uint64_t exits[VCPU_STAT_REASONS];      /* per basic exit reason */
    uint64_t exits_total;
    uint64_t run_tsc;                       /* TSC spent in the guest and its exits */
};

/* The clock of the virtual local APIC's timer, which CPUID leaf 0x15 reports as the crystal. */
#define VLAPIC_BUS_HZ 1000000u

/* Where a guest starts: 32-bit protected mode with paging off, flat CS 0x10 and data 0x18
 * (what both Multiboot and the Linux 32-bit boot protocol ask for), at entry with these
 * registers; gdt_base/gdt_limit 0 leave GDTR empty (Multiboot says it is undefined). */
struct vcpu_boot {
    uint32_t entry;
    uint32_t eax, ebx, esi;
    uint32_t gdt_base;
    uint16_t gdt_limit;
};

/* Allocates and initializes the VMCS for vcpu (SDM 24-26): host state, controls from the
 * capability MSRs, and the guest state of boot. Makes it the current VMCS. Returns NULL or
 * why it failed. */
const char *vmcs_create(struct vcpu *vcpu, uint64_t eptp, const struct vcpu_boot *boot);
/* Frees the VMCS and the vCPU's pages (VMCLEAR first). */
void vmcs_destroy(struct vcpu *vcpu);
/* Makes vcpu's VMCS the current one if it is not. */
void vcpu_load(struct vcpu *vcpu);

/* Enters the guest (VMLAUNCH or VMRESUME) and returns at its next exit. Returns VMX_OK
 * on an exit, or the failure of the entry instruction itself. (entry.S) */
enum vmx_status vmx_enter(struct guest_regs *regs, bool launched);

/* Runs vcpu until its slice (slice_tsc) ends, it halts, stops, crashes, or the host has
 * console work. Returns the action that ended the slice. */
enum exit_action vcpu_run(struct vcpu *vcpu, uint64_t slice_tsc);

/* Called when vcpu is destroyed: the CPU's guest-owned state (FPU, SYSCALL MSRs) no
 * longer belongs to anyone, so the next switch must not save it into freed memory. */
void vcpu_release_state(struct vcpu *vcpu);
/* Queues a hardware exception for the next entry (without advancing RIP). */
void vcpu_inject_exception(struct vcpu *vcpu, uint8_t vector, bool has_error, uint32_t error);
/* Advances the guest's RIP past the instruction that exited. */
void vcpu_skip_instruction(struct vcpu *vcpu);
/* Prints the guest's registers and the exit information (for crash reports and `info`). */
void vcpu_dump(struct vcpu *vcpu);

/* Called by the exit handlers; implemented by the VM layer (kernel/vm.c), which owns the
 * virtual devices: vmx/ never learns what is behind a port or an address. */
uint32_t vm_port_in(struct vm *vm, uint16_t port, unsigned size);
void vm_port_out(struct vm *vm, uint16_t port, unsigned size, uint32_t value);
/* Host address of guest-physical gpa if len bytes there are guest RAM, else NULL. */
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);
/* True when the host has work (console input, a guest to schedule) and the vCPU should
 * give the CPU back at the next exit. */
bool vm_should_yield(struct vm *vm);
/* A guest access of size bytes at gpa, which is not RAM, to a memory-mapped device.
 * Return false if no device is there (the access is then outside the guest's memory). */
bool vm_mmio_claims(struct vm *vm, uint64_t gpa);
bool vm_mmio_read(struct vm *vm, uint64_t gpa, unsigned size, uint64_t *value);
bool vm_mmio_write(struct vm *vm, uint64_t gpa, unsigned size, uint64_t value);
/* MSRs that belong to the VM's devices (APIC base, x2APIC registers, TSC deadline).
 * Return 1 if handled, 0 if the MSR is not a device's, -1 if the guest gets #GP. */
int vm_msr_read(struct vm *vm, uint32_t msr, uint64_t *value);
int vm_msr_write(struct vm *vm, uint32_t msr, uint64_t value);
/* True while the guest's local APIC is enabled in IA32_APIC_BASE: CPUID.1:EDX.APIC
 * follows it (SDM Vol. 3A 11.4.3). */
bool vm_apic_enabled(struct vm *vm);
/* True once a device has ended the machine (power-off, reset, debug exit): the vCPU stops
 * at once and vm_after_run() sees EXIT_STOP. */
bool vm_machine_event(struct vm *vm);
/* A hypercall (VMCALL) from the guest: returns the value for RAX. */
uint64_t vm_hypercall(struct vm *vm, uint64_t nr, uint64_t a1, uint64_t a2);
/* Before each entry: lets the VM deliver a pending virtual interrupt. Returns the vector to
 * inject (>= 0) when the guest can take one now, or -1; sets *want_window if one is pending
 * but must wait for the guest to enable interrupts. */
int vm_pending_interrupt(struct vm *vm, bool can_inject, bool *want_window);

#endif

/* A virtual CPU: the guest registers VMX does not keep in the VMCS, the VMCS itself, and
 * the per-vCPU state the exit handlers and the scheduler share. */
#ifndef VMX_VCPU_H
#define VMX_VCPU_H

#include <stdint.h>
#include <stdbool.h>
#include "vmx/vmx.h"
#include "vmx/guest_regs.h"
#include "vmx/guest_mem.h"
#include "vmx/decode.h"

/* Saved by vmx/entry.S on every exit, at the offsets of vmx/guest_regs.h. */
struct guest_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t cr2;
};
#define GUEST_REGS_CHECK(field, off) \
    _Static_assert(__builtin_offsetof(struct guest_regs, field) == (off), "entry.S offset of " #field)
GUEST_REGS_CHECK(rax, GUEST_REGS_RAX);
GUEST_REGS_CHECK(rbx, GUEST_REGS_RBX);
GUEST_REGS_CHECK(rcx, GUEST_REGS_RCX);
GUEST_REGS_CHECK(rdx, GUEST_REGS_RDX);
GUEST_REGS_CHECK(rsi, GUEST_REGS_RSI);
GUEST_REGS_CHECK(rdi, GUEST_REGS_RDI);
GUEST_REGS_CHECK(rbp, GUEST_REGS_RBP);
GUEST_REGS_CHECK(r8, GUEST_REGS_R8);
GUEST_REGS_CHECK(r9, GUEST_REGS_R9);
GUEST_REGS_CHECK(r10, GUEST_REGS_R10);
GUEST_REGS_CHECK(r11, GUEST_REGS_R11);
GUEST_REGS_CHECK(r12, GUEST_REGS_R12);
GUEST_REGS_CHECK(r13, GUEST_REGS_R13);
GUEST_REGS_CHECK(r14, GUEST_REGS_R14);
GUEST_REGS_CHECK(r15, GUEST_REGS_R15);
GUEST_REGS_CHECK(cr2, GUEST_REGS_CR2);
_Static_assert(sizeof(struct guest_regs) == GUEST_REGS_SIZE, "entry.S size of struct guest_regs");
#undef GUEST_REGS_CHECK

/* What an exit handler tells the run loop, and what vcpu_run() tells the VM layer. */
enum exit_action {
    EXIT_CONTINUE,          /* handled by the CPU side: re-enter the guest */
    EXIT_REQUEST,           /* vcpu->req describes an access for the VM layer (vcpu_run returns) */
    EXIT_EVENTS,            /* a host interrupt or an open interrupt window: the VM layer
                               re-evaluates interrupts and host work, then calls vcpu_run again */
    EXIT_YIELD,             /* give the CPU back to the scheduler (slice over, HLT) */
    EXIT_STOP,              /* the guest ended itself (power-off, debug exit): the VM layer's */
    EXIT_CRASH,             /* the guest did something fatal: stop it and report */
};

/* An access that needs the machine behind the CPU, described by the CPU side and carried
 * out by the VM layer (its devices), the way KVM hands struct kvm_run to its device model.
 * The VM layer fills in the answer and calls vcpu_complete(), which completes the
 * instruction (writes the register or memory, advances RIP) before the next entry. */
enum vcpu_req_kind { VCPU_REQ_IO, VCPU_REQ_MMIO, VCPU_REQ_MSR, VCPU_REQ_HYPERCALL };

#define VCPU_IO_BATCH 256           /* elements of a string I/O instruction per request */

struct vcpu_req {
    enum vcpu_req_kind kind;
    union {
        struct {                    /* IN/OUT and INS/OUTS: count elements of size bytes */
            uint16_t port;
            uint8_t size;
            bool in;
            uint16_t count;
            bool nothing;                   /* INS/OUTS: an element's memory is not RAM (it */
            uint64_t nothing_gpa;           /* reads all-ones, takes no writes): the first */
            uint32_t data[VCPU_IO_BATCH];   /* OUT: the values; IN: the VM layer's answers */
        } io;
        struct {                    /* a data access outside RAM (EPT violation) */
            uint64_t gpa;
            uint8_t size;
            bool write;             /* the exit's access: write (else read) */
            bool decoded;           /* false: the instruction is not one we emulate */
            bool load, store;       /* what the instruction does (both for XCHG) */
            uint64_t data;          /* store: the value; load: the device's answer */
            uint8_t bytes[4];       /* the instruction's first bytes, for the report */
            uint8_t nbytes;         /* how many of them could be fetched (0: none) */
        } mmio;
        struct {                    /* RDMSR/WRMSR of an MSR the CPU side does not own */
            uint32_t index;
            bool write;
            uint64_t data;
            bool ok;                /* the VM layer's answer: false gives the guest #GP */
        } msr;
        struct {                    /* VMCALL: number in RAX, arguments in RBX, RCX, RDX, RSI */
            uint64_t nr, a1, a2, a3, a4;    /* outside 64-bit mode: the low halves */
            uint8_t cpl;            /* the caller's privilege level: VMCALL exits at any CPL */
            uint64_t ret;           /* returned in RAX */
            bool set_rdx;           /* and rdx returned in RDX (a 32-bit caller's high half) */
            uint64_t rdx;
        } hypercall;
    };
};

/* MSRs that guest code uses without exits and the host must switch between vCPUs. */
enum { SWAP_STAR, SWAP_LSTAR, SWAP_CSTAR, SWAP_SFMASK, SWAP_KERNEL_GS_BASE, SWAP_TSC_AUX, SWAP_MSR_COUNT };


/* Words of a bit set with one bit per exit reason. */
#define VCPU_TRACE_WORDS ((EXIT_REASON_MAX + 63) / 64)

struct vcpu {
    struct guest_regs regs;
    uint64_t vmcs_pa;
    bool launched;
    uint16_t vpid;

    /* Guest-visible state we emulate. */
    uint64_t cr0_shadow, cr4_shadow;        /* what the guest wrote (read shadows) */
    uint64_t xcr0;
    uint64_t dr[4], dr6;                    /* saved; the CPU holds the state owner's */
    uint64_t swap_msrs[SWAP_MSR_COUNT];
    uint64_t tsc_offset;                    /* guest TSC - host TSC (the VMCS's TSC_OFFSET) */
    uint64_t tsc_adjust;                    /* IA32_TSC_ADJUST (SDM 18.17.3) */
    uint64_t misc_enable;                   /* IA32_MISC_ENABLE */
    uint8_t *fpu_area;                      /* XSAVE/FXSAVE area, 4 KiB, 64-byte aligned */

    /* The exit being handled. */
    uint32_t exit_reason;
    uint64_t exit_qual;
    uint64_t rip;                           /* GUEST_RIP at exit */

    /* Crash report, filled by the handler that returns EXIT_CRASH. */
    char crash_reason[160];

    bool halted;                            /* in HLT, waiting for an interrupt */
    uint32_t pending_event;                 /* entry interruption info to deliver, 0 if none */
    uint32_t pending_error_code;
    uint32_t pending_insn_len;              /* for software interrupts and exceptions */
    uint32_t proc_ctls;                     /* cached CPU_BASED_VM_EXEC_CONTROL */
    bool fpu_ready;                         /* fpu_area holds a valid state */
    bool halt_if;                           /* RFLAGS.IF when it halted */
    bool preempt_timer;                     /* the VMX-preemption timer is on */
    uint8_t preempt_shift;                  /* its rate: TSC >> shift (IA32_VMX_MISC) */
    bool want_window;                       /* exit when the guest can take an interrupt */
    bool want_nmi_window;                   /* exit when it can take an NMI */
    bool virtual_nmis;                      /* the CPU tracks NMI blocking (pin control) */

    /* Set by the VM layer. */
    const struct guest_ram *ram;            /* the guest's RAM, for its page walks and decoding */
    bool cpuid_apic;                        /* CPUID.1:EDX.APIC (IA32_APIC_BASE.EN, SDM 11.4.3) */
    struct {                                /* the hypervisor leaves (docs/hypercalls.md) */
        uint32_t version, features;         /* 0x40000001: anfitrion's ABI version and features */
        bool kvm;                           /* 0x40000100-101: KVM's signature, shown */
        uint32_t kvm_features;              /* 0x40000101 EAX */
    } pv_cpuid;
    uint8_t *tpr;                           /* the local APIC's TPR, which is also CR8 (cr.c) */
    struct vcpu_req req;                    /* the access vcpu_run() handed back */
    struct mmio_insn mmio_insn;             /* the decoded instruction of an MMIO request */

    bool trace_on;                          /* shell: trace NAME on */
    uint64_t trace_mask[VCPU_TRACE_WORDS];  /* exit reasons traced, one bit each */
    uint64_t trace_window_ns, trace_lines, trace_suppressed;
    const char *name;                       /* the guest's name, for traces */

    uint64_t exits[EXIT_REASON_MAX];        /* per basic exit reason */
    uint64_t exits_total;
    uint64_t run_tsc;                       /* TSC spent in the guest and its exits */
};

/* The core crystal clock CPUID leaf 0x15 reports (SDM Vol. 2A, CPUID 15H); the VM layer clocks
 * its local APIC timer with it, as the hardware does. */
#define VCPU_CRYSTAL_HZ 1000000u

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

/* Runs the guest, handling the exits that are the CPU's alone, until one that is not:
 * EXIT_REQUEST (vcpu->req describes an access for the VM layer, which answers it and calls
 * vcpu_complete), EXIT_EVENTS (host interrupt, interrupt window), EXIT_YIELD (the TSC
 * reached deadline, or HLT) or EXIT_CRASH. Never returns EXIT_CONTINUE. */
enum exit_action vcpu_run(struct vcpu *vcpu, uint64_t deadline);
/* Finishes the instruction of the request the VM layer answered (register, memory, RIP);
 * vcpu's VMCS is still the current one, as vcpu_run left it. Returns EXIT_CONTINUE,
 * EXIT_CRASH (e.g. INS into memory the guest does not have), or EXIT_REQUEST when the same
 * instruction needs another access (vcpu->req describes it; answer it and call again). */
enum exit_action vcpu_complete(struct vcpu *vcpu);

/* Called when vcpu is destroyed: the CPU's guest-owned state (FPU, SYSCALL MSRs) no
 * longer belongs to anyone, so the next switch must not save it into freed memory. */
void vcpu_release_state(struct vcpu *vcpu);
/* Queues a hardware exception for the next entry (without advancing RIP). */
void vcpu_inject_exception(struct vcpu *vcpu, uint8_t vector, bool has_error, uint32_t error);
/* Advances the guest's RIP past the instruction that exited. */
void vcpu_skip_instruction(struct vcpu *vcpu);
/* Prints the guest's registers and the exit information (for crash reports and `info`). */
void vcpu_dump(struct vcpu *vcpu);

/* Whether the guest is in 64-bit mode (IA32_EFER.LMA and CS.L), for a request's answer. */
bool vcpu_in_64bit_mode(struct vcpu *vcpu);
/* The guest's RIP, for reports. */
uint64_t vcpu_guest_rip(struct vcpu *vcpu);
/* Puts the vCPU to sleep as HLT does (after its instruction completed): until an interrupt
 * it can take with the RFLAGS.IF it has now, an NMI, or the VM layer wakes it (halted =
 * false). False, and no sleep, if an event is already queued (a single-step #DB) or the CPU
 * holds a #DB for the next entry (a breakpoint that a MOV SS held, run.c). */
bool vcpu_halt(struct vcpu *vcpu);
/* Whether the guest can take an external interrupt at the next entry: RFLAGS.IF=1, no STI
 * or MOV SS blocking (SDM 26.3.1.5), no event already queued, and no #DB that the CPU holds
 * for the next entry (it comes first, SDM Vol. 3A 6.9). */
bool vcpu_interruptible(struct vcpu *vcpu);
/* Queues external interrupt vector for the next entry (the caller checked
 * vcpu_interruptible) and wakes the vCPU from HLT. */
void vcpu_inject_interrupt(struct vcpu *vcpu, uint8_t vector);
/* Asks for an exit (EXIT_EVENTS) as soon as the guest can take an interrupt. */
void vcpu_set_interrupt_window(struct vcpu *vcpu, bool on);
/* Whether the guest can take an NMI at the next entry: no NMI blocking (until the IRET of
 * the last NMI's handler), no STI or MOV SS blocking, no event already queued, no #DB held
 * for the next entry. */
bool vcpu_nmi_allowed(struct vcpu *vcpu);
/* Queues an NMI for the next entry (the caller checked vcpu_nmi_allowed); wakes from HLT. */
void vcpu_inject_nmi(struct vcpu *vcpu);
/* Asks for an exit (EXIT_EVENTS) as soon as the guest can take an NMI. */
void vcpu_set_nmi_window(struct vcpu *vcpu, bool on);
/* Records a crash reason (printf-style) and returns EXIT_CRASH. */
enum exit_action exit_crash(struct vcpu *vcpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

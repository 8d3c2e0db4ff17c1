/* A virtual local APIC (xAPIC through MMIO, x2APIC through MSRs) for a single-vCPU guest. */
#ifndef KERNEL_VM_VDEV_VLAPIC_H
#define KERNEL_VM_VDEV_VLAPIC_H

/*
 * Model notes (SDM Vol. 3A ch. 11, "Advanced Programmable Interrupt Controller").
 * - Modelled: ID, version (0x00060014: 7 LVT entries, no EOI-broadcast suppression),
 *   TPR, PPR, EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR (write, then read), ICR, the
 *   seven LVT entries (CMCI, timer, thermal, perf, LINT0, LINT1, error), the timer
 *   (one-shot, periodic, TSC-deadline; initial/current count, divide configuration),
 *   IA32_APIC_BASE with the disabled/xAPIC/x2APIC transitions, IA32_TSC_DEADLINE,
 *   the x2APIC MSRs 0x800-0x8FF and SELF IPI. APR reads 0.
 * - Not modelled: other CPUs (IPIs not aimed at this APIC are dropped), SMI, INIT and
 *   SIPI deliveries (also as self-IPIs), LINT pins in ExtINT, SMI or INIT mode (the
 *   8259's INTR is the caller's: see vlapic_accepts_pic()), thermal, perf and
 *   CMCI sources, lowest-priority arbitration, EOI-broadcast suppression, the
 *   illegal-register-address error.
 * - Interrupt flow: vlapic_set_irq() (IOAPIC or local source) sets IRR, and TMR for
 *   level-triggered ones; the core injects vlapic_pending_vector() and calls
 *   vlapic_ack(); the guest's EOI clears the highest ISR bit and, for a TMR vector,
 *   calls env->lapic_eoi. A fixed interrupt that arrives while the APIC is software-
 *   or hardware-disabled is discarded (as KVM does); IRR/ISR already set are kept.
 * - Time: registers are computed on demand from env->now_ns (timer) and env->now_tsc
 *   (TSC-deadline; optional hook: without it the deadline never fires). Every MMIO
 *   and MSR access first brings the timer up to date. Catch-up policy: at most one
 *   timer interrupt per vlapic_update(); missed periods are dropped.
 * - Rates: bus_hz and tsc_hz must be below 2^34 (17 GHz); 0 means 1 GHz.
 * - PV EOI (KVM's KVM_FEATURE_PV_EOI, which the VM layer offers: kernel/vm/kvm_pv.c): given
 *   the guest's flag byte, vlapic_ack() sets it to 1 when the vector it takes is edge-
 *   triggered (TMR clear) and nothing else waits in the IRR, so that an EOI means exactly
 *   "this vector, no side effect": the guest then acknowledges it by clearing the byte, with
 *   no exit. Every vlapic_update() (so every register access, which calls it first) looks
 *   at the byte: cleared, the EOI is done then; still set while a vector waits in the IRR,
 *   the byte is cleared and the guest's EOI goes through the register (which exits), so the
 *   waiting vector is delivered at once, as KVM does (arch/x86/kvm/lapic.c,
 *   apic_sync_pv_eoi_from_guest / apic_sync_pv_eoi_to_guest).
 * - Software-disabled (SVR bit 8 clear): LVT mask bits are forced on and cannot be
 *   cleared. vlapic_reset() is the exception: it leaves the state a PC BIOS leaves
 *   (virtual wire: LINT0 ExtINT unmasked, LINT1 NMI, SVR 0xFF).
 * - IA32_APIC_BASE (SDM 11.4.3-11.4.4, 11.12.5): clearing EN (from xAPIC or x2APIC
 *   mode) returns the registers to the power-up state of SDM 11.4.7.1: SVR 0xFF,
 *   every LVT entry masked (no virtual wire: that is the BIOS's), IRR/ISR/TMR, TPR,
 *   LDR, ICR, timer and ESR 0, DFR all ones, the ID the hardware assigned; pending
 *   interrupts are lost. Setting EN again gives xAPIC mode in that state.
 *   xAPIC -> x2APIC keeps the registers but the ID written through the page and the
 *   ICR's high half, and derives the LDR. #GP (-1): reserved bits (bits 0-7, 9, and
 *   MAXPHYADDR-63: the CPU's MAXPHYADDR, vlapic_init's argument, as CPUID 80000008H
 *   reports it to the guest), EN=0 with EXTD=1, disabled -> x2APIC,
 *   x2APIC -> xAPIC. The BSP bit is read-only (always 1).
 * - The xAPIC page is on the bus only in xAPIC mode, at vlapic_base(): disabled or
 *   in x2APIC mode the page is released (the guest reaches nothing there: all-ones,
 *   writes dropped, unless another device claims it), and a new base moves it.
 *   Not modelled: a base inside guest RAM (RAM answers there, not the APIC) or over
 *   another device's range (that device keeps it; the page stays unclaimed).
 *   xAPIC MMIO accesses other than aligned 4-byte ones read the bytes of the
 *   containing register (0 beyond its 32 bits) and ignore writes.
 */

#include "kernel/vm/vdev/vdev.h"

#define VLAPIC_BASE_DEFAULT 0xFEE00000ull
#define VLAPIC_SIZE 0x1000

/* MSRs (SDM Vol. 4 and Vol. 3A 11.12.1.2): x2APIC register at offset o is MSR 0x800 + (o >> 4). */
#define VLAPIC_MSR_APIC_BASE 0x1B     /* IA32_APIC_BASE */
#define VLAPIC_MSR_TSC_DEADLINE 0x6E0 /* IA32_TSC_DEADLINE */
#define VLAPIC_MSR_X2APIC_FIRST 0x800
#define VLAPIC_MSR_X2APIC_LAST 0x8FF

/* IA32_APIC_BASE bits. */
#define VLAPIC_BASE_BSP (1ull << 8)
#define VLAPIC_BASE_EXTD (1ull << 10)
#define VLAPIC_BASE_EN (1ull << 11)
#define VLAPIC_BASE_PAGE_MASK (~0xFFFull)    /* the base's address bits, MAXPHYADDR aside */

/* Register offsets in the xAPIC page (SDM Table 11-1). */
#define VLAPIC_REG_ID 0x020
#define VLAPIC_REG_VERSION 0x030
#define VLAPIC_REG_TPR 0x080
#define VLAPIC_REG_APR 0x090
#define VLAPIC_REG_PPR 0x0A0
#define VLAPIC_REG_EOI 0x0B0
#define VLAPIC_REG_LDR 0x0D0
#define VLAPIC_REG_DFR 0x0E0
#define VLAPIC_REG_SVR 0x0F0
#define VLAPIC_REG_ISR 0x100 /* 8 registers, 0x100-0x170 */
#define VLAPIC_REG_TMR 0x180
#define VLAPIC_REG_IRR 0x200
#define VLAPIC_REG_ESR 0x280
#define VLAPIC_REG_LVT_CMCI 0x2F0
#define VLAPIC_REG_ICR_LO 0x300
#define VLAPIC_REG_ICR_HI 0x310
#define VLAPIC_REG_LVT_TIMER 0x320
#define VLAPIC_REG_LVT_THERMAL 0x330
#define VLAPIC_REG_LVT_PERF 0x340
#define VLAPIC_REG_LVT_LINT0 0x350
#define VLAPIC_REG_LVT_LINT1 0x360
#define VLAPIC_REG_LVT_ERROR 0x370
#define VLAPIC_REG_TIMER_ICR 0x380 /* initial count */
#define VLAPIC_REG_TIMER_CCR 0x390 /* current count */
#define VLAPIC_REG_TIMER_DCR 0x3E0 /* divide configuration */
#define VLAPIC_REG_SELF_IPI 0x3F0  /* x2APIC only */

/* Register fields. */
#define VLAPIC_SVR_ENABLE (1u << 8)
#define VLAPIC_LVT_MASKED (1u << 16)
#define VLAPIC_LVT_DM_SHIFT 8
#define VLAPIC_DM_FIXED 0u
#define VLAPIC_DM_NMI 4u
#define VLAPIC_DM_EXTINT 7u
#define VLAPIC_TIMER_MODE_SHIFT 17
#define VLAPIC_TIMER_ONESHOT 0u
#define VLAPIC_TIMER_PERIODIC 1u
#define VLAPIC_TIMER_TSC_DEADLINE 2u
#define VLAPIC_ESR_SEND_ILLEGAL (1u << 5)
#define VLAPIC_ESR_RECV_ILLEGAL (1u << 6)
#define VLAPIC_ICR_SELF (1u << 18)          /* destination shorthand 01 */
#define VLAPIC_ICR_ALL_INCL_SELF (2u << 18) /* 10 */
#define VLAPIC_ICR_ALL_EXCL_SELF (3u << 18) /* 11 */
#define VLAPIC_ICR_LOGICAL (1u << 11)

enum vlapic_lvt {
    VLAPIC_LVT_CMCI, VLAPIC_LVT_TIMER, VLAPIC_LVT_THERMAL, VLAPIC_LVT_PERF,
    VLAPIC_LVT_LINT0, VLAPIC_LVT_LINT1, VLAPIC_LVT_ERROR, VLAPIC_LVT_COUNT
};

struct vlapic {
    struct vdev_env *env;
    uint32_t apic_id;          /* the initial APIC ID; the x2APIC ID */
    uint64_t bus_hz, tsc_hz;
    uint64_t apic_base;        /* IA32_APIC_BASE */
    uint64_t base_addr_mask;   /* its address bits: 12 to MAXPHYADDR-1 */
    uint8_t xapic_id;          /* ID register bits 31:24 in xAPIC mode (writable) */
    uint8_t tpr;               /* also the CPU's CR8 (TPR[7:4]): the vCPU reads and writes it
                                  through vcpu->tpr (vmx/cr.c, SDM 11.8.6.1) */
    uint32_t ldr, dfr, svr;
    uint32_t isr[8], tmr[8], irr[8]; /* bit v%32 of word v/32 is vector v */
    uint32_t esr;              /* what ESR reads: errors latched by the last write */
    uint32_t esr_pending;      /* errors since the last ESR write */
    uint64_t icr;
    bool nmi_pending;          /* an NMI for the CPU (IPI or LINT1), not yet taken */
    uint32_t lvt[VLAPIC_LVT_COUNT];
    uint32_t timer_initial, dcr;
    /* One-shot/periodic: ticks counted = base_ticks + ticks since base_ns. */
    bool timer_armed;
    uint64_t timer_base_ns, timer_base_ticks;
    uint64_t timer_next_tick;  /* tick count at which the timer next expires */
    uint64_t tsc_deadline;     /* IA32_TSC_DEADLINE; 0 = disarmed */
    /* The xAPIC page on the bus (place_page() keeps it in step with IA32_APIC_BASE). */
    struct vdev_bus *bus;      /* from vlapic_attach(); NULL before */
    bool page_claimed;         /* the bus has the page at page */
    uint64_t page;
    /* PV EOI: the guest's flag byte (in its RAM: the VM layer checked it), or NULL. */
    volatile uint8_t *pv_eoi;
    bool pv_eoi_pending;       /* the byte was set for the vector in service */
    uint64_t pv_eois;          /* EOIs the guest made by clearing it */
};

/* Sets up the APIC with this APIC ID and clock rates, in the vlapic_reset() state.
 * env->now_ns is required; now_tsc and lapic_eoi may be NULL. */
void vlapic_init(struct vlapic *l, struct vdev_env *env, uint32_t apic_id, uint64_t bus_hz,
                 uint64_t tsc_hz, unsigned maxphyaddr);

/* IA32_APIC_BASE = 0xFEE00000 | EN | BSP, xAPIC mode, SVR 0xFF (software-disabled),
 * LINT0 ExtINT and LINT1 NMI unmasked (BIOS virtual wire), other LVTs masked,
 * IRR/ISR/TMR clear, timer stopped, divide by 2. The page (if attached) goes back to
 * 0xFEE00000. */
void vlapic_reset(struct vlapic *l);

/* Claims [vlapic_base(l), +4 KiB) on bus for the xAPIC page, and keeps bus for moving or
 * releasing it when the guest writes IA32_APIC_BASE. Call once, after vlapic_init().
 * Returns 0 or -1 (the range is taken). */
int vlapic_attach(struct vlapic *l, struct vdev_bus *bus);

/* The bus's MMIO handlers: offset within the page, size 1, 2, 4 or 8. Outside xAPIC
 * mode (never through the bus) they act as no device: reads all-ones, writes dropped. */
uint64_t vlapic_mmio_read(void *dev, uint64_t offset, unsigned size);
void vlapic_mmio_write(void *dev, uint64_t offset, unsigned size, uint64_t value);

/* True for the MSRs vlapic_rdmsr()/vlapic_wrmsr() implement (in any mode). */
bool vlapic_handles_msr(uint32_t msr);

/* IA32_APIC_BASE, IA32_TSC_DEADLINE and (in x2APIC mode) 0x800-0x8FF. Return 0,
 * or -1 when the guest must get #GP: reserved bits, a read-only or write-only
 * register, an x2APIC MSR outside x2APIC mode, an invalid mode transition. A write of
 * IA32_APIC_BASE may release, claim or move the xAPIC page on the attached bus. */
int vlapic_rdmsr(struct vlapic *l, uint32_t msr, uint64_t *value);
int vlapic_wrmsr(struct vlapic *l, uint32_t msr, uint64_t value);

bool vlapic_hw_enabled(const struct vlapic *l);     /* IA32_APIC_BASE.EN */
bool vlapic_sw_enabled(const struct vlapic *l);     /* EN and SVR bit 8 */
bool vlapic_x2apic_mode(const struct vlapic *l);    /* EN and EXTD */
uint64_t vlapic_base(const struct vlapic *l);       /* the xAPIC page's guest-physical address */

/* A fixed interrupt with vector (IOAPIC, self-IPI, LVT): sets IRR, and TMR if
 * level_triggered (clears it if edge). Vectors 0-15 set ESR "received illegal
 * vector" instead. Discarded while the APIC is software- or hardware-disabled. */
void vlapic_set_irq(struct vlapic *l, uint8_t vector, bool level_triggered);

/* The highest IRR vector whose priority class is above the PPR's, or -1; -1 while
 * software- or hardware-disabled. Call vlapic_update() first. */
int vlapic_pending_vector(const struct vlapic *l);

/* An edge on input pin LINT0 (0) or LINT1 (1), as from a machine's NMI button on LINT1 (SDM
 * Vol. 3A 11.5.1): delivered as its LVT entry says (NMI, or fixed with its vector); dropped
 * when masked (as software disabling leaves every entry), or of a mode this model does not drive (ExtINT, SMI,
 * INIT). A hardware-disabled APIC passes LINT1 through as the CPU's NMI (11.4.3). Returns
 * whether it was delivered. */
bool vlapic_lint_edge(struct vlapic *l, unsigned pin);

/* An NMI is waiting for the CPU (a self-IPI with delivery mode NMI, or LINT1: the shell's
 * `inject NAME nmi`); NMIs ignore the PPR and RFLAGS.IF, only the CPU's NMI blocking holds them. */
bool vlapic_nmi_pending(const struct vlapic *l);
/* The CPU takes the NMI (at injection). */
void vlapic_nmi_ack(struct vlapic *l);

/* The CPU takes vector (at injection): IRR -> ISR, which raises the PPR. */
void vlapic_ack(struct vlapic *l, uint8_t vector);

/* PV EOI through the byte at flag (NULL: off). An EOI the guest made by clearing the old
 * byte is done first; an old byte still set is cleared (its EOI then goes by the register). */
void vlapic_set_pv_eoi(struct vlapic *l, volatile uint8_t *flag);

/* True if the 8259's INTR reaches the CPU: the APIC is hardware-disabled, or LVT
 * LINT0 is unmasked with delivery mode ExtINT (virtual wire), whatever SVR says
 * (a software disable masks LINT0 itself). The PPR does not block ExtINT. */
bool vlapic_accepts_pic(const struct vlapic *l);

/* Brings the timer up to env->now_ns()/now_tsc(): sets the LVT timer vector in IRR
 * once if it expired (unless masked); periodic mode reloads, one-shot stops,
 * TSC-deadline clears IA32_TSC_DEADLINE. Call before vlapic_pending_vector(). */
void vlapic_update(struct vlapic *l);

/* When (env->now_ns() time) vlapic_update() next has work to do; <= now if already
 * due; UINT64_MAX if the timer is stopped or its LVT entry masked. Re-read after
 * every access: a write may arm, re-arm or stop the timer. */
uint64_t vlapic_next_event_ns(const struct vlapic *l);

#endif

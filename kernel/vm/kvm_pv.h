/* KVM's paravirtual interface, the part Debian's unmodified Linux already knows (docs/
 * hypercalls.md, "What Linux already knows"): kvm-clock, PV EOI, steal time and PV
 * sched-yield, shown at CPUID 0x40000100 when the guest has pv=on (the default), as KVM
 * defines them (Linux's Documentation/virt/kvm/x86/msr.rst and cpuid.rst). */
#ifndef KERNEL_VM_KVM_PV_H
#define KERNEL_VM_KVM_PV_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/vm/pvclock.h"
#include "vmx/vcpu.h"

/* CPUID 0x40000101 EAX: the features offered, by bit number. */
#define KVM_FEATURE_CLOCKSOURCE            0    /* the old MSRs 0x11/0x12: not offered */
#define KVM_FEATURE_CLOCKSOURCE2           3
#define KVM_FEATURE_STEAL_TIME             5
#define KVM_FEATURE_PV_EOI                 6
#define KVM_FEATURE_PV_SCHED_YIELD         13
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT 24
#define KVM_PV_FEATURES ((1u << KVM_FEATURE_CLOCKSOURCE2) | (1u << KVM_FEATURE_STEAL_TIME) | \
                         (1u << KVM_FEATURE_PV_EOI) | (1u << KVM_FEATURE_PV_SCHED_YIELD) | \
                         (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT))

/* Its MSRs. Those of features not offered (0x11, 0x12, 0x4b564d02, 0x4b564d05-07...) give
 * #GP, as KVM does for a guest whose CPUID it enforces. */
#define MSR_KVM_WALL_CLOCK       0x11u
#define MSR_KVM_SYSTEM_TIME      0x12u
#define MSR_KVM_WALL_CLOCK_NEW   0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW  0x4b564d01u
#define MSR_KVM_STEAL_TIME       0x4b564d03u
#define MSR_KVM_PV_EOI_EN        0x4b564d04u
#define KVM_MSR_ENABLED          1ull            /* bit 0 of each: on */
#define KVM_STEAL_RESERVED_MASK  0x3Eull         /* bits 1-5: the area is 64-byte aligned */
#define KVM_PV_EOI_RESERVED_MASK 0x2ull          /* the flag is 4-byte aligned */

#define KVM_HC_SCHED_YIELD 11                    /* RBX = the APIC ID to yield to */

/* What MSR_KVM_WALL_CLOCK_NEW's address receives: the wall time at guest time 0. */
struct pvclock_wall_clock {
    uint32_t version;           /* odd while being written */
    uint32_t sec, nsec;
} __attribute__((packed));
_Static_assert(sizeof(struct pvclock_wall_clock) == 12, "pvclock_wall_clock layout");

/* What MSR_KVM_STEAL_TIME's address receives (64 bytes, 64-byte aligned). */
struct kvm_steal_time {
    uint64_t steal;             /* ns the vCPU was ready to run while other guests ran */
    uint32_t version;           /* odd while being written */
    uint32_t flags;
    uint8_t preempted;
    uint8_t u8_pad[3];
    uint32_t pad[11];
} __attribute__((packed));
_Static_assert(sizeof(struct kvm_steal_time) == 64, "kvm_steal_time layout");

/* Per guest, reset at each (re)load. */
struct kvm_pv {
    bool on;                            /* pv=on: the interface is shown */
    /* kvm-clock: guest time is ns since the load, counted by the guest's TSC. */
    uint64_t system_time_msr, wall_clock_msr;   /* as the guest wrote them */
    volatile struct pvclock_time *clock;        /* the time page, when in its RAM */
    uint64_t tsc0;                      /* guest TSC at guest time 0 */
    uint64_t tsc_offset_seen;           /* the vCPU's TSC offset tsc0 goes with */
    uint32_t mul;                       /* guest TSC ticks to ns (pvclock scale) */
    int8_t shift;
    /* PV EOI (the flag itself is the vLAPIC's: vlapic_set_pv_eoi) */
    uint64_t pv_eoi_msr;
    /* steal time */
    uint64_t steal_msr;
    volatile struct kvm_steal_time *steal;      /* the area, when in its RAM */
    uint64_t steal_unwritten_ns;        /* counted, not yet added to the area */
    uint64_t steal_ns;                  /* counted since the load (stats) */
    uint64_t wait_from;                 /* sched_total_run_tsc() when its last slice ended */
    uint64_t wait_paused_ns;            /* and the guest's paused time then */
    bool waiting, wait_halted;          /* ... and whether that slice ended in HLT */
    uint64_t yields;                    /* KVM_HC_SCHED_YIELD calls */
};

struct vm;

/* At each (re)load, once the vCPU is reset: the CPUID leaves (pv=on), nothing registered,
 * guest time 0 now. */
void kvm_pv_reset(struct vm *vm);
/* The guest's RDMSR/WRMSR of one of KVM's MSRs, with pv=on: true, and q->msr.ok set (false:
 * #GP) and q->msr.data for a read. False if the MSR is not one of them (or pv=off). */
bool kvm_pv_msr(struct vm *vm, struct vcpu_req *q);
/* Before each entry: the time page follows the guest's TSC if the guest moved it. */
void kvm_pv_before_entry(struct vm *vm);
/* At the start of each of vm's time slices: the steal time of the wait that ends. */
void kvm_pv_slice_start(struct vm *vm);
/* A KVM hypercall (the caller checked pv=on and a 64-bit caller at CPL 0): false if nr is
 * not one this interface knows; else *ret is RAX and *after what the slice does next. */
bool kvm_pv_hypercall(struct vm *vm, uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
                      uint64_t *ret, enum exit_action *after);
/* For the shell's `info NAME`: one line "  kvm: ..." (nothing with pv=off). */
void kvm_pv_print(const struct vm *vm);

#endif

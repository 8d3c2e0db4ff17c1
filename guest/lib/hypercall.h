/* anfitrion's hypercall ABI, the guest's side (docs/hypercalls.md is the reference; the
 * host's copy of these numbers and layouts is kernel/vm/hypercall.h, and a unit test holds
 * the two together). VMCALL with the number in EAX and arguments in EBX, ECX, EDX, ESI;
 * the result comes back in EAX (a negative one is an error) and nothing else changes,
 * except EDX for ANF_HC_TIME from a 32-bit caller (the high half of the time). */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>

/* Discovery: CPUID 0x40000000 says "anfitrion" (EBX, ECX, EDX) and its highest leaf (EAX);
 * CPUID 0x40000001 gives the ABI version (EAX) and the feature bits (EBX). */
#define ANF_CPUID_BASE          0x40000000u
#define ANF_CPUID_FEATURES      0x40000001u
#define ANF_ABI_VERSION         1u
#define ANF_F_CONSOLE           (1u << 0)   /* console write and read */
#define ANF_F_TIME              (1u << 1)   /* time and the time page */
#define ANF_F_EVENTS            (1u << 2)   /* shared page, bind, block: the virtual IF */
#define ANF_F_TIMER             (1u << 3)   /* the one-shot timer */
#define ANF_F_PEERS             (1u << 4)   /* events between guests */
#define ANF_F_MACHINE           (1u << 5)   /* guest information, shutdown, reboot */

/* Calls. */
#define ANF_HC_NOP              0x000u  /* returns 0: a round trip, or "deliver my upcall now" */
#define ANF_HC_CONSOLE_WRITE    0x100u  /* (gpa, len): bytes written */
#define ANF_HC_CONSOLE_READ     0x101u  /* (gpa, len): bytes read, 0 if none waiting */
#define ANF_HC_YIELD            0x102u  /* gives up the rest of the time slice */
#define ANF_HC_BLOCK            0x103u  /* sleeps until an event is pending (even masked) */
#define ANF_HC_SET_TIMER        0x104u  /* (ns low, ns high): ANF_EV_TIMER at that guest time; 0 cancels */
#define ANF_HC_TIME             0x105u  /* the guest time in ns (32-bit callers: EDX:EAX) */
#define ANF_HC_TIME_PAGE        0x106u  /* (gpa): the hypervisor keeps a struct anf_time there; 0 stops */
#define ANF_HC_SHARED_PAGE      0x107u  /* (gpa): the struct anf_shared of the virtual IF; 0 stops */
#define ANF_HC_EVENT_BIND       0x108u  /* (event, vector): upcalls for event at vector; vector 0 unbinds */
#define ANF_HC_EVENT_SEND       0x109u  /* (name gpa, name len, event): raise event in that guest */
#define ANF_HC_GUEST_INFO       0x10Au  /* (gpa, len): a struct anf_guest_info; returns its size */
#define ANF_HC_SHUTDOWN         0x10Bu  /* (status): the guest ends ("exited: status N") */
#define ANF_HC_REBOOT           0x10Cu  /* the guest is reloaded, as by its reset register */
#define ANF_HC_IRQ_LATENCY      0x1F0u  /* (tsc low, tsc high): for make bench */

/* Errors (as KVM's where KVM has one). */
#define ANF_EPERM       (-1)        /* not permitted: a call from CPL > 0, a peer that does not allow it */
#define ANF_ENOENT      (-2)        /* no such guest */
#define ANF_EFAULT      (-14)       /* an address that is not the guest's RAM */
#define ANF_EINVAL      (-22)       /* a bad argument */
#define ANF_ENOSYS      (-1000)     /* no such call */

/* Events: bits of anf_shared.pending. */
#define ANF_EV_TIMER    0           /* the one-shot timer expired */
#define ANF_EV_CONSOLE  1           /* console input is waiting */
#define ANF_EV_PEER_MIN 8           /* 8..63: events other guests send */
#define ANF_EV_MAX      63

/* The shared page of the virtual interrupt flag (64 bytes, 64-byte aligned). */
struct anf_shared {
    uint64_t pending;       /* events raised, not yet taken: set by the hypervisor (locked OR),
                               taken by the guest (locked AND or XCHG) */
    uint8_t mask;           /* 1: no upcalls (the virtual IF is clear); set by the hypervisor
                               as it delivers one, cleared by the guest */
    uint8_t pad0[7];
    uint64_t upcalls;       /* upcalls delivered (the hypervisor counts) */
    uint64_t reserved[5];
} __attribute__((packed, aligned(64)));

/* The time page (the pvclock layout KVM's kvm-clock uses; 32 bytes, 32-byte aligned).
 * ns = system_time + (((tsc - tsc_timestamp) << or >> tsc_shift) * tsc_to_system_mul >> 32),
 * read while version is even and unchanged. */
struct anf_time {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
} __attribute__((packed, aligned(32)));
#define ANF_TIME_STABLE 1           /* flags: the TSC is constant and the page does not change */

struct anf_guest_info {
    char name[32];          /* NUL-terminated */
    uint64_t mem;           /* bytes of RAM */
    uint32_t vcpus;
    uint32_t id;            /* the guest's number in the hypervisor's list */
} __attribute__((packed));

static inline int32_t anf_hypercall(uint32_t nr, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4)
{
    uint32_t ret = nr;
    __asm__ volatile("vmcall" : "+a"(ret) : "b"(a1), "c"(a2), "d"(a3), "S"(a4) : "memory");
    return (int32_t)ret;
}

static inline uint64_t anf_time_ns(void)
{
    uint32_t lo = ANF_HC_TIME, hi;
    __asm__ volatile("vmcall" : "+a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}

/* Guest time (ns) at guest TSC tsc from a time page: a copy taken while version is even and
 * unchanged, then the pvclock formula (64x32 bits in two halves: no 128-bit arithmetic). */
static inline uint64_t anf_time_read(const volatile struct anf_time *t, uint64_t tsc)
{
    uint32_t v, mul;
    uint64_t stamp, sys;
    int8_t shift;
    do {
        v = t->version;
        __asm__ volatile("" ::: "memory");
        stamp = t->tsc_timestamp;
        sys = t->system_time;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        __asm__ volatile("" ::: "memory");
    } while ((v & 1) || v != t->version);
    uint64_t d = tsc - stamp;
    d = shift < 0 ? d >> -shift : d << shift;
    return sys + (d >> 32) * mul + (((d & 0xFFFFFFFFull) * mul) >> 32);
}

/* Takes event ev from the shared page (a locked AND on the 32-bit half holding its bit: a
 * 32-bit guest has no 64-bit locked AND). True if it was pending. */
static inline bool anf_take_event(volatile struct anf_shared *s, unsigned ev)
{
    volatile uint32_t *half = (volatile uint32_t *)&s->pending + (ev >> 5);
    uint32_t bit = 1u << (ev & 31);
    return __atomic_fetch_and(half, ~bit, __ATOMIC_SEQ_CST) & bit;
}

static inline int32_t anf_set_timer(uint64_t deadline_ns)
{
    return anf_hypercall(ANF_HC_SET_TIMER, (uint32_t)deadline_ns, (uint32_t)(deadline_ns >> 32), 0, 0);
}

#endif

/* anfitrion's hypercalls, the host's side (docs/hypercalls.md is the reference; guests use
 * guest/lib/hypercall.h, and tests/unit/test_hypercall.c holds the two copies of the
 * numbers and layouts together). A guest's paravirtual state: its events, the shared page
 * with the virtual interrupt flag, its time page, its one-shot timer, its console input. */
#ifndef KERNEL_VM_HYPERCALL_H
#define KERNEL_VM_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>
#include "kernel/vm/pvclock.h"
#include "vmx/vcpu.h"

#define ANF_CPUID_BASE          0x40000000u
#define ANF_ABI_VERSION         1u
#define ANF_F_CONSOLE           (1u << 0)
#define ANF_F_TIME              (1u << 1)
#define ANF_F_EVENTS            (1u << 2)
#define ANF_F_TIMER             (1u << 3)
#define ANF_F_PEERS             (1u << 4)
#define ANF_F_MACHINE           (1u << 5)
#define ANF_FEATURES            (ANF_F_CONSOLE | ANF_F_TIME | ANF_F_EVENTS | ANF_F_TIMER | \
                                 ANF_F_PEERS | ANF_F_MACHINE)

#define ANF_HC_NOP              0x000u
#define ANF_HC_CONSOLE_WRITE    0x100u
#define ANF_HC_CONSOLE_READ     0x101u
#define ANF_HC_YIELD            0x102u
#define ANF_HC_BLOCK            0x103u
#define ANF_HC_SET_TIMER        0x104u
#define ANF_HC_TIME             0x105u
#define ANF_HC_TIME_PAGE        0x106u
#define ANF_HC_SHARED_PAGE      0x107u
#define ANF_HC_EVENT_BIND       0x108u
#define ANF_HC_EVENT_SEND       0x109u
#define ANF_HC_GUEST_INFO       0x10Au
#define ANF_HC_SHUTDOWN         0x10Bu
#define ANF_HC_REBOOT           0x10Cu
#define ANF_HC_IRQ_LATENCY      0x1F0u

#define ANF_EPERM       (-1)
#define ANF_ENOENT      (-2)
#define ANF_EFAULT      (-14)
#define ANF_EINVAL      (-22)
#define ANF_ENOSYS      (-1000)

#define ANF_EV_TIMER    0
#define ANF_EV_CONSOLE  1
#define ANF_EV_PEER_MIN 8
#define ANF_EV_MAX      63

#define ANF_IO_MAX      4096u           /* bytes per console call */

struct anf_shared {
    uint64_t pending;
    uint8_t mask;
    uint8_t pad0[7];
    uint64_t upcalls;
    uint64_t reserved[5];
} __attribute__((packed));
_Static_assert(sizeof(struct anf_shared) == 64, "anf_shared layout");

struct anf_guest_info {
    char name[32];
    uint64_t mem;
    uint32_t vcpus;
    uint32_t id;
} __attribute__((packed));
_Static_assert(sizeof(struct anf_guest_info) == 48, "anf_guest_info layout");

#define PV_CONSOLE_RING 256             /* console input bytes waiting for CONSOLE_READ */

/* Per guest, reset at each (re)load. */
struct vm_pv {
    volatile struct anf_shared *shared; /* the shared page in guest RAM, or NULL */
    volatile struct pvclock_time *time; /* the time page in guest RAM, or NULL */
    uint64_t shared_gpa, time_gpa;      /* where the guest put them (for info NAME) */
    uint64_t raised;                    /* events raised, not yet in the shared page */
    bool check;                         /* the shared page may hold an upcall to deliver */
    bool blocked;                       /* in ANF_HC_BLOCK */
    uint8_t vector[ANF_EV_MAX + 1];     /* upcall vector per event, 0 unbound */
    uint64_t bound;                     /* events with a vector */
    uint64_t tsc0;                      /* guest TSC at guest time 0 */
    uint64_t tsc_offset_seen;           /* the vCPU's TSC offset tsc0 goes with */
    uint32_t mul;                       /* guest time scale (pvclock) */
    int8_t shift;
    uint64_t timer_tsc;                 /* one-shot timer deadline (guest TSC), 0 off */
    bool console_in;                    /* the guest reads its console by hypercall */
    uint8_t ring[PV_CONSOLE_RING];
    unsigned ring_head, ring_len;
    /* statistics (stats NAME), kept across reloads */
    uint64_t calls, failed, upcalls;
};

struct vm;

/* Carries out the hypercall in vm's vCPU request (number, arguments, caller's CPL and mode)
 * and sets its result. Returns EXIT_CONTINUE, or EXIT_YIELD when the guest gives up its
 * slice (yield, block); shutdown and reboot raise a machine event. */
enum exit_action vm_hypercall(struct vm *vm);
/* At each (re)load: no pages, no events, no timer; guest time starts now. */
void vm_pv_reset(struct vm *vm);
/* Before an entry (and when the scheduler asks whether the guest can run): the timer, the
 * guest's TSC moving, events raised into the shared page, a blocked vCPU woken. The exit
 * path calls it only when vm_pv_busy() says there is something to do. */
void vm_pv_update(struct vm *vm);
static inline bool vm_pv_busy(const struct vm_pv *p, uint64_t tsc_offset)
{
    return p->timer_tsc | p->raised | (tsc_offset ^ p->tsc_offset_seen);
}
/* True if an upcall is due: unmasked, pending and bound. Reads the shared page, only while
 * pv.check says an event may be there. */
bool vm_pv_upcall_due(struct vm *vm);
/* Delivers that upcall (the caller checked the vCPU can take an interrupt): mask set, the
 * lowest pending bound event's vector injected. */
void vm_pv_upcall(struct vm *vm);
/* When the timer wants the guest (host ns, UINT64_MAX if not armed). */
uint64_t vm_pv_next_event_ns(struct vm *vm);
/* Raises event ev (0..63) in vm. */
void vm_pv_raise(struct vm *vm, unsigned ev);
/* Console input for vm: to its UART, or to its hypercall console once it reads one. */
bool vm_console_receive(struct vm *vm, uint8_t byte);
bool vm_console_can_receive(struct vm *vm);

#endif

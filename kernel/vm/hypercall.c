/* anfitrion's hypercalls (docs/hypercalls.md): the paravirtual guest's library of functions
 * in place of privileged instructions, as the seed describes. A call arrives from vmx/ as a
 * VCPU_REQ_HYPERCALL request; everything it is given is checked before it is used:
 * pointers are guest-physical and must be the guest's RAM, lengths and numbers are bounded.
 *
 * Events are the guest's interrupts. Raised into pv.raised (by the timer, console input,
 * another guest), they reach the guest's shared page before its next entry; an upcall is
 * delivered when its mask byte (the virtual interrupt flag) is clear, like a signal to a
 * process that has not blocked it. */
#include "kernel/vm/hypercall.h"
#include "kernel/vm/kvm_pv.h"
#include "kernel/vm/vm.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "kernel/time.h"

#define NS_PER_S 1000000000ull
#define PAGE 4096ull

static uint64_t guest_tsc(const struct vm *vm)
{
    return rdtsc() + vm->vcpu.tsc_offset;
}

/* The guest's TSC moved (WRMSR IA32_TSC or TSC_ADJUST): guest time and the timer go on
 * from where they were, and the time page says so. */
static void follow_tsc(struct vm *vm)
{
    struct vm_pv *p = &vm->pv;
    uint64_t d = vm->vcpu.tsc_offset - p->tsc_offset_seen;
    if (!d)
        return;
    p->tsc_offset_seen = vm->vcpu.tsc_offset;
    p->tsc0 += d;
    if (p->timer_tsc)
        p->timer_tsc += d;
    if (p->time)
        pvclock_write(p->time, p->tsc0, 0, p->mul, p->shift, PVCLOCK_TSC_STABLE);
}

static uint64_t guest_ns(struct vm *vm)
{
    follow_tsc(vm);
    return pvclock_scale_delta(guest_tsc(vm) - vm->pv.tsc0, vm->pv.mul, vm->pv.shift);
}

/* The guest TSC at which guest time reaches ns (the first such, as the page computes it). */
static uint64_t deadline_tsc(const struct vm_pv *p, uint64_t ns)
{
    uint64_t hz = time_tsc_hz(), t;
    if (__builtin_mul_overflow(ns / NS_PER_S, hz, &t) ||
        __builtin_add_overflow(t, ns % NS_PER_S * hz / NS_PER_S, &t) ||
        __builtin_add_overflow(t, p->tsc0, &t))
        return UINT64_MAX;                      /* centuries away: never */
    for (int i = 0; i < 4 && pvclock_scale_delta(t - p->tsc0, p->mul, p->shift) < ns; i++)
        t++;                                    /* rounding: not a tick early */
    return t;
}

/* Whether [gpa, gpa + len) is all the guest's RAM (len 1..ANF_IO_MAX or a small struct). */
static bool ram_range(const struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa + len < gpa)
        return false;
    for (uint64_t a = gpa & ~(PAGE - 1); a < gpa + len; a += PAGE)
        if (!guest_ram_ptr(&vm->ram, a, PAGE))
            return false;
    return true;
}

/* Copies between guest RAM (checked by ram_range) and the host, a page at a time (the RAM
 * is contiguous on the host only within a chunk). */
static void ram_copy(struct vm *vm, uint64_t gpa, void *host, uint64_t len, bool to_guest)
{
    uint8_t *h = host;
    while (len) {
        uint64_t n = PAGE - (gpa & (PAGE - 1));
        if (n > len)
            n = len;
        uint8_t *g = guest_ram_ptr(&vm->ram, gpa, n);
        if (to_guest)
            memcpy(g, h, n);
        else
            memcpy(h, g, n);
        gpa += n;
        h += n;
        len -= n;
    }
}

static bool events_pending(const struct vm *vm)
{
    return vm->pv.raised || (vm->pv.shared && vm->pv.shared->pending);
}

void vm_pv_raise(struct vm *vm, unsigned ev)
{
    struct vm_pv *p = &vm->pv;
    p->raised |= 1ull << ev;
    if (p->blocked) {
        p->blocked = false;
        vm->vcpu.halted = false;
    }
}

void vm_pv_update(struct vm *vm)
{
    struct vm_pv *p = &vm->pv;
    follow_tsc(vm);
    if (p->timer_tsc && guest_tsc(vm) >= p->timer_tsc) {
        p->timer_tsc = 0;
        vm_pv_raise(vm, ANF_EV_TIMER);
    }
    if (p->raised && p->shared) {
        __atomic_fetch_or(&p->shared->pending, p->raised, __ATOMIC_SEQ_CST);
        p->raised = 0;
        p->check = true;
    }
}

bool vm_pv_upcall_due(struct vm *vm)
{
    struct vm_pv *p = &vm->pv;
    if (!p->check || !p->shared)
        return false;
    uint64_t pending = p->shared->pending;
    if (!pending) {
        p->check = false;               /* the guest took them all: nothing to look at */
        return false;
    }
    return !p->shared->mask && (pending & p->bound);
}

void vm_pv_upcall(struct vm *vm)
{
    struct vm_pv *p = &vm->pv;
    unsigned ev = (unsigned)__builtin_ctzll(p->shared->pending & p->bound);
    uint8_t vector = p->vector[ev];
    p->shared->mask = 1;                /* as an interrupt gate clears IF */
    p->shared->upcalls++;
    p->upcalls++;
    vm->irqs_injected[vector]++;
    vcpu_inject_interrupt(&vm->vcpu, vector);
}

uint64_t vm_pv_next_event_ns(struct vm *vm)
{
    struct vm_pv *p = &vm->pv;
    if (!p->timer_tsc)
        return UINT64_MAX;
    uint64_t now = guest_tsc(vm);
    return time_ns() + (p->timer_tsc > now ? time_tsc_to_ns(p->timer_tsc - now) : 0);
}

void vm_pv_reset(struct vm *vm)
{
    struct vm_pv *p = &vm->pv;
    uint64_t calls = p->calls, failed = p->failed, upcalls = p->upcalls;
    memset(p, 0, sizeof *p);
    p->calls = calls;
    p->failed = failed;
    p->upcalls = upcalls;
    pvclock_scale(time_tsc_hz(), &p->mul, &p->shift);
    p->tsc_offset_seen = vm->vcpu.tsc_offset;
    p->tsc0 = guest_tsc(vm);
    vm->vcpu.pv_cpuid.version = ANF_ABI_VERSION;
    vm->vcpu.pv_cpuid.features = ANF_FEATURES;
}

bool vm_console_receive(struct vm *vm, uint8_t byte)
{
    struct vm_pv *p = &vm->pv;
    if (!p->console_in)
        return vuart_receive(&vm->uart, byte);
    if (p->ring_len == PV_CONSOLE_RING)
        return false;
    p->ring[(p->ring_head + p->ring_len++) % PV_CONSOLE_RING] = byte;
    vm_pv_raise(vm, ANF_EV_CONSOLE);
    return true;
}

bool vm_console_can_receive(struct vm *vm)
{
    return vm->pv.console_in ? vm->pv.ring_len < PV_CONSOLE_RING : vuart_can_receive(&vm->uart);
}

/* The calls. Each returns the result for RAX (negative: an error). */

static int64_t console_write(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (len > ANF_IO_MAX)
        return ANF_EINVAL;
    if (!ram_range(vm, gpa, len))
        return ANF_EFAULT;
    for (uint64_t done = 0; done < len;) {
        uint64_t n = PAGE - ((gpa + done) & (PAGE - 1));
        if (n > len - done)
            n = len - done;
        const uint8_t *g = guest_ram_ptr(&vm->ram, gpa + done, n);
        for (uint64_t i = 0; i < n; i++)
            vm_console_out(vm, g[i]);
        done += n;
    }
    return (int64_t)len;
}

static int64_t console_read(struct vm *vm, uint64_t gpa, uint64_t len)
{
    struct vm_pv *p = &vm->pv;
    if (len > ANF_IO_MAX)
        return ANF_EINVAL;
    if (!ram_range(vm, gpa, len))
        return ANF_EFAULT;
    p->console_in = true;               /* keystrokes come here from now on */
    uint64_t n = 0;
    for (; n < len && p->ring_len; n++, p->ring_len--) {
        uint8_t byte = p->ring[p->ring_head];
        p->ring_head = (p->ring_head + 1) % PV_CONSOLE_RING;
        ram_copy(vm, gpa + n, &byte, 1, true);
    }
    return (int64_t)n;
}

static int64_t set_timer(struct vm *vm, uint64_t lo, uint64_t hi)
{
    struct vm_pv *p = &vm->pv;
    uint64_t ns = (hi & 0xFFFFFFFFull) << 32 | (lo & 0xFFFFFFFFull);
    follow_tsc(vm);
    p->timer_tsc = ns ? deadline_tsc(p, ns) : 0;
    vm_pv_update(vm);                   /* a deadline already past fires now */
    return 0;
}

static int64_t time_page(struct vm *vm, uint64_t gpa)
{
    struct vm_pv *p = &vm->pv;
    if (gpa == 0) {
        p->time = NULL;
        p->time_gpa = 0;
        return 0;
    }
    if ((gpa & 31) || !ram_range(vm, gpa, sizeof *p->time))
        return ANF_EFAULT;
    follow_tsc(vm);
    p->time = guest_ram_ptr(&vm->ram, gpa, sizeof *p->time);
    p->time_gpa = gpa;
    pvclock_write(p->time, p->tsc0, 0, p->mul, p->shift, PVCLOCK_TSC_STABLE);
    return 0;
}

static int64_t shared_page(struct vm *vm, uint64_t gpa)
{
    struct vm_pv *p = &vm->pv;
    if (gpa != 0 && ((gpa & 63) || !ram_range(vm, gpa, sizeof *p->shared)))
        return ANF_EFAULT;
    if (p->shared) {                    /* its pending events are not lost */
        p->raised |= p->shared->pending;
        p->shared = NULL;
        p->shared_gpa = 0;
    }
    if (gpa == 0)
        return 0;
    p->shared = guest_ram_ptr(&vm->ram, gpa, sizeof *p->shared);
    p->shared_gpa = gpa;
    p->shared->mask = 1;
    p->shared->pending = 0;
    p->shared->upcalls = 0;
    vm_pv_update(vm);                   /* what was raised so far, into the page */
    p->check = true;
    return 0;
}

static int64_t event_bind(struct vm *vm, uint64_t ev, uint64_t vector)
{
    struct vm_pv *p = &vm->pv;
    if (ev > ANF_EV_MAX || (vector != 0 && (vector < 32 || vector > 255)))
        return ANF_EINVAL;
    p->vector[ev] = (uint8_t)vector;
    if (vector)
        p->bound |= 1ull << ev;
    else
        p->bound &= ~(1ull << ev);
    p->check = true;
    return 0;
}

static bool allows(const struct vm *target, const char *sender)
{
    for (unsigned i = 0; i < target->cfg.n_peers; i++)
        if (strcmp(target->cfg.peers[i], sender) == 0)
            return true;
    return false;
}

static int64_t event_send(struct vm *vm, uint64_t gpa, uint64_t len, uint64_t ev)
{
    if (ev < ANF_EV_PEER_MIN || ev > ANF_EV_MAX || len < 1 || len > GUEST_NAME_MAX)
        return ANF_EINVAL;
    if (!ram_range(vm, gpa, len))
        return ANF_EFAULT;
    char name[GUEST_NAME_MAX + 1];
    ram_copy(vm, gpa, name, len, false);
    name[len] = '\0';
    struct vm *target = vm_find(name);
    if (!target || (target->state != VM_RUNNING && target->state != VM_PAUSED))
        return ANF_ENOENT;
    if (!allows(target, vm->cfg.name))
        return ANF_EPERM;
    vm_pv_raise(target, (unsigned)ev);
    return 0;
}

static int64_t guest_info(struct vm *vm, uint64_t gpa, uint64_t len)
{
    struct anf_guest_info info;
    if (len < sizeof info)
        return ANF_EINVAL;
    if (!ram_range(vm, gpa, sizeof info))
        return ANF_EFAULT;
    memset(&info, 0, sizeof info);
    strcpy(info.name, vm->cfg.name);
    info.mem = vm->cfg.mem;
    info.vcpus = 1;
    info.id = (uint32_t)vm->id;
    ram_copy(vm, gpa, &info, sizeof info, true);
    return sizeof info;
}

static int64_t machine(struct vm *vm, enum vdev_machine_event event, uint64_t status)
{
    if (status > 255)
        return ANF_EINVAL;
    if (vm->machine_event < 0) {
        vm->machine_event = (int)event;
        vm->exit_status = (uint32_t)status;
    }
    return 0;
}

/* For make bench: TSC ticks from the host timer interrupt to the guest's handler. */
static int64_t irq_latency(struct vm *vm, uint64_t lo, uint64_t hi)
{
    uint64_t tsc = (hi & 0xFFFFFFFFull) << 32 | (lo & 0xFFFFFFFFull);
    return vm->inject_timer_tsc && tsc > vm->inject_timer_tsc ? (int64_t)(tsc - vm->inject_timer_tsc) : -1;
}

static int64_t call(struct vm *vm, struct vcpu_req *q, enum exit_action *after)
{
    uint64_t a1 = q->hypercall.a1, a2 = q->hypercall.a2, a3 = q->hypercall.a3;
    switch (q->hypercall.nr) {
    case ANF_HC_NOP:
        return 0;
    case ANF_HC_CONSOLE_WRITE:
        return console_write(vm, a1, a2);
    case ANF_HC_CONSOLE_READ:
        return console_read(vm, a1, a2);
    case ANF_HC_YIELD:
        *after = EXIT_YIELD;
        return 0;
    case ANF_HC_BLOCK:
        vm_pv_update(vm);
        if (!events_pending(vm)) {
            vm->pv.blocked = true;      /* request() puts the vCPU to sleep */
            *after = EXIT_YIELD;
        }
        return 0;
    case ANF_HC_SET_TIMER:
        return set_timer(vm, a1, a2);
    case ANF_HC_TIME: {
        uint64_t ns = guest_ns(vm);
        if (vcpu_in_64bit_mode(&vm->vcpu))
            return (int64_t)ns;
        q->hypercall.set_rdx = true;
        q->hypercall.rdx = ns >> 32;
        return (int64_t)(ns & 0xFFFFFFFFull);
    }
    case ANF_HC_TIME_PAGE:
        return time_page(vm, a1);
    case ANF_HC_SHARED_PAGE:
        return shared_page(vm, a1);
    case ANF_HC_EVENT_BIND:
        return event_bind(vm, a1, a2);
    case ANF_HC_EVENT_SEND:
        return event_send(vm, a1, a2, a3);
    case ANF_HC_GUEST_INFO:
        return guest_info(vm, a1, a2);
    case ANF_HC_SHUTDOWN:
        return machine(vm, VDEV_EXIT, a1);
    case ANF_HC_REBOOT:
        return machine(vm, VDEV_RESET, 0);
    case ANF_HC_IRQ_LATENCY:
        return irq_latency(vm, a1, a2);
    }
    return ANF_ENOSYS;
}

enum exit_action vm_hypercall(struct vm *vm)
{
    struct vcpu_req *q = &vm->vcpu.req;
    enum exit_action after = EXIT_CONTINUE;
    int64_t ret;
    vm->pv.calls++;
    uint64_t nr = q->hypercall.nr, kvm_ret;
    if (q->hypercall.cpl > 0)
        ret = ANF_EPERM;                /* VMCALL exits at any CPL: user code is refused */
    else if (nr != 0 && nr < ANF_HC_CONSOLE_WRITE && vm->kvm.on && vcpu_in_64bit_mode(&vm->vcpu) &&
             kvm_pv_hypercall(vm, nr, q->hypercall.a1, q->hypercall.a2, q->hypercall.a3, &kvm_ret, &after))
        ret = (int64_t)kvm_ret;         /* KVM's numbers, as KVM answers them (pv=on) */
    else
        ret = call(vm, q, &after);
    if (ret < 0)
        vm->pv.failed++;
    q->hypercall.ret = (uint64_t)ret;
    return after;
}

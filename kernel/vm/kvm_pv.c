/* KVM's paravirtual interface for guests with pv=on (kernel/vm/kvm_pv.h): what an unmodified
 * Linux finds at CPUID 0x40000100 and uses without being told.
 *
 * - kvm-clock. Guest time is nanoseconds since the load, counted by the guest's TSC; the
 *   time page (pvclock, the layout of kernel/vm/pvclock.h) says "guest time 0 at TSC tsc0"
 *   with the TSC's scale, and the guest computes the time from RDTSC without an exit. Its
 *   TSC runs at a constant rate and never goes back, so the page is marked stable and
 *   needs rewriting only when the guest moves its TSC (IA32_TSC, IA32_TSC_ADJUST): tsc0
 *   moves with it and guest time goes on. The wall clock is the guest's RTC (which starts
 *   at the host's date) minus guest time, i.e. the wall time at guest time 0.
 * - PV EOI: the MSR names a byte of guest RAM; the vLAPIC sets and reads it
 *   (vlapic_set_pv_eoi, kernel/vm/vdev/vlapic.c), as KVM's lapic.c does.
 * - Steal time: at the start of each slice, the guest CPU time other guests got while this
 *   one was ready to run and waiting (not while it was halted or paused) is added to its
 *   steal counter.
 * - PV sched-yield: KVM_HC_SCHED_YIELD gives up the slice.
 *
 * MSR validation follows KVM (arch/x86/kvm/x86.c, kvm_set_msr_common): the clock and wall
 * clock MSRs take any value and write nothing where there is no RAM; steal time refuses
 * reserved bits 1-5 (#GP) and writes nothing where there is no RAM; PV EOI refuses a
 * misaligned address or, when enabling, one that is not RAM (#GP). Reads give back what was
 * written. */
#include "kernel/vm/kvm_pv.h"
#include "kernel/vm/vm.h"
#include "kernel/vm/sched.h"
#include "kernel/log.h"
#include "kernel/printf.h"
#include "kernel/string.h"
#include "kernel/time.h"

#define NS_PER_S 1000000000ull
#define PAGE 4096ull

static uint64_t guest_tsc(const struct vm *vm)
{
    return vm->env.now_tsc(vm->env.ctx);
}

/* Guest time (ns) at guest TSC tsc. */
static uint64_t guest_ns_at(const struct kvm_pv *k, uint64_t tsc)
{
    return pvclock_scale_delta(tsc - k->tsc0, k->mul, k->shift);
}

static void write_clock(struct kvm_pv *k)
{
    if (k->clock)
        pvclock_write(k->clock, k->tsc0, 0, k->mul, k->shift, PVCLOCK_TSC_STABLE);
}

/* The guest moved its TSC (the offset changed by d): guest time goes on from where it was,
 * and the page says so. A guest reading the page between its WRMSR and its next exit to this
 * layer sees the old page (KVM rewrites it at the next entry too). */
static void follow_tsc(struct kvm_pv *k, uint64_t tsc_offset)
{
    if (tsc_offset == k->tsc_offset_seen)
        return;
    k->tsc0 += tsc_offset - k->tsc_offset_seen;
    k->tsc_offset_seen = tsc_offset;
    write_clock(k);
}

/* Days from 1970-01-01 to y-m-d (Gregorian, y >= 1970), counting in years that start in
 * March so that the leap day comes last. */
static uint64_t days_since_epoch(unsigned y, unsigned m, unsigned d)
{
    if (m <= 2)
        y--;
    uint64_t era = y / 400, yoe = y % 400;
    uint64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* The guest's wall time now, ns since 1970 (its RTC taken as UTC, as Linux takes it). */
static uint64_t wall_ns(struct vm *vm)
{
    struct datetime t;
    vrtc_get_time(&vm->rtc, &t);
    if (t.year < 1970 || t.month < 1 || t.month > 12 || t.day < 1)
        return 0;
    uint64_t s = days_since_epoch(t.year, t.month, t.day) * 86400 + t.hour * 3600u + t.min * 60u + t.sec;
    uint64_t now = vm->env.now_ns(vm->env.ctx), frac = 0;
    if (now > vm->rtc.second_start_ns)
        frac = now - vm->rtc.second_start_ns;
    return s * NS_PER_S + (frac < NS_PER_S ? frac : NS_PER_S - 1);
}

/* KVM's protocol: version odd while writing (made even first if the guest left it odd). */
static void write_wall_clock(volatile struct pvclock_wall_clock *wc, uint64_t wall, uint64_t guest)
{
    uint64_t at0 = wall > guest ? wall - guest : 0;
    uint32_t v = wc->version;
    v += (v & 1) + 1;
    wc->version = v;
    __asm__ volatile("" ::: "memory");
    wc->sec = (uint32_t)(at0 / NS_PER_S);         /* wraps in 2106, as KVM's */
    wc->nsec = (uint32_t)(at0 % NS_PER_S);
    __asm__ volatile("" ::: "memory");
    wc->version = v + 1;
}

/* Adds what was counted to the guest's steal area (version odd meanwhile). */
static void write_steal(struct kvm_pv *k)
{
    volatile struct kvm_steal_time *st = k->steal;
    if (!st)
        return;
    uint32_t v = st->version;
    v += (v & 1) + 1;
    st->version = v;
    __asm__ volatile("" ::: "memory");
    st->steal += k->steal_unwritten_ns;
    st->preempted = 0;
    __asm__ volatile("" ::: "memory");
    st->version = v + 1;
    k->steal_unwritten_ns = 0;
}

static void steal_add(struct kvm_pv *k, uint64_t ns)
{
    k->steal_ns += ns;
    k->steal_unwritten_ns += ns;
    write_steal(k);
}

/* The time page at gpa, if it is RAM and within one page (KVM's condition), else NULL. */
static volatile struct pvclock_time *clock_page(const struct vm *vm, uint64_t gpa)
{
    if ((gpa & (PAGE - 1)) + sizeof(struct pvclock_time) > PAGE)
        return NULL;
    return guest_ram_ptr(&vm->ram, gpa, sizeof(struct pvclock_time));
}

/* One WRMSR; false: #GP. */
static bool write_msr(struct vm *vm, uint32_t msr, uint64_t v)
{
    struct kvm_pv *k = &vm->kvm;
    switch (msr) {
    case MSR_KVM_SYSTEM_TIME_NEW:
        k->system_time_msr = v;
        follow_tsc(k, vm->vcpu.tsc_offset);
        k->clock = (v & KVM_MSR_ENABLED) ? clock_page(vm, v & ~KVM_MSR_ENABLED) : NULL;
        write_clock(k);
        return true;
    case MSR_KVM_WALL_CLOCK_NEW: {
        k->wall_clock_msr = v;
        volatile struct pvclock_wall_clock *wc = v ? guest_ram_ptr(&vm->ram, v, sizeof *wc) : NULL;
        if (wc) {
            follow_tsc(k, vm->vcpu.tsc_offset);
            write_wall_clock(wc, wall_ns(vm), guest_ns_at(k, guest_tsc(vm)));
        }
        return true;
    }
    case MSR_KVM_STEAL_TIME:
        if (v & KVM_STEAL_RESERVED_MASK)
            return false;
        k->steal_msr = v;
        k->steal = (v & KVM_MSR_ENABLED) ?
            guest_ram_ptr(&vm->ram, v & ~(KVM_STEAL_RESERVED_MASK | KVM_MSR_ENABLED), sizeof *k->steal) : NULL;
        k->steal_unwritten_ns = 0;      /* it counts from now */
        write_steal(k);
        return true;
    case MSR_KVM_PV_EOI_EN: {
        if (v & KVM_PV_EOI_RESERVED_MASK)
            return false;
        volatile uint8_t *flag = NULL;
        if (v & KVM_MSR_ENABLED) {
            flag = guest_ram_ptr(&vm->ram, v & ~KVM_MSR_ENABLED, 1);
            if (!flag)
                return false;
        }
        k->pv_eoi_msr = v;
        vlapic_set_pv_eoi(&vm->lapic, flag);
        return true;
    }
    }
    return false;
}

static bool read_msr(const struct kvm_pv *k, uint32_t msr, uint64_t *v)
{
    switch (msr) {
    case MSR_KVM_SYSTEM_TIME_NEW: *v = k->system_time_msr; return true;
    case MSR_KVM_WALL_CLOCK_NEW:  *v = k->wall_clock_msr; return true;
    case MSR_KVM_STEAL_TIME:      *v = k->steal_msr; return true;
    case MSR_KVM_PV_EOI_EN:       *v = k->pv_eoi_msr; return true;
    }
    return false;
}

bool kvm_pv_msr(struct vm *vm, struct vcpu_req *q)
{
    uint64_t v;
    if (!vm->kvm.on || !read_msr(&vm->kvm, q->msr.index, &v))
        return false;                   /* not ours: the vLAPIC's, or #GP */
    if (q->msr.write) {
        q->msr.ok = write_msr(vm, q->msr.index, q->msr.data);
    } else {
        q->msr.data = v;
        q->msr.ok = true;
    }
    return true;
}

void kvm_pv_reset(struct vm *vm)
{
    struct kvm_pv *k = &vm->kvm;
    memset(k, 0, sizeof *k);
    k->on = !vm->cfg.pv_off;
    pvclock_scale(time_tsc_hz(), &k->mul, &k->shift);
    k->tsc_offset_seen = vm->vcpu.tsc_offset;
    k->tsc0 = guest_tsc(vm);
    vm->vcpu.pv_cpuid.kvm = k->on;
    vm->vcpu.pv_cpuid.kvm_features = k->on ? KVM_PV_FEATURES : 0;
}

void kvm_pv_before_entry(struct vm *vm)
{
    if (vm->kvm.on)
        follow_tsc(&vm->kvm, vm->vcpu.tsc_offset);
}

static struct vm *slice_owner;          /* whose slice began last */

void kvm_pv_slice_start(struct vm *vm)
{
    /* Guest CPU time (sched_total_run_tsc) grows only while some guest runs or loads, so
     * what it grew by between the end of vm's last slice and now is what the others got. */
    uint64_t total = sched_total_run_tsc();
    struct vm *prev = slice_owner;
    if (prev) {                         /* its slice has ended: its wait begins */
        prev->kvm.waiting = true;
        prev->kvm.wait_from = total;
        prev->kvm.wait_halted = prev->vcpu.halted;
        prev->kvm.wait_paused_ns = prev->paused_ns;
    }
    slice_owner = vm;
    struct kvm_pv *k = &vm->kvm;
    if (!k->waiting)
        return;                         /* its first slice since the load */
    k->waiting = false;
    /* Halted, it was not ready; paused meanwhile, not for all that time. */
    if (k->wait_halted || vm->paused_ns != k->wait_paused_ns || total <= k->wait_from)
        return;
    steal_add(k, time_tsc_to_ns(total - k->wait_from));
}

bool kvm_pv_hypercall(struct vm *vm, uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
                      uint64_t *ret, enum exit_action *after)
{
    (void)a1, (void)a2, (void)a3;
    if (nr != KVM_HC_SCHED_YIELD)
        return false;
    /* KVM yields to the vCPU with APIC ID a1 if it was preempted; each guest here has one
     * vCPU, and the others' are other guests': give them the CPU. */
    vm->kvm.yields++;
    *ret = 0;
    *after = EXIT_YIELD;
    return true;
}

/* "0x1000" for an MSR with its enable bit set, "off" otherwise. */
static const char *msr_gpa(uint64_t msr, uint64_t mask, char *buf, size_t n)
{
    if (!(msr & KVM_MSR_ENABLED))
        return "off";
    snprintf(buf, n, "0x%lx", msr & ~mask);
    return buf;
}

void kvm_pv_print(const struct vm *vm)
{
    const struct kvm_pv *k = &vm->kvm;
    if (!k->on)
        return;
    char c[24], e[24], s[24];
    kprintf("  kvm: clock %s, PV EOI %s (%lu EOIs in memory), steal time %s (%lu ms), %lu yields\n",
            msr_gpa(k->system_time_msr, KVM_MSR_ENABLED, c, sizeof c),
            msr_gpa(k->pv_eoi_msr, KVM_MSR_ENABLED, e, sizeof e), vm->lapic.pv_eois,
            msr_gpa(k->steal_msr, KVM_STEAL_RESERVED_MASK | KVM_MSR_ENABLED, s, sizeof s),
            k->steal_ns / 1000000, k->yields);
}

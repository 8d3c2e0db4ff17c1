/* Unit tests of KVM's paravirtual interface (kernel/vm/kvm_pv.c, docs/hypercalls.md "What Linux
 * already knows"): the pvclock math (kernel/vm/pvclock.c) for several TSC rates, the kvm-clock
 * page and wall clock, following a guest TSC write, PV EOI (the vLAPIC's side,
 * kernel/vm/vdev/vlapic.c), steal time accounting, the MSRs' validation as KVM does it, pv=off,
 * and KVM_HC_SCHED_YIELD. kvm_pv.c, pvclock.c and the vLAPIC are included whole; the clocks
 * are fake_env.h's; the RTC's reading and the rest of the VM layer are faked below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/vm/kvm_pv.c"
#include "kernel/vm/pvclock.c"
#include "tests/unit/fake_guest_ram.h"
#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vlapic.c"
#include "fake_env.h"

/* ---- fakes ------------------------------------------------------------------------------- */

#define RAM_SIZE (4ull << 20)
#define TSC_HZ 2000000000ull            /* 0.5 ns per tick */
static uint64_t fake_hz = TSC_HZ;
static uint64_t fake_total;             /* sched_total_run_tsc() */
static char printed[512];
static struct datetime rtc_now;         /* what the guest's RTC reads */

void vrtc_get_time(struct vrtc *r, struct datetime *dt) { (void)r; *dt = rtc_now; }

uint64_t time_tsc_hz(void) { return fake_hz; }
uint64_t time_tsc_to_ns(uint64_t tsc) { return tsc * 1000000000ull / fake_hz; }
uint64_t sched_total_run_tsc(void) { return fake_total; }

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = strlen(printed);
    vsnprintf(printed + n, sizeof printed - n, fmt, ap);
    va_end(ap);
}


static struct vm vm_a, vm_b;

/* A loaded guest: RAM, a vLAPIC and RTC on the shared fake clocks, KVM's state reset. */
static void free_vm(struct vm *vm)
{
    fake_guest_ram_free(&vm->ram);
}

static void make_vm(struct vm *vm, const char *name, bool pv_off)
{
    free_vm(vm);
    memset(vm, 0, sizeof *vm);
    strcpy(vm->cfg.name, name);
    vm->cfg.pv_off = pv_off;
    vm->state = VM_RUNNING;
    fake_guest_ram_alloc(&vm->ram, RAM_SIZE);
    fake_env_init(&vm->env);
    vdev_bus_init(&vm->bus);
    vlapic_init(&vm->lapic, &vm->env, 0, 1000000, TSC_HZ, 36);
    assert_int_equal(vlapic_attach(&vm->lapic, &vm->bus), 0);
    kvm_pv_reset(vm);
}

static int setup(void **state)
{
    (void)state;
    fake_hz = TSC_HZ;
    fake_total = 0;
    printed[0] = 0;
    slice_owner = NULL;
    make_vm(&vm_a, "web", false);
    make_vm(&vm_b, "db", false);
    fake_set_tsc(1000000);              /* the guests' TSC at their load: tsc0 */
    kvm_pv_reset(&vm_a);
    kvm_pv_reset(&vm_b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free_vm(&vm_a);
    free_vm(&vm_b);
    return 0;
}

static void *gptr(struct vm *vm, uint64_t gpa) { return fake_gptr(&vm->ram, gpa); }

/* The guest's RDMSR/WRMSR as msr_request() (kernel/vm/run.c) hands it over: -1 when it is not
 * one of KVM's (the vLAPIC's or #GP), else 0 (done) or 1 (#GP). */
static int wrmsr(struct vm *vm, uint32_t msr, uint64_t v)
{
    struct vcpu_req q = { .kind = VCPU_REQ_MSR };
    q.msr.index = msr, q.msr.write = true, q.msr.data = v;
    if (!kvm_pv_msr(vm, &q))
        return -1;
    return q.msr.ok ? 0 : 1;
}

static uint64_t rdmsr(struct vm *vm, uint32_t msr)
{
    struct vcpu_req q = { .kind = VCPU_REQ_MSR };
    q.msr.index = msr;
    assert_true(kvm_pv_msr(vm, &q));
    assert_true(q.msr.ok);
    return q.msr.data;
}

/* ---- pvclock math ------------------------------------------------------------------------ */

/* The reference: (delta shifted) * mul >> 32 in 128 bits. */
static uint64_t ref_scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    unsigned __int128 d = shift < 0 ? delta >> -shift : (unsigned __int128)delta << shift;
    return (uint64_t)((d * mul) >> 32);
}

static void test_scale_for_several_tsc_rates(void **state)
{
    (void)state;
    static const uint64_t rates[] = { 1000000, 33333333, 200000000, 999999999, 1000000000,
                                      1000000001, 2000000000, 2400000000ull, 3500000000ull,
                                      5000000000ull, 8000000000ull, 12000000000ull };
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        uint64_t hz = rates[i];
        uint32_t mul;
        int8_t shift;
        pvclock_scale(hz, &mul, &shift);
        /* As large a multiplier as the shift allows: above 2^31 (full precision), except
         * past 8 GHz where the shift stops at -2. */
        if (hz <= 8000000000ull)
            assert_true(mul >= 0x80000000u);
        /* One second of ticks is one second, to within the multiplier's resolution. */
        uint64_t ns = pvclock_scale_delta(hz, mul, shift);
        assert_true(ns <= 1000000000ull && ns >= 1000000000ull - 4);
        /* Linux's pvclock_tsc_khz() recovers the rate from the page. */
        uint64_t khz = (1000000ull << 32) / mul;
        khz = shift < 0 ? khz << -shift : khz >> shift;
        assert_true(khz <= hz / 1000 + 1 && khz + 2 >= hz / 1000);
    }
}

static void test_scale_delta_has_no_overflow(void **state)
{
    (void)state;
    static const uint64_t deltas[] = { 0, 1, 0xFFFFFFFFull, 0x100000000ull, 123456789012345ull,
                                       1ull << 50, (1ull << 58) + 12345, (1ull << 60) - 1 };
    static const uint64_t rates[] = { 200000000, 1000000000, 3500000000ull, 12000000000ull };
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        uint32_t mul;
        int8_t shift;
        pvclock_scale(rates[r], &mul, &shift);
        for (size_t i = 0; i < sizeof deltas / sizeof *deltas; i++) {
            if (shift > 0 && deltas[i] >> (64 - shift))
                continue;               /* centuries of ticks: the guest's problem too */
            assert_int_equal(pvclock_scale_delta(deltas[i], mul, shift), ref_scale(deltas[i], mul, shift));
        }
    }
    /* A day at 200 MHz is 86400 s, to within a few microseconds of drift. */
    uint32_t mul;
    int8_t shift;
    pvclock_scale(200000000, &mul, &shift);
    uint64_t day = pvclock_scale_delta(86400ull * 200000000, mul, shift);
    assert_true(day <= 86400ull * 1000000000 && day + 100000 > 86400ull * 1000000000);
}

static void test_page_version_protocol(void **state)
{
    (void)state;
    static struct pvclock_time page;
    memset(&page, 0, sizeof page);
    pvclock_write(&page, 1000, 5, 0x80000000u, 1, PVCLOCK_TSC_STABLE);
    assert_int_equal(page.version, 2);              /* odd while writing, even after */
    assert_int_equal(page.tsc_timestamp, 1000);
    assert_int_equal(page.system_time, 5);
    assert_int_equal(page.tsc_to_system_mul, 0x80000000u);
    assert_int_equal(page.tsc_shift, 1);
    assert_int_equal(page.flags, PVCLOCK_TSC_STABLE);
    assert_int_equal(pvclock_read(&page, 1000 + 10), 5 + 10);   /* (10 << 1) * 1/2 */
    pvclock_write(&page, 2000, 6, 0x80000000u, 1, PVCLOCK_TSC_STABLE);
    assert_int_equal(page.version, 4);
    page.version = 7;                               /* junk the guest left there */
    pvclock_write(&page, 2000, 6, 0x80000000u, 1, PVCLOCK_TSC_STABLE);
    assert_true(page.version > 7 && !(page.version & 1));
}

/* ---- kvm-clock --------------------------------------------------------------------------- */

static void test_cpuid_leaves_pv_on_and_off(void **state)
{
    (void)state;
    assert_true(vm_a.vcpu.pv_cpuid.kvm);
    assert_int_equal(vm_a.vcpu.pv_cpuid.kvm_features, 0x01002068);  /* bits 3, 5, 6, 13, 24 */
    assert_false(vm_a.vcpu.pv_cpuid.kvm_features & (1u << KVM_FEATURE_CLOCKSOURCE));
    make_vm(&vm_b, "db", true);                     /* pv=off */
    assert_false(vm_b.vcpu.pv_cpuid.kvm);
    assert_int_equal(vm_b.vcpu.pv_cpuid.kvm_features, 0);
}

static void test_system_time_page(void **state)
{
    (void)state;
    uint64_t gpa = 0x2040;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, gpa | 1), 0);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW), gpa | 1);
    struct pvclock_time *p = gptr(&vm_a, gpa);
    assert_int_equal(p->version, 2);
    assert_int_equal(p->tsc_timestamp, 1000000);    /* guest time 0 at the load's TSC */
    assert_int_equal(p->system_time, 0);
    assert_int_equal(p->flags, PVCLOCK_TSC_STABLE);
    uint32_t mul;
    int8_t shift;
    pvclock_scale(TSC_HZ, &mul, &shift);
    assert_int_equal(p->tsc_to_system_mul, mul);
    assert_int_equal(p->tsc_shift, shift);
    /* What the guest computes: ns since its load. */
    assert_int_equal(pvclock_read(p, 1000000 + 3 * TSC_HZ), 3000000000ull);
    /* Off: the page is left alone. */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, gpa), 0);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW), gpa);
    vm_a.vcpu.tsc_offset += 777;
    kvm_pv_before_entry(&vm_a);
    assert_int_equal(p->version, 2);
}

static void test_system_time_outside_ram_accepted_not_written(void **state)
{
    (void)state;
    /* KVM takes any value and writes only where there is memory (a page it can map). */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, RAM_SIZE | 1), 0);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW), RAM_SIZE | 1);
    assert_null(vm_a.kvm.clock);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, 0xFFFFFFFFFFFFFFF1ull), 0);
    assert_null(vm_a.kvm.clock);
    /* Across a page boundary: not written either. */
    memset(gptr(&vm_a, 0x4000 - 16), 0x55, 32);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, (0x4000 - 16) | 1), 0);
    assert_null(vm_a.kvm.clock);
    assert_int_equal(*(uint8_t *)gptr(&vm_a, 0x4000 - 16), 0x55);
}

static void test_page_follows_guest_tsc_write(void **state)
{
    (void)state;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, 0x1000 | 1), 0);
    struct pvclock_time *p = gptr(&vm_a, 0x1000);
    uint64_t host_tsc = 5 * TSC_HZ, old_guest_tsc = host_tsc + vm_a.vcpu.tsc_offset;
    uint64_t before = pvclock_read(p, old_guest_tsc);
    /* The guest writes IA32_TSC = 42 (vmx/exit_msr.c moves the offset). */
    vm_a.vcpu.tsc_offset += 42 - old_guest_tsc;
    kvm_pv_before_entry(&vm_a);
    assert_int_equal(p->version, 4);
    assert_int_equal(pvclock_read(p, 42), before);  /* guest time goes on from where it was */
    assert_int_equal(pvclock_read(p, 42 + TSC_HZ), before + 1000000000ull);
    kvm_pv_before_entry(&vm_a);                     /* nothing moved: nothing rewritten */
    assert_int_equal(p->version, 4);
    /* And a page registered after the move counts from the same origin. */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, 0x1100 | 1), 0);
    assert_int_equal(pvclock_read(gptr(&vm_a, 0x1100), 42), before);
}

static void test_wall_clock(void **state)
{
    (void)state;
    assert_int_equal(days_since_epoch(1970, 1, 1), 0);
    assert_int_equal(days_since_epoch(2000, 3, 1), 11017);
    assert_int_equal(days_since_epoch(2024, 2, 29), 19782);
    assert_int_equal(days_since_epoch(2026, 12, 3), 20790);
    /* The RTC (set from the host's CMOS at load) reads 2026-12-03 11:18:01 and a quarter;
     * the guest has run 3 s: its wall clock at guest time 0 is 2.75 s earlier. */
    rtc_now = (struct datetime){ .year = 2026, .month = 12, .day = 3, .hour = 11, .min = 18, .sec = 1 };
    vm_a.rtc.second_start_ns = 7000000000ull;       /* when its current second began */
    fake_set_ns(7250000000ull);
    fake_set_tsc(1000000 + 3 * TSC_HZ);
    uint64_t gpa = 0x3004;
    struct pvclock_wall_clock *wc = gptr(&vm_a, gpa);
    wc->version = 9;                                /* junk: made even, then odd, then even */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_WALL_CLOCK_NEW, gpa), 0);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_WALL_CLOCK_NEW), gpa);
    uint64_t expect = (20790ull * 86400 + 11 * 3600 + 18 * 60 + 1) * 1000000000ull + 250000000 - 3000000000ull;
    assert_int_equal(wc->sec, expect / 1000000000ull);
    assert_int_equal(wc->nsec, expect % 1000000000ull);
    assert_int_equal(wc->version, 12);
    /* Outside RAM (or 0): accepted, nothing written. */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_WALL_CLOCK_NEW, RAM_SIZE - 4), 0);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_WALL_CLOCK_NEW, 0), 0);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_WALL_CLOCK_NEW), 0);
}

/* ---- MSR validation ---------------------------------------------------------------------- */

static void test_msrs_not_offered_are_not_kvm_pv(void **state)
{
    (void)state;
    /* -1: msr_request() goes on to the vLAPIC, which has none of them: #GP. */
    static const uint32_t others[] = { MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME, 0x4b564d02,
                                       0x4b564d05, 0x4b564d06, 0x4b564d07, 0x4b564d08, 0x4b564cff };
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        assert_int_equal(wrmsr(&vm_a, others[i], 0x1001), -1);
        assert_false(vlapic_handles_msr(others[i]));
    }
    /* pv=off: none of KVM's MSRs at all. */
    make_vm(&vm_b, "db", true);
    static const uint32_t ours[] = { MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW,
                                     MSR_KVM_STEAL_TIME, MSR_KVM_PV_EOI_EN };
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++) {
        assert_int_equal(wrmsr(&vm_b, ours[i], 0x1001), -1);
        struct vcpu_req q = { .kind = VCPU_REQ_MSR };
        q.msr.index = ours[i];
        assert_false(kvm_pv_msr(&vm_b, &q));
    }
    assert_null(vm_b.lapic.pv_eoi);
}

static void test_steal_msr_validation(void **state)
{
    (void)state;
    for (unsigned bit = 1; bit <= 5; bit++)         /* reserved: the area is 64-byte aligned */
        assert_int_equal(wrmsr(&vm_a, MSR_KVM_STEAL_TIME, 0x2000 | (1ull << bit) | 1), 1);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_STEAL_TIME), 0);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_STEAL_TIME, (RAM_SIZE + 0x40) | 1), 0);   /* no RAM */
    assert_null(vm_a.kvm.steal);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_STEAL_TIME), (RAM_SIZE + 0x40) | 1);
    struct kvm_steal_time *st = gptr(&vm_a, 0x2000);
    st->version = 3;                                /* junk */
    st->steal = 100;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_STEAL_TIME, 0x2000 | 1), 0);
    assert_ptr_equal(vm_a.kvm.steal, st);
    assert_int_equal(st->version, 6);               /* even, and moved on */
    assert_int_equal(st->steal, 100);               /* the guest's count is kept, as KVM does */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_STEAL_TIME, 0x2000), 0);  /* off */
    assert_null(vm_a.kvm.steal);
}

static void test_pv_eoi_msr_validation(void **state)
{
    (void)state;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, 0x2002 | 1), 1);   /* not 4-byte aligned */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, 0x2002), 1);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, RAM_SIZE | 1), 1);  /* enabling: must be RAM */
    assert_null(vm_a.lapic.pv_eoi);
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_PV_EOI_EN), 0);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, RAM_SIZE), 0);      /* off: any address */
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_PV_EOI_EN), RAM_SIZE);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, 0x2004 | 1), 0);
    assert_ptr_equal(vm_a.lapic.pv_eoi, gptr(&vm_a, 0x2004));
    assert_int_equal(rdmsr(&vm_a, MSR_KVM_PV_EOI_EN), 0x2004 | 1);
}

/* ---- PV EOI ------------------------------------------------------------------------------ */

static struct vlapic *lapic;
static volatile uint8_t *flag;

static void pv_eoi_on(void)
{
    lapic = &vm_a.lapic;
    vlapic_mmio_write(lapic, VLAPIC_REG_SVR, 4, 0x1FF);     /* software-enabled */
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, 0x2000 | 1), 0);
    flag = gptr(&vm_a, 0x2000);
}

static bool in_service(uint8_t v) { return test_bit(lapic->isr, v); }

/* What deliver_interrupt() does for the LAPIC: update, the pending vector, its ack. */
static int take(void)
{
    vlapic_update(lapic);
    int v = vlapic_pending_vector(lapic);
    if (v >= 0)
        vlapic_ack(lapic, (uint8_t)v);
    return v;
}

static void test_pv_eoi_edge_interrupt_eoi_in_memory(void **state)
{
    (void)state;
    pv_eoi_on();
    vlapic_set_irq(lapic, 0xEC, false);
    assert_int_equal(take(), 0xEC);
    assert_int_equal(*flag, 1);                     /* the guest may EOI by clearing it */
    assert_true(in_service(0xEC));
    vlapic_update(lapic);                           /* still set: not acknowledged yet */
    assert_true(in_service(0xEC));
    *flag = 0;                                      /* Linux's kvm_guest_apic_eoi_write() */
    /* The next look at the vLAPIC (before an entry, or when the scheduler asks whether the
     * halted guest can run) does the EOI: the same vector can come in again. */
    vlapic_set_irq(lapic, 0xEC, false);
    assert_int_equal(take(), 0xEC);
    assert_int_equal(lapic->pv_eois, 1);
    assert_int_equal(fake.n_eoi, 0);                /* edge: no IOAPIC EOI */
}

static void test_pv_eoi_not_for_level_or_with_irr_pending(void **state)
{
    (void)state;
    pv_eoi_on();
    vlapic_set_irq(lapic, 0x31, true);              /* level: the IOAPIC wants its EOI */
    assert_int_equal(take(), 0x31);
    assert_int_equal(*flag, 0);
    vlapic_mmio_write(lapic, VLAPIC_REG_EOI, 4, 0);
    assert_int_equal(fake.n_eoi, 1);
    assert_int_equal(fake.last_eoi, 0x31);
    /* Two waiting: the first's EOI must exit so that the second comes in at once. */
    vlapic_set_irq(lapic, 0x51, false);
    vlapic_set_irq(lapic, 0x41, false);
    assert_int_equal(take(), 0x51);
    assert_int_equal(*flag, 0);
    assert_false(lapic->pv_eoi_pending);
}

static void test_pv_eoi_withdrawn_when_a_vector_arrives(void **state)
{
    (void)state;
    pv_eoi_on();
    vlapic_set_irq(lapic, 0x80, false);
    assert_int_equal(take(), 0x80);
    assert_int_equal(*flag, 1);
    vlapic_set_irq(lapic, 0x41, false);             /* below the PPR: waits for 0x80's EOI */
    assert_int_equal(take(), -1);
    assert_int_equal(*flag, 0);                     /* so that EOI goes by the register */
    assert_true(in_service(0x80));
    vlapic_mmio_write(lapic, VLAPIC_REG_EOI, 4, 0);
    assert_false(in_service(0x80));
    assert_int_equal(take(), 0x41);
    assert_int_equal(*flag, 1);
    assert_int_equal(lapic->pv_eois, 0);
}

static void test_pv_eoi_nested_and_register_access_sees_it(void **state)
{
    (void)state;
    pv_eoi_on();
    vlapic_set_irq(lapic, 0x41, false);
    assert_int_equal(take(), 0x41);
    assert_int_equal(*flag, 1);
    vlapic_set_irq(lapic, 0x91, false);             /* higher: nests */
    assert_int_equal(take(), 0x91);
    assert_int_equal(*flag, 1);                     /* now for 0x91, the highest in service */
    *flag = 0;                                      /* 0x91's handler: EOI in memory */
    /* 0x41's handler reads ISR, then EOIs through the register (its flag is clear): each
     * access first takes the memory EOI into account. */
    uint32_t isr4 = (uint32_t)vlapic_mmio_read(lapic, VLAPIC_REG_ISR + 0x40, 4);
    assert_false(isr4 & (1u << (0x91 % 32)));
    assert_true(in_service(0x41));
    vlapic_mmio_write(lapic, VLAPIC_REG_EOI, 4, 0);
    assert_false(in_service(0x41));
    assert_int_equal(lapic->pv_eois, 1);
    /* x2APIC: the same through the MSRs. */
    assert_int_equal(vlapic_wrmsr(lapic, VLAPIC_MSR_APIC_BASE,
                                  VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EN | VLAPIC_BASE_EXTD), 0);
    vlapic_set_irq(lapic, 0x61, false);
    assert_int_equal(take(), 0x61);
    *flag = 0;
    uint64_t ppr;
    assert_int_equal(vlapic_rdmsr(lapic, 0x80A, &ppr), 0);
    assert_int_equal(ppr, 0);
}

static void test_pv_eoi_disable_or_move_while_set(void **state)
{
    (void)state;
    pv_eoi_on();
    vlapic_set_irq(lapic, 0x50, false);
    assert_int_equal(take(), 0x50);
    assert_int_equal(*flag, 1);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, 0x2100 | 1), 0);     /* moved */
    assert_int_equal(*flag, 0);                     /* the old byte no longer stands for it */
    assert_true(in_service(0x50));
    assert_int_equal(*(uint8_t *)gptr(&vm_a, 0x2100), 0);
    vlapic_mmio_write(lapic, VLAPIC_REG_EOI, 4, 0);
    assert_false(in_service(0x50));
    /* Cleared by the guest, then disabled: the EOI it made counts. */
    vlapic_set_irq(lapic, 0x50, false);
    assert_int_equal(take(), 0x50);
    volatile uint8_t *f2 = gptr(&vm_a, 0x2100);
    assert_int_equal(*f2, 1);
    *f2 = 0;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, 0), 0);
    assert_false(in_service(0x50));
    assert_null(lapic->pv_eoi);
    /* Off: nothing is set. */
    vlapic_set_irq(lapic, 0x50, false);
    assert_int_equal(take(), 0x50);
    assert_int_equal(*f2, 0);
}

static void test_pv_eoi_apic_disable_withdraws(void **state)
{
    (void)state;
    pv_eoi_on();
    vlapic_set_irq(lapic, 0x50, false);
    assert_int_equal(take(), 0x50);
    assert_int_equal(vlapic_wrmsr(lapic, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT), 0);
    assert_int_equal(*flag, 0);
    assert_false(lapic->pv_eoi_pending);
}

/* ---- steal time -------------------------------------------------------------------------- */

static void test_steal_counts_others_run_while_ready(void **state)
{
    (void)state;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_STEAL_TIME, 0x2000 | 1), 0);
    struct kvm_steal_time *st = gptr(&vm_a, 0x2000);
    assert_int_equal(st->version, 2);
    kvm_pv_slice_start(&vm_a);                      /* a runs ... */
    fake_total += 1000;
    kvm_pv_slice_start(&vm_b);                      /* ... is preempted; b runs 4000 ticks */
    fake_total += 4000;
    kvm_pv_slice_start(&vm_a);
    assert_int_equal(st->steal, 2000);              /* 4000 ticks at 2 GHz */
    assert_int_equal(st->version, 4);
    assert_int_equal(vm_a.kvm.steal_ns, 2000);
    assert_int_equal(vm_b.kvm.steal_ns, 0);         /* its first slice: no wait before it */
    fake_total += 1000;                             /* a runs 1000 ticks while b waits */
    kvm_pv_slice_start(&vm_b);
    assert_int_equal(vm_b.kvm.steal_ns, 500);       /* counted even without an area */
    assert_int_equal(st->steal, 2000);
}

static void test_steal_not_while_halted_or_paused(void **state)
{
    (void)state;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_STEAL_TIME, 0x2000 | 1), 0);
    struct kvm_steal_time *st = gptr(&vm_a, 0x2000);
    kvm_pv_slice_start(&vm_a);
    fake_total += 1000;
    vm_a.vcpu.halted = true;                        /* its slice ended in HLT */
    kvm_pv_slice_start(&vm_b);
    fake_total += 4000;
    vm_a.vcpu.halted = false;                       /* woken */
    kvm_pv_slice_start(&vm_a);
    assert_int_equal(st->steal, 0);
    assert_int_equal(st->version, 2);               /* nothing to add: not rewritten */
    fake_total += 1000;
    kvm_pv_slice_start(&vm_b);
    fake_total += 4000;
    vm_a.paused_ns += 1000000;                      /* paused by the shell meanwhile */
    kvm_pv_slice_start(&vm_a);
    assert_int_equal(st->steal, 0);
    /* Alone: back to back slices steal nothing. */
    fake_total += 1000;
    kvm_pv_slice_start(&vm_a);
    assert_int_equal(vm_a.kvm.steal_ns, 0);
}

/* ---- hypercall, shell -------------------------------------------------------------------- */

static void test_sched_yield_hypercall(void **state)
{
    (void)state;
    uint64_t ret = 99;
    enum exit_action after = EXIT_CONTINUE;
    assert_true(kvm_pv_hypercall(&vm_a, KVM_HC_SCHED_YIELD, 0, 0, 0, &ret, &after));
    assert_int_equal(ret, 0);
    assert_int_equal(after, EXIT_YIELD);
    assert_int_equal(vm_a.kvm.yields, 1);
    after = EXIT_CONTINUE;
    for (uint64_t nr = 0; nr < 0x100; nr++)
        if (nr != KVM_HC_SCHED_YIELD)
            assert_false(kvm_pv_hypercall(&vm_a, nr, 1, 2, 3, &ret, &after));
    assert_int_equal(after, EXIT_CONTINUE);
}

static void test_info_line(void **state)
{
    (void)state;
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_SYSTEM_TIME_NEW, 0x1000 | 1), 0);
    assert_int_equal(wrmsr(&vm_a, MSR_KVM_PV_EOI_EN, 0x2004 | 1), 0);
    kvm_pv_print(&vm_a);
    assert_string_equal(printed, "  kvm: clock 0x1000, PV EOI 0x2004 (0 EOIs in memory), "
                        "steal time off (0 ms), 0 yields\n");
    printed[0] = 0;
    make_vm(&vm_b, "db", true);
    kvm_pv_print(&vm_b);                            /* pv=off: nothing */
    assert_string_equal(printed, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scale_for_several_tsc_rates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_delta_has_no_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_version_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpuid_leaves_pv_on_and_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_time_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_time_outside_ram_accepted_not_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_follows_guest_tsc_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msrs_not_offered_are_not_kvm_pv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steal_msr_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_eoi_msr_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_eoi_edge_interrupt_eoi_in_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_eoi_not_for_level_or_with_irr_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_eoi_withdrawn_when_a_vector_arrives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_eoi_nested_and_register_access_sees_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_eoi_disable_or_move_while_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pv_eoi_apic_disable_withdraws, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steal_counts_others_run_while_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steal_not_while_halted_or_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_yield_hypercall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the virtual local APIC (kernel/vm/vdev/vlapic.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vlapic.c"
#include "fake_env.h"

#define BUS_HZ 100000000ull  /* 10 ns per bus clock */
#define TSC_HZ 2000000000ull /* 0.5 ns per TSC tick */
#define APIC_ID 3

static struct vdev_env env;
static struct vdev_bus bus;
static struct vlapic lapic;

static uint32_t rd(uint32_t off) { return (uint32_t)vlapic_mmio_read(&lapic, off, 4); }
static void wr(uint32_t off, uint32_t v) { vlapic_mmio_write(&lapic, off, 4, v); }
static bool irr_has(uint8_t v) { return rd(VLAPIC_REG_IRR + (v / 32) * 16) & (1u << (v % 32)); }
static bool isr_has(uint8_t v) { return rd(VLAPIC_REG_ISR + (v / 32) * 16) & (1u << (v % 32)); }

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    vdev_bus_init(&bus);
    vlapic_init(&lapic, &env, APIC_ID, BUS_HZ, TSC_HZ, 36);
    assert_int_equal(vlapic_attach(&lapic, &bus), 0);
    return 0;
}

/* What Linux's setup_local_APIC() leaves: APIC on, spurious vector 0xFF, TPR 0. */
static void enable(void) { wr(VLAPIC_REG_SVR, 0x1FF); }

static void set_base(uint64_t v) { assert_int_equal(vlapic_wrmsr(&lapic, VLAPIC_MSR_APIC_BASE, v), 0); }

/* Is the xAPIC page on the bus at base (claimed by the vlapic)? */
static bool page_at(uint64_t base)
{
    const struct vdev_mmio_range *r = vdev_mmio_find(&bus, base);
    return r && r->base == base && r->len == VLAPIC_SIZE && r->dev == &lapic;
}

/* A 4-byte guest read at gpa through the bus; all-ones where nothing answers (the VM
 * layer's bad_access() in kernel/vm/run.c). */
static uint32_t bus_rd(uint64_t gpa)
{
    uint64_t v;
    return vdev_mmio_read(&bus, gpa, 4, &v) ? (uint32_t)v : 0xFFFFFFFFu;
}

static void enter_x2apic(void)
{
    assert_int_equal(vlapic_wrmsr(&lapic, VLAPIC_MSR_APIC_BASE,
                                  VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EN | VLAPIC_BASE_EXTD), 0);
}

/* Takes the pending vector as the core would at injection; returns it. */
static int take(void)
{
    vlapic_update(&lapic);
    int v = vlapic_pending_vector(&lapic);
    if (v >= 0)
        vlapic_ack(&lapic, (uint8_t)v);
    return v;
}

static void test_reset_state(void **state)
{
    (void)state;
    uint64_t base;
    assert_int_equal(vlapic_rdmsr(&lapic, VLAPIC_MSR_APIC_BASE, &base), 0);
    assert_int_equal(base, 0xFEE00900ull);
    assert_true(vlapic_hw_enabled(&lapic));
    assert_false(vlapic_x2apic_mode(&lapic));
    assert_int_equal(vlapic_base(&lapic), VLAPIC_BASE_DEFAULT);
    uint64_t gpa_val;
    assert_true(vdev_mmio_read(&bus, VLAPIC_BASE_DEFAULT + VLAPIC_REG_SVR, 4, &gpa_val));
    assert_int_equal(gpa_val, 0xFF);
    assert_int_equal(rd(VLAPIC_REG_DFR), 0xFFFFFFFFu);
    assert_int_equal(rd(VLAPIC_REG_TPR), 0);
    assert_int_equal(rd(VLAPIC_REG_LVT_TIMER), VLAPIC_LVT_MASKED);
    assert_int_equal(rd(VLAPIC_REG_LVT_ERROR), VLAPIC_LVT_MASKED);
    assert_int_equal(rd(VLAPIC_REG_LVT_CMCI), VLAPIC_LVT_MASKED);
    assert_int_equal(rd(VLAPIC_REG_LVT_LINT0), 0x700);
    assert_int_equal(rd(VLAPIC_REG_LVT_LINT1), 0x400);
    assert_int_equal(rd(VLAPIC_REG_TIMER_ICR), 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 0);
    assert_int_equal(vlapic_next_event_ns(&lapic), UINT64_MAX);
    /* Software-disabled: a fixed interrupt is discarded. */
    vlapic_set_irq(&lapic, 0x40, false);
    assert_false(irr_has(0x40));
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
}

static void test_id_version_and_widths(void **state)
{
    (void)state;
    assert_int_equal(rd(VLAPIC_REG_ID), APIC_ID << 24);
    assert_int_equal(rd(VLAPIC_REG_VERSION), 0x00060014);
    assert_int_equal(vlapic_mmio_read(&lapic, VLAPIC_REG_ID + 3, 1), APIC_ID);
    assert_int_equal(vlapic_mmio_read(&lapic, VLAPIC_REG_VERSION + 2, 2), 0x0006);
    assert_int_equal(vlapic_mmio_read(&lapic, VLAPIC_REG_ID, 8), APIC_ID << 24);
    assert_int_equal(vlapic_mmio_read(&lapic, VLAPIC_REG_ID + 4, 4), 0);
    /* Only aligned 4-byte writes count. */
    vlapic_mmio_write(&lapic, VLAPIC_REG_TPR, 1, 0x30);
    vlapic_mmio_write(&lapic, VLAPIC_REG_TPR, 8, 0x30);
    vlapic_mmio_write(&lapic, VLAPIC_REG_TPR + 4, 4, 0x30);
    assert_int_equal(rd(VLAPIC_REG_TPR), 0);
    wr(VLAPIC_REG_TPR, 0x1F30); /* 8 bits */
    assert_int_equal(rd(VLAPIC_REG_TPR), 0x30);
    /* The xAPIC ID is writable; read-only registers ignore writes. */
    wr(VLAPIC_REG_ID, 0x07000000);
    assert_int_equal(rd(VLAPIC_REG_ID), 0x07000000);
    wr(VLAPIC_REG_VERSION, 0);
    assert_int_equal(rd(VLAPIC_REG_VERSION), 0x00060014);
}

static void test_svr_enable_and_disable(void **state)
{
    (void)state;
    enable();
    assert_int_equal(rd(VLAPIC_REG_SVR), 0x1FF);
    vlapic_set_irq(&lapic, 0x40, false);
    assert_true(irr_has(0x40));
    assert_int_equal(vlapic_pending_vector(&lapic), 0x40);
    wr(VLAPIC_REG_LVT_TIMER, 0xEC);
    assert_int_equal(rd(VLAPIC_REG_LVT_TIMER), 0xEC);
    /* Clearing bit 8 masks every LVT entry, keeps IRR, and hides it. */
    wr(VLAPIC_REG_SVR, 0xFF);
    assert_int_equal(rd(VLAPIC_REG_LVT_TIMER), VLAPIC_LVT_MASKED | 0xEC);
    assert_true(rd(VLAPIC_REG_LVT_LINT0) & VLAPIC_LVT_MASKED);
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
    assert_true(irr_has(0x40));
    wr(VLAPIC_REG_LVT_TIMER, 0xED); /* the mask cannot be cleared while disabled */
    assert_int_equal(rd(VLAPIC_REG_LVT_TIMER), VLAPIC_LVT_MASKED | 0xED);
    enable();
    assert_int_equal(vlapic_pending_vector(&lapic), 0x40);
}

static void test_tpr_ppr_masking(void **state)
{
    (void)state;
    enable();
    vlapic_set_irq(&lapic, 0x51, false);
    wr(VLAPIC_REG_TPR, 0x50); /* same priority class: held */
    assert_int_equal(rd(VLAPIC_REG_PPR), 0x50);
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
    wr(VLAPIC_REG_TPR, 0x4F);
    assert_int_equal(vlapic_pending_vector(&lapic), 0x51);
    wr(VLAPIC_REG_TPR, 0);
    assert_int_equal(take(), 0x51);
    assert_int_equal(rd(VLAPIC_REG_PPR), 0x50); /* ISR class */
    vlapic_set_irq(&lapic, 0x5F, false);
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
    vlapic_set_irq(&lapic, 0x60, false);
    assert_int_equal(vlapic_pending_vector(&lapic), 0x60);
    wr(VLAPIC_REG_TPR, 0x70); /* TPR above the ISR class wins */
    assert_int_equal(rd(VLAPIC_REG_PPR), 0x70);
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
}

/* CR8 is TPR[7:4] (SDM Vol. 3A 11.8.6.1): the vCPU writes the tpr byte directly (vmx/cr.c,
 * through vcpu->tpr), with no register access. The APIC must see such a write at once: the
 * xAPIC TPR reads it, the PPR follows it, and a lowered class lets the held vector through. */
static void test_tpr_written_as_cr8(void **state)
{
    (void)state;
    enable();
    vlapic_set_irq(&lapic, 0x80, false);
    lapic.tpr = 0xF << 4;                       /* MOV to CR8 15 */
    assert_int_equal(rd(VLAPIC_REG_TPR), 0xF0);
    assert_int_equal(rd(VLAPIC_REG_PPR), 0xF0);
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
    lapic.tpr = 0x7 << 4;                       /* MOV to CR8 7 */
    assert_int_equal(vlapic_pending_vector(&lapic), 0x80);
    wr(VLAPIC_REG_TPR, 0x93);                   /* and back: MOV from CR8 reads 9 */
    assert_int_equal(lapic.tpr >> 4, 9);
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
}

static void test_nested_ack_and_eoi_order(void **state)
{
    (void)state;
    enable();
    vlapic_set_irq(&lapic, 0x40, false);
    vlapic_set_irq(&lapic, 0x30, false);
    assert_int_equal(take(), 0x40);
    assert_false(irr_has(0x40));
    assert_true(isr_has(0x40));
    assert_int_equal(vlapic_pending_vector(&lapic), -1); /* 0x30 is below 0x40 */
    vlapic_set_irq(&lapic, 0x80, false);
    assert_int_equal(take(), 0x80); /* nests */
    assert_int_equal(rd(VLAPIC_REG_PPR), 0x80);
    wr(VLAPIC_REG_EOI, 0);
    assert_false(isr_has(0x80));
    assert_true(isr_has(0x40));
    assert_int_equal(rd(VLAPIC_REG_PPR), 0x40);
    wr(VLAPIC_REG_EOI, 0);
    assert_false(isr_has(0x40));
    assert_int_equal(take(), 0x30);
    wr(VLAPIC_REG_EOI, 0);
    wr(VLAPIC_REG_EOI, 0); /* nothing in service: harmless */
    assert_int_equal(rd(VLAPIC_REG_PPR), 0);
    assert_int_equal(fake_eoi_count(), 0);
}

static void test_level_eoi_reaches_ioapic(void **state)
{
    (void)state;
    enable();
    vlapic_set_irq(&lapic, 0x61, true);
    assert_true(rd(VLAPIC_REG_TMR + 3 * 16) & (1u << 1));
    vlapic_set_irq(&lapic, 0x62, false);
    assert_int_equal(take(), 0x62);
    wr(VLAPIC_REG_EOI, 0); /* edge: not forwarded */
    assert_int_equal(fake_eoi_count(), 0);
    assert_int_equal(take(), 0x61);
    wr(VLAPIC_REG_EOI, 0);
    assert_int_equal(fake_eoi_count(), 1);
    assert_int_equal(fake_last_eoi(), 0x61);
    /* The same vector arriving edge-triggered clears its TMR bit. */
    vlapic_set_irq(&lapic, 0x61, false);
    assert_false(rd(VLAPIC_REG_TMR + 3 * 16) & (1u << 1));
    assert_int_equal(take(), 0x61);
    wr(VLAPIC_REG_EOI, 0);
    assert_int_equal(fake_eoi_count(), 1);
}

static void test_illegal_vector_sets_esr(void **state)
{
    (void)state;
    enable();
    vlapic_set_irq(&lapic, 5, false);
    assert_false(irr_has(5));
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
    assert_int_equal(rd(VLAPIC_REG_ESR), 0); /* not latched until written */
    wr(VLAPIC_REG_ESR, 0);
    assert_int_equal(rd(VLAPIC_REG_ESR), VLAPIC_ESR_RECV_ILLEGAL);
    wr(VLAPIC_REG_ESR, 0);
    assert_int_equal(rd(VLAPIC_REG_ESR), 0);
    /* With the LVT error entry unmasked, an error raises its vector. */
    wr(VLAPIC_REG_LVT_ERROR, 0xFE);
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_SELF | 0x03); /* send illegal */
    assert_int_equal(vlapic_pending_vector(&lapic), 0xFE);
    wr(VLAPIC_REG_ESR, 0);
    assert_int_equal(rd(VLAPIC_REG_ESR), VLAPIC_ESR_SEND_ILLEGAL);
}

static void test_timer_oneshot_divide_16(void **state)
{
    (void)state;
    enable();
    wr(VLAPIC_REG_TIMER_DCR, 0x3);   /* divide by 16: 160 ns per count */
    wr(VLAPIC_REG_LVT_TIMER, 0xEC);  /* one-shot */
    fake_set_ns(5000);
    wr(VLAPIC_REG_TIMER_ICR, 1000);  /* expires at 5000 + 160000 */
    assert_int_equal(vlapic_next_event_ns(&lapic), 165000);
    fake_set_ns(5000 + 80000);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 500);
    fake_set_ns(164999);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 1);
    assert_int_equal(take(), -1);
    fake_set_ns(165000);
    assert_int_equal(take(), 0xEC);
    wr(VLAPIC_REG_EOI, 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_ICR), 1000);
    assert_int_equal(vlapic_next_event_ns(&lapic), UINT64_MAX);
    fake_set_ns(10000000);
    assert_int_equal(take(), -1); /* once only */
    wr(VLAPIC_REG_TIMER_ICR, 10); /* writing the count re-arms */
    assert_int_equal(vlapic_next_event_ns(&lapic), 10000000 + 1600);
}

static void test_timer_periodic_reload(void **state)
{
    (void)state;
    enable();
    wr(VLAPIC_REG_TIMER_DCR, 0xB);  /* divide by 1: 10 ns per count */
    wr(VLAPIC_REG_LVT_TIMER, (VLAPIC_TIMER_PERIODIC << VLAPIC_TIMER_MODE_SHIFT) | 0xED);
    wr(VLAPIC_REG_TIMER_ICR, 100);  /* period 1000 ns */
    fake_set_ns(500);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 50);
    assert_int_equal(take(), -1);
    fake_set_ns(1000);
    assert_int_equal(take(), 0xED);
    wr(VLAPIC_REG_EOI, 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 100);
    fake_set_ns(1250);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 75);
    assert_int_equal(vlapic_next_event_ns(&lapic), 2000);
    fake_set_ns(2000);
    assert_int_equal(take(), 0xED);
    wr(VLAPIC_REG_EOI, 0);
    /* Late by several periods: one interrupt, then the next period boundary. */
    fake_set_ns(5500);
    assert_int_equal(take(), 0xED);
    wr(VLAPIC_REG_EOI, 0);
    assert_int_equal(take(), -1);
    assert_int_equal(vlapic_next_event_ns(&lapic), 6000);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 50);
}

static void test_timer_masked_still_counts(void **state)
{
    (void)state;
    enable();
    wr(VLAPIC_REG_TIMER_DCR, 0xB);
    wr(VLAPIC_REG_LVT_TIMER,
       VLAPIC_LVT_MASKED | (VLAPIC_TIMER_PERIODIC << VLAPIC_TIMER_MODE_SHIFT) | 0xEC);
    wr(VLAPIC_REG_TIMER_ICR, 100);
    assert_int_equal(vlapic_next_event_ns(&lapic), UINT64_MAX);
    fake_set_ns(300);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 70);
    fake_set_ns(2300);
    assert_int_equal(take(), -1);
    assert_false(irr_has(0xEC));
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 70);
    /* Unmasking does not deliver the periods that expired while masked. */
    wr(VLAPIC_REG_LVT_TIMER, (VLAPIC_TIMER_PERIODIC << VLAPIC_TIMER_MODE_SHIFT) | 0xEC);
    assert_int_equal(take(), -1);
    assert_int_equal(vlapic_next_event_ns(&lapic), 3000);
    fake_set_ns(3000);
    assert_int_equal(take(), 0xEC);
}

static void test_initial_count_zero_stops(void **state)
{
    (void)state;
    enable();
    wr(VLAPIC_REG_LVT_TIMER, 0xEC);
    wr(VLAPIC_REG_TIMER_ICR, 1000); /* divide by 2: 20 us */
    assert_int_equal(vlapic_next_event_ns(&lapic), 20000);
    fake_set_ns(10000);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 500);
    wr(VLAPIC_REG_TIMER_ICR, 0);
    assert_int_equal(vlapic_next_event_ns(&lapic), UINT64_MAX);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 0);
    fake_set_ns(50000);
    assert_int_equal(take(), -1);
}

static void test_divide_change_keeps_count(void **state)
{
    (void)state;
    enable();
    wr(VLAPIC_REG_LVT_TIMER, 0xEC);
    wr(VLAPIC_REG_TIMER_DCR, 0xA); /* divide by 128: 1280 ns per count */
    wr(VLAPIC_REG_TIMER_ICR, 10);
    assert_int_equal(vlapic_next_event_ns(&lapic), 12800);
    fake_set_ns(6400);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 5);
    wr(VLAPIC_REG_TIMER_DCR, 0xB); /* 5 counts left at 10 ns each */
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 5);
    assert_int_equal(vlapic_next_event_ns(&lapic), 6450);
    fake_set_ns(6450);
    assert_int_equal(take(), 0xEC);
}

static void test_tsc_deadline(void **state)
{
    (void)state;
    uint64_t v;
    enable();
    /* Outside TSC-deadline mode the MSR reads 0 and ignores writes. */
    assert_int_equal(vlapic_wrmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, 1234), 0);
    assert_int_equal(vlapic_rdmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, &v), 0);
    assert_int_equal(v, 0);
    wr(VLAPIC_REG_LVT_TIMER, (VLAPIC_TIMER_TSC_DEADLINE << VLAPIC_TIMER_MODE_SHIFT) | 0xEF);
    fake_set_ns(1000);
    fake_set_tsc(5000);
    assert_int_equal(vlapic_wrmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, 10000), 0);
    assert_int_equal(vlapic_rdmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, &v), 0);
    assert_int_equal(v, 10000);
    assert_int_equal(vlapic_next_event_ns(&lapic), 1000 + 2500);
    wr(VLAPIC_REG_TIMER_ICR, 50); /* ignored in this mode */
    assert_int_equal(rd(VLAPIC_REG_TIMER_ICR), 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 0);
    fake_set_tsc(9999);
    assert_int_equal(take(), -1);
    fake_set_tsc(10000);
    assert_int_equal(take(), 0xEF);
    assert_int_equal(vlapic_rdmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, &v), 0);
    assert_int_equal(v, 0); /* disarmed */
    assert_int_equal(vlapic_next_event_ns(&lapic), UINT64_MAX);
    wr(VLAPIC_REG_EOI, 0);
    fake_set_tsc(20000);
    assert_int_equal(take(), -1);
    /* A deadline in the past is due now. */
    vlapic_wrmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, 100);
    assert_int_equal(vlapic_next_event_ns(&lapic), fake_ns());
    assert_int_equal(take(), 0xEF);
    wr(VLAPIC_REG_EOI, 0);
    /* Writing 0 disarms; so does a mode change. */
    vlapic_wrmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, 30000);
    vlapic_wrmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, 0);
    assert_int_equal(vlapic_next_event_ns(&lapic), UINT64_MAX);
    fake_set_tsc(30000);
    assert_int_equal(take(), -1);
    vlapic_wrmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, 35000);
    wr(VLAPIC_REG_LVT_TIMER, 0xEF);
    wr(VLAPIC_REG_LVT_TIMER, (VLAPIC_TIMER_TSC_DEADLINE << VLAPIC_TIMER_MODE_SHIFT) | 0xEF);
    vlapic_rdmsr(&lapic, VLAPIC_MSR_TSC_DEADLINE, &v);
    assert_int_equal(v, 0);
    fake_set_tsc(40000);
    assert_int_equal(take(), -1);
}

static void test_timer_mode_change_disarms(void **state)
{
    (void)state;
    enable();
    wr(VLAPIC_REG_LVT_TIMER, (VLAPIC_TIMER_PERIODIC << VLAPIC_TIMER_MODE_SHIFT) | 0xEC);
    wr(VLAPIC_REG_TIMER_ICR, 100);
    wr(VLAPIC_REG_LVT_TIMER, 0xEC); /* to one-shot */
    assert_int_equal(vlapic_next_event_ns(&lapic), UINT64_MAX);
    fake_set_ns(1000000);
    assert_int_equal(take(), -1);
    /* Re-writing the same mode (e.g. to change the vector) keeps it running. */
    wr(VLAPIC_REG_TIMER_ICR, 100);
    wr(VLAPIC_REG_LVT_TIMER, 0xED);
    fake_advance_ns(2000);
    assert_int_equal(take(), 0xED);
}

static void test_self_ipi_xapic(void **state)
{
    (void)state;
    enable();
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_SELF | 0x90);
    assert_true(irr_has(0x90));
    assert_int_equal(rd(VLAPIC_REG_ICR_LO) & (1u << 12), 0); /* delivery status idle */
    wr(VLAPIC_REG_ICR_HI, APIC_ID << 24);
    wr(VLAPIC_REG_ICR_LO, 0x91); /* fixed, physical, to our ID */
    assert_true(irr_has(0x91));
    wr(VLAPIC_REG_ICR_HI, 1u << 24);
    wr(VLAPIC_REG_ICR_LO, 0x92); /* another CPU */
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_ALL_EXCL_SELF | 0x93);
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_SELF | (4u << 8) | 0x94); /* NMI: not modelled */
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_SELF | (5u << 8));        /* INIT */
    assert_false(irr_has(0x92));
    assert_false(irr_has(0x93));
    assert_false(irr_has(0x94));
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_ALL_INCL_SELF | 0x95);
    assert_true(irr_has(0x95));
    /* Logical flat: LDR bit 1. */
    wr(VLAPIC_REG_LDR, 0x02000000);
    wr(VLAPIC_REG_ICR_HI, 0x03000000);
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_LOGICAL | 0x96);
    wr(VLAPIC_REG_ICR_HI, 0x04000000);
    wr(VLAPIC_REG_ICR_LO, VLAPIC_ICR_LOGICAL | 0x97);
    assert_true(irr_has(0x96));
    assert_false(irr_has(0x97));
    assert_int_equal(rd(VLAPIC_REG_ICR_HI), 0x04000000);
    assert_int_equal(take(), 0x96);
}

static void test_x2apic_mode(void **state)
{
    (void)state;
    uint64_t v;
    struct vlapic *l = &lapic;
    vlapic_init(l, &env, 0x23, BUS_HZ, TSC_HZ, 36);
    vdev_bus_init(&bus);
    assert_int_equal(vlapic_attach(l, &bus), 0);
    assert_int_equal(vlapic_rdmsr(l, 0x802, &v), -1); /* not in x2APIC mode yet */
    assert_int_equal(vlapic_wrmsr(l, 0x808, 0), -1);
    enter_x2apic();
    assert_true(vlapic_x2apic_mode(l));
    assert_int_equal(vlapic_rdmsr(l, 0x802, &v), 0);
    assert_int_equal(v, 0x23);
    assert_int_equal(vlapic_rdmsr(l, 0x803, &v), 0);
    assert_int_equal(v, 0x00060014);
    assert_int_equal(vlapic_rdmsr(l, 0x80D, &v), 0);
    assert_int_equal(v, (2u << 16) | (1u << 3)); /* cluster 2, bit 3 */
    /* The MMIO page is gone: off the bus, and its handlers answer as nothing. */
    assert_false(page_at(VLAPIC_BASE_DEFAULT));
    assert_int_equal(bus_rd(VLAPIC_BASE_DEFAULT + VLAPIC_REG_VERSION), 0xFFFFFFFFu);
    assert_int_equal(rd(VLAPIC_REG_VERSION), 0xFFFFFFFFu);
    wr(VLAPIC_REG_SVR, 0x1FF);
    assert_false(vlapic_sw_enabled(l));
    assert_int_equal(vlapic_wrmsr(l, 0x80F, 0x1FF), 0);
    assert_true(vlapic_sw_enabled(l));
    /* SELF IPI and a 64-bit ICR to our own x2APIC ID. */
    assert_int_equal(vlapic_wrmsr(l, 0x83F, 0xA1), 0);
    assert_int_equal(vlapic_wrmsr(l, 0x830, (0x23ull << 32) | 0xA2), 0);
    assert_int_equal(vlapic_wrmsr(l, 0x830, (0x24ull << 32) | 0xA3), 0);
    assert_int_equal(vlapic_rdmsr(l, 0x830, &v), 0);
    assert_int_equal(v, (0x24ull << 32) | 0xA3);
    assert_int_equal(vlapic_rdmsr(l, 0x824 + 1, &v), 0); /* IRR 0xA0-0xBF */
    assert_int_equal(v, (1u << 1) | (1u << 2));
    assert_int_equal(take(), 0xA2);
    /* #GP: EOI with data, read of a write-only, write of a read-only, absent, reserved. */
    assert_int_equal(vlapic_wrmsr(l, 0x80B, 1), -1);
    assert_int_equal(vlapic_wrmsr(l, 0x80B, 0), 0);
    assert_false(lapic.isr[0xA2 / 32] & (1u << (0xA2 % 32)));
    assert_int_equal(vlapic_rdmsr(l, 0x80B, &v), -1);
    assert_int_equal(vlapic_rdmsr(l, 0x83F, &v), -1);
    assert_int_equal(vlapic_wrmsr(l, 0x802, 0), -1);
    assert_int_equal(vlapic_wrmsr(l, 0x80D, 0), -1);
    assert_int_equal(vlapic_wrmsr(l, 0x839, 0), -1);
    assert_int_equal(vlapic_rdmsr(l, 0x80E, &v), -1); /* DFR */
    assert_int_equal(vlapic_rdmsr(l, 0x831, &v), -1); /* ICR high */
    assert_int_equal(vlapic_rdmsr(l, 0x809, &v), -1); /* APR */
    assert_int_equal(vlapic_wrmsr(l, 0x808, 1ull << 32), -1);
    assert_int_equal(vlapic_wrmsr(l, 0x828, 1), -1); /* ESR takes only 0 */
    assert_int_equal(vlapic_wrmsr(l, 0x83F, 0x100), -1);
    assert_int_equal(vlapic_wrmsr(l, 0x808, 0x20), 0);
    assert_int_equal(vlapic_rdmsr(l, 0x80A, &v), 0);
    assert_int_equal(v, 0x20);
    /* Reserved bits in x2APIC WRMSR: #GP, and the register keeps its value (SDM 11.12.1.3). */
    assert_int_equal(vlapic_wrmsr(l, 0x808, 0x120), -1);                  /* TPR */
    assert_int_equal(vlapic_rdmsr(l, 0x808, &v), 0);
    assert_int_equal(v, 0x20);
    assert_int_equal(vlapic_wrmsr(l, 0x832, 0x80000050), -1);             /* LVT timer */
    assert_int_equal(vlapic_wrmsr(l, 0x80F, 0x100001FF), -1);             /* SVR */
    assert_int_equal(vlapic_wrmsr(l, 0x83E, 0x10), -1);                   /* divide config */
    assert_int_equal(vlapic_wrmsr(l, 0x832, 0x20050), 0);                 /* periodic: fine */
}

/* LINT1 as an input (SDM Vol. 3A 11.5.1): in NMI mode (the virtual wire) an edge is an NMI;
 * masked, it is dropped; in fixed mode its vector goes to the IRR; a hardware-disabled APIC
 * passes it through as NMI (11.4.3). */
static void test_lint1_edge(void **state)
{
    (void)state;
    struct vlapic *l = &lapic;
    l->lvt[VLAPIC_LVT_LINT1] = VLAPIC_DM_NMI << VLAPIC_LVT_DM_SHIFT;
    assert_true(vlapic_lint_edge(l, 1));
    assert_true(vlapic_nmi_pending(l));
    vlapic_nmi_ack(l);
    l->lvt[VLAPIC_LVT_LINT1] |= VLAPIC_LVT_MASKED;
    assert_false(vlapic_lint_edge(l, 1));
    assert_false(vlapic_nmi_pending(l));
    l->svr |= 0x100;                                    /* software-enabled */
    l->lvt[VLAPIC_LVT_LINT1] = 0x45;                    /* fixed, vector 0x45, edge */
    assert_true(vlapic_lint_edge(l, 1));
    assert_false(vlapic_nmi_pending(l));
    assert_true(l->irr[0x45 / 32] & (1u << (0x45 % 32)));
    assert_false(vlapic_lint_edge(l, 2));
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT), 0);   /* EN=0 */
    assert_true(vlapic_lint_edge(l, 1));
    assert_true(vlapic_nmi_pending(l));
}

/* The base's address bits end at the CPU's MAXPHYADDR (SDM Vol. 3A 11.4.4): with 39 a base
 * above 64 GiB is a base, bit 39 is reserved (#GP). */
static void test_apic_base_maxphyaddr(void **state)
{
    (void)state;
    struct vlapic l2;
    vlapic_init(&l2, &env, 0, BUS_HZ, TSC_HZ, 39);
    assert_int_equal(vlapic_wrmsr(&l2, VLAPIC_MSR_APIC_BASE, (1ull << 38) | VLAPIC_BASE_EN), 0);
    assert_int_equal(vlapic_base(&l2), 1ull << 38);
    assert_int_equal(vlapic_wrmsr(&l2, VLAPIC_MSR_APIC_BASE, (1ull << 39) | VLAPIC_BASE_EN), -1);
    assert_int_equal(vlapic_base(&l2), 1ull << 38);
}

static void test_apic_base_transitions(void **state)
{
    (void)state;
    uint64_t v, en = VLAPIC_BASE_EN, x2 = VLAPIC_BASE_EN | VLAPIC_BASE_EXTD;
    struct vlapic *l = &lapic;
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT | en | 1), -1);
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, (1ull << 36) | en), -1);
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EXTD),
                     -1);
    /* Relocation; BSP stays set. */
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, 0xFED00000ull | en), 0);
    assert_int_equal(vlapic_base(l), 0xFED00000ull);
    vlapic_rdmsr(l, VLAPIC_MSR_APIC_BASE, &v);
    assert_int_equal(v, 0xFED00000ull | en | VLAPIC_BASE_BSP);
    enter_x2apic();
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT | en), -1);
    assert_true(vlapic_x2apic_mode(l));
    assert_int_equal(vlapic_wrmsr(l, 0x80F, 0x1FF), 0);
    /* x2APIC -> disabled -> xAPIC is the way back; the registers are reset. */
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT), 0);
    assert_false(vlapic_hw_enabled(l));
    assert_int_equal(vlapic_rdmsr(l, 0x80F, &v), -1);
    assert_false(page_at(VLAPIC_BASE_DEFAULT)); /* no page while disabled */
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT | x2), -1);
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EXTD),
                     -1);
    assert_false(vlapic_hw_enabled(l));
    assert_int_equal(vlapic_wrmsr(l, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT | en), 0);
    assert_false(vlapic_x2apic_mode(l));
    assert_true(page_at(VLAPIC_BASE_DEFAULT));
    assert_false(page_at(0xFED00000ull));
    assert_int_equal(rd(VLAPIC_REG_SVR), 0xFF);
    assert_int_equal(rd(VLAPIC_REG_LDR), 0);
    assert_int_equal(rd(VLAPIC_REG_ID), APIC_ID << 24);
    assert_false(vlapic_handles_msr(0x1C));
    assert_true(vlapic_handles_msr(0x8FF));
    assert_int_equal(vlapic_rdmsr(l, 0x10, &v), -1);
}

/* SDM 11.4.3 and 11.4.7.1: clearing EN returns every register to its power-up value, the
 * hardware-assigned ID included; setting it again gives xAPIC mode in that state. */
static void test_disable_resets_to_power_up(void **state)
{
    (void)state;
    uint64_t v;
    struct vlapic *l = &lapic;
    enable();
    wr(VLAPIC_REG_ID, 0x05000000);
    wr(VLAPIC_REG_TPR, 0x30);
    wr(VLAPIC_REG_LDR, 0x01000000);
    wr(VLAPIC_REG_DFR, 0x0FFFFFFF);
    wr(VLAPIC_REG_LVT_LINT0, 0x700);
    wr(VLAPIC_REG_LVT_ERROR, 0x41);
    wr(VLAPIC_REG_TIMER_DCR, 0xB);
    wr(VLAPIC_REG_LVT_TIMER, 0x40 | (VLAPIC_TIMER_PERIODIC << VLAPIC_TIMER_MODE_SHIFT));
    wr(VLAPIC_REG_TIMER_ICR, 1000);
    wr(VLAPIC_REG_ICR_HI, 0x05000000);
    wr(VLAPIC_REG_ICR_LO, 0x60 | VLAPIC_ICR_SELF);
    vlapic_set_irq(l, 0x70, true);
    assert_int_equal(take(), 0x70);        /* 0x70 in service, 0x60 pending */
    wr(VLAPIC_REG_ICR_LO, 0x05 | VLAPIC_ICR_SELF); /* an illegal vector: ESR has news */
    assert_true(irr_has(0x60));
    assert_true(vlapic_next_event_ns(l) != UINT64_MAX);

    set_base(VLAPIC_BASE_DEFAULT | VLAPIC_BASE_BSP);
    assert_false(vlapic_hw_enabled(l));
    assert_int_equal(vlapic_rdmsr(l, VLAPIC_MSR_APIC_BASE, &v), 0);
    assert_int_equal(v, VLAPIC_BASE_DEFAULT | VLAPIC_BASE_BSP);
    assert_false(page_at(VLAPIC_BASE_DEFAULT));
    assert_int_equal(bus_rd(VLAPIC_BASE_DEFAULT + VLAPIC_REG_VERSION), 0xFFFFFFFFu);
    assert_false(vdev_mmio_write(&bus, VLAPIC_BASE_DEFAULT + VLAPIC_REG_TPR, 4, 0x20));
    assert_int_equal(vlapic_rdmsr(l, 0x803, &v), -1);
    assert_int_equal(vlapic_pending_vector(l), -1);
    assert_true(vlapic_accepts_pic(l));    /* no APIC: INTR goes straight to the CPU */
    assert_int_equal(vlapic_next_event_ns(l), UINT64_MAX);
    vlapic_set_irq(l, 0x80, false);        /* nobody to take it */
    fake_advance_ns(1000000);
    vlapic_update(l);

    set_base(VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EN);
    assert_true(vlapic_hw_enabled(l));
    assert_false(vlapic_x2apic_mode(l));
    assert_true(page_at(VLAPIC_BASE_DEFAULT));
    assert_int_equal(bus_rd(VLAPIC_BASE_DEFAULT + VLAPIC_REG_VERSION), 0x00060014);
    assert_int_equal(rd(VLAPIC_REG_ID), APIC_ID << 24);
    assert_int_equal(rd(VLAPIC_REG_SVR), 0xFF);
    assert_false(vlapic_sw_enabled(l));
    assert_int_equal(rd(VLAPIC_REG_TPR), 0);
    assert_int_equal(rd(VLAPIC_REG_PPR), 0);
    assert_int_equal(rd(VLAPIC_REG_LDR), 0);
    assert_int_equal(rd(VLAPIC_REG_DFR), 0xFFFFFFFFu);
    for (uint32_t off = VLAPIC_REG_LVT_TIMER; off <= VLAPIC_REG_LVT_ERROR; off += 0x10)
        assert_int_equal(rd(off), VLAPIC_LVT_MASKED);
    assert_int_equal(rd(VLAPIC_REG_LVT_CMCI), VLAPIC_LVT_MASKED);
    for (uint32_t i = 0; i < 8; i++) {
        assert_int_equal(rd(VLAPIC_REG_ISR + 16 * i), 0);
        assert_int_equal(rd(VLAPIC_REG_TMR + 16 * i), 0);
        assert_int_equal(rd(VLAPIC_REG_IRR + 16 * i), 0);
    }
    assert_int_equal(rd(VLAPIC_REG_ICR_LO), 0);
    assert_int_equal(rd(VLAPIC_REG_ICR_HI), 0);
    wr(VLAPIC_REG_ESR, 0);
    assert_int_equal(rd(VLAPIC_REG_ESR), 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_ICR), 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_CCR), 0);
    assert_int_equal(rd(VLAPIC_REG_TIMER_DCR), 0);
    assert_int_equal(vlapic_next_event_ns(l), UINT64_MAX);
    assert_false(vlapic_accepts_pic(l));   /* LINT0 masked: the BIOS's virtual wire is gone */
    enable();
    assert_int_equal(vlapic_pending_vector(l), -1);
}

/* The page follows IA32_APIC_BASE's address field; the registers move with it. */
static void test_page_moves_with_base(void **state)
{
    (void)state;
    uint64_t en = VLAPIC_BASE_EN, moved = 0xFEC80000ull;
    wr(VLAPIC_REG_TPR, 0x20);
    set_base(moved | en);
    assert_int_equal(vlapic_base(&lapic), moved);
    assert_false(page_at(VLAPIC_BASE_DEFAULT));
    assert_true(page_at(moved));
    assert_int_equal(bus_rd(VLAPIC_BASE_DEFAULT + VLAPIC_REG_TPR), 0xFFFFFFFFu);
    assert_int_equal(bus_rd(moved + VLAPIC_REG_TPR), 0x20);
    assert_int_equal(bus_rd(moved + VLAPIC_REG_VERSION), 0x00060014);
    assert_true(vdev_mmio_write(&bus, moved + VLAPIC_REG_TPR, 4, 0x40));
    assert_int_equal(rd(VLAPIC_REG_TPR), 0x40);
    /* Many moves: one range on the bus, never a leaked slot. */
    for (unsigned i = 0; i < 2 * VDEV_MAX_MMIO_RANGES; i++)
        set_base((0xFE000000ull + i * 0x1000) | en);
    assert_int_equal(bus.n_mmio, 1);
    /* A base written while disabled is where the page appears once enabled. */
    set_base(0xFED00000ull);
    assert_int_equal(bus.n_mmio, 0);
    set_base(0xFED00000ull | en);
    assert_true(page_at(0xFED00000ull));
    /* In x2APIC mode a new base changes nothing on the bus; back through disabled, it is used. */
    set_base(0xFED00000ull | en | VLAPIC_BASE_EXTD);
    assert_int_equal(bus.n_mmio, 0);
    set_base(VLAPIC_BASE_DEFAULT | en | VLAPIC_BASE_EXTD);
    assert_int_equal(bus.n_mmio, 0);
    set_base(VLAPIC_BASE_DEFAULT);
    set_base(VLAPIC_BASE_DEFAULT | en);
    assert_true(page_at(VLAPIC_BASE_DEFAULT));
    assert_int_equal(bus.n_mmio, 1);
    /* Reset brings a moved page home. */
    set_base(moved | en);
    vlapic_reset(&lapic);
    assert_true(page_at(VLAPIC_BASE_DEFAULT));
    assert_false(page_at(moved));
    assert_int_equal(rd(VLAPIC_REG_LVT_LINT0), 0x700);
}

static uint64_t other_read(void *dev, uint64_t offset, unsigned size)
{
    (void)dev, (void)offset, (void)size;
    return 0x12345678;
}

/* A base over another device's registers: the WRMSR succeeds (the SDM has no #GP for
 * it), the other device keeps its range and the page stays off the bus (not modelled). */
static void test_page_over_another_device(void **state)
{
    (void)state;
    int other;
    uint64_t en = VLAPIC_BASE_EN, taken = 0xFEC00000ull;
    assert_int_equal(vdev_register_mmio(&bus, taken, 0x1000, "other", other_read, NULL, &other), 0);
    set_base(taken | en);
    assert_int_equal(vlapic_base(&lapic), taken);
    assert_false(page_at(taken));
    assert_false(page_at(VLAPIC_BASE_DEFAULT));
    assert_int_equal(bus_rd(taken + VLAPIC_REG_VERSION), 0x12345678);
    set_base(VLAPIC_BASE_DEFAULT | en);
    assert_true(page_at(VLAPIC_BASE_DEFAULT));
    assert_int_equal(bus_rd(taken), 0x12345678);
    /* attach fails if the page's range is already taken */
    struct vdev_bus busy;
    vdev_bus_init(&busy);
    assert_int_equal(vdev_register_mmio(&busy, VLAPIC_BASE_DEFAULT, 0x10, "other", other_read, NULL,
                                        &other), 0);
    struct vlapic l2;
    vlapic_init(&l2, &env, 0, BUS_HZ, TSC_HZ, 36);
    assert_int_equal(vlapic_attach(&l2, &busy), -1);
}

/* SDM 11.12.5.1: xAPIC -> x2APIC keeps most registers, but not an ID written through the
 * page nor the ICR's high half; x2APIC -> disabled keeps only the IDs. */
static void test_x2apic_transition_state(void **state)
{
    (void)state;
    uint64_t v;
    struct vlapic *l = &lapic;
    enable();
    wr(VLAPIC_REG_TPR, 0x20);
    wr(VLAPIC_REG_ID, 0x09000000);
    wr(VLAPIC_REG_ICR_HI, 0x09000000);
    enter_x2apic();
    assert_int_equal(vlapic_rdmsr(l, 0x808, &v), 0);
    assert_int_equal(v, 0x20);
    assert_int_equal(vlapic_rdmsr(l, 0x80F, &v), 0);
    assert_int_equal(v, 0x1FF);
    assert_int_equal(vlapic_rdmsr(l, 0x802, &v), 0);
    assert_int_equal(v, APIC_ID);
    assert_int_equal(vlapic_rdmsr(l, 0x830, &v), 0);
    assert_int_equal(v >> 32, 0);
    set_base(VLAPIC_BASE_DEFAULT);
    set_base(VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EN);
    assert_int_equal(rd(VLAPIC_REG_ID), APIC_ID << 24);
    assert_int_equal(rd(VLAPIC_REG_TPR), 0);
    assert_int_equal(rd(VLAPIC_REG_SVR), 0xFF);
    assert_int_equal(rd(VLAPIC_REG_LVT_LINT0), VLAPIC_LVT_MASKED);
}

static void test_accepts_pic(void **state)
{
    (void)state;
    assert_true(vlapic_accepts_pic(&lapic)); /* BIOS virtual wire */
    /* Linux setup_local_APIC(): enable, then LINT0 ExtINT on the BSP while the PIC is in use. */
    enable();
    wr(VLAPIC_REG_LVT_LINT0, 0x700);
    assert_true(vlapic_accepts_pic(&lapic));
    /* ... and masked once the IOAPIC takes over. */
    wr(VLAPIC_REG_LVT_LINT0, VLAPIC_LVT_MASKED | 0x700);
    assert_false(vlapic_accepts_pic(&lapic));
    wr(VLAPIC_REG_LVT_LINT0, 0x0); /* unmasked but fixed: not ExtINT */
    assert_false(vlapic_accepts_pic(&lapic));
    wr(VLAPIC_REG_LVT_LINT0, 0x700);
    wr(VLAPIC_REG_SVR, 0xFF); /* software disable masks LINT0 */
    assert_false(vlapic_accepts_pic(&lapic));
    vlapic_wrmsr(&lapic, VLAPIC_MSR_APIC_BASE, VLAPIC_BASE_DEFAULT); /* no APIC at all */
    assert_true(vlapic_accepts_pic(&lapic));
}

/* An IPI with delivery mode NMI (100b) that reaches this APIC raises the CPU's NMI, vector
 * ignored, nothing in the IRR (SDM 11.6.1); one to another APIC does nothing here. */
static void test_nmi_ipi(void **state)
{
    (void)state;
    enable();
    assert_false(vlapic_nmi_pending(&lapic));
    wr(VLAPIC_REG_ICR_LO, (1u << 18) | (4u << 8) | 0x00);   /* self, NMI, vector 0 */
    assert_true(vlapic_nmi_pending(&lapic));
    assert_int_equal(vlapic_pending_vector(&lapic), -1);
    assert_int_equal(rd(VLAPIC_REG_ESR), 0);                /* vector < 16 is fine for NMI */
    vlapic_nmi_ack(&lapic);
    assert_false(vlapic_nmi_pending(&lapic));
    wr(VLAPIC_REG_ICR_HI, (APIC_ID + 1) << 24);
    wr(VLAPIC_REG_ICR_LO, (4u << 8));                       /* physical, another APIC */
    assert_false(vlapic_nmi_pending(&lapic));
    wr(VLAPIC_REG_ICR_LO, (1u << 18) | (4u << 8));
    vlapic_reset(&lapic);                                   /* reset drops it */
    assert_false(vlapic_nmi_pending(&lapic));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_state, setup),
        cmocka_unit_test_setup(test_id_version_and_widths, setup),
        cmocka_unit_test_setup(test_svr_enable_and_disable, setup),
        cmocka_unit_test_setup(test_tpr_ppr_masking, setup),
        cmocka_unit_test_setup(test_tpr_written_as_cr8, setup),
        cmocka_unit_test_setup(test_nested_ack_and_eoi_order, setup),
        cmocka_unit_test_setup(test_level_eoi_reaches_ioapic, setup),
        cmocka_unit_test_setup(test_illegal_vector_sets_esr, setup),
        cmocka_unit_test_setup(test_timer_oneshot_divide_16, setup),
        cmocka_unit_test_setup(test_timer_periodic_reload, setup),
        cmocka_unit_test_setup(test_timer_masked_still_counts, setup),
        cmocka_unit_test_setup(test_initial_count_zero_stops, setup),
        cmocka_unit_test_setup(test_divide_change_keeps_count, setup),
        cmocka_unit_test_setup(test_tsc_deadline, setup),
        cmocka_unit_test_setup(test_timer_mode_change_disarms, setup),
        cmocka_unit_test_setup(test_self_ipi_xapic, setup),
        cmocka_unit_test_setup(test_x2apic_mode, setup),
        cmocka_unit_test_setup(test_lint1_edge, setup),
        cmocka_unit_test_setup(test_apic_base_maxphyaddr, setup),
        cmocka_unit_test_setup(test_apic_base_transitions, setup),
        cmocka_unit_test_setup(test_disable_resets_to_power_up, setup),
        cmocka_unit_test_setup(test_page_moves_with_base, setup),
        cmocka_unit_test_setup(test_page_over_another_device, setup),
        cmocka_unit_test_setup(test_x2apic_transition_state, setup),
        cmocka_unit_test_setup(test_accepts_pic, setup),
        cmocka_unit_test_setup(test_nmi_ipi, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

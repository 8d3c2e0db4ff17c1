/*
 * Guest test ioapic: ISA interrupts routed through the IOAPIC to the local APIC: the
 * PIT on pin 2 (edge) and the RTC on pin 8 (level, remote IRR, EOI), held off by a
 * masked pin and by IF=0; then the 8259 path through LVT LINT0 (ExtINT) with the
 * IOAPIC pin masked. Every wait is bounded with RDTSC at CPUID leaf 0x15's rate.
 */
#include "guest.h"

#define SPURIOUS_VECTOR 0xff
#define PIT_VECTOR      0x40
#define RTC_VECTOR      0x41
#define PIT_PIN         2       /* ISA IRQ 0 (MADT interrupt source override) */
#define RTC_PIN         8
#define PIT_HZ          100
#define WINDOW_US       100000  /* 100 ms: about 10 PIT ticks */
#define RTC_RATE        9       /* 32768 Hz >> (9 - 1) = 128 Hz, 7.8 ms */
#define RTC_PERIOD_US   7813
#define RTC_REG_A       0x0a
#define RTC_REG_B       0x0b
#define RTC_REG_C       0x0c
#define RTC_B_PIE       0x40
#define RTC_C_IRQF      0x80
#define RTC_C_PF        0x40

static volatile uint32_t hits[256];
static volatile uint64_t last_tsc[256];
static volatile uint32_t pic_hits;
/* What the handlers saw. */
static volatile bool pit_isr_set, pit_tmr_set;
static volatile uint64_t rtc_rte_in_handler, rtc_rte_after_eoi;
static volatile bool rtc_tmr_set, rtc_isr_set;
static volatile uint8_t rtc_reg_c;
/* 1: the next RTC handler EOIs without reading register C (the line stays asserted). */
static volatile int rtc_skip_c;
static volatile uint64_t rtc_skip_tsc, rtc_skip_rte_after_eoi, rtc_redelivery_tsc;

static struct int_frame *pit_irq(struct int_frame *f)
{
    hits[PIT_VECTOR]++;
    last_tsc[PIT_VECTOR] = rdtsc();
    pit_isr_set = lapic_vector_set(LAPIC_ISR, PIT_VECTOR);
    pit_tmr_set = lapic_vector_set(LAPIC_TMR, PIT_VECTOR);
    lapic_eoi();
    return f;
}

/* Register C lowers the RTC's line; the LAPIC EOI (a level vector) then clears remote IRR. */
static struct int_frame *rtc_irq(struct int_frame *f)
{
    uint64_t now = rdtsc();
    hits[RTC_VECTOR]++;
    last_tsc[RTC_VECTOR] = now;
    rtc_rte_in_handler = ioapic_read_rte(RTC_PIN);
    rtc_tmr_set = lapic_vector_set(LAPIC_TMR, RTC_VECTOR);
    rtc_isr_set = lapic_vector_set(LAPIC_ISR, RTC_VECTOR);
    if (rtc_skip_c == 1) {
        rtc_skip_c = 2;
        rtc_skip_tsc = now;
        lapic_eoi();
        rtc_skip_rte_after_eoi = ioapic_read_rte(RTC_PIN);
        return f;
    }
    if (rtc_skip_c == 2) {
        rtc_skip_c = 0;
        rtc_redelivery_tsc = now;
    }
    rtc_reg_c = cmos_read(RTC_REG_C);
    lapic_eoi();
    rtc_rte_after_eoi = ioapic_read_rte(RTC_PIN);
    return f;
}

static struct int_frame *pic_timer_irq(struct int_frame *f)
{
    pic_hits++;                         /* the dispatcher EOIs the 8259 */
    return f;
}

static struct int_frame *spurious_irq(struct int_frame *f)
{
    hits[SPURIOUS_VECTOR]++;
    return f;
}

/* With IF=0, wait until the pin's remote IRR is set; false after us microseconds. */
static bool wait_remote_irr(unsigned pin, uint64_t us)
{
    uint64_t end = rdtsc() + tsc_from_us(us);
    while (rdtsc() < end)
        if (ioapic_read_rte(pin) & IOAPIC_RTE_REMOTE_IRR)
            return true;
    return false;
}

static void check_registers(void)
{
    uint32_t ver = ioapic_read(IOAPIC_REG_VERSION);
    test_check((ver & 0xff) == 0x20, "IOAPIC version register 0x%08x: version 0x%02x (want 0x20)", ver,
               ver & 0xff);
    test_check(((ver >> 16) & 0xff) == 23, "IOAPIC version register: max redirection entry %u (24 pins)",
               (ver >> 16) & 0xff);
    uint32_t id = ioapic_read(IOAPIC_REG_ID);
    test_check((id & ~0x0f000000u) == 0, "IOAPIC ID register 0x%08x: ID %u in bits 27:24, rest 0", id,
               (id >> 24) & 0xf);
    ioapic_write(IOAPIC_REG_ID, 0x05000000u);
    uint32_t id2 = ioapic_read(IOAPIC_REG_ID);
    ioapic_write(IOAPIC_REG_ID, id);
    test_check(id2 == 0x05000000u && ioapic_read(IOAPIC_REG_ID) == id,
               "IOAPIC ID is writable (0x05000000 -> 0x%08x) and restored", id2);
    ioapic_write(IOAPIC_REG_VERSION, 0);
    test_check(ioapic_read(IOAPIC_REG_VERSION) == ver, "IOAPIC version register is read-only");

    unsigned masked = 0;
    for (unsigned pin = 0; pin < 24; pin++)
        masked += (ioapic_read_rte(pin) & IOAPIC_RTE_MASKED) != 0;
    test_check(masked == 24, "%u of 24 redirection entries masked at reset", masked);

    uint64_t rte = IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | IOAPIC_RTE_ACTIVE_LOW | IOAPIC_RTE_DESTMODE |
                   0x55 | (0x12ull << IOAPIC_RTE_DEST_SHIFT);
    ioapic_write_rte(5, rte);
    uint64_t back = ioapic_read_rte(5);
    test_check(back == rte, "redirection entry 5 reads back 0x%016llx (wrote 0x%016llx)", back, rte);
    ioapic_write_rte(5, IOAPIC_RTE_MASKED);
}

static void check_pit(void)
{
    uint64_t rte = PIT_VECTOR;          /* fixed, physical, edge, active high, unmasked, dest 0 */
    ioapic_write_rte(PIT_PIN, rte);
    uint64_t back = ioapic_read_rte(PIT_PIN);
    test_check(back == rte, "pin 2 -> vector 0x40, edge, active high, fixed, APIC 0: reads 0x%016llx", back);
    pit_set_periodic(PIT_HZ);
    uint32_t before = hits[PIT_VECTOR];
    tsc_delay_us(WINDOW_US, true);
    uint32_t n = hits[PIT_VECTOR] - before;
    test_check(n >= 5 && n <= 20, "PIT at %u Hz through pin 2: %u interrupts at 0x40 in 100 ms (want ~10)",
               PIT_HZ, n);
    test_check(pit_isr_set && !pit_tmr_set, "vector 0x40 in ISR while handled, TMR clear (edge)");
    test_check(!(ioapic_read_rte(PIT_PIN) & IOAPIC_RTE_REMOTE_IRR), "edge pin 2 never shows remote IRR");

    ioapic_write_rte(PIT_PIN, rte | IOAPIC_RTE_MASKED);
    tsc_delay_us(1000, true);           /* one tick may already wait in the LAPIC's IRR */
    before = hits[PIT_VECTOR];
    tsc_delay_us(WINDOW_US / 2, true);
    n = hits[PIT_VECTOR] - before;
    test_check(n == 0, "pin 2 masked: %u interrupts in 50 ms (want 0)", n);
}

static void check_if_blocks(void)
{
    ioapic_write_rte(PIT_PIN, PIT_VECTOR);
    cli();
    uint32_t before = hits[PIT_VECTOR];
    tsc_delay_us(WINDOW_US / 2, false);
    uint32_t n = hits[PIT_VECTOR] - before;
    test_check(n == 0, "IF=0: %u interrupts in 50 ms of PIT at %u Hz (want 0)", n, PIT_HZ);
    test_check(lapic_vector_set(LAPIC_IRR, PIT_VECTOR), "IF=0: vector 0x40 waits in the LAPIC's IRR");
    uint64_t t0 = rdtsc();
    n = tsc_wait_count(&hits[PIT_VECTOR], before + 1, 1000) - before;
    test_check(n >= 1, "sti: the pending vector 0x40 arrives at once (%u within 1 ms, after %llu us)", n,
               n ? tsc_to_us(last_tsc[PIT_VECTOR] - t0) : 0);
    n = tsc_wait_count(&hits[PIT_VECTOR], before + 4, WINDOW_US) - before;
    test_check(n >= 4, "IF=1: more PIT interrupts follow (%u)", n);
    ioapic_write_rte(PIT_PIN, PIT_VECTOR | IOAPIC_RTE_MASKED);
    tsc_delay_us(1000, true);
}

static void rtc_periodic(bool on)
{
    uint8_t a = cmos_read(RTC_REG_A), b = cmos_read(RTC_REG_B);
    if (on) {
        cmos_write(RTC_REG_A, (uint8_t)((a & 0x70) | RTC_RATE));
        cmos_write(RTC_REG_B, b | RTC_B_PIE);
    } else {
        cmos_write(RTC_REG_B, b & (uint8_t)~RTC_B_PIE);
    }
    cmos_read(RTC_REG_C);
}

static void check_rtc_level(void)
{
    uint64_t rte = RTC_VECTOR | IOAPIC_RTE_LEVEL;   /* fixed, physical, active high, dest 0 */
    /* Register C collects PF at the reset rate whether or not PIE is on: program the RTC and
     * read C (line low) before the pin is unmasked, so the first delivery is a fresh tick. */
    cli();
    rtc_periodic(true);
    ioapic_write_rte(RTC_PIN, rte);

    /* IF=0: the first interrupt is accepted by the LAPIC but not taken. */
    bool fired = wait_remote_irr(RTC_PIN, 10 * RTC_PERIOD_US);
    if (!test_check(fired, "RTC periodic (PIE) through pin 8, level: remote IRR set within 78 ms (IF=0)")) {
        rtc_periodic(false);
        ioapic_write_rte(RTC_PIN, rte | IOAPIC_RTE_MASKED);
        return;
    }
    test_check(lapic_vector_set(LAPIC_IRR, RTC_VECTOR) && lapic_vector_set(LAPIC_TMR, RTC_VECTOR),
               "vector 0x41 waits in the LAPIC's IRR with its TMR bit set (level)");
    test_check(hits[RTC_VECTOR] == 0, "IF=0: not delivered yet");
    uint32_t n = tsc_wait_count(&hits[RTC_VECTOR], 1, 1000);
    test_check(n == 1, "sti: vector 0x41 arrives (%u)", n);
    test_check(rtc_rte_in_handler & IOAPIC_RTE_REMOTE_IRR, "in the handler: remote IRR set (entry 0x%llx)",
               rtc_rte_in_handler);
    test_check(rtc_isr_set && rtc_tmr_set, "in the handler: vector 0x41 in ISR and TMR");
    test_check((rtc_reg_c & (RTC_C_IRQF | RTC_C_PF)) == (RTC_C_IRQF | RTC_C_PF),
               "in the handler: register C = 0x%02x (IRQF, PF)", rtc_reg_c);
    test_check(!(rtc_rte_after_eoi & IOAPIC_RTE_REMOTE_IRR),
               "register C read, then LAPIC EOI: remote IRR clear (entry 0x%llx)", rtc_rte_after_eoi);

    n = tsc_wait_count(&hits[RTC_VECTOR], 6, 10 * RTC_PERIOD_US);
    test_check(n >= 6, "RTC keeps interrupting at 128 Hz (%u interrupts)", n);
    test_check(!(rtc_rte_after_eoi & IOAPIC_RTE_REMOTE_IRR), "remote IRR clear after each EOI (entry 0x%llx)",
               rtc_rte_after_eoi);

    /* EOI while the line is still asserted: the IOAPIC delivers again at once. */
    uint32_t before = hits[RTC_VECTOR];
    rtc_skip_c = 1;
    n = tsc_wait_count(&hits[RTC_VECTOR], before + 2, 10 * RTC_PERIOD_US) - before;
    if (test_check(n >= 2 && rtc_skip_c == 0, "EOI without reading register C: %u deliveries", n)) {
        uint64_t gap = tsc_to_us(rtc_redelivery_tsc - rtc_skip_tsc);
        test_check(gap < RTC_PERIOD_US / 4, "the line still asserted: redelivered %llu us after the EOI "
                   "(an RTC period is %u us)", gap, RTC_PERIOD_US);
        test_check(rtc_skip_rte_after_eoi & IOAPIC_RTE_REMOTE_IRR,
                   "right after that EOI remote IRR is set again (entry 0x%llx)", rtc_skip_rte_after_eoi);
    }
    rtc_skip_c = 0;

    /* The IOAPIC's own EOI register (version 0x20) clears remote IRR too. */
    cli();
    if (wait_remote_irr(RTC_PIN, 10 * RTC_PERIOD_US)) {
        cmos_read(RTC_REG_C);           /* line low: the EOI must not redeliver */
        mmio_write32(IOAPIC_DEFAULT_BASE + IOAPIC_EOI, RTC_VECTOR);
        uint64_t after = ioapic_read_rte(RTC_PIN);
        test_check(!(after & IOAPIC_RTE_REMOTE_IRR), "IOAPIC EOI register (0x40) <- 0x41 clears remote IRR "
                   "(entry 0x%llx)", after);
        before = hits[RTC_VECTOR];
        n = tsc_wait_count(&hits[RTC_VECTOR], before + 1, 1000) - before;
        test_check(n == 1, "the vector already in the LAPIC's IRR is still delivered (%u)", n);
    } else {
        test_fail("RTC: remote IRR never set again with IF=0");
    }

    rtc_periodic(false);
    ioapic_write_rte(RTC_PIN, rte | IOAPIC_RTE_MASKED);
    tsc_delay_us(1000, true);
    before = hits[RTC_VECTOR];
    tsc_delay_us(5 * RTC_PERIOD_US, true);
    n = hits[RTC_VECTOR] - before;
    test_check(n == 0, "RTC PIE off and pin 8 masked: %u interrupts (want 0)", n);
}

static void check_pic_path(void)
{
    /* The IOAPIC pin stays masked; the 8259 gets IRQ 0 unmasked. */
    irq_set_handler(PIT_IRQ, pic_timer_irq);
    lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_EXTINT | LAPIC_LVT_MASKED);
    pic_unmask(PIT_IRQ);
    tsc_delay_us(WINDOW_US / 2, true);
    test_check(pic_hits == 0, "8259 IRQ 0 unmasked but LINT0 masked: %u interrupts at vector %u (want 0)",
               pic_hits, IRQ_VECTOR_BASE);

    lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_EXTINT);
    uint32_t lint0 = lapic_read(LAPIC_LVT_LINT0);
    test_check(lint0 == 0x700, "LVT LINT0 = 0x%x (ExtINT, unmasked)", lint0);
    uint32_t ioapic_before = hits[PIT_VECTOR];
    tsc_delay_us(WINDOW_US, true);
    test_check(pic_hits >= 5 && pic_hits <= 21,
               "LINT0 ExtINT: %u PIT interrupts through the 8259 at vector %u in 100 ms (want ~10)", pic_hits,
               IRQ_VECTOR_BASE);
    test_check(hits[PIT_VECTOR] == ioapic_before, "none at the IOAPIC's vector 0x40 meanwhile (%u)",
               hits[PIT_VECTOR] - ioapic_before);
    pic_mask(PIT_IRQ);
    lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_EXTINT | LAPIC_LVT_MASKED);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("ioapic: PIT and RTC through the IOAPIC (edge, level, remote IRR, masks, IF), 8259 via LINT0");

    if (!tsc_hz()) {
        test_fail("CPUID leaf 0x15 gives no TSC frequency: cannot time anything");
        test_end();
    }
    pic_init();
    pic_set_mask(0xffff);               /* the 8259 delivers nothing until check_pic_path() */
    int_set_handler(PIT_VECTOR, pit_irq);
    int_set_handler(RTC_VECTOR, rtc_irq);
    int_set_handler(SPURIOUS_VECTOR, spurious_irq);
    lapic_sw_enable(SPURIOUS_VECTOR);
    test_check(lapic_read(LAPIC_SVR) == 0x1ff, "LAPIC enabled: SVR 0x%x", lapic_read(LAPIC_SVR));

    check_registers();
    check_pit();
    check_if_blocks();
    check_rtc_level();
    check_pic_path();
    test_check(hits[SPURIOUS_VECTOR] == 0, "no spurious interrupts (%u)", hits[SPURIOUS_VECTOR]);
    test_end();
}

/*
 * Guest test apic: the virtual local APIC, first through its xAPIC page, then as an
 * x2APIC through MSRs: identification, the timer in one-shot, periodic and
 * TSC-deadline modes, the task priority, EOI, and self-IPIs. The 8259 is masked
 * throughout, so every interrupt here comes from the local APIC. Times are measured
 * with RDTSC at the frequency CPUID leaf 0x15 reports; every wait is bounded.
 */
#include "guest.h"

#define SPURIOUS_VECTOR     0xff
#define TIMER_VECTOR        0x50    /* priority class 5 */
#define IPI_VECTOR          0x60
#define IPI_HIGH_VECTOR     0x70
#define X2_IPI_VECTOR       0x61
#define X2_TIMER_VECTOR     0x52
#define APIC_VERSION_XAPIC  0x14    /* integrated APIC, the Pentium 4 / Xeon value */

#define ONESHOT_COUNT       20000   /* 20 ms at a 1 MHz timer clock, divide by 1 */
#define PERIODIC_COUNT      5000
#define PERIODIC_TICKS      5
#define DEADLINE_US         10000
#define SLACK_US            50000   /* how late a timer may be before it counts as lost */

/* What the handler saw, per vector. */
static volatile uint32_t hits[256];
static volatile uint64_t last_tsc[256];        /* TSC at the latest arrival */
static volatile bool isr_in_handler[256], isr_after_eoi[256];
static volatile uint32_t ppr_in_handler[256];

static uint32_t crystal_hz;         /* the APIC timer's clock, CPUID.15H:ECX */

/* Records the arrival, looks at ISR and PPR while in service, and EOIs. */
static struct int_frame *lapic_irq(struct int_frame *f)
{
    uint8_t v = (uint8_t)f->vector;
    last_tsc[v] = rdtsc();
    hits[v]++;
    isr_in_handler[v] = lapic_vector_set(LAPIC_ISR, v);
    ppr_in_handler[v] = lapic_read(LAPIC_PPR);
    lapic_eoi();
    isr_after_eoi[v] = lapic_vector_set(LAPIC_ISR, v);
    return f;
}

/* A spurious interrupt gets no EOI (SDM 11.9). */
static struct int_frame *spurious_irq(struct int_frame *f)
{
    hits[SPURIOUS_VECTOR]++;
    return f;
}

/* With IF=1, wait until vector has arrived n times in all, or us microseconds passed;
 * returns with IF=0 and the count. */
static uint32_t wait_hits(uint8_t vector, uint32_t n, uint64_t us)
{
    return tsc_wait_count(&hits[vector], n, us);
}

/* Timer counts to microseconds at the crystal's rate, divide by 1. */
static uint64_t count_to_us(uint32_t count)
{
    return u64_divmod((uint64_t)count * 1000000u, crystal_hz, NULL);
}

static void check_identity(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    test_check(d & CPUID1_EDX_APIC, "CPUID.1:EDX.APIC[9] set (edx 0x%08x)", d);
    test_check(c & CPUID1_ECX_X2APIC, "CPUID.1:ECX.x2APIC[21] set (ecx 0x%08x)", c);
    test_check(c & CPUID1_ECX_TSC_DEADLINE, "CPUID.1:ECX.TSC-Deadline[24] set (ecx 0x%08x)", c);
    test_check((b >> 24) == 0, "CPUID.1:EBX initial APIC ID is 0 (ebx 0x%08x)", b);

    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    test_check(base == (LAPIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_BSP),
               "IA32_APIC_BASE = 0x%llx (want 0xfee00900: base, EN, BSP)", base);

    uint32_t ver = lapic_read(LAPIC_VERSION);
    test_check((ver & 0xff) == APIC_VERSION_XAPIC, "version register 0x%08x: version 0x%02x (want 0x14)",
               ver, ver & 0xff);
    test_check(((ver >> 16) & 0xff) >= 5, "version register: max LVT entry %u (want >= 5: timer..error)",
               (ver >> 16) & 0xff);
    uint32_t id = lapic_read(LAPIC_ID);
    test_check((id >> 24) == 0, "ID register 0x%08x: APIC ID 0", id);
    uint32_t lint0 = lapic_read(LAPIC_LVT_LINT0), lint1 = lapic_read(LAPIC_LVT_LINT1);
    test_check(lint0 == 0x700 && lint1 == 0x400,
               "reset LINT0 0x%x, LINT1 0x%x (want 0x700 ExtINT, 0x400 NMI: virtual wire)", lint0, lint1);
    test_check(lapic_read(LAPIC_LVT_TIMER) & LAPIC_LVT_MASKED, "reset LVT timer 0x%x is masked",
               lapic_read(LAPIC_LVT_TIMER));

    cpuid(0x15, 0, &a, &b, &c, &d);
    crystal_hz = c;
    uint64_t hz = tsc_hz();
    test_check(a && b && c, "CPUID.15H: TSC = %u Hz * %u / %u", c, b, a);
    test_check(hz > 0, "TSC frequency %llu Hz", hz);
    if (!crystal_hz || !hz) {
        test_fail("cannot time anything without CPUID.15H");
        test_end();
    }
}

static void check_enable(void)
{
    lapic_sw_enable(SPURIOUS_VECTOR);
    uint32_t svr = lapic_read(LAPIC_SVR);
    test_check(svr == (LAPIC_SVR_ENABLE | SPURIOUS_VECTOR), "SVR = 0x%x after enabling (want 0x1ff)", svr);
    lapic_write(LAPIC_ESR, 0);
    uint32_t esr = lapic_read(LAPIC_ESR);
    test_check(esr == 0, "ESR = 0x%x (no errors)", esr);
}

static void check_oneshot(void)
{
    uint8_t v = TIMER_VECTOR;
    lapic_write(LAPIC_LVT_TIMER, v | LAPIC_TIMER_ONESHOT);
    lapic_write(LAPIC_TIMER_DCR, LAPIC_DCR_DIV1);
    uint32_t lvt = lapic_read(LAPIC_LVT_TIMER), dcr = lapic_read(LAPIC_TIMER_DCR);
    test_check(lvt == v && dcr == LAPIC_DCR_DIV1, "one-shot: LVT timer 0x%x, DCR 0x%x read back", lvt, dcr);

    uint64_t due_us = count_to_us(ONESHOT_COUNT);
    uint64_t t0 = rdtsc();
    lapic_write(LAPIC_TIMER_ICR, ONESHOT_COUNT);
    uint32_t c1 = lapic_read(LAPIC_TIMER_CCR);
    tsc_delay_us(due_us / 4, false);
    uint32_t c2 = lapic_read(LAPIC_TIMER_CCR);
    test_check(c1 > 0 && c1 <= ONESHOT_COUNT && c2 > 0 && c2 < c1,
               "one-shot: current count counts down (%u, then %u a quarter period later; initial %u)",
               c1, c2, ONESHOT_COUNT);
    test_check(lapic_read(LAPIC_TIMER_ICR) == ONESHOT_COUNT, "one-shot: initial count reads back %u",
               lapic_read(LAPIC_TIMER_ICR));

    uint32_t n = wait_hits(v, 1, due_us + SLACK_US);
    if (!test_check(n == 1, "one-shot: vector 0x%x arrived (%u times within %llu us)", v, n,
                    due_us + SLACK_US))
        return;
    uint64_t took = tsc_to_us(last_tsc[v] - t0);
    test_check(took * 10 >= due_us * 9, "one-shot: arrived after %llu us, due after %llu us (not early)",
               took, due_us);
    test_check(took <= due_us + SLACK_US, "one-shot: arrived within %llu us of its time",
               (uint64_t)SLACK_US);
    uint32_t ccr = lapic_read(LAPIC_TIMER_CCR);
    test_check(ccr == 0, "one-shot: current count reads %u after expiry (want 0)", ccr);
    n = wait_hits(v, 2, 2 * due_us);
    test_check(n == 1, "one-shot: exactly one interrupt (%u after two more periods)", n);
    test_check(isr_in_handler[v] && !isr_after_eoi[v], "ISR bit 0x%x set in the handler (%d), clear after EOI (%d)",
               v, isr_in_handler[v], isr_after_eoi[v]);
    test_check((ppr_in_handler[v] & 0xf0) == (v & 0xf0), "PPR 0x%x in the handler: the in-service class",
               ppr_in_handler[v]);
}

static void check_periodic(void)
{
    uint8_t v = TIMER_VECTOR;
    uint32_t before = hits[v];
    uint64_t period_us = count_to_us(PERIODIC_COUNT);
    lapic_write(LAPIC_LVT_TIMER, v | LAPIC_TIMER_PERIODIC);
    uint64_t t0 = rdtsc();
    lapic_write(LAPIC_TIMER_ICR, PERIODIC_COUNT);
    uint64_t limit = PERIODIC_TICKS * period_us + SLACK_US;
    uint32_t n = wait_hits(v, before + PERIODIC_TICKS, limit) - before;
    uint64_t took = tsc_to_us(last_tsc[v] - t0);
    if (!test_check(n >= PERIODIC_TICKS, "periodic: %u interrupts within %llu us (want %u)", n, limit,
                    PERIODIC_TICKS))
        return;
    test_check(took * 10 >= PERIODIC_TICKS * period_us * 9,
               "periodic: %u periods took %llu us, due after %llu us (not early)", PERIODIC_TICKS, took,
               PERIODIC_TICKS * period_us);
    uint32_t ccr = lapic_read(LAPIC_TIMER_CCR);
    test_check(ccr > 0 && ccr <= PERIODIC_COUNT, "periodic: current count %u while running", ccr);

    lapic_write(LAPIC_TIMER_ICR, 0);    /* IF=0: a tick already in IRR is taken below */
    tsc_delay_us(100, true);
    uint32_t stopped = hits[v];
    tsc_delay_us(4 * period_us, true);
    test_check(hits[v] == stopped, "periodic: initial count 0 stops it (%u interrupts in 4 periods after)",
               hits[v] - stopped);
    ccr = lapic_read(LAPIC_TIMER_CCR);
    test_check(ccr == 0, "periodic: current count %u once stopped (want 0)", ccr);
}

static void check_tsc_deadline(void)
{
    uint8_t v = TIMER_VECTOR;
    lapic_write(LAPIC_LVT_TIMER, v | LAPIC_TIMER_TSC_DEADLINE);
    test_check(lapic_read(LAPIC_LVT_TIMER) == (v | LAPIC_TIMER_TSC_DEADLINE),
               "TSC-deadline: LVT timer reads 0x%x", lapic_read(LAPIC_LVT_TIMER));
    test_check(rdmsr(MSR_IA32_TSC_DEADLINE) == 0, "TSC-deadline: IA32_TSC_DEADLINE reads 0 while disarmed");

    /* A deadline, then 0: disarmed, nothing arrives. */
    uint32_t before = hits[v];
    wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + tsc_from_us(DEADLINE_US / 2));
    wrmsr(MSR_IA32_TSC_DEADLINE, 0);
    uint32_t n = wait_hits(v, before + 1, DEADLINE_US * 2) - before;
    test_check(n == 0, "TSC-deadline: writing 0 disarms (%u interrupts)", n);

    uint64_t deadline = rdtsc() + tsc_from_us(DEADLINE_US);
    wrmsr(MSR_IA32_TSC_DEADLINE, deadline);
    uint64_t armed = rdmsr(MSR_IA32_TSC_DEADLINE);
    test_check(armed == deadline, "TSC-deadline: IA32_TSC_DEADLINE reads back 0x%llx (wrote 0x%llx)", armed,
               deadline);
    n = wait_hits(v, before + 1, DEADLINE_US + SLACK_US) - before;
    if (!test_check(n == 1, "TSC-deadline: vector 0x%x arrived (%u times)", v, n))
        return;
    uint64_t at = last_tsc[v];
    test_check(at >= deadline, "TSC-deadline: arrived at TSC 0x%llx, %lld us after the deadline (not early)",
               at, at >= deadline ? (long long)tsc_to_us(at - deadline) : -(long long)tsc_to_us(deadline - at));
    uint64_t after = rdmsr(MSR_IA32_TSC_DEADLINE);
    test_check(after == 0, "TSC-deadline: IA32_TSC_DEADLINE reads 0x%llx once it fired (want 0)", after);
    n = wait_hits(v, before + 2, 2 * DEADLINE_US) - before;
    test_check(n == 1, "TSC-deadline: exactly one interrupt (%u)", n);

    /* The initial-count register is ignored in this mode (SDM 11.5.4.1). */
    lapic_write(LAPIC_TIMER_ICR, PERIODIC_COUNT);
    n = wait_hits(v, before + 2, 2 * count_to_us(PERIODIC_COUNT)) - before;
    test_check(n == 1 && lapic_read(LAPIC_TIMER_CCR) == 0,
               "TSC-deadline: initial count write ignored (%u interrupts, current count %u)", n,
               lapic_read(LAPIC_TIMER_CCR));
    lapic_write(LAPIC_LVT_TIMER, v | LAPIC_LVT_MASKED);
}

static void check_tpr(void)
{
    uint8_t v = TIMER_VECTOR;
    uint32_t before = hits[v];
    lapic_write(LAPIC_TPR, 0x60);
    uint32_t tpr = lapic_read(LAPIC_TPR), ppr = lapic_read(LAPIC_PPR);
    test_check(tpr == 0x60 && ppr == 0x60, "TPR 0x60 reads back 0x%x, PPR 0x%x", tpr, ppr);

    lapic_write(LAPIC_LVT_TIMER, v | LAPIC_TIMER_ONESHOT);
    lapic_write(LAPIC_TIMER_ICR, 2000);
    uint64_t due_us = count_to_us(2000);
    uint32_t n = wait_hits(v, before + 1, 5 * due_us) - before;
    test_check(n == 0, "TPR 0x60 blocks vector 0x%x (%u interrupts in 5 periods with IF=1)", v, n);
    test_check(lapic_vector_set(LAPIC_IRR, v), "TPR 0x60: vector 0x%x waits in IRR", v);

    lapic_write(LAPIC_TPR, 0x50);
    n = wait_hits(v, before + 1, 2000) - before;
    test_check(n == 0, "TPR 0x50 (same class) still blocks vector 0x%x (%u interrupts)", v, n);

    uint64_t t0 = rdtsc();
    lapic_write(LAPIC_TPR, 0x40);
    n = wait_hits(v, before + 1, SLACK_US) - before;
    test_check(n == 1, "TPR 0x40 lets vector 0x%x through (%u interrupts, %llu us after the TPR write)",
               v, n, n ? tsc_to_us(last_tsc[v] - t0) : 0);
    test_check(!lapic_vector_set(LAPIC_IRR, v) && !lapic_vector_set(LAPIC_ISR, v),
               "after delivery and EOI, vector 0x%x is in neither IRR nor ISR", v);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_TIMER, v | LAPIC_LVT_MASKED);
}

static void check_self_ipi(void)
{
    uint8_t v = IPI_VECTOR;
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, v | LAPIC_ICR_SELF);      /* fixed, edge, shorthand self */
    uint32_t icr = lapic_read(LAPIC_ICR_LO);
    test_check(!(icr & LAPIC_ICR_DELIVS), "self-IPI: ICR 0x%x, delivery status idle", icr);
    test_check(lapic_vector_set(LAPIC_IRR, v) && hits[v] == 0,
               "self-IPI: vector 0x%x pending in IRR while IF=0", v);
    uint32_t n = wait_hits(v, 1, SLACK_US);
    test_check(n == 1, "self-IPI (shorthand self): vector 0x%x delivered once IF=1 (%u)", v, n);
    test_check(isr_in_handler[v] && !isr_after_eoi[v], "self-IPI: in ISR while handled, EOI clears it");

    /* Two pending at once: the higher priority class is taken first. */
    uint8_t hi = IPI_HIGH_VECTOR;
    lapic_write(LAPIC_ICR_LO, v | LAPIC_ICR_SELF);
    lapic_write(LAPIC_ICR_LO, hi | LAPIC_ICR_SELF);
    n = wait_hits(v, 2, SLACK_US);
    test_check(n == 2 && hits[hi] == 1 && last_tsc[hi] < last_tsc[v],
               "self-IPIs 0x%x and 0x%x pending together: 0x%x delivered first", v, hi, hi);

    /* No shorthand, physical destination 0: this APIC's own ID. */
    lapic_write(LAPIC_ICR_HI, 0u << 24);
    lapic_write(LAPIC_ICR_LO, v);
    n = wait_hits(v, 3, SLACK_US);
    test_check(n == 3, "IPI to physical APIC ID 0: delivered to ourselves (%u in all)", n);
    lapic_write(LAPIC_ESR, 0);
    uint32_t esr = lapic_read(LAPIC_ESR);
    test_check(esr == 0, "ESR = 0x%x after the IPIs (no errors)", esr);
}


static void check_x2apic(uint32_t xapic_version)
{
    lapic_enter_x2apic();
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    test_check(base == (LAPIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD | APIC_BASE_BSP),
               "x2APIC: IA32_APIC_BASE = 0x%llx (want 0xfee00d00)", base);
    uint64_t id = rdmsr(X2APIC_MSR(LAPIC_ID)), ver = rdmsr(X2APIC_MSR(LAPIC_VERSION));
    test_check(id == 0, "x2APIC: ID (MSR 0x802) = 0x%llx (want 0)", id);
    test_check(ver == xapic_version, "x2APIC: version (MSR 0x803) = 0x%llx (xAPIC read 0x%x)", ver,
               xapic_version);
    uint64_t svr = rdmsr(X2APIC_MSR(LAPIC_SVR));
    test_check(svr == (LAPIC_SVR_ENABLE | SPURIOUS_VECTOR), "x2APIC: SVR (MSR 0x80f) kept 0x%llx", svr);
    uint64_t ldr = rdmsr(X2APIC_MSR(0x0d0));
    test_check(ldr == 1, "x2APIC: LDR (MSR 0x80d) = 0x%llx (cluster 0, bit 0 for ID 0)", ldr);

    uint8_t v = X2_IPI_VECTOR;
    wrmsr(X2APIC_MSR(LAPIC_SELF_IPI), v);
    test_check(lapic_vector_set(LAPIC_IRR, v), "x2APIC: SELF IPI (MSR 0x83f) sets IRR 0x%x while IF=0", v);
    uint32_t n = wait_hits(v, 1, SLACK_US);
    test_check(n == 1, "x2APIC: SELF IPI vector 0x%x delivered (%u)", v, n);
    test_check(isr_in_handler[v] && !isr_after_eoi[v],
               "x2APIC: in ISR while handled, EOI by wrmsr 0x80b = 0 clears it");

    wrmsr(X2APIC_MSR(LAPIC_ICR_LO), LAPIC_ICR_SELF | v);    /* ICR is one 64-bit MSR, 0x830 */
    n = wait_hits(v, 2, SLACK_US);
    test_check(n == 2, "x2APIC: ICR (MSR 0x830) self-IPI delivered (%u)", n);

    int vec = wrmsr_safe(X2APIC_MSR(LAPIC_EOI), 1);
    test_check(vec == VEC_GP, "x2APIC: wrmsr 0x80b (EOI) = 1 raises #GP (got %s%d)",
               vec < 0 ? "no fault, " : "vector ", vec);
    uint64_t value;
    vec = rdmsr_safe(X2APIC_MSR(LAPIC_EOI), &value);
    test_check(vec == VEC_GP, "x2APIC: rdmsr 0x80b (EOI is write-only) raises #GP (got %s%d)",
               vec < 0 ? "no fault, " : "vector ", vec);
    vec = wrmsr_safe(X2APIC_MSR(LAPIC_SELF_IPI), 0x100);
    test_check(vec == VEC_GP, "x2APIC: wrmsr 0x83f (SELF IPI) = 0x100 (reserved bits) raises #GP (got %s%d)",
               vec < 0 ? "no fault, " : "vector ", vec);

    uint8_t t = X2_TIMER_VECTOR;
    wrmsr(X2APIC_MSR(LAPIC_TIMER_DCR), LAPIC_DCR_DIV1);
    wrmsr(X2APIC_MSR(LAPIC_LVT_TIMER), t | LAPIC_TIMER_ONESHOT);
    uint64_t t0 = rdtsc();
    wrmsr(X2APIC_MSR(LAPIC_TIMER_ICR), PERIODIC_COUNT);
    n = wait_hits(t, 1, count_to_us(PERIODIC_COUNT) + SLACK_US);
    test_check(n == 1 && tsc_to_us(last_tsc[t] - t0) * 10 >= count_to_us(PERIODIC_COUNT) * 9,
               "x2APIC: one-shot timer through MSRs 0x832/0x838/0x83e: %u interrupt after %llu us (due %llu)",
               n, n ? tsc_to_us(last_tsc[t] - t0) : 0, count_to_us(PERIODIC_COUNT));
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("apic: local APIC timer (one-shot, periodic, TSC-deadline), TPR, EOI, self-IPI, x2APIC");

    pic_init();
    pic_set_mask(0xffff);               /* every interrupt below comes from the local APIC */
    for (unsigned v = HIGH_VECTOR_BASE; v < SPURIOUS_VECTOR; v++)
        int_set_handler(v, lapic_irq);
    int_set_handler(SPURIOUS_VECTOR, spurious_irq);

    check_identity();
    uint32_t version = lapic_read(LAPIC_VERSION);
    check_enable();
    check_oneshot();
    check_periodic();
    check_tsc_deadline();
    check_tpr();
    check_self_ipi();
    check_x2apic(version);
    test_check(hits[SPURIOUS_VECTOR] == 0, "no spurious interrupts (%u)", hits[SPURIOUS_VECTOR]);

    /* Disabled in IA32_APIC_BASE, the APIC is gone from CPUID too (SDM Vol. 3A 11.4.3). */
    wrmsr(MSR_IA32_APIC_BASE, LAPIC_DEFAULT_BASE | APIC_BASE_BSP);
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    test_check(!(d & (1u << 9)), "CPUID.1:EDX.APIC clear while IA32_APIC_BASE.EN is 0 (EDX 0x%x)", d);
    wrmsr(MSR_IA32_APIC_BASE, LAPIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_BSP);
    cpuid(1, 0, &a, &b, &c, &d);
    test_check(d & (1u << 9), "CPUID.1:EDX.APIC set again once enabled (EDX 0x%x)", d);
    test_end();
}

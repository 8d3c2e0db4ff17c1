/*
 * Guest test apicbase: the local APIC across IA32_APIC_BASE writes. Disabled (EN=0) it
 * is gone: its page is nothing (all-ones, writes dropped), CPUID has no APIC, the x2APIC
 * MSRs fault; re-enabled it is an xAPIC in its power-up state (SDM Vol. 3A 11.4.3,
 * 11.4.7.1); its page follows the base address (11.4.4); and the modes change only as
 * the x2APIC state diagram allows (11.12.5, Figure 11-27 "Local x2APIC State
 * Transitions"), an illegal change raising #GP. IF=0 throughout: a pending interrupt
 * stays pending. The APIC ends enabled, in xAPIC mode, at its default base.
 */
#include "guest.h"

#define ALL_ONES        0xffffffffu
#define MOVED_BASE      0xfec80000u     /* no device and no RAM there (the IOAPIC is at 0xfec00000) */
#define IPI_VECTOR      0x60
#define TIMER_VECTOR    0x40
#define ERROR_VECTOR    0x41

#define LAPIC_LDR           0x0d0
#define LAPIC_DFR           0x0e0
#define LAPIC_LVT_CMCI      0x2f0
#define LAPIC_LVT_THERMAL   0x330
#define LAPIC_LVT_PERF      0x340

#define BASE_XAPIC(b)   ((uint64_t)(b) | APIC_BASE_EN | APIC_BASE_BSP)
#define BASE_X2APIC(b)  ((uint64_t)(b) | APIC_BASE_EN | APIC_BASE_EXTD | APIC_BASE_BSP)
#define BASE_OFF(b)     ((uint64_t)(b) | APIC_BASE_BSP)

static uint32_t initial_id;     /* CPUID.1:EBX[31:24]: the ID the hardware assigned */
static uint32_t version;        /* the version register as first read */

static int try_rdmsr(uint32_t msr)
{
    uint64_t v;
    return rdmsr_safe(msr, &v);
}

/* "no fault" or the vector, for the check lines. */
static const char *fault(int vec)
{
    return vec < 0 ? "no fault" : vec == VEC_GP ? "#GP" : exception_name((unsigned)vec);
}

static uint32_t page_read(uint32_t base, uint32_t reg) { return mmio_read32(base + reg); }
static void page_write(uint32_t base, uint32_t reg, uint32_t v) { mmio_write32(base + reg, v); }

static bool cpuid_apic(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    return d & CPUID1_EDX_APIC;
}

/* MAXPHYADDR (CPUID.80000008H:EAX[7:0], else 36): IA32_APIC_BASE bits from it up are reserved. */
static unsigned maxphyaddr(void)
{
    uint32_t max, a, b, c, d;
    cpuid(0x80000000u, 0, &max, &b, &c, &d);
    if (max < 0x80000008u)
        return 36;
    cpuid(0x80000008u, 0, &a, &b, &c, &d);
    return a & 0xff;
}

/* A legal IA32_APIC_BASE write: no fault, and the MSR reads back what was written. */
static void legal(uint64_t value, const char *rule, const char *what)
{
    int vec = wrmsr_safe(MSR_IA32_APIC_BASE, value);
    uint64_t now = rdmsr(MSR_IA32_APIC_BASE);
    test_check(vec < 0 && now == value, "%s: %s: WRMSR 0x%llx is legal (%s; reads 0x%llx)", rule, what,
               value, fault(vec), now);
}

/* An illegal IA32_APIC_BASE write: #GP, and the MSR keeps its value. */
static void illegal(uint64_t value, const char *rule, const char *what)
{
    uint64_t before = rdmsr(MSR_IA32_APIC_BASE);
    int vec = wrmsr_safe(MSR_IA32_APIC_BASE, value);
    uint64_t now = rdmsr(MSR_IA32_APIC_BASE);
    test_check(vec == VEC_GP && now == before, "%s: %s: WRMSR 0x%llx raises #GP (%s), IA32_APIC_BASE "
               "stays 0x%llx (reads 0x%llx)", rule, what, value, fault(vec), before, now);
}

/* The page at base is nothing: reads all-ones, a write is not kept. */
static void check_page_gone(uint32_t base, const char *rule, const char *why)
{
    uint32_t ver = page_read(base, LAPIC_VERSION), svr = page_read(base, LAPIC_SVR);
    page_write(base, LAPIC_TPR, 0x20);
    uint32_t tpr = page_read(base, LAPIC_TPR);
    test_check(ver == ALL_ONES && svr == ALL_ONES && tpr == ALL_ONES,
               "%s: %s: page 0x%x is nothing: version 0x%x, SVR 0x%x, TPR 0x%x after a write "
               "(want all-ones)", rule, why, base, ver, svr, tpr);
}

/* The page at base is the xAPIC: its version register answers as it did at start. */
static void check_page_answers(uint32_t base, const char *rule, const char *why)
{
    uint32_t ver = page_read(base, LAPIC_VERSION);
    test_check(ver == version, "%s: %s: the page at 0x%x answers: version 0x%x (want 0x%x)", rule, why,
               base, ver, version);
}

static void check_x2apic_msrs_fault(const char *rule, const char *why)
{
    int r = try_rdmsr(X2APIC_MSR(LAPIC_VERSION));
    int w = wrmsr_safe(X2APIC_MSR(LAPIC_TPR), 0);
    test_check(r == VEC_GP && w == VEC_GP, "%s: %s: RDMSR 0x803 and WRMSR 0x808 raise #GP (%s, %s)",
               rule, why, fault(r), fault(w));
}

static void check_start(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    initial_id = b >> 24;
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    test_check(base == BASE_XAPIC(LAPIC_DEFAULT_BASE),
               "SDM 11.4.4: IA32_APIC_BASE 0x%llx after reset: base 0xfee00000, EN, BSP, not EXTD", base);
    test_check(d & CPUID1_EDX_APIC, "SDM 11.4.2: CPUID.1:EDX.APIC[9] set while EN=1 (edx 0x%x)", d);
    version = page_read(LAPIC_DEFAULT_BASE, LAPIC_VERSION);
    test_check(version != 0 && version != ALL_ONES && (version & 0xf0) == 0x10,
               "SDM 11.4.8: the xAPIC page answers: version register 0x%x (integrated APIC, 0x1X)",
               version);
    check_x2apic_msrs_fault("SDM 11.12.2", "in xAPIC mode");
}

/* Leaves what a power-up state must undo: software-enabled, TPR, IDs, LVTs unmasked, the
 * timer running, a self-IPI pending (IF=0), an error in ESR. */
static void dirty_the_apic(void)
{
    uint32_t b = LAPIC_DEFAULT_BASE;
    page_write(b, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff);
    page_write(b, LAPIC_TPR, 0x30);
    page_write(b, LAPIC_ID, (initial_id + 5) << 24);    /* ignored on CPUs with a read-only ID */
    page_write(b, LAPIC_LDR, 0x01000000);
    page_write(b, LAPIC_DFR, 0x0fffffff);
    page_write(b, LAPIC_LVT_ERROR, ERROR_VECTOR);
    page_write(b, LAPIC_LVT_LINT0, LAPIC_LVT_EXTINT);
    page_write(b, LAPIC_TIMER_DCR, LAPIC_DCR_DIV1);
    page_write(b, LAPIC_LVT_TIMER, TIMER_VECTOR | LAPIC_TIMER_PERIODIC);
    page_write(b, LAPIC_TIMER_ICR, 0x10000000);
    page_write(b, LAPIC_ICR_HI, 0);
    page_write(b, LAPIC_ICR_LO, IPI_VECTOR | LAPIC_ICR_SELF);
    bool pending = page_read(b, LAPIC_IRR + (IPI_VECTOR / 32) * 0x10) & (1u << (IPI_VECTOR % 32));
    test_check(pending && page_read(b, LAPIC_TPR) == 0x30,
               "set-up: software-enabled, TPR 0x30, timer running, self-IPI 0x%x pending in IRR", IPI_VECTOR);
}

static void check_disabled(const char *why)
{
    test_check(!cpuid_apic(), "SDM 11.4.3: %s: CPUID.1:EDX.APIC[9] reads 0", why);
    check_page_gone(LAPIC_DEFAULT_BASE, "SDM 11.4.3", why);
    check_x2apic_msrs_fault("SDM 11.12.2", why);
}

static void check_disable_enable(void)
{
    dirty_the_apic();
    legal(BASE_OFF(LAPIC_DEFAULT_BASE), "SDM 11.12.5", "xAPIC -> disabled (EN=0)");
    check_disabled("EN=0");
    illegal(BASE_OFF(LAPIC_DEFAULT_BASE) | APIC_BASE_EXTD, "SDM 11.12.5",
            "disabled -> EN=0 EXTD=1 (the invalid state)");
    illegal(BASE_X2APIC(LAPIC_DEFAULT_BASE), "SDM 11.12.5", "disabled -> x2APIC directly");

    legal(BASE_XAPIC(LAPIC_DEFAULT_BASE), "SDM 11.12.5", "disabled -> xAPIC (EN=1)");
    test_check(cpuid_apic(), "SDM 11.4.3: EN=1 again: CPUID.1:EDX.APIC[9] reads 1");
    check_page_answers(LAPIC_DEFAULT_BASE, "SDM 11.4.3", "EN=1 again");
}

/* The power-up state (SDM 11.4.7.1) after EN went 0 then 1. */
static void check_power_up_state(const char *why)
{
    uint32_t b = LAPIC_DEFAULT_BASE;
    uint32_t svr = page_read(b, LAPIC_SVR), tpr = page_read(b, LAPIC_TPR), ppr = page_read(b, LAPIC_PPR);
    test_check(svr == 0xff, "SDM 11.4.7.1: %s: SVR 0x%x (want 0xff: software-disabled)", why, svr);
    test_check(tpr == 0 && ppr == 0, "SDM 11.4.7.1: %s: TPR 0x%x, PPR 0x%x (want 0)", why, tpr, ppr);
    static const uint32_t lvts[] = { LAPIC_LVT_TIMER, LAPIC_LVT_THERMAL, LAPIC_LVT_PERF, LAPIC_LVT_LINT0,
                                     LAPIC_LVT_LINT1, LAPIC_LVT_ERROR, LAPIC_LVT_CMCI };
    unsigned n = ((version >> 16) & 0xff) >= 6 ? 7 : 6;  /* CMCI with max LVT entry 6 */
    for (unsigned i = 0; i < n; i++) {
        uint32_t v = page_read(b, lvts[i]);
        test_check(v == LAPIC_LVT_MASKED, "SDM 11.4.7.1: %s: LVT at 0x%x = 0x%x (want 0x10000: masked, "
                   "the rest 0)", why, lvts[i], v);
    }
    uint32_t irr = 0, isr = 0, tmr = 0;
    for (uint32_t i = 0; i < 8; i++) {
        irr |= page_read(b, LAPIC_IRR + 0x10 * i);
        isr |= page_read(b, LAPIC_ISR + 0x10 * i);
        tmr |= page_read(b, LAPIC_TMR + 0x10 * i);
    }
    test_check(!irr && !isr && !tmr, "SDM 11.4.7.1: %s: IRR, ISR, TMR all 0 (the pending self-IPI is "
               "gone; or of words: 0x%x 0x%x 0x%x)", why, irr, isr, tmr);
    uint32_t icr = page_read(b, LAPIC_TIMER_ICR), ccr = page_read(b, LAPIC_TIMER_CCR);
    uint32_t dcr = page_read(b, LAPIC_TIMER_DCR);
    test_check(!icr && !ccr && !dcr, "SDM 11.4.7.1: %s: timer initial 0x%x, current 0x%x, divide 0x%x "
               "(want 0: stopped)", why, icr, ccr, dcr);
    uint32_t lo = page_read(b, LAPIC_ICR_LO), hi = page_read(b, LAPIC_ICR_HI);
    test_check(!lo && !hi, "SDM 11.4.7.1: %s: ICR 0x%x:%x (want 0)", why, hi, lo);
    uint32_t ldr = page_read(b, LAPIC_LDR), dfr = page_read(b, LAPIC_DFR);
    test_check(ldr == 0 && dfr == ALL_ONES, "SDM 11.4.7.1: %s: LDR 0x%x (want 0), DFR 0x%x (want all-ones)",
               why, ldr, dfr);
    uint32_t id = page_read(b, LAPIC_ID);
    test_check(id >> 24 == initial_id, "SDM 11.4.7.1: %s: ID register 0x%x holds the initial APIC ID %u",
               why, id, initial_id);
}

/* SDM 11.4.4: the page is where IA32_APIC_BASE says, and keeps the registers when it moves. */
static void check_move(void)
{
    page_write(LAPIC_DEFAULT_BASE, LAPIC_TPR, 0x20);
    legal(BASE_XAPIC(MOVED_BASE), "SDM 11.4.4", "new base 0xfec80000");
    check_page_answers(MOVED_BASE, "SDM 11.4.4", "moved");
    check_page_gone(LAPIC_DEFAULT_BASE, "SDM 11.4.4", "moved away");
    uint32_t tpr = page_read(MOVED_BASE, LAPIC_TPR);
    test_check(tpr == 0x20, "SDM 11.4.4: moving the page keeps the registers: TPR 0x%x at the new "
               "address (want 0x20)", tpr);
}

static void check_reserved_bits(void)
{
    unsigned m = maxphyaddr();
    illegal(BASE_XAPIC(MOVED_BASE) | (1ull << 9), "SDM 11.4.4", "reserved bit 9");
    illegal(BASE_XAPIC(MOVED_BASE) | 1ull, "SDM 11.4.4", "reserved bit 0");
    if (m < 64)
        illegal(BASE_XAPIC(MOVED_BASE) | (1ull << m), "SDM 11.4.4", "a base bit at MAXPHYADDR");
}

/* xAPIC -> x2APIC and the ways out of x2APIC (SDM 11.12.5), at the moved base. */
static void check_x2apic(void)
{
    legal(BASE_X2APIC(MOVED_BASE), "SDM 11.12.5", "xAPIC -> x2APIC (EXTD=1)");
    int r = try_rdmsr(X2APIC_MSR(LAPIC_VERSION));
    uint64_t ver = r < 0 ? rdmsr(X2APIC_MSR(LAPIC_VERSION)) : 0;
    test_check(r < 0 && ver == version, "SDM 11.12.1.2: x2APIC: MSR 0x803 (version) reads 0x%llx (%s; "
               "the page read 0x%x)", ver, fault(r), version);
    uint64_t id = r < 0 ? rdmsr(X2APIC_MSR(LAPIC_ID)) : ~0ull;
    test_check(id == initial_id, "SDM 11.12.5.1: xAPIC -> x2APIC keeps the physical ID: MSR 0x802 = "
               "0x%llx (want %u)", id, initial_id);
    uint64_t tpr = r < 0 ? rdmsr(X2APIC_MSR(LAPIC_TPR)) : ~0ull;
    test_check(tpr == 0x20, "SDM 11.12.5.1: xAPIC -> x2APIC keeps the registers: MSR 0x808 (TPR) = "
               "0x%llx (want 0x20)", tpr);
    check_page_gone(MOVED_BASE, "SDM 11.12.2", "x2APIC mode");
    test_check(cpuid_apic(), "SDM 11.4.3: x2APIC: CPUID.1:EDX.APIC[9] still reads 1");

    illegal(BASE_XAPIC(MOVED_BASE), "SDM 11.12.5", "x2APIC -> xAPIC directly");
    illegal(BASE_OFF(MOVED_BASE) | APIC_BASE_EXTD, "SDM 11.12.5", "x2APIC -> EN=0 EXTD=1 (the invalid state)");
    legal(BASE_OFF(MOVED_BASE), "SDM 11.12.5", "x2APIC -> disabled (EN=0, EXTD=0)");
    test_check(!cpuid_apic(), "SDM 11.4.3: disabled from x2APIC: CPUID.1:EDX.APIC[9] reads 0");
    check_x2apic_msrs_fault("SDM 11.12.2", "disabled from x2APIC");
    check_page_gone(MOVED_BASE, "SDM 11.4.3", "disabled from x2APIC");
    illegal(BASE_X2APIC(MOVED_BASE), "SDM 11.12.5", "disabled -> x2APIC directly");

    /* Home again, as the runtime expects it. */
    legal(BASE_XAPIC(LAPIC_DEFAULT_BASE), "SDM 11.12.5", "disabled -> xAPIC at the default base");
    check_page_answers(LAPIC_DEFAULT_BASE, "SDM 11.4.4", "back at 0xfee00000");
    check_page_gone(MOVED_BASE, "SDM 11.4.4", "moved back");
    check_power_up_state("x2APIC -> disabled -> xAPIC");
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("apicbase: IA32_APIC_BASE: disable, re-enable, relocation, x2APIC transitions");
    pic_init();
    pic_set_mask(0xffff);
    check_start();
    check_disable_enable();
    check_power_up_state("EN=0 then EN=1");
    check_move();
    check_reserved_bits();
    check_x2apic();
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    test_check(base == BASE_XAPIC(LAPIC_DEFAULT_BASE) && !lapic_in_x2apic(),
               "end: IA32_APIC_BASE 0x%llx: enabled, xAPIC mode, default base", base);
    test_end();
}

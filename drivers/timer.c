/* Host timer: PIT channel 2 gives a known 20 ms window to measure the TSC and the LAPIC
 * timer; the LAPIC timer then runs periodically at the configured rate. */
#include "drivers/timer.h"
#include "drivers/lapic.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/log.h"
#include "kernel/time.h"

#define PIT_HZ          1193182u
#define CALIB_MS        20u
#define CALIB_COUNT     (PIT_HZ * CALIB_MS / 1000)

static uint64_t lapic_timer_hz;         /* after the divide-by-16 */
static uint32_t hz;
static volatile uint64_t ticks;
static void (*tick_hook)(void);

/* Returns false if the PIT never signalled the end of the window (no PIT). */
static bool pit_window(uint64_t *tsc_delta, uint32_t *lapic_delta)
{
    uint8_t p61 = inb(0x61);
    outb(0x61, (p61 & ~0x02) | 0x01);           /* gate on, speaker off */
    outb(0x43, 0xB0);                           /* channel 2, lo/hi byte, mode 0 */
    outb(0x42, CALIB_COUNT & 0xFF);
    outb(0x42, CALIB_COUNT >> 8);               /* counting starts now; OUT2 low */
    lapic_timer_start_oneshot(0xFFFFFFFF, VEC_TIMER, true);
    uint64_t t0 = rdtsc();
    uint64_t spins = 0;
    while (!(inb(0x61) & 0x20)) {
        if (++spins > 200000000ull)
            return false;
    }
    uint64_t t1 = rdtsc();
    uint32_t cur = lapic_timer_current();
    lapic_timer_stop();
    outb(0x61, p61);
    *tsc_delta = t1 - t0;
    *lapic_delta = 0xFFFFFFFF - cur;
    return true;
}

void timer_calibrate(void)
{
    uint64_t tsc_delta;
    uint32_t lapic_delta;
    const char *how = "the PIT";
    if (pit_window(&tsc_delta, &lapic_delta)) {
        time_init(tsc_delta * 1000 / CALIB_MS);
        lapic_timer_hz = (uint64_t)lapic_delta * 1000 / CALIB_MS;
    } else {
        /* No PIT: CPUID 0x15 gives the TSC/crystal ratio; the LAPIC timer runs at the crystal. */
        struct cpuid_regs r = cpuid(0, 0);
        uint64_t tsc = 0, crystal = 0;
        if (r.eax >= 0x15) {
            r = cpuid(0x15, 0);
            if (r.eax && r.ebx && r.ecx) {
                crystal = r.ecx;
                tsc = crystal * r.ebx / r.eax;
            }
        }
        if (!tsc) {
            tsc = 1000000000ull;
            crystal = 25000000ull;
            hv_warn("timer: neither the PIT nor CPUID 0x15 gives the clock; assuming 1 GHz TSC");
        }
        time_init(tsc);
        lapic_timer_hz = crystal / 16;
        how = "CPUID 0x15";
    }
    hv_info("tsc: %lu kHz, lapic timer: %lu kHz (measured with %s)",
            time_tsc_hz() / 1000, lapic_timer_hz * 16 / 1000, how);
}

static void timer_irq(struct trap_frame *tf)
{
    (void)tf;
    ticks++;
    if (tick_hook)
        tick_hook();
}

void timer_start(uint32_t rate)
{
    hz = rate;
    idt_set_handler(VEC_TIMER, timer_irq);
    uint64_t count = lapic_timer_hz / hz;
    if (count == 0 || count > 0xFFFFFFFFull)
        count = count ? 0xFFFFFFFFull : 1;
    lapic_timer_start_periodic((uint32_t)count, VEC_TIMER);

    /* Count 10 ticks against the TSC: proof that timer interrupts really arrive. */
    sti();
    uint64_t limit = rdtsc() + time_ns_to_tsc(2000000000ull);
    uint64_t first = ticks;
    while (ticks == first && rdtsc() < limit)
        hlt();
    uint64_t t0 = rdtsc(), start = ticks;
    while (ticks < start + 10 && rdtsc() < limit)
        hlt();
    uint64_t t1 = rdtsc(), got = ticks - start;
    if (got < 10) {
        hv_error("timer: lapic periodic %u Hz: only %lu interrupts in 2 s", hz, ticks - first);
        return;
    }
    uint64_t measured = (got * time_tsc_hz() + (t1 - t0) / 2) / (t1 - t0 ? t1 - t0 : 1);
    hv_info("timer: lapic periodic %u Hz, measured %lu Hz over %lu ticks", hz, measured, got);
}

uint64_t timer_ticks(void)
{
    return ticks;
}

uint32_t timer_hz(void)
{
    return hz;
}

void timer_set_tick_hook(void (*hook)(void))
{
    tick_hook = hook;
}

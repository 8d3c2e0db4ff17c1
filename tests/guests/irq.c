/*
 * Guest test irq: 8259A and 8254 timer interrupts are held off by IF=0 and
 * by the IMR mask bit, and delivered otherwise.
 */
#include "guest.h"

#define TIMER_HZ        1000
#define WINDOW_US       100000      /* 100 ms: about 100 ticks at 1000 Hz */

static volatile uint32_t ticks;

static struct int_frame *timer_irq(struct int_frame *f)
{
    ticks++;
    return f;
}

/* Busy-wait one window with IF as given; returns the ticks counted meanwhile, or -1 if the PIT is stuck. */
static int64_t window(bool interrupts)
{
    uint32_t before = ticks;
    if (interrupts)
        sti();
    bool ok = pit_poll_wait_us(WINDOW_US);
    cli();
    if (!ok)
        return -1;
    return ticks - before;
}

static bool check_window(const char *what, bool interrupts, bool want_ticks)
{
    int64_t n = window(interrupts);
    if (n < 0) {
        test_fail("%s: the PIT counter does not count, cannot time the window", what);
        return false;
    }
    if (want_ticks)
        return test_check(n >= 10, "%s: %lld timer interrupts in 100 ms (want >= 10, ~100)", what, n);
    return test_check(n == 0, "%s: %lld timer interrupts in 100 ms (want 0)", what, n);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("irq: PIT interrupts through the 8259A, gated by IF and the IMR");

    pic_init();
    irq_set_handler(PIT_IRQ, timer_irq);
    pit_set_periodic(TIMER_HZ);
    pic_unmask(PIT_IRQ);
    test_check(pic_get_mask() == (uint16_t)~((1u << PIT_IRQ) | (1u << 2)),
               "IMR reads back 0x%04x (IRQ 0 and cascade unmasked)", pic_get_mask());

    check_window("IF=0", false, false);
    check_window("IF=1", true, true);
    pic_mask(PIT_IRQ);
    check_window("IF=1, IRQ 0 masked in the IMR", true, false);
    pic_unmask(PIT_IRQ);
    check_window("IF=1, IRQ 0 unmasked again", true, true);
    pic_mask(PIT_IRQ);
    test_end();
}

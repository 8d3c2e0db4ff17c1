/* Host unit tests for the virtual 8254 and port 0x61 (kernel/vm/vdev/vpit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vpit.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct vpit pit;

static uint8_t in(uint16_t port) { return (uint8_t)vdev_io_in(&bus, port, 1); }
static void out(uint16_t port, uint8_t v) { vdev_io_out(&bus, port, 1, v); }

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    fake_set_ns(5000000000ull); /* guest time does not start at zero */
    vdev_bus_init(&bus);
    vpit_init(&pit, &env);
    assert_int_equal(vpit_attach(&pit, &bus), 0);
    return 0;
}

/* Counter latch command, then LSB and MSB. */
static uint16_t latch_read(unsigned c)
{
    out(0x43, (uint8_t)(c << 6));
    uint8_t lo = in((uint16_t)(0x40 + c));
    return (uint16_t)(lo | in((uint16_t)(0x40 + c)) << 8);
}

static void program(unsigned c, uint8_t mode, uint16_t count)
{
    out(0x43, (uint8_t)(c << 6 | 0x30 | mode << 1));
    out((uint16_t)(0x40 + c), (uint8_t)count);
    out((uint16_t)(0x40 + c), (uint8_t)(count >> 8));
}

static void test_time_conversion(void **state)
{
    (void)state;
    assert_int_equal(ns_to_ticks(1000000000ull), VPIT_HZ);
    assert_int_equal(ns_to_ticks(500000), 596);
    /* No overflow after a year of guest time. */
    uint64_t year = 365ull * 86400 * 1000000000ull;
    assert_int_equal(ns_to_ticks(year), 365ull * 86400 * VPIT_HZ);
    for (uint64_t k = 1; k < 70000; k += 997) {
        uint64_t ns = ticks_to_ns(k);
        assert_true(ns_to_ticks(ns) >= k);
        assert_true(ns_to_ticks(ns - 1) < k);
    }
}

static void test_mode2_counts_down_and_reloads(void **state)
{
    (void)state;
    program(0, 2, 1193);
    assert_int_equal(latch_read(0), 1193);
    fake_advance_ns(500000); /* 596 ticks */
    assert_int_equal(latch_read(0), 1193 - 596);
    fake_advance_ns(ticks_to_ns(1193)); /* one period later: same phase */
    uint16_t v = latch_read(0);
    assert_true(v >= 1193 - 597 && v <= 1193 - 595);
}

static void test_latch_holds_value(void **state)
{
    (void)state;
    program(0, 2, 10000);
    fake_advance_ns(1000000);
    out(0x43, 0x00);
    fake_advance_ns(3000000);
    out(0x43, 0x00); /* ignored: the first latch is unread */
    uint8_t lo = in(0x40), hi = in(0x40);
    assert_int_equal(lo | hi << 8, 10000 - 1193);
    /* Live reads after the latch is consumed reflect the current time. */
    lo = in(0x40);
    hi = in(0x40);
    assert_int_equal(lo | hi << 8, 10000 - 4772);
}

static void test_periodic_irq0_and_catch_up(void **state)
{
    (void)state;
    assert_int_equal(vpit_next_event_ns(&pit), UINT64_MAX);
    uint64_t t0 = fake_ns();
    program(0, 2, 11932); /* ~10 ms */
    uint64_t next = vpit_next_event_ns(&pit);
    assert_int_equal(next, t0 + ticks_to_ns(11932));
    fake_set_ns(next - 1);
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 0);
    fake_set_ns(next);
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 1);
    assert_false(fake_irq_level(0)); /* pulsed, not held */
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 1);
    assert_int_equal(vpit_next_event_ns(&pit), t0 + ticks_to_ns(2 * 11932));
    /* 10 periods late: the last VPIT_CATCHUP_MAX are delivered one per update, the
     * older two dropped; then the PIT is back on schedule. */
    fake_set_ns(t0 + ticks_to_ns(11 * 11932));
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 2);
    assert_int_equal(pit.ticks_coalesced, 10 - VPIT_CATCHUP_MAX);
    for (int i = 1; i < VPIT_CATCHUP_MAX; i++)
        vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 1 + VPIT_CATCHUP_MAX);
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 1 + VPIT_CATCHUP_MAX);
    assert_int_equal(vpit_next_event_ns(&pit), t0 + ticks_to_ns(12 * 11932));
}

static void test_mode3_square_wave(void **state)
{
    (void)state;
    uint64_t t0 = fake_ns();
    program(0, 3, 1000);
    assert_true(vpit_out(&pit, 0));
    fake_set_ns(t0 + ticks_to_ns(499));
    assert_true(vpit_out(&pit, 0));
    assert_int_equal(vpit_count(&pit, 0), 1000 - 2 * 499);
    fake_set_ns(t0 + ticks_to_ns(500));
    assert_false(vpit_out(&pit, 0));
    fake_set_ns(t0 + ticks_to_ns(1000));
    assert_true(vpit_out(&pit, 0));
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 1);
    fake_set_ns(t0 + ticks_to_ns(3000));
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 2);
}

static void test_mode0_one_shot(void **state)
{
    (void)state;
    uint64_t t0 = fake_ns();
    program(0, 0, 100);
    assert_false(vpit_out(&pit, 0));
    assert_int_equal(vpit_next_event_ns(&pit), t0 + ticks_to_ns(100));
    fake_set_ns(t0 + ticks_to_ns(99));
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 0);
    assert_int_equal(latch_read(0), 1);
    fake_set_ns(t0 + ticks_to_ns(100));
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 1);
    assert_true(vpit_out(&pit, 0));
    assert_int_equal(vpit_next_event_ns(&pit), UINT64_MAX);
    fake_advance_ns(1000000000ull);
    vpit_update(&pit);
    assert_int_equal(fake_irq_rises(0), 1); /* one shot: no more edges */
    assert_true(vpit_out(&pit, 0));
    /* The counter keeps wrapping below zero. */
    fake_set_ns(t0 + ticks_to_ns(102));
    assert_int_equal(latch_read(0), 65534);
}

static void test_readback_status(void **state)
{
    (void)state;
    out(0x43, 0xB0); /* ch2, lohi, mode 0 */
    out(0x43, 0xE8); /* read-back status of ch2 */
    assert_int_equal(in(0x42), 0x40 | 0x30); /* OUT low, null count, lohi, mode 0 */
    out(0x42, 0x10);
    out(0x42, 0x00);
    out(0x61, 0x01); /* gate 2 high */
    fake_advance_ns(ticks_to_ns(0x10));
    out(0x43, 0xC8); /* status and count of ch2 */
    assert_int_equal(in(0x42), 0x80 | 0x30);
    assert_int_equal(in(0x42), 0x00);
    assert_int_equal(in(0x42), 0x00);
    /* Read-back of ch0 count only, BCD mode 2. */
    out(0x43, 0x35);
    out(0x40, 0x00);
    out(0x40, 0x10); /* BCD 1000 */
    fake_advance_ns(ticks_to_ns(1));
    out(0x43, 0xD2);
    assert_int_equal(in(0x40), 0x99);
    assert_int_equal(in(0x40), 0x09);
}

static void test_access_modes(void **state)
{
    (void)state;
    out(0x43, 0x54); /* ch1, lobyte, mode 2 */
    out(0x41, 0x80);
    assert_int_equal(in(0x41), 0x80);
    fake_advance_ns(ticks_to_ns(0x10));
    assert_int_equal(in(0x41), 0x70);
    out(0x43, 0x64); /* ch1, hibyte, mode 2 */
    out(0x41, 0x02);
    assert_int_equal(in(0x41), 0x02);
    fake_advance_ns(ticks_to_ns(0x100));
    assert_int_equal(in(0x41), 0x01);
    assert_int_equal(in(0x43), 0xFF);
}

static void test_linux_calibration_on_channel2(void **state)
{
    (void)state;
    /* arch/x86/kernel/tsc.c pit_calibrate_tsc(): gate high, speaker off, mode 0. */
    out(0x61, (uint8_t)((in(0x61) & ~0x02) | 0x01));
    out(0x43, 0xB0);
    uint16_t latch = 11932; /* ~10 ms */
    out(0x42, (uint8_t)latch);
    out(0x42, (uint8_t)(latch >> 8));
    uint64_t t0 = fake_ns();
    unsigned polls = 0;
    while (!(in(0x61) & 0x20)) {
        fake_advance_ns(1000); /* each poll takes 1 us */
        polls++;
        assert_true(polls < 20000);
    }
    assert_true(fake_ns() - t0 >= ticks_to_ns(latch));
    assert_true(fake_ns() - t0 < ticks_to_ns(latch) + 1000);
    assert_int_equal(fake_irq_rises(0), 0); /* channel 2 has no IRQ */
}

static void test_gate2_pauses_and_restarts(void **state)
{
    (void)state;
    out(0x61, 0x01);
    program(2, 0, 1000);
    fake_advance_ns(ticks_to_ns(300));
    out(0x61, 0x00); /* pause mode 0 */
    uint16_t held = latch_read(2);
    assert_int_equal(held, 700);
    fake_advance_ns(1000000);
    assert_int_equal(latch_read(2), 700);
    out(0x61, 0x01);
    fake_advance_ns(ticks_to_ns(100));
    assert_int_equal(latch_read(2), 600);
    /* Mode 2 restarts on the gate's rising edge; gate low forces OUT high. */
    program(2, 2, 50);
    fake_advance_ns(ticks_to_ns(20));
    assert_int_equal(latch_read(2), 30);
    out(0x61, 0x00);
    assert_true(in(0x61) & 0x20);
    fake_advance_ns(ticks_to_ns(7));
    out(0x61, 0x01);
    assert_int_equal(latch_read(2), 50);
}

static void test_port_b_bits(void **state)
{
    (void)state;
    out(0x61, 0x0F);
    assert_int_equal(in(0x61) & 0x0F, 0x0F);
    fake_set_ns(0);
    uint8_t a = in(0x61) & 0x10;
    fake_set_ns(REFRESH_HALF_PERIOD_NS);
    uint8_t b = in(0x61) & 0x10;
    assert_int_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_time_conversion, setup),
        cmocka_unit_test_setup(test_mode2_counts_down_and_reloads, setup),
        cmocka_unit_test_setup(test_latch_holds_value, setup),
        cmocka_unit_test_setup(test_periodic_irq0_and_catch_up, setup),
        cmocka_unit_test_setup(test_mode3_square_wave, setup),
        cmocka_unit_test_setup(test_mode0_one_shot, setup),
        cmocka_unit_test_setup(test_readback_status, setup),
        cmocka_unit_test_setup(test_access_modes, setup),
        cmocka_unit_test_setup(test_linux_calibration_on_channel2, setup),
        cmocka_unit_test_setup(test_gate2_pauses_and_restarts, setup),
        cmocka_unit_test_setup(test_port_b_bits, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

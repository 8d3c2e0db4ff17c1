/* Host unit tests for the virtual MC146818 RTC and CMOS (kernel/vm/vdev/vrtc.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vrtc.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct vrtc rtc;

static uint8_t cmos_read(uint8_t i)
{
    vdev_io_out(&bus, 0x70, 1, i);
    return (uint8_t)vdev_io_in(&bus, 0x71, 1);
}

static void cmos_write(uint8_t i, uint8_t v)
{
    vdev_io_out(&bus, 0x70, 1, i);
    vdev_io_out(&bus, 0x71, 1, v);
}

static void set(uint16_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi, uint8_t s)
{
    struct datetime dt = {.year = y, .month = mo, .day = d, .hour = h, .min = mi, .sec = s};
    vrtc_set_time(&rtc, &dt);
}

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    fake_set_ns(123456789ull);
    vdev_bus_init(&bus);
    vrtc_init(&rtc, &env);
    assert_int_equal(vrtc_attach(&rtc, &bus), 0);
    return 0;
}

static void test_bcd_time_and_leap_day(void **state)
{
    (void)state;
    set(2024, 2, 28, 23, 59, 58);
    assert_int_equal(cmos_read(VRTC_SEC), 0x58);
    assert_int_equal(cmos_read(VRTC_MIN), 0x59);
    assert_int_equal(cmos_read(VRTC_HOUR), 0x23);
    assert_int_equal(cmos_read(VRTC_DAY), 0x28);
    assert_int_equal(cmos_read(VRTC_MONTH), 0x02);
    assert_int_equal(cmos_read(VRTC_YEAR), 0x24);
    assert_int_equal(cmos_read(VRTC_CENTURY), 0x20);
    assert_int_equal(cmos_read(VRTC_WEEKDAY), 4); /* Wednesday */
    fake_advance_ns(1999999999ull);
    assert_int_equal(cmos_read(VRTC_SEC), 0x59);
    fake_advance_ns(1);
    assert_int_equal(cmos_read(VRTC_SEC), 0x00);
    assert_int_equal(cmos_read(VRTC_HOUR), 0x00);
    assert_int_equal(cmos_read(VRTC_DAY), 0x29);
    assert_int_equal(cmos_read(VRTC_WEEKDAY), 5);
    fake_advance_ns(DAY_S * NS_PER_S);
    assert_int_equal(cmos_read(VRTC_DAY), 0x01);
    assert_int_equal(cmos_read(VRTC_MONTH), 0x03);
}

static void test_year_and_century_rollover(void **state)
{
    (void)state;
    set(2099, 12, 31, 23, 59, 59);
    fake_advance_ns(NS_PER_S);
    assert_int_equal(cmos_read(VRTC_YEAR), 0x00);
    assert_int_equal(cmos_read(VRTC_CENTURY), 0x21);
    assert_int_equal(cmos_read(VRTC_MONTH), 0x01);
    assert_int_equal(cmos_read(VRTC_WEEKDAY), 6); /* 2100-01-01 is a Friday */
}

static void test_binary_and_12_hour(void **state)
{
    (void)state;
    set(2023, 7, 4, 13, 5, 9);
    cmos_write(VRTC_REG_B, VRTC_B_DM_BINARY); /* binary, 12-hour */
    assert_int_equal(cmos_read(VRTC_HOUR), 0x80 | 1);
    assert_int_equal(cmos_read(VRTC_MIN), 5);
    assert_int_equal(cmos_read(VRTC_YEAR), 23);
    cmos_write(VRTC_HOUR, 0x0C); /* 12 AM = midnight */
    struct datetime dt;
    vrtc_get_time(&rtc, &dt);
    assert_int_equal(dt.hour, 0);
    cmos_write(VRTC_REG_B, 0); /* BCD, 12-hour */
    cmos_write(VRTC_HOUR, 0x91); /* 11 PM */
    vrtc_get_time(&rtc, &dt);
    assert_int_equal(dt.hour, 23);
    assert_int_equal(cmos_read(VRTC_HOUR), 0x91);
    cmos_write(VRTC_HOUR, 0x92); /* 12 PM = noon */
    vrtc_get_time(&rtc, &dt);
    assert_int_equal(dt.hour, 12);
}

static void test_set_bit_holds_clock(void **state)
{
    (void)state;
    set(2020, 1, 1, 0, 0, 0);
    cmos_write(VRTC_REG_B, VRTC_B_SET | VRTC_B_24H | VRTC_B_UIE);
    assert_int_equal(cmos_read(VRTC_REG_B), VRTC_B_SET | VRTC_B_24H); /* SET clears UIE */
    fake_advance_ns(5 * NS_PER_S);
    assert_int_equal(cmos_read(VRTC_SEC), 0x00);
    cmos_write(VRTC_SEC, 0x30);
    cmos_write(VRTC_MIN, 0x15);
    cmos_write(VRTC_DAY, 0x31);
    cmos_write(VRTC_MONTH, 0x12);
    cmos_write(VRTC_YEAR, 0x19);
    fake_advance_ns(3 * NS_PER_S);
    cmos_write(VRTC_REG_B, VRTC_B_24H);
    fake_advance_ns(NS_PER_S - 1);
    assert_int_equal(cmos_read(VRTC_SEC), 0x30);
    fake_advance_ns(1);
    assert_int_equal(cmos_read(VRTC_SEC), 0x31);
    struct datetime dt;
    vrtc_get_time(&rtc, &dt);
    assert_int_equal(dt.year, 2019);
    assert_int_equal(dt.month, 12);
    assert_int_equal(dt.day, 31);
    assert_int_equal(dt.min, 15);
}

static void test_divider_reset_holds_clock(void **state)
{
    (void)state;
    set(2020, 1, 1, 0, 0, 0);
    cmos_write(VRTC_REG_A, 0x70 | 0x06);
    fake_advance_ns(10 * NS_PER_S);
    assert_int_equal(cmos_read(VRTC_SEC), 0x00);
    cmos_write(VRTC_REG_A, 0x26);
    fake_advance_ns(NS_PER_S);
    assert_int_equal(cmos_read(VRTC_SEC), 0x01);
}

static void test_uip_window(void **state)
{
    (void)state;
    set(2020, 1, 1, 0, 0, 0);
    uint64_t t0 = fake_ns();
    fake_set_ns(t0 + 500000000ull);
    assert_int_equal(cmos_read(VRTC_REG_A) & VRTC_A_UIP, 0);
    fake_set_ns(t0 + NS_PER_S - 100000);
    assert_int_equal(cmos_read(VRTC_REG_A), VRTC_A_UIP | 0x26);
    fake_set_ns(t0 + NS_PER_S);
    assert_int_equal(cmos_read(VRTC_REG_A) & VRTC_A_UIP, 0);
}

static void test_update_interrupt_and_reg_c(void **state)
{
    (void)state;
    uint64_t t0 = fake_ns();
    fake_advance_ns(1000000);
    assert_int_equal(cmos_read(VRTC_REG_C), VRTC_C_PF); /* PF runs with PIE off, no IRQF */
    cmos_write(VRTC_REG_A, 0x20);                  /* periodic rate off */
    cmos_read(VRTC_REG_C);
    cmos_write(VRTC_REG_B, VRTC_B_24H | VRTC_B_UIE);
    assert_int_equal(vrtc_next_event_ns(&rtc), t0 + NS_PER_S);
    fake_set_ns(t0 + NS_PER_S - 1);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 0);
    fake_set_ns(t0 + NS_PER_S);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 1);
    assert_true(fake_irq_level(8));
    assert_int_equal(cmos_read(VRTC_REG_C), VRTC_C_IRQF | VRTC_C_UF);
    assert_false(fake_irq_level(8));
    assert_int_equal(cmos_read(VRTC_REG_C), 0);
    fake_advance_ns(3 * NS_PER_S);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 2);
    assert_int_equal(vrtc_next_event_ns(&rtc), t0 + 5 * NS_PER_S);
}

static void test_periodic_interrupt(void **state)
{
    (void)state;
    cmos_write(VRTC_REG_A, 0x26); /* restarts nothing: same rate */
    cmos_write(VRTC_REG_A, 0x2F); /* 2 Hz */
    cmos_write(VRTC_REG_A, 0x26); /* 1024 Hz, phase from now */
    uint64_t t0 = fake_ns();
    assert_int_equal(vrtc_next_event_ns(&rtc), UINT64_MAX); /* PIE off */
    cmos_write(VRTC_REG_B, VRTC_B_24H | VRTC_B_PIE);
    uint64_t next = vrtc_next_event_ns(&rtc);
    assert_int_equal(next, t0 + 976563); /* 1/1024 s, rounded up */
    fake_set_ns(next);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 1);
    /* Without a read of C the line stays high: no new edge. */
    fake_set_ns(t0 + 2 * 976563);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 1);
    assert_int_equal(cmos_read(VRTC_REG_C), VRTC_C_IRQF | VRTC_C_PF);
    /* A guest that acknowledges every tick gets ~1024 per second. */
    unsigned ticks = 0;
    for (unsigned i = 0; i < 5000; i++) {
        fake_set_ns(vrtc_next_event_ns(&rtc));
        if (fake_ns() > t0 + NS_PER_S)
            break;
        vrtc_update(&rtc);
        if (cmos_read(VRTC_REG_C) & VRTC_C_PF)
            ticks++;
    }
    assert_int_equal(ticks, 1024 - 2);
}

static void test_alarm(void **state)
{
    (void)state;
    set(2022, 5, 5, 12, 29, 58);
    cmos_write(VRTC_REG_A, 0x20); /* no PF to muddle register C */
    cmos_write(VRTC_SEC_ALARM, 0x00);
    cmos_write(VRTC_MIN_ALARM, 0x30);
    cmos_write(VRTC_HOUR_ALARM, 0xFF); /* any hour */
    assert_int_equal(cmos_read(VRTC_MIN_ALARM), 0x30);
    cmos_write(VRTC_REG_B, VRTC_B_24H | VRTC_B_AIE);
    fake_advance_ns(NS_PER_S);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 0); /* UF is set but not enabled */
    fake_advance_ns(NS_PER_S);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 1);
    assert_int_equal(cmos_read(VRTC_REG_C), VRTC_C_IRQF | VRTC_C_AF | VRTC_C_UF);
    fake_advance_ns(59 * NS_PER_S);
    vrtc_update(&rtc);
    assert_int_equal(fake_irq_rises(8), 1);
    assert_int_equal(cmos_read(VRTC_REG_C), VRTC_C_UF);
}

static void test_long_absence(void **state)
{
    (void)state;
    set(2021, 12, 30, 10, 0, 0);
    fake_advance_ns((3 * DAY_S + 3600 + 10) * NS_PER_S);
    struct datetime dt;
    vrtc_get_time(&rtc, &dt);
    assert_int_equal(dt.year, 2022);
    assert_int_equal(dt.month, 1);
    assert_int_equal(dt.day, 2);
    assert_int_equal(dt.hour, 11);
    assert_int_equal(dt.sec, 10);
    assert_int_equal(dt.weekday, 1); /* Sunday */
}

static void test_nmi_mask_and_index(void **state)
{
    (void)state;
    assert_false(vrtc_nmi_masked(&rtc));
    vdev_io_out(&bus, 0x70, 1, 0x80 | VRTC_REG_D);
    assert_true(vrtc_nmi_masked(&rtc));
    assert_int_equal(vdev_io_in(&bus, 0x71, 1), VRTC_D_VRT);
    vdev_io_out(&bus, 0x70, 1, VRTC_REG_D);
    assert_false(vrtc_nmi_masked(&rtc));
    assert_int_equal(vdev_io_in(&bus, 0x70, 1), 0xFF);
    cmos_write(VRTC_REG_D, 0);
    assert_int_equal(cmos_read(VRTC_REG_D), VRTC_D_VRT);
}

static void test_cmos_ram_and_memory_size(void **state)
{
    (void)state;
    cmos_write(VRTC_SHUTDOWN, 0x0A);
    assert_int_equal(cmos_read(VRTC_SHUTDOWN), 0x0A);
    for (unsigned i = 0x0E; i < 0x80; i++)
        if (i != VRTC_CENTURY)
            cmos_write((uint8_t)i, (uint8_t)(i ^ 0x5A));
    for (unsigned i = 0x0E; i < 0x80; i++)
        if (i != VRTC_CENTURY)
            assert_int_equal(cmos_read((uint8_t)i), i ^ 0x5A);
    vrtc_set_memory_kib(&rtc, 256 * 1024);
    assert_int_equal(cmos_read(0x15) | cmos_read(0x16) << 8, 640);
    assert_int_equal(cmos_read(0x17) | cmos_read(0x18) << 8, 0xFFFF);
    assert_int_equal(cmos_read(0x30) | cmos_read(0x31) << 8, 0xFFFF);
    assert_int_equal(cmos_read(0x34) | cmos_read(0x35) << 8, (256 - 16) * 1024 / 64);
    vrtc_set_memory_kib(&rtc, 8 * 1024);
    assert_int_equal(cmos_read(0x17) | cmos_read(0x18) << 8, 7 * 1024);
    assert_int_equal(cmos_read(0x34) | cmos_read(0x35) << 8, 0);
    unsigned sum = 0;
    for (unsigned i = 0x10; i <= 0x2D; i++)
        sum += cmos_read((uint8_t)i);
    assert_int_equal(cmos_read(0x2E) << 8 | cmos_read(0x2F), sum & 0xFFFF);
}

static void test_reset_clears_enables(void **state)
{
    (void)state;
    cmos_write(VRTC_REG_B, VRTC_B_24H | VRTC_B_UIE | VRTC_B_PIE);
    fake_advance_ns(NS_PER_S);
    vrtc_update(&rtc);
    assert_true(fake_irq_level(8));
    vrtc_reset(&rtc);
    assert_false(fake_irq_level(8));
    assert_int_equal(cmos_read(VRTC_REG_B), VRTC_B_24H);
    assert_int_equal(vrtc_next_event_ns(&rtc), UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bcd_time_and_leap_day, setup),
        cmocka_unit_test_setup(test_year_and_century_rollover, setup),
        cmocka_unit_test_setup(test_binary_and_12_hour, setup),
        cmocka_unit_test_setup(test_set_bit_holds_clock, setup),
        cmocka_unit_test_setup(test_divider_reset_holds_clock, setup),
        cmocka_unit_test_setup(test_uip_window, setup),
        cmocka_unit_test_setup(test_update_interrupt_and_reg_c, setup),
        cmocka_unit_test_setup(test_periodic_interrupt, setup),
        cmocka_unit_test_setup(test_alarm, setup),
        cmocka_unit_test_setup(test_long_absence, setup),
        cmocka_unit_test_setup(test_nmi_mask_and_index, setup),
        cmocka_unit_test_setup(test_cmos_ram_and_memory_size, setup),
        cmocka_unit_test_setup(test_reset_clears_enables, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

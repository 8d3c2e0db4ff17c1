/* Host unit tests for the ACPI power-management registers (kernel/vm/vdev/vacpi.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vacpi.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct vacpi acpi;

static uint32_t in(uint16_t port, unsigned size) { return vdev_io_in(&bus, port, size); }
static void out(uint16_t port, unsigned size, uint32_t v) { vdev_io_out(&bus, port, size, v); }

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    vdev_bus_init(&bus);
    vacpi_init(&acpi, &env);
    assert_int_equal(vacpi_attach(&acpi, &bus), 0);
    return 0;
}

#define CNT ACPI_PM1A_CNT_PORT
#define STS ACPI_PM1A_EVT_PORT
#define EN (ACPI_PM1A_EVT_PORT + 2)
#define TMR ACPI_PM_TMR_PORT
#define SLP(typ) ((uint32_t)(typ) << 10)
#define SLP_EN (1u << 13)

static void test_ports_claimed(void **state)
{
    (void)state;
    for (uint16_t p = 0x600; p <= 0x605; p++)
        assert_non_null(vdev_io_name(&bus, p));
    for (uint16_t p = 0x608; p <= 0x60B; p++)
        assert_string_equal(vdev_io_name(&bus, p), "acpi-pm-tmr");
    assert_null(vdev_io_name(&bus, 0x606));
    assert_null(vdev_io_name(&bus, 0x60C));
    assert_int_equal(vacpi_attach(&acpi, &bus), -1);   /* already claimed */
}

static void test_sci_en_reads_one(void **state)
{
    (void)state;
    assert_int_equal(in(CNT, 2), 0x0001);
    assert_int_equal(in(CNT, 1), 0x01);
    out(CNT, 2, 0x0000);                                 /* the guest cannot leave ACPI mode */
    assert_int_equal(in(CNT, 2) & 1, 1);
    out(CNT, 2, SLP(3) | 0x0002);                        /* SLP_TYP and BM_RLD read back */
    assert_int_equal(in(CNT, 2), SLP(3) | 0x0003);
    assert_int_equal(fake_machine_count(), 0);
}

static void test_s5_powers_off_once(void **state)
{
    (void)state;
    /* ACPICA's order: SLP_TYP first, then the same value with SLP_EN. */
    out(CNT, 2, 0x0001 | SLP(ACPI_SLP_TYP_S5));
    assert_int_equal(fake_machine_count(), 0);
    out(CNT, 2, 0x0001 | SLP(ACPI_SLP_TYP_S5) | SLP_EN);
    assert_int_equal(fake_machine_count(), 1);
    assert_int_equal(fake_last_event(), VDEV_POWER_OFF);
    assert_int_equal(fake_last_status(), 0);
    assert_int_equal(in(CNT, 2), 0x0001 | SLP(ACPI_SLP_TYP_S5));   /* SLP_EN is write-only */
}

static void test_s5_by_byte_write(void **state)
{
    (void)state;
    out(CNT + 1, 1, (SLP(ACPI_SLP_TYP_S5) | SLP_EN) >> 8);
    assert_int_equal(fake_machine_count(), 1);
    assert_int_equal(fake_last_event(), VDEV_POWER_OFF);
    out(CNT, 1, 0x00);                                   /* the low byte carries no SLP_EN */
    assert_int_equal(fake_machine_count(), 1);
}

static void test_other_sleep_types_are_ignored(void **state)
{
    (void)state;
    for (unsigned typ = 0; typ < 8; typ++)
        if (typ != ACPI_SLP_TYP_S5)
            out(CNT, 2, SLP(typ) | SLP_EN);
    assert_int_equal(fake_machine_count(), 0);
}

static void test_s5_without_machine_hook(void **state)
{
    (void)state;
    env.machine = NULL;
    out(CNT, 2, SLP(ACPI_SLP_TYP_S5) | SLP_EN);          /* nothing to call: no crash */
    assert_int_equal(fake_machine_count(), 0);
}

/* ---- PM timer. */

static void test_pm_timer_counts_3_579545_mhz(void **state)
{
    (void)state;
    assert_int_equal(in(TMR, 4), 0);
    fake_set_ns(1000000);                                /* 1 ms */
    assert_int_equal(in(TMR, 4), 3579);
    fake_set_ns(1000000000);                             /* 1 s */
    assert_int_equal(in(TMR, 4), 3579545);
    /* From any instant, 1 ms later the count is 3579 or 3580 higher. */
    for (uint64_t t = 7123456789ull; t < 7123456789ull + 50 * 1000000ull; t += 333333) {
        fake_set_ns(t);
        uint32_t a = in(TMR, 4);
        fake_set_ns(t + 1000000);
        uint32_t d = (in(TMR, 4) - a) & 0xFFFFFF;
        assert_true(d == 3579 || d == 3580);
    }
}

static void test_pm_timer_wraps_at_24_bits(void **state)
{
    (void)state;
    fake_set_ns(4680000000ull);                          /* 16752270 ticks */
    uint32_t before = in(TMR, 4);
    assert_int_equal(before, 16752270);
    fake_set_ns(4690000000ull);                          /* 16788066 ticks: past 2^24 */
    uint32_t after = in(TMR, 4);
    assert_int_equal(after, 16788066 - (1u << 24));
    assert_true(after < before);
    assert_int_equal((after - before) & 0xFFFFFF, 35796);
}

static void test_pm_timer_exact_for_large_times(void **state)
{
    (void)state;
    const uint64_t times[] = {
        5153960755ull, 1ull << 40, 1ull << 50, 123456789012345678ull,
        (1ull << 63) + 987654321ull, UINT64_MAX - 1, UINT64_MAX,
    };
    for (unsigned i = 0; i < sizeof times / sizeof times[0]; i++) {
        fake_set_ns(times[i]);
        unsigned __int128 want = (unsigned __int128)times[i] * 3579545u / 1000000000u;
        assert_int_equal(vacpi_pm_timer(&acpi), (uint32_t)(want & 0xFFFFFF));
        assert_int_equal(in(TMR, 4), (uint32_t)(want & 0xFFFFFF));
    }
}

static void test_pm_timer_access_widths(void **state)
{
    (void)state;
    fake_set_ns(3210987654ull);
    uint32_t t = in(TMR, 4);
    assert_int_equal(t >> 24, 0);                        /* TMR_VAL_EXT = 0: 24 bits */
    assert_int_equal(t, vacpi_pm_timer(&acpi));
    assert_int_equal(in(TMR, 2), t & 0xFFFF);
    assert_int_equal(in(TMR + 2, 2), t >> 16);
    assert_int_equal(in(TMR + 1, 1), (t >> 8) & 0xFF);
    assert_int_equal(in(TMR + 3, 1), 0);
    out(TMR, 4, 0x12345678);                             /* read-only */
    assert_int_equal(in(TMR, 4), t);
}

/* ---- PM1 status and enable, the power button and the SCI. */

static void test_status_write_1_to_clear(void **state)
{
    (void)state;
    assert_int_equal(in(STS, 2), 0);
    vacpi_power_button(&acpi);
    assert_int_equal(in(STS, 2), VACPI_PM1_PWRBTN);
    out(STS, 2, 0x0000);                                 /* writing 0 changes nothing */
    assert_int_equal(in(STS, 2), VACPI_PM1_PWRBTN);
    out(STS, 2, (uint32_t)~VACPI_PM1_PWRBTN & 0xFFFF);   /* other bits: still set */
    assert_int_equal(in(STS, 2), VACPI_PM1_PWRBTN);
    out(STS + 1, 1, VACPI_PM1_PWRBTN >> 8);              /* 1 clears, byte access too */
    assert_int_equal(in(STS, 2), 0);
}

static void test_enable_register(void **state)
{
    (void)state;
    out(EN, 2, 0xFFFF);
    assert_int_equal(in(EN, 2), 0x4721);                 /* reserved bits read 0 */
    assert_int_equal(in(STS, 4), 0x4721u << 16);
    out(STS, 4, VACPI_PM1_PWRBTN << 16);                 /* dword write: STS and EN at once */
    assert_int_equal(in(EN, 2), VACPI_PM1_PWRBTN);
    out(EN + 1, 1, 0x00);
    assert_int_equal(in(EN, 2), 0);
}

static void test_power_button_raises_sci(void **state)
{
    (void)state;
    vacpi_power_button(&acpi);                           /* not enabled: no SCI */
    assert_false(fake_irq_level(ACPI_SCI_IRQ));
    assert_int_equal(fake_irq_calls(), 0);
    out(EN, 2, VACPI_PM1_PWRBTN);                        /* enabling with status set: SCI */
    assert_true(fake_irq_level(ACPI_SCI_IRQ));
    out(STS, 2, VACPI_PM1_PWRBTN);                       /* the handler clears the status */
    assert_false(fake_irq_level(ACPI_SCI_IRQ));
    vacpi_power_button(&acpi);
    assert_true(fake_irq_level(ACPI_SCI_IRQ));
    vacpi_power_button(&acpi);                           /* already high: no new call */
    assert_int_equal(fake_irq_calls(), 3);
    out(EN, 2, 0);
    assert_false(fake_irq_level(ACPI_SCI_IRQ));
    assert_int_equal(fake_machine_count(), 0);           /* a button press is not a power-off */
}

static void test_reset(void **state)
{
    (void)state;
    out(EN, 2, VACPI_PM1_PWRBTN);
    out(CNT, 2, SLP(2));
    vacpi_power_button(&acpi);
    assert_true(fake_irq_level(ACPI_SCI_IRQ));
    vacpi_reset(&acpi);
    assert_false(fake_irq_level(ACPI_SCI_IRQ));
    assert_int_equal(in(STS, 4), 0);
    assert_int_equal(in(CNT, 2), 0x0001);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_ports_claimed),
        T(test_sci_en_reads_one),
        T(test_s5_powers_off_once),
        T(test_s5_by_byte_write),
        T(test_other_sleep_types_are_ignored),
        T(test_s5_without_machine_hook),
        T(test_pm_timer_counts_3_579545_mhz),
        T(test_pm_timer_wraps_at_24_bits),
        T(test_pm_timer_exact_for_large_times),
        T(test_pm_timer_access_widths),
        T(test_status_write_1_to_clear),
        T(test_enable_register),
        T(test_power_button_raises_sci),
        T(test_reset),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

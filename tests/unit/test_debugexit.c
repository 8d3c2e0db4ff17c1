/* Host unit tests for QEMU's isa-debug-exit device (kernel/vm/vdev/debugexit.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/debugexit.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct debugexit dx;

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    vdev_bus_init(&bus);
    debugexit_init(&dx, &env);
    assert_int_equal(debugexit_attach(&dx, &bus), 0);
    return 0;
}

/* One write of size bytes at port; returns the status the VM was told. */
static uint32_t exit_with(uint16_t port, unsigned size, uint32_t value)
{
    unsigned before = fake_machine_count();
    vdev_io_out(&bus, port, size, value);
    assert_int_equal(fake_machine_count(), before + 1);
    assert_int_equal(fake_last_event(), VDEV_EXIT);
    assert_true(dx.exited);
    assert_int_equal(dx.status, fake_last_status());
    return fake_last_status();
}

static void test_status_is_value_shifted_or_one(void **state)
{
    (void)state;
    assert_false(dx.exited);
    assert_int_equal(exit_with(0xF4, 1, 0), 1);
    assert_int_equal(exit_with(0xF4, 1, 1), 3);
    assert_int_equal(exit_with(0xF4, 1, 0x31), 0x63);
    assert_int_equal(exit_with(0xF4, 1, 0xFF), 0x1FF);
}

static void test_access_widths(void **state)
{
    (void)state;
    assert_int_equal(exit_with(0xF4, 2, 0x1234), 0x2469);
    assert_int_equal(exit_with(0xF4, 4, 0x10), 0x21);
    assert_int_equal(exit_with(0xF4, 4, 0x7FFFFFFF), 0xFFFFFFFFu);
    assert_int_equal(exit_with(0xF4, 4, 0x80000001u), 3); /* bit 31 shifts out */
    /* Every port of 0xF4-0xF7 works; an OUTL at 0xF6 keeps the bytes inside the range. */
    assert_int_equal(exit_with(0xF5, 1, 2), 5);
    assert_int_equal(exit_with(0xF7, 1, 0x31), 0x63);
    assert_int_equal(exit_with(0xF6, 4, 0xAAAA0001u), 3);
}

static void test_reads_zero_without_exit(void **state)
{
    (void)state;
    assert_int_equal(vdev_io_in(&bus, 0xF4, 1), 0);
    assert_int_equal(vdev_io_in(&bus, 0xF4, 2), 0);
    assert_int_equal(vdev_io_in(&bus, 0xF4, 4), 0);
    assert_int_equal(vdev_io_in(&bus, 0xF7, 1), 0);
    assert_int_equal(fake_machine_count(), 0);
    assert_false(dx.exited);
}

static void test_ports(void **state)
{
    (void)state;
    for (uint16_t p = 0xF4; p <= 0xF7; p++)
        assert_string_equal(vdev_io_name(&bus, p), "isa-debug-exit");
    assert_null(vdev_io_name(&bus, 0xF3));
    assert_null(vdev_io_name(&bus, 0xF8));
    vdev_io_out(&bus, 0xF3, 1, 0);
    vdev_io_out(&bus, 0xF8, 1, 0);
    assert_int_equal(fake_machine_count(), 0);
    assert_int_equal(debugexit_attach(&dx, &bus), -1);
}

static void test_without_hook(void **state)
{
    (void)state;
    struct vdev_env bare = {0};
    debugexit_init(&dx, &bare);
    vdev_io_out(&bus, 0xF4, 1, 1);
    assert_true(dx.exited);
    assert_int_equal(dx.status, 3);
    debugexit_init(&dx, NULL);
    vdev_io_out(&bus, 0xF4, 1, 0x31);
    assert_int_equal(dx.status, 0x63);
    assert_int_equal(fake_machine_count(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_status_is_value_shifted_or_one, setup),
        cmocka_unit_test_setup(test_access_widths, setup),
        cmocka_unit_test_setup(test_reads_zero_without_exit, setup),
        cmocka_unit_test_setup(test_ports, setup),
        cmocka_unit_test_setup(test_without_hook, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

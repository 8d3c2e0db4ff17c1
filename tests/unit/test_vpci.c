/* Host unit tests for the PCI configuration ports and reset register (kernel/vm/vdev/vpci.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vpci.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct vpci pci;

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    vdev_bus_init(&bus);
    vpci_init(&pci, &env);
    assert_int_equal(vpci_attach(&pci, &bus), 0);
    return 0;
}

static uint32_t config_read(uint32_t address, uint16_t offset, unsigned size)
{
    vdev_io_out(&bus, 0xCF8, 4, address);
    return vdev_io_in(&bus, (uint16_t)(0xCFC + offset), size);
}

static void test_address_latch_round_trip(void **state)
{
    (void)state;
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 4), 0);
    vdev_io_out(&bus, 0xCF8, 4, 0x80000000); /* Linux's type-1 probe */
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 4), 0x80000000);
    vdev_io_out(&bus, 0xCF8, 4, 0x8001F8FC); /* bus 1, device 31, function 0, reg 0xFC */
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 4), 0x8001F8FC);
    /* Narrow accesses are not CONFIG_ADDRESS: they read all-ones and change nothing. */
    vdev_io_out(&bus, 0xCF8, 1, 0x00);
    vdev_io_out(&bus, 0xCFA, 1, 0x00);
    vdev_io_out(&bus, 0xCFB, 1, 0x01);
    vdev_io_out(&bus, 0xCF8, 2, 0x1234);
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 4), 0x8001F8FC);
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 1), 0xFF); /* so no mechanism #2 */
    assert_int_equal(vdev_io_in(&bus, 0xCFA, 1), 0xFF);
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 2), 0xFFFF);
    vpci_reset(&pci);
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 4), 0);
    assert_int_equal(fake_machine_count(), 0);
}

static void test_no_device_anywhere(void **state)
{
    (void)state;
    assert_int_equal(config_read(0x80000000, 0, 4), 0xFFFFFFFF); /* host bridge slot */
    assert_int_equal(config_read(0x80000800, 0, 4), 0xFFFFFFFF); /* 00:01.0 */
    assert_int_equal(config_read(0x80FFFF08, 0, 4), 0xFFFFFFFF); /* class code, bus 255 */
    assert_int_equal(config_read(0x00000000, 0, 4), 0xFFFFFFFF); /* enable bit clear */
    assert_int_equal(config_read(0x80000000, 2, 2), 0xFFFF);     /* device ID */
    assert_int_equal(config_read(0x80000000, 0, 2), 0xFFFF);     /* vendor ID */
    assert_int_equal(config_read(0x8000000C, 3, 1), 0xFF);       /* header type */
    /* Writes are dropped and leave CONFIG_ADDRESS alone. */
    vdev_io_out(&bus, 0xCFC, 4, 0x00000007);
    vdev_io_out(&bus, 0xCFE, 2, 0x0000);
    vdev_io_out(&bus, 0xCFD, 1, 0x00);
    assert_int_equal(vdev_io_in(&bus, 0xCFC, 4), 0xFFFFFFFF);
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 4), 0x8000000C);
    assert_string_equal(vdev_io_name(&bus, 0xCFF), "pci-data");
    assert_string_equal(vdev_io_name(&bus, 0xCF9), "pci-index");
}

static void test_word_read_at_cfe(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0xCF8, 4, 0x80000000);
    assert_int_equal(vdev_io_in(&bus, 0xCFE, 2), 0xFFFF);
}

static void test_cf9_reset_sequence(void **state)
{
    (void)state;
    /* Linux reboot=pci: cf9 = inb(0xcf9) & ~6; outb(cf9|2); udelay(50); outb(cf9|6). */
    uint8_t cf9 = (uint8_t)(vdev_io_in(&bus, 0xCF9, 1) & ~6u);
    assert_int_equal(cf9, 0);
    vdev_io_out(&bus, 0xCF9, 1, cf9 | 2);
    assert_int_equal(fake_machine_count_of(VDEV_RESET), 0);
    assert_int_equal(vdev_io_in(&bus, 0xCF9, 1), 0x02);
    vdev_io_out(&bus, 0xCF9, 1, cf9 | 6);
    assert_int_equal(fake_machine_count_of(VDEV_RESET), 1);
    assert_int_equal(fake_machine_count() - fake_machine_count_of(VDEV_RESET), 0);
    assert_int_equal(vdev_io_in(&bus, 0xCF9, 1), 0); /* power-on value after the reset */
    /* A second reboot works without vpci_reset(); 0x0E (full reset) too. */
    vdev_io_out(&bus, 0xCF9, 1, 0x06);
    assert_int_equal(fake_machine_count_of(VDEV_RESET), 2);
    vdev_io_out(&bus, 0xCF9, 1, 0x0E);
    assert_int_equal(fake_machine_count_of(VDEV_RESET), 3);
    vdev_io_out(&bus, 0xCF9, 1, 0x04); /* soft reset: RST_CPU alone */
    assert_int_equal(fake_machine_count_of(VDEV_RESET), 4);
}

static void test_cf9_without_rst_cpu_does_not_reset(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0xCF9, 1, 0x02);
    vdev_io_out(&bus, 0xCF9, 1, 0x0A);
    vdev_io_out(&bus, 0xCF9, 1, 0xF1); /* bits outside 1..3 are not kept */
    assert_int_equal(vdev_io_in(&bus, 0xCF9, 1), 0);
    vdev_io_out(&bus, 0xCF9, 1, 0x0A);
    assert_int_equal(vdev_io_in(&bus, 0xCF9, 1), 0x0A);
    /* Only a byte access is the reset register; the CF8 dword write is not. */
    vdev_io_out(&bus, 0xCF8, 4, 0x00000600);
    vdev_io_out(&bus, 0xCF9, 2, 0x0606);
    assert_int_equal(fake_machine_count_of(VDEV_RESET), 0);
    assert_int_equal(vdev_io_in(&bus, 0xCF9, 1), 0x0A);
    /* No machine hook: the write is harmless. */
    struct vdev_env bare = {0};
    struct vpci quiet;
    vpci_init(&quiet, &bare);
    vpci_index_write(&quiet, 0xCF9, 1, 0x06);
    assert_int_equal(fake_machine_count_of(VDEV_RESET), 0);
}

static void test_attach_conflicts(void **state)
{
    (void)state;
    struct vpci other;
    vpci_init(&other, &env);
    assert_int_equal(vpci_attach(&other, &bus), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_address_latch_round_trip, setup),
        cmocka_unit_test_setup(test_no_device_anywhere, setup),
        cmocka_unit_test_setup(test_word_read_at_cfe, setup),
        cmocka_unit_test_setup(test_cf9_reset_sequence, setup),
        cmocka_unit_test_setup(test_cf9_without_rst_cpu_does_not_reset, setup),
        cmocka_unit_test_setup(test_attach_conflicts, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

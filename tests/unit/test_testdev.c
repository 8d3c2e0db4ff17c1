/* Host unit tests for QEMU's pc-testdev (kernel/vm/vdev/testdev.c), through the bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/testdev.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct testdev td;

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    vdev_bus_init(&bus);
    testdev_init(&td, &env);
    assert_int_equal(testdev_attach(&td, &bus), 0);
    return 0;
}

static uint64_t mmio_in(uint64_t gpa, unsigned size)
{
    uint64_t v = 0x5555555555555555ull;
    assert_true(vdev_mmio_read(&bus, gpa, size, &v));
    return v;
}

static void mmio_out(uint64_t gpa, unsigned size, uint64_t v)
{
    assert_true(vdev_mmio_write(&bus, gpa, size, v));
}

/* ---- 0xE0-0xE3: the scratch register. */

static void test_ioport_starts_zero(void **state)
{
    (void)state;
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0);
    assert_int_equal(vdev_io_in(&bus, 0xE8, 4), 0);
}

static void test_ioport_widths(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0xE0, 4, 0x12345678);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0x12345678);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 1), 0x78);
    assert_int_equal(vdev_io_in(&bus, 0xE1, 1), 0x56);
    assert_int_equal(vdev_io_in(&bus, 0xE2, 1), 0x34);
    assert_int_equal(vdev_io_in(&bus, 0xE3, 1), 0x12);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 2), 0x5678);
    assert_int_equal(vdev_io_in(&bus, 0xE1, 2), 0x3456);
    assert_int_equal(vdev_io_in(&bus, 0xE2, 2), 0x1234);
    /* A narrow write replaces its bytes only. */
    vdev_io_out(&bus, 0xE1, 1, 0xAB);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0x1234AB78);
    vdev_io_out(&bus, 0xE2, 2, 0xCDEF);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0xCDEFAB78);
    vdev_io_out(&bus, 0xE0, 2, 0x0102);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0xCDEF0102);
    vdev_io_out(&bus, 0xE3, 1, 0x00);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0x00EF0102);
}

/* kvm-unit-tests' emulator test_stringio: REP OUTSB leaves the last byte at 0xE0. */
static void test_ioport_string_out(void **state)
{
    (void)state;
    const char *s = "abcdefghijklmnop";
    for (const char *p = s; *p; p++)
        vdev_io_out(&bus, 0xE0, 1, (uint8_t)*p);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 1), 'p');
}

/* An access running past 0xE3 ends in the flush-page ports: its bytes there read 0
 * and the flush ignores a write that is not 4 bytes at 0xE4. */
static void test_ioport_straddle(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0xE0, 4, 0x44332211);
    assert_int_equal(vdev_io_in(&bus, 0xE2, 4), 0x00004433);
    vdev_io_out(&bus, 0xE2, 4, 0xAAAABBBB);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0xBBBB2211);
    assert_int_equal(td.flushes, 0);
}

/* ---- 0xE8-0xEB: the same register, byte by byte. */

static void test_ioport_byte_aliases_register(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0xE0, 4, 0x11223344);
    assert_int_equal(vdev_io_in(&bus, 0xE8, 4), 0x11223344);
    assert_int_equal(vdev_io_in(&bus, 0xEA, 1), 0x22);
    assert_int_equal(vdev_io_in(&bus, 0xE9, 2), 0x2233);
    vdev_io_out(&bus, 0xE8, 4, 0xDEADBEEF);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0xDEADBEEF);
    vdev_io_out(&bus, 0xEB, 1, 0x5A);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0x5AADBEEF);
    vdev_io_out(&bus, 0xE9, 2, 0x1234);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0x5A1234EF);
}

/* ---- 0xE4-0xE7: flush page. */

static void test_flush_page(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0xE0, 4, 0xCAFEF00D);
    vdev_io_out(&bus, 0xE4, 4, 0x00123ABC);
    assert_int_equal(td.flushes, 1);
    assert_int_equal(td.last_flush, 0x00123000);
    /* Not 4 bytes at 0xE4: dropped, as QEMU's valid sizes (4..4) make it. */
    vdev_io_out(&bus, 0xE4, 1, 0x55);
    vdev_io_out(&bus, 0xE4, 2, 0x5555);
    vdev_io_out(&bus, 0xE5, 1, 0x55);
    vdev_io_out(&bus, 0xE6, 2, 0x5555);
    assert_int_equal(td.flushes, 1);
    assert_int_equal(td.last_flush, 0x00123000);
    /* OUTL at 0xE5 covers 0xE5-0xE8: three dropped bytes, and the last lands on 0xE8. */
    vdev_io_out(&bus, 0xE5, 4, 0x66555555);
    assert_int_equal(td.flushes, 1);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0xCAFEF066);
    /* Reads 0 at any width; nothing else moved. */
    assert_int_equal(vdev_io_in(&bus, 0xE4, 4), 0);
    assert_int_equal(vdev_io_in(&bus, 0xE4, 2), 0);
    assert_int_equal(vdev_io_in(&bus, 0xE7, 1), 0);
    assert_int_equal(vdev_io_in(&bus, 0xE5, 4), 0x66000000);
    assert_int_equal(fake_irq_calls(), 0);
    assert_int_equal(fake_machine_count(), 0);
}

/* ---- 0x2000-0x2017: IRQ lines. */

static void test_irq_lines(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0x200A, 1, 1);
    assert_true(fake_irq_level(10));
    assert_int_equal(fake_irq_rises(10), 1);
    vdev_io_out(&bus, 0x200A, 1, 0x80);            /* any non-zero byte: high */
    assert_true(fake_irq_level(10));
    assert_int_equal(fake_irq_rises(10), 1);
    vdev_io_out(&bus, 0x200A, 1, 0);
    assert_false(fake_irq_level(10));
    assert_int_equal(fake_irq_calls(), 3);         /* every write drives the line */
    for (unsigned n = 0; n < 16; n++) {
        vdev_io_out(&bus, (uint16_t)(0x2000 + n), 1, 1);
        assert_int_equal(fake.last_irq, (int)n);
        assert_true(fake_irq_level(n));
        vdev_io_out(&bus, (uint16_t)(0x2000 + n), 1, 0);
        assert_false(fake_irq_level(n));
    }
}

/* A wide write is a byte per line, lowest port first. */
static void test_irq_wide_write(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0x2004, 2, 0x0001);
    assert_true(fake_irq_level(4));
    assert_false(fake_irq_level(5));
    assert_int_equal(fake_irq_calls(), 2);
    vdev_io_out(&bus, 0x2004, 4, 0x01000100);
    assert_false(fake_irq_level(4));
    assert_true(fake_irq_level(5));
    assert_false(fake_irq_level(6));
    assert_true(fake_irq_level(7));
    assert_int_equal(fake_irq_calls(), 6);
}

/* Lines 16-23 have ports but no ISA line: nothing is driven. Reads are 0. */
static void test_irq_high_ports_and_reads(void **state)
{
    (void)state;
    for (uint16_t p = 0x2010; p <= 0x2017; p++)
        vdev_io_out(&bus, p, 1, 1);
    assert_int_equal(fake_irq_calls(), 0);
    assert_int_equal(vdev_io_in(&bus, 0x2000, 1), 0);
    assert_int_equal(vdev_io_in(&bus, 0x2000, 4), 0);
    assert_int_equal(vdev_io_in(&bus, 0x2017, 1), 0);
    vdev_io_out(&bus, 0x2003, 1, 1);
    assert_int_equal(vdev_io_in(&bus, 0x2003, 1), 0);   /* the level is not read back */
}

static void test_irq_without_hook(void **state)
{
    (void)state;
    struct vdev_env bare = {0};
    testdev_init(&td, &bare);
    vdev_io_out(&bus, 0x2001, 1, 1);
    testdev_init(&td, NULL);
    vdev_io_out(&bus, 0x2001, 1, 1);
    assert_int_equal(fake_irq_calls(), 0);
}

/* ---- 0xFF000000: IORAM. */

static void test_ioram_reads_back(void **state)
{
    (void)state;
    const uint64_t b = TESTDEV_IORAM_BASE;
    assert_int_equal(mmio_in(b, 4), 0);
    assert_int_equal(mmio_in(b + TESTDEV_IORAM_LEN - 8, 8), 0);
    mmio_out(b, 4, 0x12345678);
    assert_int_equal(mmio_in(b, 4), 0x12345678);
    assert_int_equal(mmio_in(b, 1), 0x78);
    assert_int_equal(mmio_in(b + 3, 1), 0x12);
    assert_int_equal(mmio_in(b + 1, 2), 0x3456);
    assert_int_equal(mmio_in(b + 2, 2), 0x1234);
    mmio_out(b + 0x10, 1, 0xAA);
    mmio_out(b + 0x11, 1, 0xBB);
    mmio_out(b + 0x12, 2, 0xDDCC);
    assert_int_equal(mmio_in(b + 0x10, 4), 0xDDCCBBAA);
    mmio_out(b + 0x21, 4, 0xA1B2C3D4);                  /* unaligned */
    assert_int_equal(mmio_in(b + 0x20, 8), 0x000000A1B2C3D400ull);
    mmio_out(b + 0x40, 8, 0x0123456789ABCDEFull);
    assert_int_equal(mmio_in(b + 0x40, 8), 0x0123456789ABCDEFull);
    assert_int_equal(mmio_in(b + 0x44, 4), 0x01234567);
    mmio_out(b + TESTDEV_IORAM_LEN - 4, 4, 0xFEEDFACE);
    assert_int_equal(mmio_in(b + TESTDEV_IORAM_LEN - 4, 4), 0xFEEDFACE);
    assert_memory_equal(&td.ioram[0x10], "\xAA\xBB\xCC\xDD", 4);
}

/* The window's end: bytes past it are nothing (all-ones, not stored). */
static void test_ioram_edge(void **state)
{
    (void)state;
    const uint64_t end = TESTDEV_IORAM_BASE + TESTDEV_IORAM_LEN;
    mmio_out(end - 2, 4, 0x44332211);
    assert_int_equal(mmio_in(end - 2, 2), 0x2211);
    assert_int_equal(mmio_in(end - 2, 4), 0xFFFF2211);
    assert_int_equal(mmio_in(end - 1, 8), 0xFFFFFFFFFFFFFF22ull);
    assert_null(vdev_mmio_find(&bus, end));
    assert_null(vdev_mmio_find(&bus, TESTDEV_IORAM_BASE - 1));
    assert_string_equal(vdev_mmio_find(&bus, TESTDEV_IORAM_BASE)->name, "pc-testdev-iomem");
}

/* ---- Claims and state. */

static void test_ports_claimed(void **state)
{
    (void)state;
    for (uint16_t p = 0xE0; p <= 0xE3; p++)
        assert_string_equal(vdev_io_name(&bus, p), "pc-testdev-ioport");
    for (uint16_t p = 0xE4; p <= 0xE7; p++)
        assert_string_equal(vdev_io_name(&bus, p), "pc-testdev-flush-page");
    for (uint16_t p = 0xE8; p <= 0xEB; p++)
        assert_string_equal(vdev_io_name(&bus, p), "pc-testdev-ioport-byte");
    for (uint16_t p = 0x2000; p <= 0x2017; p++)
        assert_string_equal(vdev_io_name(&bus, p), "pc-testdev-irq-line");
    assert_null(vdev_io_name(&bus, 0xDF));
    assert_null(vdev_io_name(&bus, 0xEC));
    assert_null(vdev_io_name(&bus, 0x1FFF));
    assert_null(vdev_io_name(&bus, 0x2018));
    assert_int_equal(vdev_io_in(&bus, 0xEC, 1), 0xFF);
    assert_int_equal(vdev_io_in(&bus, 0x2018, 1), 0xFF);
    /* A second attach finds its ranges taken. */
    assert_int_equal(testdev_attach(&td, &bus), -1);
}

/* Without the device (testdev=off), the same ports float high like any unclaimed port. */
static void test_absent_device(void **state)
{
    (void)state;
    struct vdev_bus empty;
    vdev_bus_init(&empty);
    vdev_io_out(&empty, 0xE0, 4, 0x12345678);
    assert_int_equal(vdev_io_in(&empty, 0xE0, 4), 0xFFFFFFFFu);
    assert_int_equal(vdev_io_in(&empty, 0x2000, 1), 0xFF);
    vdev_io_out(&empty, 0x2000, 1, 1);
    assert_int_equal(fake_irq_calls(), 0);
    uint64_t v;
    assert_false(vdev_mmio_read(&empty, TESTDEV_IORAM_BASE, 4, &v));
}

/* init is QEMU's fresh device: register and IORAM zero, no flush seen. */
static void test_init_resets(void **state)
{
    (void)state;
    vdev_io_out(&bus, 0xE0, 4, 0xFFFFFFFF);
    vdev_io_out(&bus, 0xE4, 4, 0x1000);
    mmio_out(TESTDEV_IORAM_BASE + 8, 4, 0xFFFFFFFF);
    testdev_init(&td, &env);
    assert_int_equal(vdev_io_in(&bus, 0xE0, 4), 0);
    assert_int_equal(mmio_in(TESTDEV_IORAM_BASE + 8, 4), 0);
    assert_int_equal(td.flushes, 0);
    assert_int_equal(td.last_flush, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ioport_starts_zero, setup),
        cmocka_unit_test_setup(test_ioport_widths, setup),
        cmocka_unit_test_setup(test_ioport_string_out, setup),
        cmocka_unit_test_setup(test_ioport_straddle, setup),
        cmocka_unit_test_setup(test_ioport_byte_aliases_register, setup),
        cmocka_unit_test_setup(test_flush_page, setup),
        cmocka_unit_test_setup(test_irq_lines, setup),
        cmocka_unit_test_setup(test_irq_wide_write, setup),
        cmocka_unit_test_setup(test_irq_high_ports_and_reads, setup),
        cmocka_unit_test_setup(test_irq_without_hook, setup),
        cmocka_unit_test_setup(test_ioram_reads_back, setup),
        cmocka_unit_test_setup(test_ioram_edge, setup),
        cmocka_unit_test_setup(test_ports_claimed, setup),
        cmocka_unit_test_setup(test_absent_device, setup),
        cmocka_unit_test_setup(test_init_resets, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the virtual-device bus (kernel/vm/vdev/vdev.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"

/* A fake device that records every access it sees and reads back a pattern. */
struct fake_dev {
    unsigned n_reads, n_writes;
    uint16_t last_port;
    unsigned last_size;
    uint32_t last_value;
    uint8_t regs[8];
    uint16_t base;
};

static uint32_t fake_read(void *dev, uint16_t port, unsigned size)
{
    struct fake_dev *d = dev;
    d->n_reads++;
    d->last_port = port;
    d->last_size = size;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)d->regs[(port - d->base + i) & 7] << (8 * i);
    return v;
}

static void fake_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct fake_dev *d = dev;
    d->n_writes++;
    d->last_port = port;
    d->last_size = size;
    d->last_value = value;
    for (unsigned i = 0; i < size; i++)
        d->regs[(port - d->base + i) & 7] = (uint8_t)(value >> (8 * i));
}

static void test_unclaimed_reads_all_ones(void **state)
{
    (void)state;
    struct vdev_bus bus;
    vdev_bus_init(&bus);
    assert_int_equal(vdev_io_in(&bus, 0x80, 1), 0xFF);
    assert_int_equal(vdev_io_in(&bus, 0x80, 2), 0xFFFF);
    assert_int_equal(vdev_io_in(&bus, 0x80, 4), 0xFFFFFFFFu);
    vdev_io_out(&bus, 0x80, 1, 0x12); /* ignored, must not crash */
    assert_null(vdev_io_name(&bus, 0x80));
}

static void test_register_rejects_overlap_and_full(void **state)
{
    (void)state;
    struct vdev_bus bus;
    struct fake_dev d = {0};
    vdev_bus_init(&bus);
    assert_int_equal(vdev_register_io(&bus, 0x20, 0x21, "a", fake_read, fake_write, &d), 0);
    assert_int_equal(vdev_register_io(&bus, 0x21, 0x22, "b", fake_read, fake_write, &d), -1);
    assert_int_equal(vdev_register_io(&bus, 0x10, 0x20, "c", fake_read, fake_write, &d), -1);
    assert_int_equal(vdev_register_io(&bus, 0x30, 0x2F, "rev", fake_read, fake_write, &d), -1);
    assert_int_equal(vdev_register_io(&bus, 0x22, 0x22, "d", fake_read, fake_write, &d), 0);
    assert_string_equal(vdev_io_name(&bus, 0x21), "a");
    assert_string_equal(vdev_io_name(&bus, 0x22), "d");

    vdev_bus_init(&bus);
    for (unsigned i = 0; i < VDEV_MAX_IO_RANGES; i++)
        assert_int_equal(vdev_register_io(&bus, (uint16_t)(0x100 + i), (uint16_t)(0x100 + i),
                                          "x", fake_read, fake_write, &d), 0);
    assert_int_equal(vdev_register_io(&bus, 0x300, 0x300, "y", fake_read, fake_write, &d), -1);
}

static void test_dispatch_whole_access(void **state)
{
    (void)state;
    struct vdev_bus bus;
    struct fake_dev d = {.base = 0xCF8};
    vdev_bus_init(&bus);
    assert_int_equal(vdev_register_io(&bus, 0xCF8, 0xCFF, "wide", fake_read, fake_write, &d), 0);
    vdev_io_out(&bus, 0xCF8, 4, 0x80001234u);
    assert_int_equal(d.n_writes, 1);
    assert_int_equal(d.last_size, 4);
    assert_int_equal(d.last_value, 0x80001234u);
    assert_int_equal(vdev_io_in(&bus, 0xCF8, 4), 0x80001234u);
    assert_int_equal(d.n_reads, 1);
    assert_int_equal(vdev_io_in(&bus, 0xCF9, 2), 0x0012);
    assert_int_equal(d.last_port, 0xCF9);
}

static void test_byte_device_split(void **state)
{
    (void)state;
    struct vdev_bus bus;
    struct fake_dev d = {.base = 0x20};
    vdev_bus_init(&bus);
    assert_int_equal(vdev_register_io_sized(&bus, 0x20, 0x21, 1, "pic", fake_read, fake_write,
                                            &d), 0);
    vdev_io_out(&bus, 0x20, 2, 0xABCD);
    assert_int_equal(d.n_writes, 2);
    assert_int_equal(d.regs[0], 0xCD);
    assert_int_equal(d.regs[1], 0xAB);
    assert_int_equal(d.last_port, 0x21);
    assert_int_equal(d.last_size, 1);
    assert_int_equal(vdev_io_in(&bus, 0x20, 2), 0xABCD);
    assert_int_equal(d.n_reads, 2);
    /* A dword at 0x20 runs into unclaimed 0x22-0x23: those bytes read 0xFF. */
    assert_int_equal(vdev_io_in(&bus, 0x20, 4), 0xFFFFABCDu);
    assert_int_equal(d.n_reads, 4);
}

static void test_straddling_ranges_split(void **state)
{
    (void)state;
    struct vdev_bus bus;
    struct fake_dev a = {.base = 0x60}, b = {.base = 0x62};
    vdev_bus_init(&bus);
    assert_int_equal(vdev_register_io(&bus, 0x60, 0x61, "a", fake_read, fake_write, &a), 0);
    assert_int_equal(vdev_register_io(&bus, 0x62, 0x63, "b", fake_read, fake_write, &b), 0);
    vdev_io_out(&bus, 0x61, 2, 0x1122);
    assert_int_equal(a.n_writes, 1);
    assert_int_equal(a.regs[1], 0x22);
    assert_int_equal(b.n_writes, 1);
    assert_int_equal(b.regs[0], 0x11);
    /* Dword at 0x60 is two word accesses, one per device. */
    assert_int_equal(vdev_io_in(&bus, 0x60, 4), 0x00112200u);
    assert_int_equal(a.last_size, 2);
    assert_int_equal(b.last_size, 2);
}

static void test_null_handlers_and_port_wrap(void **state)
{
    (void)state;
    struct vdev_bus bus;
    vdev_bus_init(&bus);
    assert_int_equal(vdev_register_io_sized(&bus, 0xFFFE, 0xFFFF, 1, "top", NULL, NULL, NULL), 0);
    assert_int_equal(vdev_io_in(&bus, 0xFFFE, 4), 0xFFFFFFFFu);
    vdev_io_out(&bus, 0xFFFF, 4, 0);
    assert_int_equal(vdev_register_io_sized(&bus, 0x10, 0x11, 3, "bad", NULL, NULL, NULL), -1);
}

/* A fake memory-mapped device: 16 bytes of registers, and what it saw last. */
struct fake_mmio {
    unsigned n_reads, n_writes;
    uint64_t last_offset, last_value;
    unsigned last_size;
};

static uint64_t fake_mmio_read(void *dev, uint64_t offset, unsigned size)
{
    struct fake_mmio *d = dev;
    d->n_reads++;
    d->last_offset = offset;
    d->last_size = size;
    return 0x1122334455667788ull + offset;
}

static void fake_mmio_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct fake_mmio *d = dev;
    d->n_writes++;
    d->last_offset = offset;
    d->last_size = size;
    d->last_value = value;
}

static void test_mmio_dispatch(void **state)
{
    (void)state;
    struct vdev_bus bus;
    struct fake_mmio a = { 0 };
    uint64_t v = 0;
    vdev_bus_init(&bus);
    assert_int_equal(vdev_register_mmio(&bus, 0xFEC00000ull, 0x1000, "a", fake_mmio_read,
                                        fake_mmio_write, &a), 0);
    assert_null(vdev_mmio_find(&bus, 0xFEBFFFFFull));
    assert_null(vdev_mmio_find(&bus, 0xFEC01000ull));
    assert_non_null(vdev_mmio_find(&bus, 0xFEC00FFFull));
    assert_false(vdev_mmio_read(&bus, 0xFEC01000ull, 4, &v));
    assert_false(vdev_mmio_write(&bus, 0xFEC01000ull, 4, 0));
    assert_true(vdev_mmio_read(&bus, 0xFEC00010ull, 2, &v));
    assert_int_equal(v, 0x7798);                 /* cut to the access's size */
    assert_int_equal(a.last_offset, 0x10);
    assert_int_equal(a.last_size, 2);
    assert_true(vdev_mmio_write(&bus, 0xFEC00020ull, 1, 0x1FF));
    assert_int_equal(a.last_value, 0xFF);
    assert_int_equal(a.last_offset, 0x20);
    /* Overlap, empty and wrapping ranges are refused; the neighbour is fine. */
    assert_int_equal(vdev_register_mmio(&bus, 0xFEC00800ull, 0x1000, "b", NULL, NULL, NULL), -1);
    assert_int_equal(vdev_register_mmio(&bus, 0xFEBFF000ull, 0x1001, "b", NULL, NULL, NULL), -1);
    assert_int_equal(vdev_register_mmio(&bus, 0xFED00000ull, 0, "b", NULL, NULL, NULL), -1);
    assert_int_equal(vdev_register_mmio(&bus, ~0ull - 0xFFF, 0x2000, "b", NULL, NULL, NULL), -1);
    assert_int_equal(vdev_register_mmio(&bus, 0xFEC01000ull, 0x1000, "b", NULL, NULL, NULL), 0);
    /* No handlers: reads all-ones of the size, writes dropped, but the address is claimed. */
    assert_true(vdev_mmio_read(&bus, 0xFEC01000ull, 4, &v));
    assert_int_equal(v, 0xFFFFFFFFu);
    assert_true(vdev_mmio_write(&bus, 0xFEC01000ull, 4, 0));
}

/* A range released is nobody's: the bus answers "unclaimed", the slot and the addresses
 * can be taken again, and the other ranges are untouched. */
static void test_mmio_unregister(void **state)
{
    (void)state;
    struct vdev_bus bus;
    struct fake_mmio a = { 0 }, b = { 0 }, c = { 0 };
    uint64_t v;
    vdev_bus_init(&bus);
    assert_int_equal(vdev_register_mmio(&bus, 0x1000, 0x1000, "a", fake_mmio_read, NULL, &a), 0);
    assert_int_equal(vdev_register_mmio(&bus, 0x2000, 0x1000, "b", fake_mmio_read, NULL, &b), 0);
    assert_int_equal(vdev_register_mmio(&bus, 0x3000, 0x1000, "c", fake_mmio_read, NULL, &c), 0);
    assert_int_equal(vdev_unregister_mmio(&bus, 0x2000, &a), -1);  /* not a's range */
    assert_int_equal(vdev_unregister_mmio(&bus, 0x2010, &b), -1);  /* not where it starts */
    assert_int_equal(vdev_unregister_mmio(&bus, 0x2000, &b), 0);
    assert_int_equal(vdev_unregister_mmio(&bus, 0x2000, &b), -1);  /* only once */
    assert_null(vdev_mmio_find(&bus, 0x2000));
    assert_false(vdev_mmio_read(&bus, 0x2000, 4, &v));
    assert_int_equal(b.n_reads, 0);
    assert_true(vdev_mmio_find(&bus, 0x1000)->dev == &a);
    assert_true(vdev_mmio_find(&bus, 0x3FFF)->dev == &c);
    assert_true(vdev_mmio_read(&bus, 0x3004, 4, &v));
    assert_int_equal(c.n_reads, 1);
    assert_int_equal(c.last_offset, 4);
    /* The freed slot and addresses: a full table can take one more range. */
    for (uint64_t i = 0; bus.n_mmio < VDEV_MAX_MMIO_RANGES; i++)
        assert_int_equal(vdev_register_mmio(&bus, 0x100000 + i * 0x1000, 0x1000, "f", NULL, NULL,
                                            NULL), 0);
    assert_int_equal(vdev_register_mmio(&bus, 0x2000, 0x1000, "b", fake_mmio_read, NULL, &b), -1);
    assert_int_equal(vdev_unregister_mmio(&bus, 0x1000, &a), 0);
    assert_int_equal(vdev_register_mmio(&bus, 0x2000, 0x1000, "b", fake_mmio_read, NULL, &b), 0);
    assert_true(vdev_mmio_find(&bus, 0x2800)->dev == &b);
    assert_null(vdev_mmio_find(&bus, 0x1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unclaimed_reads_all_ones),
        cmocka_unit_test(test_register_rejects_overlap_and_full),
        cmocka_unit_test(test_dispatch_whole_access),
        cmocka_unit_test(test_byte_device_split),
        cmocka_unit_test(test_straddling_ranges_split),
        cmocka_unit_test(test_null_handlers_and_port_wrap),
        cmocka_unit_test(test_mmio_dispatch),
        cmocka_unit_test(test_mmio_unregister),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

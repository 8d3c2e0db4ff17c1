/* Host unit tests for the virtual IOAPIC (kernel/vm/vdev/vioapic.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vioapic.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct vioapic io;

static uint32_t rd(uint64_t offset)
{
    uint64_t v = 0;
    assert_true(vdev_mmio_read(&bus, VIOAPIC_BASE + offset, 4, &v));
    return (uint32_t)v;
}

static void wr(uint64_t offset, uint32_t v)
{
    assert_true(vdev_mmio_write(&bus, VIOAPIC_BASE + offset, 4, v));
}

static uint32_t reg_read(uint8_t reg)
{
    wr(VIOAPIC_IOREGSEL, reg);
    return rd(VIOAPIC_IOWIN);
}

static void reg_write(uint8_t reg, uint32_t v)
{
    wr(VIOAPIC_IOREGSEL, reg);
    wr(VIOAPIC_IOWIN, v);
}

static void rte_write(unsigned pin, uint32_t low)
{
    reg_write((uint8_t)(VIOAPIC_REG_REDTBL + 2 * pin), low);
}

static uint32_t rte_read(unsigned pin)
{
    return reg_read((uint8_t)(VIOAPIC_REG_REDTBL + 2 * pin));
}

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    vdev_bus_init(&bus);
    vioapic_init(&io, &env, 1);
    assert_int_equal(vioapic_attach(&io, &bus), 0);
    return 0;
}

static void pulse(unsigned pin)
{
    vioapic_set_irq(&io, pin, true);
    vioapic_set_irq(&io, pin, false);
}

#define LEVEL VIOAPIC_RTE_LEVEL
#define MASKED VIOAPIC_RTE_MASKED
#define REMOTE_IRR VIOAPIC_RTE_REMOTE_IRR
#define ACTIVE_LOW VIOAPIC_RTE_POLARITY

static void test_id_version_arbitration(void **state)
{
    (void)state;
    assert_int_equal(reg_read(VIOAPIC_REG_ID), 0x01000000);
    assert_int_equal(reg_read(VIOAPIC_REG_VERSION), 0x00170020);
    assert_int_equal(reg_read(VIOAPIC_REG_ARB), 0x01000000);
    assert_int_equal(rd(VIOAPIC_IOREGSEL), VIOAPIC_REG_ARB);
    reg_write(VIOAPIC_REG_ID, 0xFAFFFFFF); /* only bits 27:24 stick */
    assert_int_equal(reg_read(VIOAPIC_REG_ID), 0x0A000000);
    assert_int_equal(reg_read(VIOAPIC_REG_ARB), 0x0A000000);
    reg_write(VIOAPIC_REG_VERSION, 0);
    reg_write(VIOAPIC_REG_ARB, 0);
    assert_int_equal(reg_read(VIOAPIC_REG_VERSION), 0x00170020);
    assert_int_equal(reg_read(0x03), 0); /* unimplemented index */
    assert_int_equal(reg_read(0x40), 0); /* past the last entry (0x3F) */
    vioapic_reset(&io);
    assert_int_equal(reg_read(VIOAPIC_REG_ID), 0x01000000);
    /* Narrow reads see the bytes of the dword; IOREGSEL takes a byte write. */
    uint64_t v = 0;
    assert_true(vdev_mmio_write(&bus, VIOAPIC_BASE, 1, VIOAPIC_REG_VERSION));
    assert_true(vdev_mmio_read(&bus, VIOAPIC_BASE + VIOAPIC_IOWIN + 2, 1, &v));
    assert_int_equal(v, 0x17);
    assert_true(vdev_mmio_read(&bus, VIOAPIC_BASE + VIOAPIC_IOWIN, 2, &v));
    assert_int_equal(v, 0x20);
    assert_int_equal(rd(VIOAPIC_EOI), 0); /* write-only */
    assert_int_equal(rd(0x20), 0);
}

static void test_redirection_round_trip_and_read_only_bits(void **state)
{
    (void)state;
    for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
        assert_int_equal(rte_read(pin), MASKED); /* reset: masked, edge, vector 0 */
        assert_int_equal(reg_read((uint8_t)(VIOAPIC_REG_REDTBL + 2 * pin + 1)), 0);
        assert_true(vioapic_pin_masked(&io, pin));
    }
    assert_true(vioapic_pin_masked(&io, VIOAPIC_PINS));
    /* All ones: delivery status (12), remote IRR (14) and reserved bits stay 0. */
    rte_write(5, 0xFFFFFFFF);
    assert_int_equal(rte_read(5), 0x0001AFFF);
    reg_write(VIOAPIC_REG_REDTBL + 2 * 5 + 1, 0xFFFFFFFF);
    assert_int_equal(reg_read(VIOAPIC_REG_REDTBL + 2 * 5 + 1), 0xFF000000);
    assert_int_equal(io.redtbl[5], 0xFF0000000001AFFFull);
    /* A round trip of an ordinary entry, and neighbours untouched. */
    rte_write(5, 0x00008941); /* vector 0x41, lowest priority, level, unmasked */
    assert_int_equal(rte_read(5), 0x00008941);
    assert_false(vioapic_pin_masked(&io, 5));
    assert_int_equal(rte_read(4), MASKED);
    assert_int_equal(rte_read(6), MASKED);
    /* A narrow write to IOWIN is ignored (the register wants dwords). */
    assert_true(vdev_mmio_write(&bus, VIOAPIC_BASE + VIOAPIC_IOWIN, 2, 0x1234));
    assert_int_equal(rte_read(5), 0x00008941);
}

static void test_edge_delivers_once_per_rising_edge(void **state)
{
    (void)state;
    rte_write(3, 0x33);
    vioapic_set_irq(&io, 3, true);
    assert_int_equal(fake_lapic_count(), 1);
    assert_int_equal(fake_lapic_vector(0), 0x33);
    assert_false(fake_lapic_level(0));
    vioapic_set_irq(&io, 3, true); /* still high: no new edge */
    assert_int_equal(fake_lapic_count(), 1);
    vioapic_set_irq(&io, 3, false);
    assert_int_equal(fake_lapic_count(), 1);
    vioapic_set_irq(&io, 3, true);
    assert_int_equal(fake_lapic_count(), 2);
    vioapic_set_irq(&io, 3, false);
    pulse(3);
    assert_int_equal(fake_lapic_count(), 3);
    /* No remote IRR on edge pins, and EOI of their vector does nothing. */
    assert_int_equal(rte_read(3) & REMOTE_IRR, 0);
    vioapic_eoi(&io, 0x33);
    assert_int_equal(fake_lapic_count(), 3);
    /* Pins out of range are ignored. */
    vioapic_set_irq(&io, VIOAPIC_PINS, true);
    assert_int_equal(fake_lapic_count(), 3);
}

static void test_masked_edge_is_lost(void **state)
{
    (void)state;
    rte_write(4, MASKED | 0x34);
    pulse(4);
    vioapic_set_irq(&io, 4, true);
    assert_int_equal(fake_lapic_count(), 0);
    rte_write(4, 0x34); /* unmasked while the line is high: still nothing */
    assert_int_equal(fake_lapic_count(), 0);
    vioapic_set_irq(&io, 4, false);
    vioapic_set_irq(&io, 4, true);
    assert_int_equal(fake_lapic_count(), 1);
    assert_int_equal(fake_lapic_vector(0), 0x34);
}

static void test_level_remote_irr_and_eoi(void **state)
{
    (void)state;
    rte_write(9, LEVEL | 0x49);
    vioapic_set_irq(&io, 9, true);
    assert_int_equal(fake_lapic_count(), 1);
    assert_int_equal(fake_lapic_vector(0), 0x49);
    assert_true(fake_lapic_level(0));
    assert_int_equal(rte_read(9), LEVEL | REMOTE_IRR | 0x49);
    /* Remote IRR holds further deliveries, and the guest cannot clear it by writing. */
    vioapic_set_irq(&io, 9, false);
    vioapic_set_irq(&io, 9, true);
    rte_write(9, LEVEL | 0x49);
    assert_int_equal(fake_lapic_count(), 1);
    assert_int_equal(rte_read(9), LEVEL | REMOTE_IRR | 0x49);
    /* EOI of another vector does nothing; of ours re-delivers while the line is high. */
    vioapic_eoi(&io, 0x48);
    assert_int_equal(fake_lapic_count(), 1);
    vioapic_eoi(&io, 0x49);
    assert_int_equal(fake_lapic_count(), 2);
    assert_int_equal(rte_read(9), LEVEL | REMOTE_IRR | 0x49);
    /* The device lowers its line, then the handler EOIs: nothing more. */
    vioapic_set_irq(&io, 9, false);
    vioapic_eoi(&io, 0x49);
    assert_int_equal(fake_lapic_count(), 2);
    assert_int_equal(rte_read(9), LEVEL | 0x49);
    vioapic_set_irq(&io, 9, true);
    assert_int_equal(fake_lapic_count(), 3);
}

static void test_level_unmask_delivers_and_mask_holds(void **state)
{
    (void)state;
    rte_write(10, MASKED | LEVEL | 0x4A);
    vioapic_set_irq(&io, 10, true);
    assert_int_equal(fake_lapic_count(), 0);
    rte_write(10, LEVEL | 0x4A); /* unmask with the line high */
    assert_int_equal(fake_lapic_count(), 1);
    assert_true(fake_lapic_level(0));
    /* Masked during service: the EOI clears remote IRR but delivers nothing. */
    rte_write(10, MASKED | LEVEL | 0x4A);
    vioapic_eoi(&io, 0x4A);
    assert_int_equal(fake_lapic_count(), 1);
    assert_int_equal(rte_read(10) & REMOTE_IRR, 0);
    rte_write(10, LEVEL | 0x4A);
    assert_int_equal(fake_lapic_count(), 2);
    /* Switching to edge clears remote IRR (Linux's trick without an EOI register). */
    rte_write(10, MASKED | 0x4A);
    assert_int_equal(rte_read(10), MASKED | 0x4A);
    /* Edge -> level with the line high delivers at once. */
    rte_write(10, LEVEL | 0x4A);
    assert_int_equal(fake_lapic_count(), 3);
}

static void test_eoi_register(void **state)
{
    (void)state;
    rte_write(11, LEVEL | 0x5B);
    rte_write(12, LEVEL | 0x5B); /* two pins sharing a vector */
    vioapic_set_irq(&io, 11, true);
    vioapic_set_irq(&io, 12, true);
    assert_int_equal(fake_lapic_count(), 2);
    vioapic_set_irq(&io, 11, false);
    wr(VIOAPIC_EOI, 0x5A);
    assert_int_equal(rte_read(12) & REMOTE_IRR, REMOTE_IRR);
    wr(VIOAPIC_EOI, 0x5B); /* clears both; only pin 12 is still high */
    assert_int_equal(fake_lapic_count(), 3);
    assert_int_equal(fake_lapic_vector(2), 0x5B);
    assert_int_equal(rte_read(11), LEVEL | 0x5B);
    assert_int_equal(rte_read(12), LEVEL | REMOTE_IRR | 0x5B);
    /* A byte write works too: only the vector byte matters. */
    vioapic_set_irq(&io, 12, false);
    assert_true(vdev_mmio_write(&bus, VIOAPIC_BASE + VIOAPIC_EOI, 1, 0x5B));
    assert_int_equal(rte_read(12), LEVEL | 0x5B);
    assert_int_equal(fake_lapic_count(), 3);
}

static void test_polarity(void **state)
{
    (void)state;
    /* Active-low level pin: asserted while the electrical line is low. */
    rte_write(16, MASKED | LEVEL | ACTIVE_LOW | 0x60);
    vioapic_set_irq(&io, 16, true); /* idle for an active-low device */
    rte_write(16, LEVEL | ACTIVE_LOW | 0x60);
    assert_int_equal(fake_lapic_count(), 0);
    vioapic_set_irq(&io, 16, false);
    assert_int_equal(fake_lapic_count(), 1);
    vioapic_set_irq(&io, 16, true);
    vioapic_eoi(&io, 0x60);
    assert_int_equal(fake_lapic_count(), 1);
    /* An active-high device's idle line (0) on a pin the guest made active low: asserted. */
    rte_write(17, LEVEL | ACTIVE_LOW | 0x61);
    assert_int_equal(fake_lapic_count(), 2);
    assert_int_equal(fake_lapic_vector(1), 0x61);
    /* Active-low edge pin fires on the falling edge. */
    rte_write(18, ACTIVE_LOW | 0x62);
    vioapic_set_irq(&io, 18, true);
    assert_int_equal(fake_lapic_count(), 2);
    vioapic_set_irq(&io, 18, false);
    assert_int_equal(fake_lapic_count(), 3);
    assert_int_equal(fake_lapic_vector(2), 0x62);
}

static void test_delivery_modes(void **state)
{
    (void)state;
    static const uint32_t silent[] = {
        VIOAPIC_DM_SMI, VIOAPIC_DM_NMI, VIOAPIC_DM_INIT, VIOAPIC_DM_EXTINT, 3, 6,
    };
    for (unsigned i = 0; i < sizeof(silent) / sizeof(silent[0]); i++) {
        rte_write(0, silent[i] << 8);
        pulse(0);
        rte_write(1, LEVEL | silent[i] << 8 | 0x70);
        vioapic_set_irq(&io, 1, true);
        assert_int_equal(rte_read(1) & REMOTE_IRR, 0);
        vioapic_set_irq(&io, 1, false);
    }
    assert_int_equal(fake_lapic_count(), 0);
    rte_write(0, VIOAPIC_DM_LOWEST << 8 | 0x71);
    pulse(0);
    assert_int_equal(fake_lapic_count(), 1);
    assert_int_equal(fake_lapic_vector(0), 0x71);
    /* Destination mode and destination make no difference with one CPU. */
    reg_write(VIOAPIC_REG_REDTBL + 1, 0x0F000000);
    rte_write(0, VIOAPIC_RTE_DESTMODE | 0x72);
    pulse(0);
    assert_int_equal(fake_lapic_count(), 2);
    assert_int_equal(fake_lapic_vector(1), 0x72);
}

static void test_no_lapic_hook(void **state)
{
    (void)state;
    struct vdev_env bare = {0};
    struct vioapic quiet;
    vioapic_init(&quiet, &bare, 2);
    vioapic_mmio_write(&quiet, VIOAPIC_IOREGSEL, 4, VIOAPIC_REG_REDTBL + 2 * 9);
    vioapic_mmio_write(&quiet, VIOAPIC_IOWIN, 4, LEVEL | 0x39);
    vioapic_set_irq(&quiet, 9, true);
    assert_int_equal(quiet.redtbl[9] & REMOTE_IRR, REMOTE_IRR);
    vioapic_mmio_write(&quiet, VIOAPIC_IOREGSEL, 4, VIOAPIC_REG_ID);
    assert_int_equal(vioapic_mmio_read(&quiet, VIOAPIC_IOWIN, 4), 0x02000000);
    assert_int_equal(fake_lapic_count(), 0);
}

static void test_attach_claims_the_page(void **state)
{
    (void)state;
    const struct vdev_mmio_range *r = vdev_mmio_find(&bus, VIOAPIC_BASE + 0xFFF);
    assert_non_null(r);
    assert_string_equal(r->name, "ioapic");
    assert_null(vdev_mmio_find(&bus, VIOAPIC_BASE + 0x1000));
    assert_int_equal(vioapic_attach(&io, &bus), -1); /* already claimed */
}

/* Linux's setup_IO_APIC(): mask everything, then program the ISA pins it uses. */
static void test_linux_sequence(void **state)
{
    (void)state;
    for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
        rte_write(pin, MASKED);
        reg_write((uint8_t)(VIOAPIC_REG_REDTBL + 2 * pin + 1), 0);
    }
    /* Dest first (high dword), then low dword unmasked, as ioapic_write_entry() does. */
    reg_write(VIOAPIC_REG_REDTBL + 2 * 2 + 1, 0x00000000);
    rte_write(2, 0x30);                     /* timer (ISA IRQ 0 via override), edge */
    reg_write(VIOAPIC_REG_REDTBL + 2 * 4 + 1, 0x00000000);
    rte_write(4, 0x34);                     /* COM1, edge */
    reg_write(VIOAPIC_REG_REDTBL + 2 * 9 + 1, 0x00000000);
    rte_write(9, LEVEL | 0x39);             /* ACPI SCI, level, active high */
    assert_int_equal(fake_lapic_count(), 0);
    assert_false(vioapic_pin_masked(&io, 2));
    assert_true(vioapic_pin_masked(&io, 0));

    pulse(2);
    pulse(2);
    pulse(4);
    vioapic_set_irq(&io, 9, true);
    pulse(0); /* masked */
    assert_int_equal(fake_lapic_count(), 4);
    assert_int_equal(fake_lapic_vector(0), 0x30);
    assert_int_equal(fake_lapic_vector(1), 0x30);
    assert_int_equal(fake_lapic_vector(2), 0x34);
    assert_int_equal(fake_lapic_vector(3), 0x39);
    assert_false(fake_lapic_level(2));
    assert_true(fake_lapic_level(3));
    /* The SCI handler clears the event, then the LAPIC's EOI reaches us. */
    vioapic_set_irq(&io, 9, false);
    vioapic_eoi(&io, 0x39);
    assert_int_equal(fake_lapic_count(), 4);
    vioapic_set_irq(&io, 9, true);
    assert_int_equal(fake_lapic_count(), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_id_version_arbitration, setup),
        cmocka_unit_test_setup(test_redirection_round_trip_and_read_only_bits, setup),
        cmocka_unit_test_setup(test_edge_delivers_once_per_rising_edge, setup),
        cmocka_unit_test_setup(test_masked_edge_is_lost, setup),
        cmocka_unit_test_setup(test_level_remote_irr_and_eoi, setup),
        cmocka_unit_test_setup(test_level_unmask_delivers_and_mask_holds, setup),
        cmocka_unit_test_setup(test_eoi_register, setup),
        cmocka_unit_test_setup(test_polarity, setup),
        cmocka_unit_test_setup(test_delivery_modes, setup),
        cmocka_unit_test_setup(test_no_lapic_hook, setup),
        cmocka_unit_test_setup(test_attach_claims_the_page, setup),
        cmocka_unit_test_setup(test_linux_sequence, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

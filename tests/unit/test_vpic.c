/* Host unit tests for the virtual 8259A pair (kernel/vm/vdev/vpic.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vpic.c"
#include "fake_env.h"

static struct vdev_env env;
static struct vdev_bus bus;
static struct vpic pic;

static uint8_t in(uint16_t port) { return (uint8_t)vdev_io_in(&bus, port, 1); }
static void out(uint16_t port, uint8_t v) { vdev_io_out(&bus, port, 1, v); }

/* Linux's init_8259A(): vectors 0x30/0x38 here, slave on IR2, 8086 mode, all unmasked. */
static void linux_init(uint8_t icw4)
{
    out(0x20, 0x11);
    out(0x21, 0x30);
    out(0x21, 0x04);
    out(0x21, icw4);
    out(0xA0, 0x11);
    out(0xA1, 0x38);
    out(0xA1, 0x02);
    out(0xA1, icw4);
    out(0x21, 0x00);
    out(0xA1, 0x00);
}

static int setup(void **state)
{
    (void)state;
    fake_env_init(&env);
    vdev_bus_init(&bus);
    vpic_init(&pic, &env);
    assert_int_equal(vpic_attach(&pic, &bus), 0);
    linux_init(0x01);
    return 0;
}

static void pulse(unsigned irq)
{
    vpic_set_irq(&pic, irq, true);
    vpic_set_irq(&pic, irq, false);
}

static void eoi_master(void) { out(0x20, 0x20); }
static void eoi_slave(void) { out(0xA0, 0x20); }

static void test_reset_state_is_masked(void **state)
{
    (void)state;
    struct vpic p;
    vpic_init(&p, &env);
    vpic_set_irq(&p, 0, true);
    assert_false(vpic_has_interrupt(&p));
    assert_int_equal(p.chip[0].imr, 0xFF);
    assert_int_equal(vpic_ack(&p), 0x08 + 7);
}

static void test_imr_readback_and_masking(void **state)
{
    (void)state;
    out(0x21, 0xB8);
    assert_int_equal(in(0x21), 0xB8);
    out(0xA1, 0x5A);
    assert_int_equal(in(0xA1), 0x5A);
    out(0x21, 0x01);
    pulse(0);
    assert_false(vpic_has_interrupt(&pic));
    out(0x21, 0x00); /* the latched request shows once unmasked */
    assert_true(vpic_has_interrupt(&pic));
    assert_int_equal(vpic_ack(&pic), 0x30);
}

static void test_edge_latch_ack_and_eoi(void **state)
{
    (void)state;
    pulse(1);
    assert_int_equal(in(0x20), 0x02); /* IRR read by default */
    assert_true(vpic_has_interrupt(&pic));
    assert_int_equal(vpic_ack(&pic), 0x31);
    assert_false(vpic_has_interrupt(&pic));
    out(0x20, 0x0B); /* OCW3: read ISR */
    assert_int_equal(in(0x20), 0x02);
    eoi_master();
    assert_int_equal(in(0x20), 0x00);
    /* A line held high is one edge: no new request until it falls and rises. */
    vpic_set_irq(&pic, 1, true);
    assert_int_equal(vpic_ack(&pic), 0x31);
    eoi_master();
    vpic_set_irq(&pic, 1, true);
    assert_false(vpic_has_interrupt(&pic));
    vpic_set_irq(&pic, 1, false);
    vpic_set_irq(&pic, 1, true);
    assert_int_equal(vpic_ack(&pic), 0x31);
}

static void test_fixed_priority_and_nesting(void **state)
{
    (void)state;
    pulse(5);
    pulse(3);
    pulse(1);
    assert_int_equal(vpic_ack(&pic), 0x31);
    /* Lower-priority requests wait while IRQ 1 is in service; IRQ 0 preempts. */
    assert_false(vpic_has_interrupt(&pic));
    pulse(0);
    assert_true(vpic_has_interrupt(&pic));
    assert_int_equal(vpic_ack(&pic), 0x30);
    eoi_master(); /* clears IRQ 0, the highest in service */
    out(0x20, 0x0B);
    assert_int_equal(in(0x20), 0x02);
    eoi_master();
    assert_int_equal(vpic_ack(&pic), 0x33);
    eoi_master();
    assert_int_equal(vpic_ack(&pic), 0x35);
    eoi_master();
    assert_false(vpic_has_interrupt(&pic));
    assert_int_equal(vpic_ack(&pic), 0x37); /* nothing pending: spurious */
    out(0x20, 0x0B);
    assert_int_equal(in(0x20), 0x00); /* spurious does not set ISR7 */
}

static void test_cascade(void **state)
{
    (void)state;
    pulse(12);
    assert_true(vpic_has_interrupt(&pic));
    assert_int_equal(in(0x20), 0x04); /* master IRR2 follows the slave */
    pulse(3);
    assert_int_equal(vpic_ack(&pic), 0x38 + 4); /* IR2 beats IR3 */
    out(0x20, 0x0B);
    out(0xA0, 0x0B);
    assert_int_equal(in(0x20), 0x04);
    assert_int_equal(in(0xA0), 0x10);
    assert_false(vpic_has_interrupt(&pic)); /* IRQ 3 is below IR2 */
    /* A second slave request of higher priority waits for the master's ISR2 (no SFNM). */
    pulse(8);
    assert_false(vpic_has_interrupt(&pic));
    eoi_slave();
    eoi_master();
    assert_int_equal(vpic_ack(&pic), 0x38);
    eoi_slave();
    eoi_master();
    assert_int_equal(vpic_ack(&pic), 0x33);
}

static void test_level_elcr_and_spurious(void **state)
{
    (void)state;
    out(0x4D1, 0xFF);
    assert_int_equal(in(0x4D1), 0xDE); /* IRQ 8 and 13 stay edge */
    out(0x4D0, 0xFF);
    assert_int_equal(in(0x4D0), 0xF8);
    vpic_set_irq(&pic, 11, true);
    assert_true(vpic_has_interrupt(&pic));
    assert_int_equal(vpic_ack(&pic), 0x3B);
    eoi_slave();
    eoi_master();
    /* Still high: a level request comes straight back after EOI. */
    assert_true(vpic_has_interrupt(&pic));
    vpic_set_irq(&pic, 11, false);
    assert_false(vpic_has_interrupt(&pic));
    /* The request vanishes between INT and INTA: spurious IRQ 7. */
    vpic_set_irq(&pic, 5, true);
    assert_true(vpic_has_interrupt(&pic));
    vpic_set_irq(&pic, 5, false);
    assert_int_equal(vpic_ack(&pic), 0x37);
    /* An edge request survives its line dropping. */
    pulse(4 + 0); /* IRQ 4 is level now too (ELCR 0xF8) */
    assert_false(vpic_has_interrupt(&pic));
    pulse(1); /* edge-only */
    assert_int_equal(vpic_ack(&pic), 0x31);
}

static void test_poll_slave_and_mask_after_int(void **state)
{
    (void)state;
    /* Polling takes the slave's request; the master's IR2 follows. */
    pulse(9);
    out(0xA0, 0x0C);
    assert_int_equal(in(0xA0), 0x81);
    assert_false(vpic_has_interrupt(&pic));
    eoi_slave();
    /* Masking after INT is seen gives a master spurious. */
    pulse(10);
    assert_true(vpic_has_interrupt(&pic));
    out(0xA1, 0x04);
    assert_int_equal(vpic_ack(&pic), 0x37);
}

static void test_auto_eoi(void **state)
{
    (void)state;
    linux_init(0x03);
    pulse(1);
    pulse(12);
    assert_int_equal(vpic_ack(&pic), 0x31);
    assert_int_equal(vpic_ack(&pic), 0x3C);
    out(0x20, 0x0B);
    out(0xA0, 0x0B);
    assert_int_equal(in(0x20), 0);
    assert_int_equal(in(0xA0), 0);
    pulse(0);
    assert_int_equal(vpic_ack(&pic), 0x30);
}

static void test_rotation_and_specific_eoi(void **state)
{
    (void)state;
    out(0x20, 0xC3); /* set priority: IRQ 3 lowest, IRQ 4 highest */
    pulse(1);
    pulse(5);
    pulse(4);
    assert_int_equal(vpic_ack(&pic), 0x34);
    out(0x20, 0x64); /* specific EOI 4 */
    assert_int_equal(vpic_ack(&pic), 0x35);
    out(0x20, 0xA0); /* rotate on non-specific EOI: 5 becomes lowest */
    assert_int_equal(pic.chip[0].priority_add, 6);
    pulse(6);
    pulse(5);
    assert_int_equal(vpic_ack(&pic), 0x36);
    out(0x20, 0xE6); /* rotate on specific EOI 6 */
    assert_int_equal(vpic_ack(&pic), 0x31); /* 7,0,1 order: 1 before 5 */
}

static void test_special_mask_mode(void **state)
{
    (void)state;
    pulse(1);
    assert_int_equal(vpic_ack(&pic), 0x31);
    pulse(3);
    assert_false(vpic_has_interrupt(&pic));
    out(0x21, 0x02);
    out(0x20, 0x68); /* OCW3: set special mask */
    assert_true(vpic_has_interrupt(&pic));
    assert_int_equal(vpic_ack(&pic), 0x33);
    out(0x20, 0x48); /* clear special mask */
    out(0x20, 0x63);
    out(0x20, 0x61);
    out(0x20, 0x0B);
    assert_int_equal(in(0x20), 0);
}

static void test_poll_master(void **state)
{
    (void)state;
    pulse(6);
    out(0x20, 0x0C);
    assert_int_equal(in(0x20), 0x86);
    out(0x20, 0x0C);
    assert_int_equal(in(0x20), 0x00);
    out(0x20, 0x0B);
    assert_int_equal(in(0x20), 0x40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_state_is_masked, setup),
        cmocka_unit_test_setup(test_imr_readback_and_masking, setup),
        cmocka_unit_test_setup(test_edge_latch_ack_and_eoi, setup),
        cmocka_unit_test_setup(test_fixed_priority_and_nesting, setup),
        cmocka_unit_test_setup(test_cascade, setup),
        cmocka_unit_test_setup(test_level_elcr_and_spurious, setup),
        cmocka_unit_test_setup(test_poll_slave_and_mask_after_int, setup),
        cmocka_unit_test_setup(test_auto_eoi, setup),
        cmocka_unit_test_setup(test_rotation_and_specific_eoi, setup),
        cmocka_unit_test_setup(test_special_mask_mode, setup),
        cmocka_unit_test_setup(test_poll_master, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

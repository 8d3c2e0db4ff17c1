/* Host unit tests for the virtual 16550A (kernel/vm/vdev/vuart.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/vuart.c"
#include "fake_env.h"

/* The serial line's far end: what the UART transmitted (vuart_init's tx, not a vdev_env hook). */
struct fake_tx {
    uint8_t txbuf[64];
    unsigned ntx;
};

static void fake_tx(void *ctx, uint8_t byte)
{
    struct fake_tx *tx = ctx;
    if (tx->ntx < sizeof(tx->txbuf))
        tx->txbuf[tx->ntx++] = byte;
}

struct fixture {
    struct fake_tx tx;
    struct vdev_env env;
    struct vdev_bus bus;
    struct vuart u;
};

static struct fixture fx;

static int setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    fake_env_init(&fx.env);
    vdev_bus_init(&fx.bus);
    vuart_init(&fx.u, &fx.env, VUART_COM1_BASE, VUART_COM1_IRQ, fake_tx, &fx.tx);
    assert_int_equal(vuart_attach(&fx.u, &fx.bus), 0);
    *state = &fx;
    return 0;
}

static uint8_t in(unsigned reg) { return (uint8_t)vdev_io_in(&fx.bus, (uint16_t)(0x3F8 + reg), 1); }
static void out(unsigned reg, uint8_t v) { vdev_io_out(&fx.bus, (uint16_t)(0x3F8 + reg), 1, v); }

static void test_reset_state(void **state)
{
    (void)state;
    assert_int_equal(in(VUART_IER), 0);
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_NO_INT);
    assert_int_equal(in(VUART_LSR), VUART_LSR_THRE | VUART_LSR_TEMT);
    assert_int_equal(in(VUART_MSR) & 0xF0, VUART_MSR_CTS | VUART_MSR_DSR | VUART_MSR_DCD);
    assert_false(fake_irq_level(4));
    /* A second UART can't claim the same ports. */
    assert_int_equal(vuart_attach(&fx.u, &fx.bus), -1);
}

static void test_divisor_latch_and_scratch(void **state)
{
    (void)state;
    out(VUART_LCR, 0x83);
    out(VUART_RBR_THR, 0x01);
    out(VUART_IER, 0x00);
    assert_int_equal(in(VUART_RBR_THR), 0x01);
    assert_int_equal(in(VUART_IER), 0x00);
    assert_int_equal(fx.u.divisor, 1);
    out(VUART_LCR, 0x03);
    assert_int_equal(in(VUART_LCR), 0x03);
    assert_int_equal(fx.tx.ntx, 0); /* DLL write did not transmit */
    out(VUART_IER, 0xFF);
    assert_int_equal(in(VUART_IER), 0x0F); /* upper bits read 0, Linux's probe checks this */
    out(VUART_SCR, 0xA5);
    assert_int_equal(in(VUART_SCR), 0xA5);
    /* A 16-bit OUT to DLL/DLM is split into bytes by the bus. */
    out(VUART_LCR, 0x83);
    vdev_io_out(&fx.bus, 0x3F8, 2, 0x0203);
    assert_int_equal(fx.u.divisor, 0x0203);
}

static void test_transmit_calls_tx(void **state)
{
    (void)state;
    out(VUART_RBR_THR, 'h');
    out(VUART_RBR_THR, 'i');
    assert_int_equal(fx.tx.ntx, 2);
    assert_memory_equal(fx.tx.txbuf, "hi", 2);
    assert_int_equal(in(VUART_LSR) & 0x60, 0x60);
}

static void test_receive_fifo_and_overrun(void **state)
{
    (void)state;
    /* Without FIFO: one byte, the second overruns. */
    assert_true(vuart_receive(&fx.u, 'a'));
    assert_false(vuart_can_receive(&fx.u));
    assert_false(vuart_receive(&fx.u, 'b'));
    assert_int_equal(in(VUART_LSR) & (VUART_LSR_DR | VUART_LSR_OE), VUART_LSR_DR | VUART_LSR_OE);
    assert_int_equal(in(VUART_LSR) & VUART_LSR_OE, 0); /* cleared by reading */
    assert_int_equal(in(VUART_RBR_THR), 'a');
    assert_int_equal(in(VUART_LSR) & VUART_LSR_DR, 0);

    out(VUART_IIR_FCR, VUART_FCR_ENABLE | VUART_FCR_CLEAR_RX);
    assert_int_equal(in(VUART_IIR_FCR) & 0xC0, 0xC0);
    for (unsigned i = 0; i < VUART_FIFO_SIZE; i++)
        assert_true(vuart_receive(&fx.u, (uint8_t)('0' + i)));
    assert_false(vuart_receive(&fx.u, 'X'));
    for (unsigned i = 0; i < VUART_FIFO_SIZE; i++) {
        assert_true(in(VUART_LSR) & VUART_LSR_DR);
        assert_int_equal(in(VUART_RBR_THR), '0' + i);
    }
    assert_false(in(VUART_LSR) & VUART_LSR_DR);
    /* FCR clear-RX empties the FIFO. */
    vuart_receive(&fx.u, 'z');
    out(VUART_IIR_FCR, VUART_FCR_ENABLE | VUART_FCR_CLEAR_RX);
    assert_false(in(VUART_LSR) & VUART_LSR_DR);
}

static void test_loopback_linux_probe(void **state)
{
    (void)state;
    /* drivers/tty/serial/8250: MCR = LOOP|OUT2|RTS must read MSR & 0xF0 == 0x90. */
    out(VUART_MCR, VUART_MCR_LOOP | 0x0A);
    assert_int_equal(in(VUART_MSR) & 0xF0, 0x90);
    out(VUART_MCR, VUART_MCR_LOOP | VUART_MCR_DTR | VUART_MCR_OUT1);
    uint8_t msr = in(VUART_MSR);
    assert_int_equal(msr & 0xF0, VUART_MSR_DSR | VUART_MSR_RI);
    assert_true(msr & VUART_MSR_DDSR);
    assert_true(msr & VUART_MSR_DCTS);
    assert_int_equal(in(VUART_MSR) & 0x0F, 0); /* deltas cleared by the read */
    out(VUART_MCR, VUART_MCR_LOOP);
    assert_true(in(VUART_MSR) & VUART_MSR_TERI); /* RI fell */
    /* THR loops back to RBR, nothing reaches tx, outside input is ignored. */
    out(VUART_RBR_THR, 0x5A);
    assert_int_equal(fx.tx.ntx, 0);
    assert_false(vuart_receive(&fx.u, 0x11));
    assert_true(in(VUART_LSR) & VUART_LSR_DR);
    assert_int_equal(in(VUART_RBR_THR), 0x5A);
    out(VUART_MCR, 0);
    assert_int_equal(in(VUART_MSR) & 0xF0, 0xB0);
}

static void test_rx_interrupt_gated_by_out2(void **state)
{
    (void)state;
    out(VUART_IER, VUART_IER_ERBFI);
    vuart_receive(&fx.u, 'q');
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_RDI);
    assert_false(fake_irq_level(4)); /* OUT2 clear: the PC does not see it */
    out(VUART_MCR, VUART_MCR_OUT2);
    assert_true(fake_irq_level(4));
    assert_int_equal(in(VUART_RBR_THR), 'q');
    assert_false(fake_irq_level(4));
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_NO_INT);
    vuart_receive(&fx.u, 'r');
    assert_int_equal(fake_irq_rises(4), 2);
}

static void test_thre_interrupt(void **state)
{
    (void)state;
    out(VUART_MCR, VUART_MCR_OUT2);
    out(VUART_IER, VUART_IER_ETBEI);
    assert_true(fake_irq_level(4));
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_THRI);
    /* Reading IIR with THRE as the source acknowledges it. */
    assert_false(fake_irq_level(4));
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_NO_INT);
    /* Re-armed by an IER write. */
    out(VUART_IER, VUART_IER_ETBEI);
    assert_int_equal(fake_irq_rises(4), 2);
    /* Writing THR drops and re-raises it: a new edge per byte. */
    out(VUART_RBR_THR, 'x');
    assert_int_equal(fake_irq_rises(4), 3);
    assert_true(fake_irq_level(4));
    out(VUART_IER, 0);
    assert_false(fake_irq_level(4));
}

static void test_iir_priority(void **state)
{
    (void)state;
    out(VUART_MCR, VUART_MCR_OUT2);
    out(VUART_IER, 0x0F);
    vuart_receive(&fx.u, 1);
    vuart_receive(&fx.u, 2); /* overrun: line status */
    out(VUART_MCR, VUART_MCR_OUT2 | VUART_MCR_LOOP); /* modem deltas pending too */
    out(VUART_MCR, VUART_MCR_OUT2);
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_RLSI);
    in(VUART_LSR);
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_RDI);
    in(VUART_RBR_THR);
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_THRI);
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_MSI);
    in(VUART_MSR);
    assert_int_equal(in(VUART_IIR_FCR), VUART_IIR_NO_INT);
    assert_false(fake_irq_level(4));
}

static void test_reset_lowers_line(void **state)
{
    (void)state;
    out(VUART_MCR, VUART_MCR_OUT2);
    out(VUART_IER, VUART_IER_ETBEI);
    assert_true(fake_irq_level(4));
    vuart_reset(&fx.u);
    assert_false(fake_irq_level(4));
    assert_int_equal(in(VUART_IER), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_state, setup),
        cmocka_unit_test_setup(test_divisor_latch_and_scratch, setup),
        cmocka_unit_test_setup(test_transmit_calls_tx, setup),
        cmocka_unit_test_setup(test_receive_fifo_and_overrun, setup),
        cmocka_unit_test_setup(test_loopback_linux_probe, setup),
        cmocka_unit_test_setup(test_rx_interrupt_gated_by_out2, setup),
        cmocka_unit_test_setup(test_thre_interrupt, setup),
        cmocka_unit_test_setup(test_iir_priority, setup),
        cmocka_unit_test_setup(test_reset_lowers_line, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* COM1 16550 UART: polled transmit, polled or interrupt-driven receive. */
#include "arch.h"
#include "uart.h"

#define RX_RING_SIZE    256     /* a power of two */

static volatile uint8_t rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head, rx_tail;     /* written by the IRQ / by the reader */

void uart_init(void)
{
    outb(UART_COM1 + UART_IER, 0x00);
    outb(UART_COM1 + UART_LCR, 0x80);          /* DLAB: the divisor latch */
    outb(UART_COM1 + UART_RBR, 1);             /* 115200 = 1.8432 MHz / 16 / 1 */
    outb(UART_COM1 + UART_IER, 0);
    outb(UART_COM1 + UART_LCR, 0x03);          /* 8 data bits, no parity, 1 stop bit */
    outb(UART_COM1 + UART_IIR, 0x07);          /* FIFOs on and cleared, receive trigger at 1 byte */
    outb(UART_COM1 + UART_MCR, 0x03);          /* DTR, RTS */
}

static void uart_put_raw(uint8_t c)
{
    /* Bounded so a missing or wedged UART cannot hang the guest. */
    for (uint32_t spins = 0; spins < 1000000; spins++)
        if (inb(UART_COM1 + UART_LSR) & UART_LSR_THRE)
            break;
    outb(UART_COM1, c);
}

void uart_putc(char c)
{
    if (c == '\n')
        uart_put_raw('\r');
    uart_put_raw((uint8_t)c);
}

int uart_getc_poll(void)
{
    if (!(inb(UART_COM1 + UART_LSR) & UART_LSR_DR))
        return -1;
    return inb(UART_COM1 + UART_RBR);
}

void uart_rx_irq_enable(void)
{
    while (uart_getc_poll() >= 0)
        ;                                       /* drop anything typed before we listened */
    outb(UART_COM1 + UART_MCR, 0x0b);          /* DTR, RTS, OUT2: OUT2 gates the IRQ line on PCs */
    outb(UART_COM1 + UART_IER, 0x01);          /* received data available */
}

void uart_rx_irq(void)
{
    (void)inb(UART_COM1 + UART_IIR);
    for (int n = 0; n < 64 && (inb(UART_COM1 + UART_LSR) & UART_LSR_DR); n++) {
        uint8_t c = inb(UART_COM1 + UART_RBR);
        if (rx_head - rx_tail < RX_RING_SIZE) {         /* full: drop the byte */
            rx_ring[rx_head % RX_RING_SIZE] = c;
            rx_head++;
        }
    }
}

int uart_getc(void)
{
    if (rx_tail == rx_head)
        return -1;
    int c = rx_ring[rx_tail % RX_RING_SIZE];
    rx_tail++;
    return c;
}

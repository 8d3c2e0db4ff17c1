/* COM1 16550 UART: polled transmit, polled or interrupt-driven receive. */
#ifndef GUEST_UART_H
#define GUEST_UART_H

#include <stdbool.h>
#include <stdint.h>

#define UART_COM1       0x3f8
#define UART_IRQ        4
/* Register offsets from the base port. */
#define UART_RBR        0       /* receive buffer (read), THR on write, DLL with DLAB */
#define UART_IER        1       /* interrupt enable, DLM with DLAB */
#define UART_IIR        2       /* interrupt identification (read), FCR on write */
#define UART_LCR        3
#define UART_MCR        4
#define UART_LSR        5
#define UART_SCR        7       /* scratch: plain storage */
#define UART_LSR_DR     0x01    /* a received byte is waiting */
#define UART_LSR_THRE   0x20    /* transmit holding register empty */

/* Program COM1 for 115200 8N1 with FIFOs on and no interrupts. */
void uart_init(void);
/* Send one byte, waiting (bounded) for room; '\n' goes out as "\r\n". */
void uart_putc(char c);
/* A received byte, or -1 if none is waiting (polled; do not mix with the interrupt mode). */
int uart_getc_poll(void);
/* Turn on the receive-data interrupt (IER bit 0, MCR OUT2); IRQ 4 must then call uart_rx_irq(). */
void uart_rx_irq_enable(void);
/* IRQ 4 work: move every waiting byte into the receive ring. */
void uart_rx_irq(void);
/* Next byte from the receive ring, or -1 if empty. */
int uart_getc(void);

#endif

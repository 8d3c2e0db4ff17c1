/* The real 16550 UART on COM1 that the hypervisor owns: its console. */
#ifndef DRIVERS_UART_H
#define DRIVERS_UART_H

#include <stdint.h>
#include <stdbool.h>

#define COM1_PORT 0x3F8
#define COM1_IRQ  4

/* Programs COM1 for 115200 8N1 with FIFOs; output is polled until uart_enable_irq(). */
void uart_init(void);
/* Turns on the receive and transmit-empty interrupts (the IOAPIC routes them to vector). */
void uart_enable_irq(uint8_t vector);
/* Queues one byte for transmission; waits (never drops) when the queue is full. */
void uart_putc(uint8_t c);
/* Returns a received byte or -1. */
int uart_getc(void);
/* True if received bytes are waiting (call with interrupts disabled to sleep safely). */
bool uart_rx_pending(void);
/* Free bytes in the transmit queue (guest output is dropped rather than waited for). */
unsigned uart_tx_room(void);
/* Flushes the queue by polling and keeps output polled from now on (panic). */
void uart_panic_mode(void);
/* Counters shown by the shell. */
struct uart_stats { uint64_t rx_bytes, rx_dropped, tx_bytes, irqs; };
struct uart_stats uart_stats(void);

#endif

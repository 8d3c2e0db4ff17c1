/* 16550 driver for COM1: interrupt-driven transmit through a queue that never loses bytes,
 * interrupt-driven receive into a ring the shell reads. */
#include "drivers/uart.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/spinlock.h"

enum {
    UART_DATA = 0, UART_IER = 1, UART_IIR = 2, UART_FCR = 2, UART_LCR = 3,
    UART_MCR = 4, UART_LSR = 5, UART_DLL = 0, UART_DLM = 1,
};
#define IER_RDA   0x01
#define IER_THRE  0x02
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT2  0x08
#define FIFO_SIZE 16

#define TX_RING 65536
#define RX_RING 1024

static uint8_t tx_ring[TX_RING];
static uint32_t tx_head, tx_tail;       /* head: next to send; tail: next free */
static uint8_t rx_ring[RX_RING];
static uint32_t rx_head, rx_tail;
static bool irq_mode;
static bool panicking;
static struct spinlock lock;
static struct uart_stats stats;

static inline void reg_write(int reg, uint8_t v) { outb(COM1_PORT + reg, v); }
static inline uint8_t reg_read(int reg) { return inb(COM1_PORT + reg); }

void uart_init(void)
{
    reg_write(UART_IER, 0);
    reg_write(UART_LCR, 0x80);          /* DLAB: divisor 1 = 115200 baud */
    reg_write(UART_DLL, 1);
    reg_write(UART_DLM, 0);
    reg_write(UART_LCR, 0x03);          /* 8N1 */
    reg_write(UART_FCR, 0xC7);          /* enable and clear FIFOs, 14-byte receive trigger */
    reg_write(UART_MCR, MCR_DTR | MCR_RTS);
}

/* Moves queued bytes into the transmit FIFO if it is empty. Called with the lock held. */
static void tx_fill_fifo(void)
{
    if (!(reg_read(UART_LSR) & LSR_THRE))
        return;
    for (int i = 0; i < FIFO_SIZE && tx_head != tx_tail; i++) {
        reg_write(UART_DATA, tx_ring[tx_head % TX_RING]);
        tx_head++;
        stats.tx_bytes++;
    }
}

/* Sends the oldest queued byte by polling. Called with the lock held. */
static void tx_poll_one(void)
{
    while (!(reg_read(UART_LSR) & LSR_THRE))
        pause();
    reg_write(UART_DATA, tx_ring[tx_head % TX_RING]);
    tx_head++;
    stats.tx_bytes++;
}

void uart_putc(uint8_t c)
{
    if (panicking) {
        while (!(reg_read(UART_LSR) & LSR_THRE))
            pause();
        reg_write(UART_DATA, c);
        return;
    }
    uint64_t f = spin_lock_irqsave(&lock);
    if (tx_tail - tx_head == TX_RING)
        tx_poll_one();
    tx_ring[tx_tail % TX_RING] = c;
    tx_tail++;
    if (irq_mode) {
        tx_fill_fifo();
    } else {
        while (tx_head != tx_tail)
            tx_poll_one();
    }
    spin_unlock_irqrestore(&lock, f);
}

int uart_getc(void)
{
    uint64_t f = spin_lock_irqsave(&lock);
    int c = -1;
    if (rx_head != rx_tail)
        c = rx_ring[rx_head++ % RX_RING];
    spin_unlock_irqrestore(&lock, f);
    return c;
}

static void uart_irq(struct trap_frame *tf)
{
    (void)tf;
    uint64_t f = spin_lock_irqsave(&lock);
    stats.irqs++;
    while (reg_read(UART_LSR) & LSR_DR) {
        uint8_t c = reg_read(UART_DATA);
        if (rx_tail - rx_head < RX_RING) {
            rx_ring[rx_tail++ % RX_RING] = c;
            stats.rx_bytes++;
        } else {
            stats.rx_dropped++;
        }
    }
    (void)reg_read(UART_IIR);           /* acknowledges a transmit-empty interrupt */
    tx_fill_fifo();
    spin_unlock_irqrestore(&lock, f);
}

void uart_enable_irq(uint8_t vector)
{
    idt_set_handler(vector, uart_irq);
    uint64_t f = spin_lock_irqsave(&lock);
    irq_mode = true;
    reg_write(UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
    reg_write(UART_IER, IER_RDA | IER_THRE);
    tx_fill_fifo();
    spin_unlock_irqrestore(&lock, f);
}

unsigned uart_tx_room(void)
{
    return TX_RING - (tx_tail - tx_head);
}

bool uart_rx_pending(void)
{
    return rx_head != rx_tail;
}

void uart_panic_mode(void)
{
    /* A panic may interrupt a holder of the lock: take the queue over without it. */
    irq_mode = false;
    panicking = true;
    reg_write(UART_IER, 0);
    while (tx_head != tx_tail)
        tx_poll_one();
    while (!(reg_read(UART_LSR) & LSR_TEMT))
        pause();
}

struct uart_stats uart_stats(void)
{
    return stats;
}

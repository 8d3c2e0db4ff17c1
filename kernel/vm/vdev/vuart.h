/* A virtual 16550A serial port: registers, receive FIFO, instant transmit, interrupts. */
#ifndef KERNEL_VM_VDEV_VUART_H
#define KERNEL_VM_VDEV_VUART_H

/*
 * Model notes.
 * - Transmit is instantaneous: each THR write (outside loopback) calls tx() at
 *   once, so LSR.THRE and LSR.TEMT always read 1.
 * - Receive: vuart_receive() pushes one byte. With FCR.FIFO_ENABLE the FIFO
 *   holds VUART_FIFO_SIZE bytes, without it one byte (RBR). A byte that does
 *   not fit is lost and sets LSR.OE, as on hardware; vuart_can_receive() lets
 *   the host hold bytes back instead.
 * - The FCR receive trigger level is stored but ignored: the received-data
 *   interrupt is pending whenever the FIFO is non-empty (as if every byte hit
 *   the character timeout at once), so there is no IIR "timeout" (0xC) source.
 * - The IRQ line is IIR-pending AND MCR.OUT2, as PC boards gate it; loopback
 *   does not disconnect it (as in QEMU, which Linux's probe is happy with).
 * - Outside loopback the modem lines read CTS, DSR and DCD asserted, RI not.
 */

#include "kernel/vm/vdev/vdev.h"

#define VUART_COM1_BASE 0x3F8
#define VUART_COM1_IRQ 4
#define VUART_FIFO_SIZE 16

/* Register offsets from the base port. */
enum vuart_reg {
    VUART_RBR_THR = 0, /* DLL when LCR.DLAB */
    VUART_IER = 1,     /* DLM when LCR.DLAB */
    VUART_IIR_FCR = 2,
    VUART_LCR = 3,
    VUART_MCR = 4,
    VUART_LSR = 5,
    VUART_MSR = 6,
    VUART_SCR = 7,
};

#define VUART_IER_ERBFI 0x01 /* received data available */
#define VUART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define VUART_IER_ELSI 0x04  /* receiver line status */
#define VUART_IER_EDSSI 0x08 /* modem status */

#define VUART_IIR_NO_INT 0x01
#define VUART_IIR_MSI 0x00
#define VUART_IIR_THRI 0x02
#define VUART_IIR_RDI 0x04
#define VUART_IIR_RLSI 0x06
#define VUART_IIR_FIFO 0xC0

#define VUART_FCR_ENABLE 0x01
#define VUART_FCR_CLEAR_RX 0x02
#define VUART_FCR_CLEAR_TX 0x04

#define VUART_LCR_DLAB 0x80

#define VUART_MCR_DTR 0x01
#define VUART_MCR_RTS 0x02
#define VUART_MCR_OUT1 0x04
#define VUART_MCR_OUT2 0x08
#define VUART_MCR_LOOP 0x10

#define VUART_LSR_DR 0x01
#define VUART_LSR_OE 0x02
#define VUART_LSR_PE 0x04
#define VUART_LSR_FE 0x08
#define VUART_LSR_BI 0x10
#define VUART_LSR_THRE 0x20
#define VUART_LSR_TEMT 0x40
#define VUART_LSR_ERRORS (VUART_LSR_OE | VUART_LSR_PE | VUART_LSR_FE | VUART_LSR_BI)

#define VUART_MSR_DCTS 0x01
#define VUART_MSR_DDSR 0x02
#define VUART_MSR_TERI 0x04
#define VUART_MSR_DDCD 0x08
#define VUART_MSR_CTS 0x10
#define VUART_MSR_DSR 0x20
#define VUART_MSR_RI 0x40
#define VUART_MSR_DCD 0x80

typedef void (*vuart_tx_fn)(void *tx_ctx, uint8_t byte);

struct vuart {
    struct vdev_env *env;
    vuart_tx_fn tx;
    void *tx_ctx;
    uint16_t base;
    uint8_t irq;
    bool irq_level;    /* what we last drove on the line */

    uint8_t rx[VUART_FIFO_SIZE];
    uint8_t rx_head, rx_count;
    uint8_t rbr;       /* last byte read, returned again when the FIFO is empty */

    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    uint16_t divisor;
    bool thr_ipending; /* THR-empty interrupt armed and not yet acknowledged */
};

/* Sets up a UART at base/irq; every byte the guest transmits goes to tx(tx_ctx, byte). */
void vuart_init(struct vuart *u, struct vdev_env *env, uint16_t base, uint8_t irq,
                vuart_tx_fn tx, void *tx_ctx);

/* Power-on state: FIFOs empty, interrupts off, divisor 12 (9600 baud), line low. */
void vuart_reset(struct vuart *u);

/* Claims base..base+7 on bus as an 8-bit device. Returns 0 or -1 (ports taken). */
int vuart_attach(struct vuart *u, struct vdev_bus *bus);

/* Host-to-guest byte. Returns false if it did not fit (it is then lost and LSR.OE set). */
bool vuart_receive(struct vuart *u, uint8_t byte);

/* True if vuart_receive() would accept a byte now. */
bool vuart_can_receive(const struct vuart *u);

/* Register read/write at base+offset (what the bus handlers call). */
uint8_t vuart_read(struct vuart *u, unsigned offset);
void vuart_write(struct vuart *u, unsigned offset, uint8_t value);

#endif

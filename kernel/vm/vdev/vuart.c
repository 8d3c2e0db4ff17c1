/* A virtual 16550A serial port: registers, receive FIFO, instant transmit, interrupts. */
#include "kernel/vm/vdev/vuart.h"
#include "kernel/string.h"

static unsigned rx_capacity(const struct vuart *u)
{
    return (u->fcr & VUART_FCR_ENABLE) ? VUART_FIFO_SIZE : 1;
}

/* Highest-priority pending source as the IIR encodes it (16550 datasheet, table 4). */
static uint8_t iir_source(const struct vuart *u)
{
    if ((u->ier & VUART_IER_ELSI) && (u->lsr & VUART_LSR_ERRORS))
        return VUART_IIR_RLSI;
    if ((u->ier & VUART_IER_ERBFI) && u->rx_count)
        return VUART_IIR_RDI;
    if ((u->ier & VUART_IER_ETBEI) && u->thr_ipending)
        return VUART_IIR_THRI;
    if ((u->ier & VUART_IER_EDSSI) && (u->msr & 0x0F))
        return VUART_IIR_MSI;
    return VUART_IIR_NO_INT;
}

/* The PC routes INTRPT to the PIC only while OUT2 is set; drive the line on changes only. */
static void update_irq(struct vuart *u)
{
    bool level = iir_source(u) != VUART_IIR_NO_INT && (u->mcr & VUART_MCR_OUT2);
    if (level == u->irq_level)
        return;
    u->irq_level = level;
    if (u->env && u->env->set_irq)
        u->env->set_irq(u->env->ctx, u->irq, level);
}

/* Modem inputs: in loopback they are wired to the MCR outputs (DTR->DSR, RTS->CTS,
 * OUT1->RI, OUT2->DCD); otherwise a permanently ready peer. */
static uint8_t modem_inputs(const struct vuart *u)
{
    if (!(u->mcr & VUART_MCR_LOOP))
        return VUART_MSR_CTS | VUART_MSR_DSR | VUART_MSR_DCD;
    uint8_t m = 0;
    if (u->mcr & VUART_MCR_DTR)
        m |= VUART_MSR_DSR;
    if (u->mcr & VUART_MCR_RTS)
        m |= VUART_MSR_CTS;
    if (u->mcr & VUART_MCR_OUT1)
        m |= VUART_MSR_RI;
    if (u->mcr & VUART_MCR_OUT2)
        m |= VUART_MSR_DCD;
    return m;
}

static void update_msr(struct vuart *u)
{
    uint8_t old = u->msr & 0xF0, now = modem_inputs(u), delta = u->msr & 0x0F;
    if ((old ^ now) & VUART_MSR_CTS)
        delta |= VUART_MSR_DCTS;
    if ((old ^ now) & VUART_MSR_DSR)
        delta |= VUART_MSR_DDSR;
    if ((old ^ now) & VUART_MSR_DCD)
        delta |= VUART_MSR_DDCD;
    if ((old & VUART_MSR_RI) && !(now & VUART_MSR_RI))
        delta |= VUART_MSR_TERI; /* trailing edge only */
    u->msr = now | delta;
}

static bool rx_push(struct vuart *u, uint8_t byte)
{
    if (u->rx_count >= rx_capacity(u)) {
        u->lsr |= VUART_LSR_OE;
        update_irq(u);
        return false;
    }
    u->rx[(u->rx_head + u->rx_count) % VUART_FIFO_SIZE] = byte;
    u->rx_count++;
    update_irq(u);
    return true;
}

void vuart_reset(struct vuart *u)
{
    u->rx_head = u->rx_count = 0;
    u->rbr = 0;
    u->ier = u->lcr = u->mcr = u->lsr = u->scr = u->fcr = 0;
    u->divisor = 12;
    u->thr_ipending = false;
    u->msr = modem_inputs(u);
    if (u->irq_level) {
        u->irq_level = false;
        if (u->env && u->env->set_irq)
            u->env->set_irq(u->env->ctx, u->irq, false);
    }
}

void vuart_init(struct vuart *u, struct vdev_env *env, uint16_t base, uint8_t irq,
                vuart_tx_fn tx, void *tx_ctx)
{
    memset(u, 0, sizeof(*u));
    u->env = env;
    u->base = base;
    u->irq = irq;
    u->tx = tx;
    u->tx_ctx = tx_ctx;
    vuart_reset(u);
}

bool vuart_can_receive(const struct vuart *u)
{
    return !(u->mcr & VUART_MCR_LOOP) && u->rx_count < rx_capacity(u);
}

bool vuart_receive(struct vuart *u, uint8_t byte)
{
    if (u->mcr & VUART_MCR_LOOP)
        return false; /* SIN is disconnected in loopback */
    return rx_push(u, byte);
}

static void write_thr(struct vuart *u, uint8_t value)
{
    /* Writing THR drops the THRE interrupt; the instant transmit empties THR again and
     * re-raises it, so the PIC sees a fresh edge as with a real UART. */
    u->thr_ipending = false;
    update_irq(u);
    if (u->mcr & VUART_MCR_LOOP)
        rx_push(u, value);
    else if (u->tx)
        u->tx(u->tx_ctx, value);
    u->thr_ipending = true;
    update_irq(u);
}

static void write_fcr(struct vuart *u, uint8_t value)
{
    if ((value ^ u->fcr) & VUART_FCR_ENABLE)
        u->rx_count = 0; /* toggling FIFO mode resets both FIFOs */
    if (value & VUART_FCR_CLEAR_RX)
        u->rx_count = 0;
    u->fcr = value & 0xC9; /* enable, DMA mode, trigger level; clear bits self-reset */
}

void vuart_write(struct vuart *u, unsigned offset, uint8_t value)
{
    bool dlab = u->lcr & VUART_LCR_DLAB;
    switch (offset & 7) {
    case VUART_RBR_THR:
        if (dlab)
            u->divisor = (uint16_t)((u->divisor & 0xFF00) | value);
        else
            write_thr(u, value);
        break;
    case VUART_IER:
        if (dlab) {
            u->divisor = (uint16_t)((u->divisor & 0x00FF) | (value << 8));
        } else {
            u->ier = value & 0x0F;
            /* Enabling ETBEI while THR is empty raises the THRE interrupt at once. */
            u->thr_ipending = (u->ier & VUART_IER_ETBEI) != 0;
        }
        break;
    case VUART_IIR_FCR:
        write_fcr(u, value);
        break;
    case VUART_LCR:
        u->lcr = value;
        break;
    case VUART_MCR:
        u->mcr = value & 0x1F;
        update_msr(u);
        break;
    case VUART_SCR:
        u->scr = value;
        break;
    default: /* LSR and MSR: writes ignored */
        break;
    }
    update_irq(u);
}

uint8_t vuart_read(struct vuart *u, unsigned offset)
{
    bool dlab = u->lcr & VUART_LCR_DLAB;
    uint8_t v = 0xFF;
    switch (offset & 7) {
    case VUART_RBR_THR:
        if (dlab)
            return (uint8_t)u->divisor;
        if (u->rx_count) {
            u->rbr = u->rx[u->rx_head];
            u->rx_head = (uint8_t)((u->rx_head + 1) % VUART_FIFO_SIZE);
            u->rx_count--;
        }
        v = u->rbr;
        break;
    case VUART_IER:
        return dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
    case VUART_IIR_FCR:
        v = iir_source(u);
        if (v == VUART_IIR_THRI)
            u->thr_ipending = false; /* reading IIR acknowledges THRE only */
        if (u->fcr & VUART_FCR_ENABLE)
            v |= VUART_IIR_FIFO;
        break;
    case VUART_LCR:
        return u->lcr;
    case VUART_MCR:
        return u->mcr;
    case VUART_LSR:
        v = (uint8_t)(u->lsr | VUART_LSR_THRE | VUART_LSR_TEMT);
        if (u->rx_count)
            v |= VUART_LSR_DR;
        u->lsr &= (uint8_t)~VUART_LSR_ERRORS;
        break;
    case VUART_MSR:
        v = u->msr;
        u->msr &= 0xF0;
        break;
    case VUART_SCR:
        return u->scr;
    }
    update_irq(u);
    return v;
}

static uint32_t vuart_io_read(void *dev, uint16_t port, unsigned size)
{
    struct vuart *u = dev;
    (void)size; /* registered as an 8-bit device: the bus only sends bytes */
    return vuart_read(u, (unsigned)(port - u->base));
}

static void vuart_io_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct vuart *u = dev;
    (void)size;
    vuart_write(u, (unsigned)(port - u->base), (uint8_t)value);
}

int vuart_attach(struct vuart *u, struct vdev_bus *bus)
{
    return vdev_register_io_sized(bus, u->base, (uint16_t)(u->base + 7), 1, "vuart",
                                  vuart_io_read, vuart_io_write, u);
}

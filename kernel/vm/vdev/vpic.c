/* A virtual pair of 8259A interrupt controllers (master 0x20, slave 0xA0) with the ELCR. */
#include "kernel/vm/vdev/vpic.h"
#include "kernel/string.h"

#define MASTER 0
#define SLAVE 1

static bool is_level(const struct vpic_chip *c, uint8_t mask)
{
    return c->ltim || (c->elcr & mask);
}

/* Priority level (0 = highest) of the highest-priority bit in mask, 8 if none.
 * priority_add is the IRQ that currently has level 0 (8259A rotation). */
static unsigned priority_of(const struct vpic_chip *c, uint8_t mask)
{
    if (!mask)
        return 8;
    unsigned prio = 0;
    while (!(mask & (1u << ((prio + c->priority_add) & 7))))
        prio++;
    return prio;
}

/* The chip's INT output: the IRQ it would deliver now, or -1. */
static int chip_pending(const struct vpic_chip *c, bool master)
{
    unsigned prio = priority_of(c, (uint8_t)(c->irr & ~c->imr));
    if (prio == 8)
        return -1;
    uint8_t isr = c->isr;
    if (c->special_mask)
        isr &= (uint8_t)~c->imr; /* masked in-service levels don't block others */
    unsigned cur = priority_of(c, isr);
    int irq = (int)((prio + c->priority_add) & 7);
    if (prio < cur)
        return irq;
    /* Special fully nested mode: the slave may interrupt a slave handler. */
    if (master && c->sfnm && irq == VPIC_CASCADE_IRQ && prio == cur)
        return irq;
    return -1;
}

static void chip_set_line(struct vpic_chip *c, unsigned bit, bool level)
{
    uint8_t m = (uint8_t)(1u << bit);
    if (is_level(c, m)) {
        if (level)
            c->irr |= m;
        else
            c->irr &= (uint8_t)~m;
    } else if (level && !(c->line & m)) {
        c->irr |= m;
    }
    if (level)
        c->line |= m;
    else
        c->line &= (uint8_t)~m;
}

/* The master's IR2 follows the slave's INT as a level (whatever the ELCR says), so a
 * second slave request that stays pending across an acknowledge is not lost. */
static void update_cascade(struct vpic *p)
{
    struct vpic_chip *m = &p->chip[MASTER];
    uint8_t bit = 1u << VPIC_CASCADE_IRQ;
    if (m->single)
        return;
    if (chip_pending(&p->chip[SLAVE], false) >= 0) {
        m->irr |= bit;
        m->line |= bit;
    } else {
        m->irr &= (uint8_t)~bit;
        m->line &= (uint8_t)~bit;
    }
}

static void chip_intack(struct vpic_chip *c, int irq)
{
    uint8_t m = (uint8_t)(1u << irq);
    if (!is_level(c, m))
        c->irr &= (uint8_t)~m; /* the edge is consumed; a level request stays */
    if (c->auto_eoi) {
        if (c->rotate_on_aeoi)
            c->priority_add = (uint8_t)((irq + 1) & 7);
    } else {
        c->isr |= m;
    }
}

static void chip_reset(struct vpic_chip *c, uint8_t vector_base, uint8_t icw3,
                       uint8_t elcr_mask)
{
    memset(c, 0, sizeof(*c));
    c->vector_base = vector_base;
    c->icw3 = icw3;
    c->elcr_mask = elcr_mask;
    c->imr = 0xFF;
}

void vpic_reset(struct vpic *p)
{
    /* IRQ 0, 1, 2, 8 and 13 are edge-only on PC chipsets (PIIX ELCR). */
    chip_reset(&p->chip[MASTER], 0x08, 1u << VPIC_CASCADE_IRQ, 0xF8);
    chip_reset(&p->chip[SLAVE], 0x70, VPIC_CASCADE_IRQ, 0xDE);
}

void vpic_init(struct vpic *p, struct vdev_env *env)
{
    memset(p, 0, sizeof(*p));
    p->env = env;
    vpic_reset(p);
}

void vpic_set_irq(struct vpic *p, unsigned irq, bool level)
{
    if (irq > 15 || irq == VPIC_CASCADE_IRQ)
        return;
    chip_set_line(&p->chip[irq >> 3], irq & 7, level);
    update_cascade(p);
}

bool vpic_has_interrupt(const struct vpic *p)
{
    return chip_pending(&p->chip[MASTER], true) >= 0;
}

int vpic_ack(struct vpic *p)
{
    struct vpic_chip *m = &p->chip[MASTER], *s = &p->chip[SLAVE];
    int irq = chip_pending(m, true);
    if (irq < 0)
        return m->vector_base + 7; /* spurious: ISR untouched */
    chip_intack(m, irq);
    int vector = m->vector_base + irq;
    if (irq == VPIC_CASCADE_IRQ && !m->single) {
        int sirq = chip_pending(s, false);
        if (sirq < 0) {
            vector = s->vector_base + 7; /* master ISR2 stays set, as on hardware */
        } else {
            chip_intack(s, sirq);
            vector = s->vector_base + sirq;
        }
    }
    update_cascade(p);
    return vector;
}

/* ICW1: start of the initialization sequence (8259A datasheet, "Initialization"). */
static void write_icw1(struct vpic_chip *c, uint8_t v)
{
    c->init_step = 2;
    c->icw4_needed = v & 0x01;
    c->single = v & 0x02;
    c->ltim = v & 0x08;
    c->imr = 0;
    c->isr = 0;
    c->priority_add = 0;
    c->special_mask = c->read_isr = c->poll = false;
    c->auto_eoi = c->rotate_on_aeoi = c->sfnm = false;
    /* Edge sense is reset: an edge input high now must fall and rise again. */
    uint8_t level_bits = c->ltim ? 0xFF : c->elcr;
    c->irr = c->line & level_bits;
}

static void write_ocw2(struct vpic_chip *c, uint8_t v)
{
    unsigned irq = v & 7;
    switch (v >> 5) {
    case 0: /* clear rotate in auto-EOI */
        c->rotate_on_aeoi = false;
        break;
    case 4: /* set rotate in auto-EOI */
        c->rotate_on_aeoi = true;
        break;
    case 1: /* non-specific EOI */
    case 5: { /* rotate on non-specific EOI */
        unsigned prio = priority_of(c, c->isr);
        if (prio == 8)
            break;
        irq = (prio + c->priority_add) & 7;
        c->isr &= (uint8_t)~(1u << irq);
        if (v >> 5 == 5)
            c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    }
    case 3: /* specific EOI */
        c->isr &= (uint8_t)~(1u << irq);
        break;
    case 7: /* rotate on specific EOI */
        c->isr &= (uint8_t)~(1u << irq);
        c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    case 6: /* set priority: irq becomes the lowest */
        c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    default: /* 2: no operation */
        break;
    }
}

static void write_ocw3(struct vpic_chip *c, uint8_t v)
{
    if (v & 0x04)
        c->poll = true;
    if (v & 0x02)
        c->read_isr = v & 0x01;
    if (v & 0x40)
        c->special_mask = v & 0x20;
}

static void write_data(struct vpic_chip *c, uint8_t v)
{
    switch (c->init_step) {
    case 2:
        c->vector_base = v & 0xF8;
        c->init_step = c->single ? (c->icw4_needed ? 4 : 0) : 3;
        break;
    case 3:
        c->icw3 = v;
        c->init_step = c->icw4_needed ? 4 : 0;
        break;
    case 4:
        c->auto_eoi = v & 0x02;
        c->sfnm = v & 0x10;
        c->init_step = 0;
        break;
    default:
        c->imr = v; /* OCW1 */
        break;
    }
}

static uint8_t poll_read(struct vpic *p, struct vpic_chip *c)
{
    int irq = chip_pending(c, c == &p->chip[MASTER]);
    if (irq < 0)
        return 0;
    chip_intack(c, irq);
    return (uint8_t)(0x80 | irq);
}

void vpic_write(struct vpic *p, uint16_t port, uint8_t value)
{
    if ((port & ~1u) == VPIC_ELCR_BASE) {
        struct vpic_chip *c = &p->chip[port & 1];
        c->elcr = value & c->elcr_mask;
        c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->line & c->elcr));
    } else {
        struct vpic_chip *c = &p->chip[(port & 0x80) ? SLAVE : MASTER];
        if (port & 1)
            write_data(c, value);
        else if (value & 0x10)
            write_icw1(c, value);
        else if (value & 0x08)
            write_ocw3(c, value);
        else
            write_ocw2(c, value);
    }
    update_cascade(p);
}

uint8_t vpic_read(struct vpic *p, uint16_t port)
{
    if ((port & ~1u) == VPIC_ELCR_BASE)
        return p->chip[port & 1].elcr;
    struct vpic_chip *c = &p->chip[(port & 0x80) ? SLAVE : MASTER];
    if (port & 1)
        return c->imr;
    if (c->poll) {
        c->poll = false;
        uint8_t v = poll_read(p, c);
        update_cascade(p);
        return v;
    }
    return c->read_isr ? c->isr : c->irr;
}

static uint32_t vpic_io_read(void *dev, uint16_t port, unsigned size)
{
    (void)size; /* 8-bit ports: the bus splits wider accesses */
    return vpic_read(dev, port);
}

static void vpic_io_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    (void)size;
    vpic_write(dev, port, (uint8_t)value);
}

int vpic_attach(struct vpic *p, struct vdev_bus *bus)
{
    if (vdev_register_io_sized(bus, VPIC_MASTER_BASE, VPIC_MASTER_BASE + 1, 1, "vpic-master",
                               vpic_io_read, vpic_io_write, p) < 0 ||
        vdev_register_io_sized(bus, VPIC_SLAVE_BASE, VPIC_SLAVE_BASE + 1, 1, "vpic-slave",
                               vpic_io_read, vpic_io_write, p) < 0 ||
        vdev_register_io_sized(bus, VPIC_ELCR_BASE, VPIC_ELCR_BASE + 1, 1, "elcr",
                               vpic_io_read, vpic_io_write, p) < 0)
        return -1;
    return 0;
}

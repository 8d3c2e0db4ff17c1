/* 8259A programmable interrupt controllers (master and slave). */
#include "arch.h"
#include "desc.h"
#include "pic.h"

#define PIC1_CMD    0x20
#define PIC1_DATA   0x21
#define PIC2_CMD    0xa0
#define PIC2_DATA   0xa1
#define PIC_EOI     0x20
#define OCW3_READ_ISR 0x0b

void pic_init(void)
{
    outb(PIC1_CMD, 0x11);           /* ICW1: edge, cascade, ICW4 follows */
    io_delay();
    outb(PIC2_CMD, 0x11);
    io_delay();
    outb(PIC1_DATA, IRQ_VECTOR_BASE);       /* ICW2: vector base */
    io_delay();
    outb(PIC2_DATA, IRQ_VECTOR_BASE + 8);
    io_delay();
    outb(PIC1_DATA, 1u << 2);       /* ICW3: slave on master's IRQ 2 */
    io_delay();
    outb(PIC2_DATA, 2);             /* ICW3: slave identity */
    io_delay();
    outb(PIC1_DATA, 0x01);          /* ICW4: 8086 mode, normal EOI */
    io_delay();
    outb(PIC2_DATA, 0x01);
    io_delay();
    pic_set_mask(0xffff & ~(1u << 2));
}

void pic_set_mask(uint16_t mask)
{
    outb(PIC1_DATA, mask & 0xff);
    outb(PIC2_DATA, mask >> 8);
}

uint16_t pic_get_mask(void)
{
    return (uint16_t)(inb(PIC1_DATA) | (inb(PIC2_DATA) << 8));
}

void pic_mask(unsigned irq)
{
    pic_set_mask(pic_get_mask() | (uint16_t)(1u << irq));
}

void pic_unmask(unsigned irq)
{
    uint16_t mask = pic_get_mask() & ~(1u << irq);
    if (irq >= 8)
        mask &= ~(1u << 2);
    pic_set_mask(mask);
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

static uint8_t pic_read_isr(uint16_t cmd)
{
    outb(cmd, OCW3_READ_ISR);
    return inb(cmd);
}

bool pic_is_spurious(unsigned irq)
{
    if (irq == 7)
        return !(pic_read_isr(PIC1_CMD) & 0x80);
    if (irq == 15 && !(pic_read_isr(PIC2_CMD) & 0x80)) {
        outb(PIC1_CMD, PIC_EOI);    /* the master did see the cascade line */
        return true;
    }
    return false;
}

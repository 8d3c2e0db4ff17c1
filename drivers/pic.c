/* The legacy 8259A pair: remapped to 0x20-0x2F (so a stray IRQ is not taken for an exception) and masked. */
#include "drivers/pic.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"

void pic_disable(void)
{
    outb(0x20, 0x11);                   /* ICW1: edge, cascade, ICW4 follows */
    outb(0xA0, 0x11);
    outb(0x21, VEC_PIC_BASE);           /* ICW2: vector base */
    outb(0xA1, VEC_PIC_BASE + 8);
    outb(0x21, 0x04);                   /* ICW3: slave on IRQ 2 */
    outb(0xA1, 0x02);
    outb(0x21, 0x01);                   /* ICW4: 8086 mode */
    outb(0xA1, 0x01);
    outb(0x21, 0xFF);                   /* OCW1: mask all */
    outb(0xA1, 0xFF);
}

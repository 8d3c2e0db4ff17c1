/* 8259A programmable interrupt controllers (master and slave). */
#ifndef GUEST_PIC_H
#define GUEST_PIC_H

#include <stdbool.h>
#include <stdint.h>

/* Remap the master to vectors 32..39 and the slave to 40..47, all lines masked except the cascade. */
void pic_init(void);
/* Mask or unmask one line (0..15); unmasking a slave line also unmasks the cascade. */
void pic_mask(unsigned irq);
void pic_unmask(unsigned irq);
/* Set both interrupt mask registers at once: bit n masks IRQ n. */
void pic_set_mask(uint16_t mask);
uint16_t pic_get_mask(void);
/* End of interrupt for irq (non-specific EOI to the slave and/or master). */
void pic_eoi(unsigned irq);
/* True for a spurious IRQ 7 or 15 (its ISR bit is clear); takes care of the master's EOI for 15. */
bool pic_is_spurious(unsigned irq);

#endif

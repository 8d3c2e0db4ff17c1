/* The legacy 8259A pair: remapped away from the exception vectors and fully masked (the IOAPIC takes over). */
#ifndef DRIVERS_PIC_H
#define DRIVERS_PIC_H

/* Reinitializes both PICs at vectors 0x20-0x2F and masks every line. */
void pic_disable(void);

#endif

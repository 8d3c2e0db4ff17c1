/* A virtual pair of 8259A interrupt controllers (master 0x20, slave 0xA0) with the ELCR. */
#ifndef KERNEL_VM_VDEV_VPIC_H
#define KERNEL_VM_VDEV_VPIC_H

/*
 * Model notes.
 * - Inputs are ISA IRQ lines 0..15; IRQ 2 is the master's cascade input, driven by the
 *   slave's INT output, so vpic_set_irq(2, ...) is ignored.
 * - Edge-triggered inputs latch IRR on a rising edge and keep it until acknowledged,
 *   even if the line drops first (so devices may pulse a line). The line must go low
 *   again before the next edge counts. This is QEMU's behaviour; a real 8259A also
 *   wants the line high until INTA.
 * - Level-triggered inputs (ELCR bit, or ICW1.LTIM for a whole chip) follow the line:
 *   if it drops before vpic_ack(), the acknowledge returns the spurious IRQ 7 (15).
 * - Supported: ICW1-ICW4 (SNGL, LTIM, AEOI, SFNM), OCW1, OCW2 (all EOI and rotate
 *   commands, set priority), OCW3 (IRR/ISR read select, poll, special mask mode),
 *   rotate in auto-EOI mode. Not modelled: 8080 mode, buffered mode.
 * - vpic_reset() leaves a BIOS-like state: vectors 0x08/0x70, 8086 mode, slave on
 *   IRQ 2, all inputs masked. Guests that program the PIC replace all of it.
 */

#include "kernel/vm/vdev/vdev.h"

#define VPIC_MASTER_BASE 0x20
#define VPIC_SLAVE_BASE 0xA0
#define VPIC_ELCR_BASE 0x4D0
#define VPIC_CASCADE_IRQ 2

/* One 8259A. */
struct vpic_chip {
    uint8_t irr, isr, imr;
    uint8_t line;         /* current input levels, for edge detection */
    uint8_t elcr;         /* 1 = level-triggered input */
    uint8_t elcr_mask;    /* ELCR bits that are writable */
    uint8_t vector_base;  /* ICW2 & 0xF8 */
    uint8_t icw3;
    uint8_t priority_add; /* IRQ with the highest priority (rotation) */
    uint8_t init_step;    /* 0 = ready; 2, 3, 4 = next ICW expected */
    bool icw4_needed, single, ltim;
    bool auto_eoi, rotate_on_aeoi, sfnm, special_mask;
    bool read_isr, poll;
};

struct vpic {
    struct vdev_env *env;
    struct vpic_chip chip[2]; /* [0] master, [1] slave */
};

/* Sets up the pair in the vpic_reset() state. env is kept for symmetry; the core
 * polls vpic_has_interrupt() rather than being called back. */
void vpic_init(struct vpic *p, struct vdev_env *env);

/* BIOS-like state (see above); input line levels are forgotten. */
void vpic_reset(struct vpic *p);

/* Claims 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1 as 8-bit ports. Returns 0 or -1. */
int vpic_attach(struct vpic *p, struct vdev_bus *bus);

/* Drives ISA input irq (0..15) to level. */
void vpic_set_irq(struct vpic *p, unsigned irq, bool level);

/* True if the master's INT output is asserted: an unmasked request with higher
 * priority than anything in service. */
bool vpic_has_interrupt(const struct vpic *p);

/* The INTA cycle: moves IRR to ISR (both chips if cascaded), applies auto-EOI, and
 * returns the vector; base+7 of the chip concerned if the request vanished. */
int vpic_ack(struct vpic *p);

/* Port access as the bus handlers do it (port is absolute). */
uint8_t vpic_read(struct vpic *p, uint16_t port);
void vpic_write(struct vpic *p, uint16_t port, uint8_t value);

#endif

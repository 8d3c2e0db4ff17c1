/* A virtual 82093AA-style IOAPIC (version 0x20, 24 pins) at guest-physical 0xFEC00000. */
#ifndef KERNEL_VM_VDEV_VIOAPIC_H
#define KERNEL_VM_VDEV_VIOAPIC_H

/*
 * Model notes.
 * - Registers (82093AA datasheet, 3.1 and 3.2; EOI register from version 0x20 as
 *   in the ICH IOxAPIC): IOREGSEL at 0x00, IOWIN at 0x10, EOI at 0x40. Indirect:
 *   0x00 ID (bits 27:24, writable), 0x01 version (read-only), 0x02 arbitration
 *   (reads the ID), 0x10+2n / 0x11+2n redirection entry n, low / high dword.
 *   Other indirect indexes read 0 and ignore writes.
 * - MMIO widths: reads of any size return the bytes of the dword register(s) they
 *   cover. IOWIN is written only by aligned 4- or 8-byte accesses (the low dword
 *   counts); IOREGSEL and EOI also take narrower writes, since only their low byte
 *   matters. Everything else in the 4 KiB page reads 0 and ignores writes.
 * - Redirection entries: reserved bits read 0; delivery status (12) always reads
 *   0 because delivery to the LAPIC is immediate; remote IRR (14) is read-only.
 *   Writing an entry to edge trigger clears its remote IRR (what Linux relies on
 *   for IOAPICs without an EOI register, and what QEMU does).
 * - Destination mode and destination are stored but ignored: there is one vCPU
 *   (APIC ID 0) and every delivered interrupt goes to it, even one a guest routes
 *   to an APIC ID that does not exist.
 * - Delivery modes: fixed (000) and lowest priority (001) call env->lapic_irq.
 *   SMI, NMI, INIT, ExtINT and the reserved modes deliver nothing and never set
 *   remote IRR. ExtINT (virtual wire through the IOAPIC) is left to the core's
 *   8259 -> LAPIC LINT0 path.
 * - Inputs: vioapic_set_irq() gives the pin's electrical level. Polarity (bit 13,
 *   1 = active low) decides whether that level is asserted, for edge and level
 *   pins alike: an active-low edge pin fires on a falling edge. The devices of
 *   this machine drive active-high lines with an idle level of 0, so the ACPI
 *   tables must describe every pin as active high; a guest that programs a level
 *   pin active low sees it asserted while its device is idle. Reprogramming an
 *   edge pin's polarity is not an edge.
 * - Edge pins deliver on each transition to asserted while unmasked; an edge that
 *   arrives while the pin is masked is lost. Level pins deliver whenever they are
 *   asserted, unmasked and remote IRR is clear (after set_irq, an entry write,
 *   or an EOI), and set remote IRR for a fixed or lowest-priority delivery.
 * - vioapic_reset() keeps the ID given to vioapic_init() (the one the MADT
 *   describes): firmware programs it on a real machine.
 * - The vector is passed to the LAPIC as programmed; rejecting vectors 0-15 is
 *   the LAPIC's job.
 */

#include "kernel/vm/vdev/vdev.h"

#define VIOAPIC_BASE 0xFEC00000ull
#define VIOAPIC_SIZE 0x1000
#define VIOAPIC_PINS 24
#define VIOAPIC_VERSION 0x20

/* Direct (memory-mapped) registers, offsets from VIOAPIC_BASE. */
#define VIOAPIC_IOREGSEL 0x00
#define VIOAPIC_IOWIN 0x10
#define VIOAPIC_EOI 0x40

/* Indirect registers, selected through IOREGSEL. */
#define VIOAPIC_REG_ID 0x00
#define VIOAPIC_REG_VERSION 0x01
#define VIOAPIC_REG_ARB 0x02
#define VIOAPIC_REG_REDTBL 0x10 /* 0x10 + 2n: entry n low dword; 0x11 + 2n: high */

/* Redirection entry fields (82093AA datasheet, 3.2.4). */
#define VIOAPIC_RTE_VECTOR 0xFFull
#define VIOAPIC_RTE_DELMODE_SHIFT 8
#define VIOAPIC_RTE_DELMODE (7ull << 8)
#define VIOAPIC_RTE_DESTMODE (1ull << 11)
#define VIOAPIC_RTE_DELIVS (1ull << 12)
#define VIOAPIC_RTE_POLARITY (1ull << 13) /* 1 = active low */
#define VIOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define VIOAPIC_RTE_LEVEL (1ull << 15)     /* 1 = level-triggered */
#define VIOAPIC_RTE_MASKED (1ull << 16)
#define VIOAPIC_RTE_DEST_SHIFT 56

enum vioapic_delivery_mode {
    VIOAPIC_DM_FIXED = 0,
    VIOAPIC_DM_LOWEST = 1,
    VIOAPIC_DM_SMI = 2,
    VIOAPIC_DM_NMI = 4,
    VIOAPIC_DM_INIT = 5,
    VIOAPIC_DM_EXTINT = 7,
};

struct vioapic {
    struct vdev_env *env;
    uint8_t init_id;  /* the ID vioapic_reset() restores */
    uint8_t id;       /* 4 bits */
    uint8_t regsel;   /* IOREGSEL */
    uint32_t line;    /* electrical level of each input pin, bit n = pin n */
    uint64_t redtbl[VIOAPIC_PINS];
};

/* Sets up the IOAPIC with APIC ID id (low 4 bits) in the vioapic_reset() state.
 * Deliveries and nothing else go through env (lapic_irq may be NULL). */
void vioapic_init(struct vioapic *io, struct vdev_env *env, uint8_t id);

/* All pins masked, edge-triggered, active high, vector 0; remote IRRs clear;
 * IOREGSEL 0; the ID is the one from vioapic_init(). Input line levels are kept:
 * they belong to the devices. */
void vioapic_reset(struct vioapic *io);

/* Claims [VIOAPIC_BASE, VIOAPIC_BASE + 0x1000) on bus. Returns 0 or -1. */
int vioapic_attach(struct vioapic *io, struct vdev_bus *bus);

/* The bus's MMIO handlers; offset is from VIOAPIC_BASE, size 1, 2, 4 or 8. */
uint64_t vioapic_mmio_read(void *dev, uint64_t offset, unsigned size);
void vioapic_mmio_write(void *dev, uint64_t offset, unsigned size, uint64_t value);

/* Drives input pin (0..23) to electrical level; delivers as the entry says. */
void vioapic_set_irq(struct vioapic *io, unsigned pin, bool level);

/* The LAPIC's EOI of vector: clears remote IRR of every entry with that vector and
 * re-delivers any such level pin that is still asserted and unmasked. */
void vioapic_eoi(struct vioapic *io, uint8_t vector);

/* True if pin is masked (or does not exist). */
bool vioapic_pin_masked(const struct vioapic *io, unsigned pin);

#endif

/* The virtual-device bus: per-guest tables of I/O port and MMIO ranges, and the environment devices see. */
#ifndef KERNEL_VM_VDEV_VDEV_H
#define KERNEL_VM_VDEV_VDEV_H

/*
 * Overview. Every virtual device (vuart, vpic, vpit, vrtc, ...) is a plain
 * struct that the core embeds in its per-guest state. A device knows nothing
 * about VT-x: it gets time and an interrupt line through a struct vdev_env,
 * and its NAME_attach() claims its ports on the guest's struct vdev_bus. The
 * VM layer's request handler (kernel/vm/run.c) calls vdev_io_in()/vdev_io_out(),
 * which find the range in the table; adding a device never touches that dispatcher.
 *
 * Access widths: a range registered with vdev_register_io() gets whole
 * 1-, 2- or 4-byte accesses as the guest made them. A range registered with
 * vdev_register_io_sized(..., 1, ...) is an 8-bit ISA device: the bus splits
 * a wider access into byte accesses at port, port+1, ... (little-endian), as
 * the PC chipset does. An access that straddles ranges, or runs into
 * unclaimed ports, is split into bytes too.
 *
 * Memory-mapped ranges (vdev_register_mmio) take whole decoded accesses. The table
 * is not fixed: a device may release its range (vdev_unregister_mmio) and claim
 * another, which is how a register page that the guest can switch off or relocate
 * (the local APIC's) stops answering or moves; the bus itself never asks a device.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kernel/time.h"      /* struct datetime */

/* Machine-level events a device may raise (ACPI sleep, reset register, debug exit). */
enum vdev_machine_event {
    VDEV_POWER_OFF,     /* ACPI S5, or another way to switch the machine off */
    VDEV_RESET,         /* reset register, keyboard-controller pulse */
    VDEV_EXIT,          /* isa-debug-exit: status is the guest's exit status */
};

/* What a virtual device may ask of the VM it belongs to. The core fills one per guest.
 * Hooks after set_irq are optional: a device checks for NULL (a VM layer or a test may
 * leave them out; tests/unit/fake_env.h wires them all). */
struct vdev_env {
    void *ctx;
    uint64_t (*now_ns)(void *ctx);                        /* guest virtual time, monotonic, ns */
    void (*set_irq)(void *ctx, unsigned irq, bool level); /* drive ISA IRQ line 0..15 */
    uint64_t (*now_tsc)(void *ctx);                       /* the guest's TSC (as RDTSC reads) */
    /* IOAPIC -> LAPIC: a fixed-delivery interrupt with this vector; level-triggered or edge. */
    void (*lapic_irq)(void *ctx, uint8_t vector, bool level_triggered);
    /* LAPIC -> IOAPIC: the guest ended a level-triggered interrupt with this vector (EOI). */
    void (*lapic_eoi)(void *ctx, uint8_t vector);
    /* The machine switches off, resets or exits with status. */
    void (*machine)(void *ctx, enum vdev_machine_event event, uint32_t status);
};

typedef uint32_t (*vdev_read_fn)(void *dev, uint16_t port, unsigned size);
typedef void (*vdev_write_fn)(void *dev, uint16_t port, unsigned size, uint32_t value);

#define VDEV_MAX_IO_RANGES 32

struct vdev_io_range {
    uint16_t first, last;
    const char *name;
    vdev_read_fn read;
    vdev_write_fn write;
    void *dev;
    uint8_t max_size; /* widest access handed to the device: 1, 2 or 4 */
};

/* Memory-mapped registers (LAPIC, IOAPIC): offset is from the range's base; size 1, 2, 4 or 8. */
typedef uint64_t (*vdev_mmio_read_fn)(void *dev, uint64_t offset, unsigned size);
typedef void (*vdev_mmio_write_fn)(void *dev, uint64_t offset, unsigned size, uint64_t value);

#define VDEV_MAX_MMIO_RANGES 8

struct vdev_mmio_range {
    uint64_t base, len;
    const char *name;
    vdev_mmio_read_fn read;
    vdev_mmio_write_fn write;
    void *dev;
};

struct vdev_bus {
    struct vdev_io_range io[VDEV_MAX_IO_RANGES];
    unsigned n_io;
    struct vdev_mmio_range mmio[VDEV_MAX_MMIO_RANGES];
    unsigned n_mmio;
};

/* Empties the bus: every port is unclaimed. */
void vdev_bus_init(struct vdev_bus *bus);

/* Claims ports first..last, handing whole accesses (size 1, 2 or 4) to read/write.
 * Returns 0, or -1 if the table is full, first > last, or the range overlaps a claimed one. */
int vdev_register_io(struct vdev_bus *bus, uint16_t first, uint16_t last, const char *name,
                     vdev_read_fn read, vdev_write_fn write, void *dev);

/* Like vdev_register_io(), but accesses wider than max_size (1, 2 or 4) are split by the
 * bus into max_size pieces, lowest port first. read or write may be NULL (reads all-ones,
 * writes ignored). */
int vdev_register_io_sized(struct vdev_bus *bus, uint16_t first, uint16_t last,
                           unsigned max_size, const char *name, vdev_read_fn read,
                           vdev_write_fn write, void *dev);

/* Guest IN of size 1, 2 or 4 at port. Unclaimed ports read all-ones of that size. */
uint32_t vdev_io_in(struct vdev_bus *bus, uint16_t port, unsigned size);

/* Guest OUT of size 1, 2 or 4 at port. Writes to unclaimed ports are ignored. */
void vdev_io_out(struct vdev_bus *bus, uint16_t port, unsigned size, uint32_t value);

/* Claims guest-physical [base, base+len) for memory-mapped registers. The core makes the
 * range trap (it is never guest RAM) and hands each decoded access to read/write.
 * Returns 0, or -1 if the table is full, len is 0, or the range overlaps a claimed one. */
int vdev_register_mmio(struct vdev_bus *bus, uint64_t base, uint64_t len, const char *name,
                       vdev_mmio_read_fn read, vdev_mmio_write_fn write, void *dev);

/* Releases the range dev claimed at base (vdev_register_mmio()), so that the addresses are
 * nobody's again: a device whose registers come and go or move (the local APIC's page,
 * with IA32_APIC_BASE) unregisters and registers anew. Returns 0, or -1 if dev claims no
 * range starting at base. */
int vdev_unregister_mmio(struct vdev_bus *bus, uint64_t base, const void *dev);

/* The range claiming gpa, or NULL. */
const struct vdev_mmio_range *vdev_mmio_find(const struct vdev_bus *bus, uint64_t gpa);

/* Guest access of size bytes at gpa. Return false if no device claims gpa (the caller
 * decides what an access outside RAM and devices means). Reads of a range without a
 * read handler return all-ones; writes without a handler are dropped. */
bool vdev_mmio_read(struct vdev_bus *bus, uint64_t gpa, unsigned size, uint64_t *value);
bool vdev_mmio_write(struct vdev_bus *bus, uint64_t gpa, unsigned size, uint64_t value);

/* Name of the range claiming port, or NULL if unclaimed (for tracing). */
const char *vdev_io_name(const struct vdev_bus *bus, uint16_t port);

#endif

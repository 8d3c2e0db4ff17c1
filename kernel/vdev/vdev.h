/* The virtual-device bus: per-guest table of I/O port ranges and the environment devices see. */
#ifndef KERNEL_VDEV_VDEV_H
#define KERNEL_VDEV_VDEV_H

/*
 * Overview. Every virtual device (vuart, vpic, vpit, vrtc, ...) is a plain
 * struct that the core embeds in its per-guest state. A device knows nothing
 * about VT-x: it gets time and an interrupt line through a struct vdev_env,
 * and its NAME_attach() claims its ports on the guest's struct vdev_bus. The
 * I/O-exit handler calls vdev_io_in()/vdev_io_out(), which find the range in
 * the table; adding a device never touches that dispatcher.
 *
 * Access widths: a range registered with vdev_register_io() gets whole
 * 1-, 2- or 4-byte accesses as the guest made them. A range registered with
 * vdev_register_io_sized(..., 1, ...) is an 8-bit ISA device: the bus splits
 * a wider access into byte accesses at port, port+1, ... (little-endian), as
 * the PC chipset does. An access that straddles ranges, or runs into
 * unclaimed ports, is split into bytes too.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a virtual device may ask of the VM it belongs to. The core fills one per guest. */
struct vdev_env {
    void *ctx;
    uint64_t (*now_ns)(void *ctx);                        /* guest virtual time, monotonic, ns */
    void (*set_irq)(void *ctx, unsigned irq, bool level); /* drive ISA IRQ line 0..15 */
};

/* Wall-clock time. weekday: 1..7 with Sunday = 1 (the RTC's convention), 0 = "compute it". */
struct vdev_datetime {
    uint16_t year;
    uint8_t month, day, hour, min, sec, weekday;
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

struct vdev_bus {
    struct vdev_io_range io[VDEV_MAX_IO_RANGES];
    unsigned n_io;
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

/* Name of the range claiming port, or NULL if unclaimed (for tracing). */
const char *vdev_io_name(const struct vdev_bus *bus, uint16_t port);

#endif

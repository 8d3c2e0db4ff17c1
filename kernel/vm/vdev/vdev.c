/* The virtual-device bus: claims port and MMIO ranges and routes guest accesses to device handlers. */
#include "kernel/vm/vdev/vdev.h"
#include "kernel/string.h"

void vdev_bus_init(struct vdev_bus *bus)
{
    memset(bus, 0, sizeof(*bus));
}

int vdev_register_io_sized(struct vdev_bus *bus, uint16_t first, uint16_t last,
                           unsigned max_size, const char *name, vdev_read_fn read,
                           vdev_write_fn write, void *dev)
{
    if (bus->n_io >= VDEV_MAX_IO_RANGES || first > last)
        return -1;
    if (max_size != 1 && max_size != 2 && max_size != 4)
        return -1;
    for (unsigned i = 0; i < bus->n_io; i++) {
        const struct vdev_io_range *r = &bus->io[i];
        if (first <= r->last && r->first <= last)
            return -1;
    }
    struct vdev_io_range *r = &bus->io[bus->n_io++];
    r->first = first;
    r->last = last;
    r->name = name;
    r->read = read;
    r->write = write;
    r->dev = dev;
    r->max_size = (uint8_t)max_size;
    return 0;
}

int vdev_register_io(struct vdev_bus *bus, uint16_t first, uint16_t last, const char *name,
                     vdev_read_fn read, vdev_write_fn write, void *dev)
{
    return vdev_register_io_sized(bus, first, last, 4, name, read, write, dev);
}

/* Ports are 16 bits; a port computed as port+i past 0xFFFF is claimed by nobody. */
static const struct vdev_io_range *find_range(const struct vdev_bus *bus, uint32_t port)
{
    for (unsigned i = 0; i < bus->n_io; i++)
        if (bus->io[i].first <= port && port <= bus->io[i].last)
            return &bus->io[i];
    return NULL;
}

static uint32_t size_mask(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

/* How many bytes of the remaining access (rest bytes at port) r takes in one call: 1, 2 or 4. */
static unsigned chunk_size(const struct vdev_io_range *r, uint32_t port, unsigned rest)
{
    unsigned n = rest;
    if (n > r->max_size)
        n = r->max_size;
    if (n > r->last - port + 1)
        n = r->last - port + 1;
    return n >= 4 ? 4 : n >= 2 ? 2 : 1;
}

const char *vdev_io_name(const struct vdev_bus *bus, uint16_t port)
{
    const struct vdev_io_range *r = find_range(bus, port);
    return r ? r->name : NULL;
}

uint32_t vdev_io_in(struct vdev_bus *bus, uint16_t port, unsigned size)
{
    if (size != 1 && size != 2 && size != 4)
        size = 1;
    uint32_t value = 0;
    for (unsigned i = 0; i < size;) {
        uint32_t p = (uint32_t)port + i;
        const struct vdev_io_range *r = find_range(bus, p);
        unsigned n = r ? chunk_size(r, p, size - i) : 1;
        uint32_t part = size_mask(n);
        if (r && r->read)
            part = r->read(r->dev, (uint16_t)p, n) & size_mask(n);
        value |= part << (8 * i);
        i += n;
    }
    return value;
}

void vdev_io_out(struct vdev_bus *bus, uint16_t port, unsigned size, uint32_t value)
{
    if (size != 1 && size != 2 && size != 4)
        size = 1;
    for (unsigned i = 0; i < size;) {
        uint32_t p = (uint32_t)port + i;
        const struct vdev_io_range *r = find_range(bus, p);
        unsigned n = r ? chunk_size(r, p, size - i) : 1;
        if (r && r->write)
            r->write(r->dev, (uint16_t)p, n, (value >> (8 * i)) & size_mask(n));
        i += n;
    }
}

int vdev_register_mmio(struct vdev_bus *bus, uint64_t base, uint64_t len, const char *name,
                       vdev_mmio_read_fn read, vdev_mmio_write_fn write, void *dev)
{
    if (bus->n_mmio >= VDEV_MAX_MMIO_RANGES || len == 0 || base + len < base)
        return -1;
    for (unsigned i = 0; i < bus->n_mmio; i++) {
        const struct vdev_mmio_range *r = &bus->mmio[i];
        if (base < r->base + r->len && r->base < base + len)
            return -1;
    }
    struct vdev_mmio_range *r = &bus->mmio[bus->n_mmio++];
    r->base = base;
    r->len = len;
    r->name = name;
    r->read = read;
    r->write = write;
    r->dev = dev;
    return 0;
}

int vdev_unregister_mmio(struct vdev_bus *bus, uint64_t base, const void *dev)
{
    for (unsigned i = 0; i < bus->n_mmio; i++) {
        if (bus->mmio[i].base != base || bus->mmio[i].dev != dev)
            continue;
        for (unsigned j = i + 1; j < bus->n_mmio; j++)   /* keep the others' order */
            bus->mmio[j - 1] = bus->mmio[j];
        bus->n_mmio--;
        memset(&bus->mmio[bus->n_mmio], 0, sizeof(bus->mmio[0]));
        return 0;
    }
    return -1;
}

const struct vdev_mmio_range *vdev_mmio_find(const struct vdev_bus *bus, uint64_t gpa)
{
    for (unsigned i = 0; i < bus->n_mmio; i++)
        if (gpa >= bus->mmio[i].base && gpa - bus->mmio[i].base < bus->mmio[i].len)
            return &bus->mmio[i];
    return NULL;
}

static uint64_t mmio_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

bool vdev_mmio_read(struct vdev_bus *bus, uint64_t gpa, unsigned size, uint64_t *value)
{
    const struct vdev_mmio_range *r = vdev_mmio_find(bus, gpa);
    if (!r)
        return false;
    *value = r->read ? r->read(r->dev, gpa - r->base, size) & mmio_mask(size) : mmio_mask(size);
    return true;
}

bool vdev_mmio_write(struct vdev_bus *bus, uint64_t gpa, unsigned size, uint64_t value)
{
    const struct vdev_mmio_range *r = vdev_mmio_find(bus, gpa);
    if (!r)
        return false;
    if (r->write)
        r->write(r->dev, gpa - r->base, size, value & mmio_mask(size));
    return true;
}

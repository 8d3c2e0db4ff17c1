/* QEMU's pc-testdev: a scratch register, a no-op page flush, ISA IRQ lines and IORAM. */
#include "kernel/vm/vdev/testdev.h"
#include "kernel/string.h"

void testdev_init(struct testdev *t, struct vdev_env *env)
{
    memset(t, 0, sizeof(*t));
    t->env = env;
}

static uint32_t width_mask(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

/* 0xE0-0xE3 and 0xE8-0xEB: port & 3 is the byte of the register the access starts at.
 * The bus never hands an access that runs past 0xE3 (0xEB), so byte + size <= 4. */
static uint32_t ioport_read(void *dev, uint16_t port, unsigned size)
{
    struct testdev *t = dev;
    return (t->ioport >> (8 * (port & 3))) & width_mask(size);
}

static void ioport_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct testdev *t = dev;
    unsigned shift = 8 * (port & 3);
    uint32_t mask = width_mask(size) << shift;
    t->ioport = (t->ioport & ~mask) | ((value << shift) & mask);
}

static uint32_t read_zero(void *dev, uint16_t port, unsigned size)
{
    (void)dev;
    (void)port;
    (void)size;
    return 0;
}

/* No-op by design (see testdev.h): only the request is recorded. */
static void flush_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct testdev *t = dev;
    if (port != TESTDEV_FLUSH_PORT || size != 4)
        return;
    t->flushes++;
    t->last_flush = value & ~0xFFFu;
}

static void irq_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct testdev *t = dev;
    unsigned line = (unsigned)(port - TESTDEV_IRQ_BASE);
    (void)size;         /* always 1: the range is registered 8 bits wide */
    if (line < TESTDEV_ISA_IRQS && t->env && t->env->set_irq)
        t->env->set_irq(t->env->ctx, line, value != 0);
}

/* Bytes of the window are the IORAM's; bytes past TESTDEV_IORAM_LEN are nothing. */
static uint64_t iomem_read(void *dev, uint64_t offset, unsigned size)
{
    struct testdev *t = dev;
    uint64_t value = 0;
    for (unsigned i = 0; i < size && i < 8; i++) {
        uint64_t at = offset + i;
        uint8_t b = at < TESTDEV_IORAM_LEN ? t->ioram[at] : 0xFF;
        value |= (uint64_t)b << (8 * i);
    }
    return value;
}

static void iomem_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct testdev *t = dev;
    for (unsigned i = 0; i < size && i < 8; i++) {
        uint64_t at = offset + i;
        if (at < TESTDEV_IORAM_LEN)
            t->ioram[at] = (uint8_t)(value >> (8 * i));
    }
}

int testdev_attach(struct testdev *t, struct vdev_bus *bus)
{
    if (vdev_register_io(bus, TESTDEV_IOPORT, TESTDEV_IOPORT + 3, "pc-testdev-ioport",
                         ioport_read, ioport_write, t) < 0 ||
        vdev_register_io(bus, TESTDEV_FLUSH_PORT, TESTDEV_FLUSH_PORT + 3, "pc-testdev-flush-page",
                         read_zero, flush_write, t) < 0 ||
        vdev_register_io_sized(bus, TESTDEV_IOPORT_BYTE, TESTDEV_IOPORT_BYTE + 3, 1,
                               "pc-testdev-ioport-byte", ioport_read, ioport_write, t) < 0 ||
        vdev_register_io_sized(bus, TESTDEV_IRQ_BASE, TESTDEV_IRQ_BASE + TESTDEV_IRQ_PORTS - 1, 1,
                               "pc-testdev-irq-line", read_zero, irq_write, t) < 0)
        return -1;
    return vdev_register_mmio(bus, TESTDEV_IORAM_BASE, TESTDEV_IORAM_LEN, "pc-testdev-iomem",
                              iomem_read, iomem_write, t);
}

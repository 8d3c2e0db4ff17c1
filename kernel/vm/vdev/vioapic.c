/* A virtual 82093AA-style IOAPIC (version 0x20, 24 pins) at guest-physical 0xFEC00000. */
#include "kernel/vm/vdev/vioapic.h"
#include "kernel/string.h"

/* Bits of a redirection entry the guest may write; the rest are reserved or read-only. */
#define RTE_LOW_WRITABLE                                                                   \
    (VIOAPIC_RTE_VECTOR | VIOAPIC_RTE_DELMODE | VIOAPIC_RTE_DESTMODE |                    \
     VIOAPIC_RTE_POLARITY | VIOAPIC_RTE_LEVEL | VIOAPIC_RTE_MASKED)
#define RTE_HIGH_WRITABLE 0xFF000000u /* destination, bits 63:56 */

#define ID_SHIFT 24
#define ID_MASK 0x0Fu

_Static_assert(VIOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS <= 0x100, "IOREGSEL is 8 bits");

static bool pin_asserted(const struct vioapic *io, unsigned pin)
{
    bool high = io->line & (1u << pin);
    return (io->redtbl[pin] & VIOAPIC_RTE_POLARITY) ? !high : high;
}

static bool mode_delivers(uint64_t rte)
{
    unsigned mode = (unsigned)((rte & VIOAPIC_RTE_DELMODE) >> VIOAPIC_RTE_DELMODE_SHIFT);
    return mode == VIOAPIC_DM_FIXED || mode == VIOAPIC_DM_LOWEST;
}

/* One message to the LAPIC. Destination is not looked at: there is one vCPU. */
static void send(struct vioapic *io, uint64_t rte)
{
    if (io->env && io->env->lapic_irq)
        io->env->lapic_irq(io->env->ctx, (uint8_t)(rte & VIOAPIC_RTE_VECTOR),
                           rte & VIOAPIC_RTE_LEVEL);
}

/* A level pin asserted, unmasked and not awaiting EOI delivers and sets remote IRR.
 * Remote IRR is set before the call so a LAPIC that answers at once sees it. */
static void service_level(struct vioapic *io, unsigned pin)
{
    uint64_t rte = io->redtbl[pin];
    if (!(rte & VIOAPIC_RTE_LEVEL) || (rte & (VIOAPIC_RTE_MASKED | VIOAPIC_RTE_REMOTE_IRR)))
        return;
    if (!pin_asserted(io, pin) || !mode_delivers(rte))
        return;
    io->redtbl[pin] |= VIOAPIC_RTE_REMOTE_IRR;
    send(io, rte);
}

void vioapic_reset(struct vioapic *io)
{
    io->id = io->init_id;
    io->regsel = 0;
    for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++)
        io->redtbl[pin] = VIOAPIC_RTE_MASKED;
}

void vioapic_init(struct vioapic *io, struct vdev_env *env, uint8_t id)
{
    memset(io, 0, sizeof(*io));
    io->env = env;
    io->init_id = id & ID_MASK;
    vioapic_reset(io);
}

void vioapic_set_irq(struct vioapic *io, unsigned pin, bool level)
{
    if (pin >= VIOAPIC_PINS)
        return;
    bool was = pin_asserted(io, pin);
    if (level)
        io->line |= 1u << pin;
    else
        io->line &= ~(1u << pin);
    uint64_t rte = io->redtbl[pin];
    if (rte & VIOAPIC_RTE_LEVEL)
        service_level(io, pin);
    else if (!was && pin_asserted(io, pin) && !(rte & VIOAPIC_RTE_MASKED) &&
             mode_delivers(rte))
        send(io, rte); /* an edge while masked is lost, as on the 82093AA */
}

void vioapic_eoi(struct vioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
        uint64_t rte = io->redtbl[pin];
        if ((rte & VIOAPIC_RTE_VECTOR) != vector || !(rte & VIOAPIC_RTE_REMOTE_IRR))
            continue;
        io->redtbl[pin] = rte & ~VIOAPIC_RTE_REMOTE_IRR;
        service_level(io, pin);
    }
}

bool vioapic_pin_masked(const struct vioapic *io, unsigned pin)
{
    return pin >= VIOAPIC_PINS || (io->redtbl[pin] & VIOAPIC_RTE_MASKED);
}

/* Entry low dword: remote IRR is kept unless the pin becomes edge-triggered. A write may
 * unmask an asserted level pin, make it level or flip its polarity: all deliver now. */
static void write_rte_low(struct vioapic *io, unsigned pin, uint32_t value)
{
    uint64_t rte = io->redtbl[pin];
    rte = (rte & (~(uint64_t)0xFFFFFFFFu | VIOAPIC_RTE_REMOTE_IRR)) |
          (value & RTE_LOW_WRITABLE);
    if (!(rte & VIOAPIC_RTE_LEVEL))
        rte &= ~VIOAPIC_RTE_REMOTE_IRR;
    io->redtbl[pin] = rte;
    service_level(io, pin);
}

static uint32_t indirect_read(const struct vioapic *io, uint8_t reg)
{
    if (reg == VIOAPIC_REG_ID || reg == VIOAPIC_REG_ARB)
        return (uint32_t)io->id << ID_SHIFT;
    if (reg == VIOAPIC_REG_VERSION)
        return VIOAPIC_VERSION | ((VIOAPIC_PINS - 1u) << 16);
    if (reg >= VIOAPIC_REG_REDTBL && reg < VIOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS) {
        uint64_t rte = io->redtbl[(reg - VIOAPIC_REG_REDTBL) / 2];
        return (reg & 1) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
    }
    return 0;
}

static void indirect_write(struct vioapic *io, uint8_t reg, uint32_t value)
{
    if (reg == VIOAPIC_REG_ID) {
        io->id = (uint8_t)((value >> ID_SHIFT) & ID_MASK);
    } else if (reg >= VIOAPIC_REG_REDTBL && reg < VIOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS) {
        unsigned pin = (reg - VIOAPIC_REG_REDTBL) / 2;
        if (reg & 1)
            io->redtbl[pin] = (io->redtbl[pin] & 0xFFFFFFFFu) |
                              (uint64_t)(value & RTE_HIGH_WRITABLE) << 32;
        else
            write_rte_low(io, pin, value);
    }
    /* version, arbitration and unimplemented indexes are read-only */
}

/* The dword-aligned direct register at offset; EOI is write-only. */
static uint32_t direct_read(const struct vioapic *io, uint64_t offset)
{
    if (offset == VIOAPIC_IOREGSEL)
        return io->regsel;
    if (offset == VIOAPIC_IOWIN)
        return indirect_read(io, io->regsel);
    return 0;
}

uint64_t vioapic_mmio_read(void *dev, uint64_t offset, unsigned size)
{
    const struct vioapic *io = dev;
    if (size > 8)
        size = 8;
    uint64_t value = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t at = offset + i;
        uint32_t reg = direct_read(io, at & ~3ull);
        value |= (uint64_t)((reg >> (8 * (at & 3))) & 0xFF) << (8 * i);
    }
    return value;
}

void vioapic_mmio_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct vioapic *io = dev;
    if (offset == VIOAPIC_IOREGSEL)
        io->regsel = (uint8_t)value;
    else if (offset == VIOAPIC_IOWIN && size >= 4)
        indirect_write(io, io->regsel, (uint32_t)value);
    else if (offset == VIOAPIC_EOI)
        vioapic_eoi(io, (uint8_t)value);
}

int vioapic_attach(struct vioapic *io, struct vdev_bus *bus)
{
    return vdev_register_mmio(bus, VIOAPIC_BASE, VIOAPIC_SIZE, "ioapic", vioapic_mmio_read,
                              vioapic_mmio_write, io);
}

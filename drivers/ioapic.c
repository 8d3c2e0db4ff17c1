/* IOAPIC programming: indirect register access (IOREGSEL/IOWIN), redirection entries per GSI. */
#include "drivers/ioapic.h"
#include "kernel/log.h"

#define IOREGSEL 0x00
#define IOWIN    0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))
#define RED_MASKED       (1u << 16)
#define RED_LEVEL        (1u << 15)
#define RED_ACTIVE_LOW   (1u << 13)

struct ioapic { volatile uint32_t *base; uint32_t gsi_base; unsigned pins; uint8_t id; };

static struct ioapic ioapics[MADT_MAX_IOAPICS];
static unsigned n_ioapics;
static struct madt_info madt_copy;

static uint32_t io_read(struct ioapic *io, uint32_t reg)
{
    io->base[IOREGSEL / 4] = reg;
    return io->base[IOWIN / 4];
}

static void io_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->base[IOREGSEL / 4] = reg;
    io->base[IOWIN / 4] = v;
}

void ioapic_init(const struct madt_info *madt)
{
    madt_copy = *madt;
    n_ioapics = 0;
    if (madt->n_ioapics == 0) {
        madt_copy.n_ioapics = 1;
        madt_copy.ioapics[0] = (struct madt_ioapic){ 0, IOAPIC_DEFAULT_BASE, 0 };
    }
    for (unsigned i = 0; i < madt_copy.n_ioapics; i++) {
        struct ioapic *io = &ioapics[n_ioapics++];
        io->base = (volatile uint32_t *)(uint64_t)madt_copy.ioapics[i].address;
        io->gsi_base = madt_copy.ioapics[i].gsi_base;
        io->id = madt_copy.ioapics[i].id;
        io->pins = ((io_read(io, IOAPIC_VER) >> 16) & 0xFF) + 1;
        for (unsigned pin = 0; pin < io->pins; pin++) {
            io_write(io, IOAPIC_REDTBL(pin) + 1, 0);
            io_write(io, IOAPIC_REDTBL(pin), RED_MASKED);
        }
        hv_info("ioapic: id %u at 0x%08x, GSIs %u-%u, all masked", io->id,
                madt_copy.ioapics[i].address, io->gsi_base, io->gsi_base + io->pins - 1);
    }
}

int ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t apic_id)
{
    uint32_t gsi = madt_copy.isa_gsi[irq & 15];
    uint16_t flags = madt_copy.isa_flags[irq & 15];
    uint32_t low = vector;                      /* fixed delivery, physical destination */
    if ((flags & 3) == 3)
        low |= RED_ACTIVE_LOW;                  /* ISA default is active high */
    if (((flags >> 2) & 3) == 3)
        low |= RED_LEVEL;                       /* ISA default is edge */
    for (unsigned i = 0; i < n_ioapics; i++) {
        struct ioapic *io = &ioapics[i];
        if (gsi >= io->gsi_base && gsi < io->gsi_base + io->pins) {
            unsigned pin = gsi - io->gsi_base;
            io_write(io, IOAPIC_REDTBL(pin) + 1, apic_id << 24);
            io_write(io, IOAPIC_REDTBL(pin), low);
            return (int)gsi;
        }
    }
    return -1;
}

unsigned ioapic_count(void)
{
    return n_ioapics;
}

/* PCI configuration ports 0xCF8/0xCFC answering "no device", and the reset register 0xCF9. */
#include "kernel/vm/vdev/vpci.h"
#include "kernel/string.h"

void vpci_reset(struct vpci *p)
{
    p->address = 0;
    p->rcr = 0;
}

void vpci_init(struct vpci *p, struct vdev_env *env)
{
    memset(p, 0, sizeof(*p));
    p->env = env;
    vpci_reset(p);
}

/* RST_CPU 0 -> 1 starts a reset (ICH datasheet, RST_CNT). The reset returns the register
 * to its power-on 0, so RST_CPU never stays set and every write with it set resets. */
static void reset_control_write(struct vpci *p, uint8_t value)
{
    if (!(value & VPCI_RCR_RST_CPU)) {
        p->rcr = value & VPCI_RCR_BITS;
        return;
    }
    p->rcr = 0;
    if (p->env && p->env->machine)
        p->env->machine(p->env->ctx, VDEV_RESET, 0);
}

/* 0xCF8-0xCFB: the dword register at 0xCF8 and the byte register at 0xCF9. */
static uint32_t vpci_index_read(void *dev, uint16_t port, unsigned size)
{
    struct vpci *p = dev;
    if (port == VPCI_CONFIG_ADDRESS && size == 4)
        return p->address;
    if (port == VPCI_RESET_CONTROL && size == 1)
        return p->rcr;
    return 0xFFFFFFFFu;
}

static void vpci_index_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct vpci *p = dev;
    if (port == VPCI_CONFIG_ADDRESS && size == 4)
        p->address = value;
    else if (port == VPCI_RESET_CONTROL && size == 1)
        reset_control_write(p, (uint8_t)value);
}

/* 0xCFC-0xCFF: no function anywhere answers, so reads float high. */
static uint32_t vpci_data_read(void *dev, uint16_t port, unsigned size)
{
    (void)dev;
    (void)port;
    (void)size;
    return 0xFFFFFFFFu;
}

static void vpci_data_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    (void)dev;
    (void)port;
    (void)size;
    (void)value;
}

int vpci_attach(struct vpci *p, struct vdev_bus *bus)
{
    if (vdev_register_io(bus, VPCI_CONFIG_ADDRESS, VPCI_CONFIG_ADDRESS + 3, "pci-index",
                         vpci_index_read, vpci_index_write, p) < 0 ||
        vdev_register_io(bus, VPCI_CONFIG_DATA, VPCI_CONFIG_DATA + 3, "pci-data",
                         vpci_data_read, vpci_data_write, p) < 0)
        return -1;
    return 0;
}

/* QEMU's isa-debug-exit: a write to port 0xF4 asks the VM to exit with status (value << 1) | 1. */
#include "kernel/vm/vdev/debugexit.h"
#include "kernel/string.h"

void debugexit_init(struct debugexit *d, struct vdev_env *env)
{
    memset(d, 0, sizeof(*d));
    d->env = env;
}

static uint32_t debugexit_io_read(void *dev, uint16_t port, unsigned size)
{
    (void)dev;
    (void)port;
    (void)size;
    return 0;
}

/* The value is the whole access as the guest made it (the bus already masked it to its
 * width); which of 0xF4-0xF7 was written does not matter, as in QEMU. */
static void debugexit_io_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct debugexit *d = dev;
    (void)port;
    (void)size;
    d->exited = true;
    d->status = (value << 1) | 1;
    if (d->env && d->env->machine)
        d->env->machine(d->env->ctx, VDEV_EXIT, d->status);
}

int debugexit_attach(struct debugexit *d, struct vdev_bus *bus)
{
    return vdev_register_io(bus, DEBUGEXIT_BASE, DEBUGEXIT_BASE + DEBUGEXIT_SIZE - 1,
                            "isa-debug-exit", debugexit_io_read, debugexit_io_write, d);
}

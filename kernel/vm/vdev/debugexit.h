/* QEMU's isa-debug-exit device: a guest write to port 0xF4 ends the VM with an exit status. */
#ifndef KERNEL_VM_VDEV_DEBUGEXIT_H
#define KERNEL_VM_VDEV_DEBUGEXIT_H

/*
 * Model notes (QEMU hw/misc/debugexit.c, as test kernels use it:
 * "-device isa-debug-exit,iobase=0xf4,iosize=0x04").
 * - A write of value V, 1, 2 or 4 bytes wide at any of 0xF4-0xF7, ends the guest with
 *   status (V << 1) | 1, through env->machine(ctx, VDEV_EXIT, status). So a guest can
 *   never report 0: V = 0 gives 1, V = 1 gives 3, V = 0x31 gives 0x63. QEMU passes the
 *   status to exit(), where the OS keeps its low 8 bits; we report all 32 bits (bit 31
 *   of a 32-bit V is lost). The bus trims a write running past 0xF7 to the bytes
 *   inside: OUTL at 0xF6 reports its low 16 bits, as QEMU 7.2 with KVM does (QEMU/TCG
 *   rejects that misaligned write and goes on running).
 * - Each write calls the hook; the core should stop the guest at the first one. Without
 *   a hook (host tests) the write is only recorded in exited/status.
 * - Reads return 0, as QEMU's debug_exit_read() does (no side effect); not all-ones.
 */

#include "kernel/vm/vdev/vdev.h"

#define DEBUGEXIT_BASE 0xF4
#define DEBUGEXIT_SIZE 4

struct debugexit {
    struct vdev_env *env;
    bool exited;        /* the guest wrote the port at least once */
    uint32_t status;    /* the last status reported */
};

/* A device that has not fired, reporting through env (env->machine may be NULL). */
void debugexit_init(struct debugexit *d, struct vdev_env *env);

/* Claims ports 0xF4-0xF7. Returns 0, or -1 if they are taken or the bus is full. */
int debugexit_attach(struct debugexit *d, struct vdev_bus *bus);

#endif

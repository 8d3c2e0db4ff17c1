/* PCI configuration ports 0xCF8/0xCFC answering "no device", and the reset register 0xCF9. */
#ifndef KERNEL_VM_VDEV_VPCI_H
#define KERNEL_VM_VDEV_VPCI_H

/*
 * Model notes.
 * - CONFIG_ADDRESS is a dword register at 0xCF8: only a 4-byte access there
 *   reaches it (as on PIIX/ICH chipsets). The value is stored as written, reserved
 *   bits included (QEMU does the same), so Linux's type-1 probe reads back its
 *   0x80000000.
 * - CONFIG_DATA (0xCFC-0xCFF): there is no PCI device on any bus, device or
 *   function, so every read of any width is all-ones (vendor ID 0xFFFF) and writes
 *   are dropped, whatever CONFIG_ADDRESS holds.
 * - Byte and word accesses to 0xCF8-0xCFB other than the byte at 0xCF9 are not
 *   ours on a real chipset: they read all-ones and writes are dropped, as for an
 *   unclaimed port. So configuration mechanism #2 (byte 0xCF8/0xCFA) is absent.
 * - 0xCF9, byte access only: the reset control register (PIIX RCR, ICH RST_CNT).
 *   Bits 1 (SYS_RST) and 3 (FULL_RST) are kept and read back. RST_CPU (bit 2)
 *   going from 0 to 1 raises env->machine(VDEV_RESET), whatever bits 1 and 3 say
 *   (Linux's reboot=pci writes 0x02 then 0x06; 0x0E is a full reset). The
 *   register then holds its power-on value 0, as after the reset it asked for;
 *   so RST_CPU never reads 1, every write with it set resets, and a second 0x06
 *   resets again even if the core does not call vpci_reset() on machine reset.
 * - Because the bus does not let two ranges overlap, the register at 0xCF9 lives
 *   here, not in a device of its own: nothing else may claim 0xCF8-0xCFF.
 */

#include "kernel/vm/vdev/vdev.h"

#define VPCI_CONFIG_ADDRESS 0xCF8
#define VPCI_RESET_CONTROL 0xCF9
#define VPCI_CONFIG_DATA 0xCFC

#define VPCI_ADDRESS_ENABLE 0x80000000u

/* Reset control register bits. */
#define VPCI_RCR_SYS_RST 0x02
#define VPCI_RCR_RST_CPU 0x04
#define VPCI_RCR_FULL_RST 0x08
#define VPCI_RCR_BITS (VPCI_RCR_SYS_RST | VPCI_RCR_RST_CPU | VPCI_RCR_FULL_RST)

struct vpci {
    struct vdev_env *env;
    uint32_t address; /* CONFIG_ADDRESS */
    uint8_t rcr;      /* reset control register: SYS_RST and FULL_RST */
};

/* Sets up the ports in the vpci_reset() state; env->machine (may be NULL) gets resets. */
void vpci_init(struct vpci *p, struct vdev_env *env);

/* Power-on state: CONFIG_ADDRESS 0, reset control register 0. */
void vpci_reset(struct vpci *p);

/* Claims 0xCF8-0xCFB and 0xCFC-0xCFF. Returns 0 or -1. */
int vpci_attach(struct vpci *p, struct vdev_bus *bus);

#endif

/* QEMU's pc-testdev, offered with testdev=on: the ports and memory window kvm-unit-tests drive. */
#ifndef KERNEL_VM_VDEV_TESTDEV_H
#define KERNEL_VM_VDEV_TESTDEV_H

/*
 * Model notes (QEMU hw/misc/pc-testdev.c, "-device pc-testdev"; what QEMU's memory core
 * does with each region's access rules is part of the behaviour, and is noted too).
 * - 0xE0-0xE3 "ioport": a 32-bit scratch register, little-endian. An access of 1, 2 or
 *   4 bytes at 0xE0+k reads or replaces bytes k.. of it, the other bytes kept: OUTL
 *   0x12345678 at 0xE0, then INB 0xE2 reads 0x34 and INW 0xE1 reads 0x3456. It starts
 *   at 0. kvm-unit-tests' emulator test does REP OUTSB there and reads the last byte.
 * - 0xE8-0xEB "ioport-byte": the same register, reached one byte at a time (QEMU's
 *   impl.max_access_size = 1; the bus splits wider accesses, lowest port first), so
 *   INL 0xE8 reads what OUTL 0xE0 wrote.
 * - 0xE4-0xE7 "flush-page": OUTL V at 0xE4 asks the host to drop its mapping of the
 *   guest-physical page V & ~0xFFF (QEMU mprotects it PROT_NONE and back; the host
 *   kernel zaps its page-table entries and KVM's MMU notifier the EPT entry, so the
 *   guest's next touch of that page exits and is mapped in again; eventinj.c uses it to
 *   make event delivery fault on the IDT or stack page). Nothing the guest can see
 *   changes: not the page's contents, not its own TLB or page tables. Here it is a
 *   no-op, which is the correct emulation: guest RAM is pinned host frames that the EPT
 *   maps for the guest's whole life; the host has no swap, no mprotect, no MMU notifier,
 *   so there is no host mapping to drop and no host-side TLB entry to flush, and a
 *   device cannot reach the EPT anyway (it sees only its vdev_env). What is lost is
 *   coverage of the exit path, not behaviour. Only 4-byte writes at 0xE4 count (QEMU's
 *   valid sizes are 4..4; others are dropped); they are counted in flushes/last_flush.
 *   Reads return 0 at any width (QEMU's test_flush_page_read; an invalid size also
 *   reads 0 there).
 * - 0x2000-0x2017 "irq-line": a byte V written at 0x2000+N drives ISA IRQ line N high
 *   (V != 0) or low (V == 0) through env->set_irq, at every write; the line goes to the
 *   8259 input N and the IOAPIC pin the MADT names, as every ISA line here does. Wider
 *   writes are split into bytes (QEMU's valid max 1 makes its memory core split them
 *   too), so OUTW 0x0101 at 0x2000 raises lines 0 and 1. Reads return 0. Lines 16-23
 *   are claimed, but a write there does nothing: QEMU's isa_get_irq() asserts the line
 *   is below 16 (older versions call hw_error), so QEMU itself stops; no test uses them.
 * - 0xFF000000 "iomem" (kvm-unit-tests' IORAM_BASE_PHYS): device memory whose bytes
 *   read back what was written, at any width (1, 2, 4, 8) and alignment, little-endian;
 *   it starts zeroed. QEMU's window is 64 KiB (IOMEM_LEN 0x10000, kvm-unit-tests'
 *   IORAM_LEN); we back its first 4 KiB (TESTDEV_IORAM_LEN), the page kvm-unit-tests
 *   maps (emulator.c maps it twice for its cross-page accesses; the LAM test once), and
 *   keep the per-guest state small: it lives in struct vm for every guest. Past it is
 *   nothing, as anywhere outside RAM and devices (on_bad_access= decides); the bytes of
 *   an access that run past the end read as all-ones and are not written.
 */

#include "kernel/vm/vdev/vdev.h"

#define TESTDEV_IOPORT          0xE0    /* 4 ports: the scratch register, any width */
#define TESTDEV_FLUSH_PORT      0xE4    /* 4 ports: flush page, 4-byte writes */
#define TESTDEV_IOPORT_BYTE     0xE8    /* 4 ports: the scratch register, byte by byte */
#define TESTDEV_IRQ_BASE        0x2000  /* 0x2000 + N drives ISA IRQ line N */
#define TESTDEV_IRQ_PORTS       24
#define TESTDEV_ISA_IRQS        16      /* lines that exist: 0..15 */
#define TESTDEV_IORAM_BASE      0xFF000000ull
#define TESTDEV_IORAM_LEN       0x1000u

struct testdev {
    struct vdev_env *env;
    uint32_t ioport;                    /* the scratch register behind 0xE0 and 0xE8 */
    uint32_t flushes;                   /* flush-page requests (4-byte writes at 0xE4) */
    uint32_t last_flush;                /* the page address of the last one */
    uint8_t ioram[TESTDEV_IORAM_LEN];   /* the start of the iomem window */
};

/* A device in QEMU's initial state (scratch register and IORAM zero), driving lines
 * through env->set_irq (env or the hook may be NULL: line writes then do nothing). */
void testdev_init(struct testdev *t, struct vdev_env *env);

/* Claims 0xE0-0xEB, 0x2000-0x2017 and the iomem window at 0xFF000000. Returns 0, or -1
 * if one of them is taken or a table is full. */
int testdev_attach(struct testdev *t, struct vdev_bus *bus);

#endif

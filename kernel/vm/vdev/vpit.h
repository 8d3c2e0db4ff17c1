/* A virtual 8254 interval timer (ports 0x40-0x43) and system control port B (0x61). */
#ifndef KERNEL_VM_VDEV_VPIT_H
#define KERNEL_VM_VDEV_VPIT_H

/*
 * Model notes.
 * - Counters are computed on demand from env->now_ns at 1193182 Hz with 64-bit
 *   integer math: there is no per-tick work.
 * - Modes 0-5, binary and BCD, lobyte/hibyte/lohi access, counter latch and
 *   read-back (count and status) commands. A new count is loaded at once (no
 *   one-clock load delay); in modes 2 and 3 a new count written while counting
 *   restarts the period at once instead of at the end of the current one.
 * - Gates: channels 0 and 1 are tied high; channel 2's gate is port 0x61 bit 0.
 * - IRQ 0: vpit_update() pulses the line (set_irq(0, 1) then set_irq(0, 0)) for a
 *   rising edge of channel 0's OUT. Catch-up policy: at most ONE pulse per call;
 *   if several periods elapsed since the last call, the extra ones are coalesced
 *   (dropped) and counted in ticks_coalesced, as the PIC would have merged them.
 * - Port 0x61: bit 0 gate 2, bit 1 speaker data enable, bits 2-3 stored, bit 4
 *   refresh toggle (flips every 15 us of guest time), bit 5 OUT of channel 2.
 */

#include "kernel/vm/vdev/vdev.h"

#define VPIT_BASE 0x40
#define VPIT_PORT_B 0x61
#define VPIT_HZ 1193182u
#define VPIT_IRQ 0
/* Missed periods delivered late, one per vpit_update, at most this many; older ones are dropped. */
#define VPIT_CATCHUP_MAX 8

struct vpit_channel {
    uint8_t mode;         /* 0..5 */
    uint8_t rw;           /* 1 lobyte, 2 hibyte, 3 lohi */
    bool bcd;
    uint32_t count;       /* initial count as a number: 1..65536 (1..10000 in BCD) */
    bool loaded;          /* a count was written since the control word */
    bool triggered;       /* modes 1 and 5: a gate edge started the count */
    bool gate;
    bool running;         /* counting since run_start_ns */
    uint64_t run_start_ns;
    uint64_t ticks_base;  /* ticks counted before run_start_ns */

    bool write_msb_next;  /* lohi write flip-flop */
    uint8_t write_lsb;
    bool read_msb_next;   /* lohi read flip-flop for live reads */
    bool count_latched;
    uint16_t latch;
    uint8_t latch_bytes;  /* bytes of the latch left to read: 2 = lsb next for lohi */
    bool status_latched;
    uint8_t status;

    uint64_t edges_seen;  /* OUT rising edges delivered (channel 0) */
};

struct vpit {
    struct vdev_env *env;
    struct vpit_channel ch[3];
    uint8_t port_b;       /* bits 0-3 as written */
    uint64_t ticks_coalesced;
};

/* Sets up a PIT in the vpit_reset() state. */
void vpit_init(struct vpit *t, struct vdev_env *env);

/* Power-on state: no counts loaded (channel outputs idle), gate 2 low, IRQ 0 quiet. */
void vpit_reset(struct vpit *t);

/* Claims 0x40-0x43 and 0x61 as 8-bit ports. Returns 0 or -1. */
int vpit_attach(struct vpit *t, struct vdev_bus *bus);

/* Delivers the IRQ 0 edge due since the last call (one at most; see catch-up policy). */
void vpit_update(struct vpit *t);

/* Guest time (ns) of channel 0's next OUT rising edge not yet delivered, or
 * UINT64_MAX if none is scheduled. May be in the past if vpit_update() is late. */
uint64_t vpit_next_event_ns(const struct vpit *t);

/* Port access as the bus handlers do it (port is absolute). */
uint8_t vpit_read(struct vpit *t, uint16_t port);
void vpit_write(struct vpit *t, uint16_t port, uint8_t value);

/* Current counter value and OUT level of channel c (0..2), for tests and the shell. */
uint16_t vpit_count(const struct vpit *t, unsigned c);
bool vpit_out(const struct vpit *t, unsigned c);

#endif

/* A virtual MC146818 real-time clock and CMOS RAM (ports 0x70-0x71), interrupting on IRQ 8. */
#ifndef KERNEL_VM_VDEV_VRTC_H
#define KERNEL_VM_VDEV_VRTC_H

/*
 * Model notes.
 * - The time is kept as binary 24-hour fields and encoded at each read in the
 *   format register B asks for (BCD or binary, 12 or 24 hour); writes are decoded
 *   the same way. Changing DM or 24/12 therefore converts the clock on the fly,
 *   where a real chip would keep the old bytes.
 * - The clock advances by whole seconds of env->now_ns, lazily at each access and
 *   in vrtc_update(). It is held while B.SET is set or A's divider is in reset
 *   (DV != 010, as Linux does while setting the time); it restarts a fresh second
 *   when released. The century register 0x32 follows the clock.
 * - Flags: UF at each second, AF when the alarm matches (0xC0-0xFF = don't care),
 *   PF at the rate of A.RS. After more than two days without an access the clock
 *   jumps whole days and sets AF without checking the alarm fields.
 * - IRQ 8 is a level: raised when C.IRQF becomes set, lowered when C is read.
 * - A.UIP reads 1 during the last 244 us before each update.
 */

#include "kernel/vm/vdev/vdev.h"

#define VRTC_BASE 0x70
#define VRTC_IRQ 8

enum vrtc_reg {
    VRTC_SEC = 0x00, VRTC_SEC_ALARM = 0x01, VRTC_MIN = 0x02, VRTC_MIN_ALARM = 0x03,
    VRTC_HOUR = 0x04, VRTC_HOUR_ALARM = 0x05, VRTC_WEEKDAY = 0x06, VRTC_DAY = 0x07,
    VRTC_MONTH = 0x08, VRTC_YEAR = 0x09, VRTC_REG_A = 0x0A, VRTC_REG_B = 0x0B,
    VRTC_REG_C = 0x0C, VRTC_REG_D = 0x0D, VRTC_SHUTDOWN = 0x0F, VRTC_CENTURY = 0x32,
};

#define VRTC_A_UIP 0x80
#define VRTC_A_DV_NORMAL 0x20
#define VRTC_B_SET 0x80
#define VRTC_B_PIE 0x40
#define VRTC_B_AIE 0x20
#define VRTC_B_UIE 0x10
#define VRTC_B_DM_BINARY 0x04
#define VRTC_B_24H 0x02
#define VRTC_C_IRQF 0x80
#define VRTC_C_PF 0x40
#define VRTC_C_AF 0x20
#define VRTC_C_UF 0x10
#define VRTC_D_VRT 0x80

struct vrtc {
    struct vdev_env *env;
    struct datetime tm;     /* binary, 24-hour, weekday 1..7 (Sunday = 1) */
    uint64_t second_start_ns;    /* guest time at which tm's current second began */
    uint64_t periodic_start_ns;  /* phase origin of the periodic interrupt */
    uint64_t periodic_seen;      /* periods elapsed and accounted for in PF */
    uint8_t index;
    bool nmi_masked;
    uint8_t reg_a, reg_b, reg_c; /* reg_c holds PF/AF/UF; IRQF is computed */
    uint8_t alarm[3];            /* raw bytes of registers 1, 3, 5 */
    uint8_t ram[128];            /* CMOS bytes 0x0E-0x7F (the rest unused) */
    bool irq_level;
};

/* Sets up the RTC at 2000-01-01 00:00:00, BCD 24-hour, 1024 Hz rate, interrupts off. */
void vrtc_init(struct vrtc *r, struct vdev_env *env);

/* The RESET pin: clears PIE, AIE, UIE, SQWE and the C flags, lowers IRQ 8. Keeps the
 * time and CMOS RAM. */
void vrtc_reset(struct vrtc *r);

/* Claims 0x70-0x71 as 8-bit ports. Returns 0 or -1. */
int vrtc_attach(struct vrtc *r, struct vdev_bus *bus);

/* Sets the clock to dt (weekday 0 = compute it) at the current guest time. */
void vrtc_set_time(struct vrtc *r, const struct datetime *dt);

/* The clock's current time (binary, 24-hour). */
void vrtc_get_time(struct vrtc *r, struct datetime *dt);

/* Fills the CMOS memory-size bytes (0x15-0x18, 0x30-0x31, 0x34-0x35) and the
 * checksum at 0x2E-0x2F for a guest with kib KiB of RAM. */
void vrtc_set_memory_kib(struct vrtc *r, uint64_t kib);

/* Sets CMOS RAM byte index (0x0E-0x7F), keeping the 0x10-0x2D checksum right. */
void vrtc_cmos_set(struct vrtc *r, uint8_t index, uint8_t value);

/* True if the guest last wrote port 0x70 with bit 7 set (NMI disabled). */
bool vrtc_nmi_masked(const struct vrtc *r);

/* Advances the clock to now and raises IRQ 8 if a flag it enables became set. */
void vrtc_update(struct vrtc *r);

/* Guest time (ns) at which vrtc_update() may next have something to raise, or
 * UINT64_MAX: the next periodic tick if PIE, the next second if UIE or AIE. */
uint64_t vrtc_next_event_ns(const struct vrtc *r);

/* Port access as the bus handlers do it (port is absolute). */
uint8_t vrtc_read(struct vrtc *r, uint16_t port);
void vrtc_write(struct vrtc *r, uint16_t port, uint8_t value);

#endif

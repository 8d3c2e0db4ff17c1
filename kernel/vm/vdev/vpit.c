/* A virtual 8254 interval timer (ports 0x40-0x43) and system control port B (0x61). */
#include "kernel/vm/vdev/vpit.h"
#include "kernel/string.h"

#define NS_PER_S 1000000000ull
#define REFRESH_HALF_PERIOD_NS 15085 /* port 0x61 bit 4 toggles at ~66 kHz */
#define NO_TICK UINT64_MAX

static uint64_t now_ns(const struct vpit *t)
{
    return t->env->now_ns(t->env->ctx);
}

/* floor(ns * HZ / 1e9) without overflowing 64 bits. */
static uint64_t ns_to_ticks(uint64_t ns)
{
    return (ns / NS_PER_S) * VPIT_HZ + (ns % NS_PER_S) * VPIT_HZ / NS_PER_S;
}

/* The smallest ns with ns_to_ticks(ns) >= ticks. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
    return (ticks / VPIT_HZ) * NS_PER_S + ((ticks % VPIT_HZ) * NS_PER_S + VPIT_HZ - 1) / VPIT_HZ;
}

static uint32_t from_bcd(uint16_t v)
{
    return ((v >> 12) & 15) * 1000u + ((v >> 8) & 15) * 100u + ((v >> 4) & 15) * 10u + (v & 15);
}

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)(((v / 1000) % 10) << 12 | ((v / 100) % 10) << 8 | ((v / 10) % 10) << 4 |
                      (v % 10));
}

/* Input clock ticks the channel has counted by time now. */
static uint64_t elapsed(const struct vpit_channel *ch, uint64_t now)
{
    uint64_t e = ch->ticks_base;
    if (ch->running && now > ch->run_start_ns)
        e += ns_to_ticks(now - ch->run_start_ns);
    return e;
}

/* Counter value (as a number, not BCD-encoded) after e ticks. */
static uint32_t count_at(const struct vpit_channel *ch, uint64_t e)
{
    uint32_t n = ch->count, modulus = ch->bcd ? 10000 : 65536, v;
    if (!ch->loaded)
        return 0;
    switch (ch->mode) {
    case 2:
        v = n - (uint32_t)(e % n);
        break;
    case 3: { /* counts down by two, once per half period */
        uint32_t phase = (uint32_t)(e % n), half_hi = (n + 1) / 2;
        uint32_t in_half = phase < half_hi ? phase : phase - half_hi;
        v = (n & ~1u) - 2 * in_half;
        break;
    }
    default: /* modes 0, 1, 4, 5 count down and wrap */
        v = (uint32_t)((n + modulus - e % modulus) % modulus);
        break;
    }
    return v % modulus;
}

static bool out_at(const struct vpit_channel *ch, uint64_t e)
{
    uint32_t n = ch->count;
    if (!ch->loaded)
        return ch->mode != 0; /* a control word sets OUT low in mode 0, high otherwise */
    switch (ch->mode) {
    case 0:
        return e >= n;
    case 1:
        return !ch->triggered || e >= n;
    case 2:
        return !ch->gate || n < 2 || e % n != n - 1;
    case 3:
        return !ch->gate || e % n < (n + 1) / 2;
    case 4:
        return e != n;
    default: /* 5 */
        return !ch->triggered || e != n;
    }
}

/* Tick at which OUT rises for the k-th time (k >= 1), or NO_TICK. */
static uint64_t edge_tick(const struct vpit_channel *ch, uint64_t k)
{
    switch (ch->mode) {
    case 2:
    case 3:
        return k * ch->count;
    case 0:
    case 1:
        return k == 1 ? ch->count : NO_TICK;
    default:
        return k == 1 ? (uint64_t)ch->count + 1 : NO_TICK;
    }
}

/* Number of OUT rising edges after e ticks. */
static uint64_t edges_at(const struct vpit_channel *ch, uint64_t e)
{
    if (ch->mode == 2 || ch->mode == 3)
        return e / ch->count;
    return e >= edge_tick(ch, 1) ? 1 : 0;
}

static uint16_t read_value(const struct vpit_channel *ch, uint64_t now)
{
    uint32_t v = count_at(ch, elapsed(ch, now));
    return ch->bcd ? to_bcd(v) : (uint16_t)v;
}

static void load_count(struct vpit *t, struct vpit_channel *ch, uint16_t raw)
{
    uint32_t n = ch->bcd ? from_bcd(raw) : raw;
    if (n == 0)
        n = ch->bcd ? 10000 : 65536;
    if (n < 2 && (ch->mode == 2 || ch->mode == 3))
        n = 2; /* a count of 1 is illegal in modes 2 and 3 */
    ch->count = n;
    ch->loaded = true;
    ch->edges_seen = 0;
    ch->ticks_base = 0;
    ch->run_start_ns = now_ns(t);
    ch->triggered = false;
    /* Modes 1 and 5 wait for a gate edge; the others count while the gate is high. */
    ch->running = ch->mode != 1 && ch->mode != 5 && ch->gate;
}

static void set_gate(struct vpit *t, struct vpit_channel *ch, bool gate)
{
    if (gate == ch->gate)
        return;
    uint64_t now = now_ns(t);
    if (ch->loaded && gate) {
        if (ch->mode != 0 && ch->mode != 4) { /* rising edge restarts modes 1, 2, 3, 5 */
            ch->ticks_base = 0;
            ch->edges_seen = 0;
            ch->triggered = true;
        }
        ch->run_start_ns = now;
        ch->running = true;
    } else if (ch->loaded && ch->running && ch->mode != 1 && ch->mode != 5) {
        ch->ticks_base = elapsed(ch, now); /* gate low suspends counting */
        ch->running = false;
    }
    ch->gate = gate;
}

static void latch_count(struct vpit *t, struct vpit_channel *ch)
{
    if (ch->count_latched)
        return; /* a second latch before the first is read is ignored */
    ch->latch = read_value(ch, now_ns(t));
    ch->count_latched = true;
    ch->latch_bytes = ch->rw == 3 ? 2 : 1;
}

static void read_back(struct vpit *t, uint8_t v)
{
    uint64_t now = now_ns(t);
    for (unsigned c = 0; c < 3; c++) {
        struct vpit_channel *ch = &t->ch[c];
        if (!(v & (2u << c)))
            continue;
        if (!(v & 0x20))
            latch_count(t, ch);
        if (!(v & 0x10) && !ch->status_latched) {
            ch->status = (uint8_t)((out_at(ch, elapsed(ch, now)) ? 0x80 : 0) |
                                   (ch->loaded ? 0 : 0x40) | ch->rw << 4 | ch->mode << 1 |
                                   (ch->bcd ? 1 : 0));
            ch->status_latched = true;
        }
    }
}

static void write_control(struct vpit *t, uint8_t v)
{
    if ((v >> 6) == 3) {
        read_back(t, v);
        return;
    }
    struct vpit_channel *ch = &t->ch[v >> 6];
    uint8_t rw = (v >> 4) & 3;
    if (rw == 0) {
        latch_count(t, ch);
        return;
    }
    uint8_t mode = (v >> 1) & 7;
    ch->mode = mode > 5 ? mode - 4 : mode; /* 6 and 7 alias 2 and 3 */
    ch->rw = rw;
    ch->bcd = v & 1;
    ch->loaded = ch->running = ch->triggered = false;
    ch->ticks_base = 0;
    ch->edges_seen = 0;
    ch->write_msb_next = ch->read_msb_next = false;
    ch->count_latched = ch->status_latched = false;
}

static void write_counter(struct vpit *t, struct vpit_channel *ch, uint8_t v)
{
    switch (ch->rw) {
    case 1:
        load_count(t, ch, v);
        break;
    case 2:
        load_count(t, ch, (uint16_t)(v << 8));
        break;
    default:
        if (!ch->write_msb_next) {
            ch->write_lsb = v;
            ch->write_msb_next = true;
            if (ch->mode == 0)
                ch->loaded = ch->running = false; /* first byte stops mode 0, OUT low */
        } else {
            ch->write_msb_next = false;
            load_count(t, ch, (uint16_t)(ch->write_lsb | v << 8));
        }
        break;
    }
}

static uint8_t read_counter(struct vpit *t, struct vpit_channel *ch)
{
    if (ch->status_latched) {
        ch->status_latched = false;
        return ch->status;
    }
    if (ch->count_latched) {
        bool msb = ch->rw == 2 || (ch->rw == 3 && ch->latch_bytes == 1);
        if (--ch->latch_bytes == 0)
            ch->count_latched = false;
        return (uint8_t)(msb ? ch->latch >> 8 : ch->latch);
    }
    uint16_t v = read_value(ch, now_ns(t));
    bool msb = ch->rw == 2;
    if (ch->rw == 3) {
        msb = ch->read_msb_next;
        ch->read_msb_next = !ch->read_msb_next;
    }
    return (uint8_t)(msb ? v >> 8 : v);
}

void vpit_reset(struct vpit *t)
{
    memset(t->ch, 0, sizeof(t->ch));
    for (unsigned c = 0; c < 3; c++) {
        t->ch[c].rw = 3;
        t->ch[c].gate = c != 2;
    }
    t->port_b = 0;
    t->ticks_coalesced = 0;
}

void vpit_init(struct vpit *t, struct vdev_env *env)
{
    memset(t, 0, sizeof(*t));
    t->env = env;
    vpit_reset(t);
}

uint16_t vpit_count(const struct vpit *t, unsigned c)
{
    return read_value(&t->ch[c % 3], now_ns(t));
}

bool vpit_out(const struct vpit *t, unsigned c)
{
    const struct vpit_channel *ch = &t->ch[c % 3];
    return out_at(ch, elapsed(ch, now_ns(t)));
}

void vpit_update(struct vpit *t)
{
    struct vpit_channel *ch = &t->ch[0];
    if (!ch->loaded)
        return;
    uint64_t k = edges_at(ch, elapsed(ch, now_ns(t)));
    if (k <= ch->edges_seen)
        return;
    /* Bounded catch-up: a guest that waited for the CPU gets its missed ticks one per
     * update (the caller updates once the previous tick was taken), at most
     * VPIT_CATCHUP_MAX of them; older ones are dropped and counted. */
    if (k - ch->edges_seen > VPIT_CATCHUP_MAX) {
        t->ticks_coalesced += k - ch->edges_seen - VPIT_CATCHUP_MAX;
        ch->edges_seen = k - VPIT_CATCHUP_MAX;
    }
    ch->edges_seen++;
    if (t->env->set_irq) {
        t->env->set_irq(t->env->ctx, VPIT_IRQ, true);
        t->env->set_irq(t->env->ctx, VPIT_IRQ, false);
    }
}

uint64_t vpit_next_event_ns(const struct vpit *t)
{
    const struct vpit_channel *ch = &t->ch[0];
    if (!ch->loaded || !ch->running)
        return UINT64_MAX;
    uint64_t tick = edge_tick(ch, ch->edges_seen + 1);
    if (tick == NO_TICK)
        return UINT64_MAX;
    if (tick <= ch->ticks_base)
        return ch->run_start_ns;
    return ch->run_start_ns + ticks_to_ns(tick - ch->ticks_base);
}

uint8_t vpit_read(struct vpit *t, uint16_t port)
{
    if (port == VPIT_PORT_B) {
        uint64_t now = now_ns(t);
        uint8_t v = t->port_b & 0x0F;
        if ((now / REFRESH_HALF_PERIOD_NS) & 1)
            v |= 0x10;
        if (out_at(&t->ch[2], elapsed(&t->ch[2], now)))
            v |= 0x20;
        return v;
    }
    if (port == VPIT_BASE + 3)
        return 0xFF; /* the control word register is write-only */
    return read_counter(t, &t->ch[port - VPIT_BASE]);
}

void vpit_write(struct vpit *t, uint16_t port, uint8_t value)
{
    if (port == VPIT_PORT_B) {
        t->port_b = value & 0x0F;
        set_gate(t, &t->ch[2], value & 0x01);
    } else if (port == VPIT_BASE + 3) {
        write_control(t, value);
    } else {
        write_counter(t, &t->ch[port - VPIT_BASE], value);
    }
}

static uint32_t vpit_io_read(void *dev, uint16_t port, unsigned size)
{
    (void)size; /* 8-bit ports: the bus splits wider accesses */
    return vpit_read(dev, port);
}

static void vpit_io_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    (void)size;
    vpit_write(dev, port, (uint8_t)value);
}

int vpit_attach(struct vpit *t, struct vdev_bus *bus)
{
    if (vdev_register_io_sized(bus, VPIT_BASE, VPIT_BASE + 3, 1, "vpit", vpit_io_read,
                               vpit_io_write, t) < 0 ||
        vdev_register_io_sized(bus, VPIT_PORT_B, VPIT_PORT_B, 1, "port-b", vpit_io_read,
                               vpit_io_write, t) < 0)
        return -1;
    return 0;
}

/* A virtual MC146818 real-time clock and CMOS RAM (ports 0x70-0x71), interrupting on IRQ 8. */
#include "kernel/vm/vdev/vrtc.h"
#include "kernel/string.h"

#define NS_PER_S 1000000000ull
#define RTC_HZ 32768u
#define UIP_WINDOW_NS 244000ull
#define DAY_S 86400ull

static uint64_t now_ns(const struct vrtc *r)
{
    return r->env->now_ns(r->env->ctx);
}

/* The clock counts only with the divider in normal mode and SET clear. */
static bool clock_running(const struct vrtc *r)
{
    return (r->reg_a & 0x70) == VRTC_A_DV_NORMAL && !(r->reg_b & VRTC_B_SET);
}

static uint8_t to_bcd(unsigned v) { return (uint8_t)((v / 10 % 10) << 4 | v % 10); }
static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10u + (v & 15); }

static uint8_t encode(const struct vrtc *r, unsigned v)
{
    return (r->reg_b & VRTC_B_DM_BINARY) ? (uint8_t)v : to_bcd(v);
}

static unsigned decode(const struct vrtc *r, uint8_t v)
{
    return (r->reg_b & VRTC_B_DM_BINARY) ? v : from_bcd(v);
}

static uint8_t encode_hour(const struct vrtc *r, unsigned h)
{
    if (r->reg_b & VRTC_B_24H)
        return encode(r, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(encode(r, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned decode_hour(const struct vrtc *r, uint8_t v)
{
    if (r->reg_b & VRTC_B_24H)
        return decode(r, v);
    return decode(r, v & 0x7F) % 12 + ((v & 0x80) ? 12 : 0);
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 31;
    return days[m - 1] + (m == 2 && is_leap(y));
}

/* 1..7 with Sunday = 1 (Sakamoto's method). */
static uint8_t weekday_of(unsigned y, unsigned m, unsigned d)
{
    static const uint8_t t[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 1 || m > 12)
        return 1;
    if (m < 3)
        y--;
    return (uint8_t)((y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7 + 1);
}

static void next_day(struct datetime *tm)
{
    tm->weekday = (uint8_t)(tm->weekday % 7 + 1);
    if (++tm->day > days_in_month(tm->year, tm->month)) {
        tm->day = 1;
        if (++tm->month > 12) {
            tm->month = 1;
            tm->year++;
        }
    }
}

/* Alarm byte matches if it equals the current encoded value or is "don't care". */
static bool alarm_matches(const struct vrtc *r)
{
    uint8_t now[3] = {encode(r, r->tm.sec), encode(r, r->tm.min), encode_hour(r, r->tm.hour)};
    for (unsigned i = 0; i < 3; i++)
        if (r->alarm[i] < 0xC0 && r->alarm[i] != now[i])
            return false;
    return true;
}

/* The update cycle, n times: out-of-range fields roll over at the next carry. */
static void add_seconds(struct vrtc *r, uint64_t n)
{
    struct datetime *tm = &r->tm;
    for (; n > 2 * DAY_S; n -= DAY_S) { /* a long absence: every alarm matched once a day */
        next_day(tm);
        r->reg_c |= VRTC_C_UF | VRTC_C_AF;
    }
    for (; n > 0; n--) {
        if (++tm->sec >= 60) {
            tm->sec = 0;
            if (++tm->min >= 60) {
                tm->min = 0;
                if (++tm->hour >= 24) {
                    tm->hour = 0;
                    next_day(tm);
                }
            }
        }
        r->reg_c |= VRTC_C_UF;
        if (alarm_matches(r))
            r->reg_c |= VRTC_C_AF;
    }
}

/* Periodic rate in 32768 Hz ticks: RS 1 and 2 alias RS 8 and 9; 0 = off. */
static uint32_t periodic_ticks(const struct vrtc *r)
{
    unsigned rs = r->reg_a & 0x0F;
    if (rs == 0)
        return 0;
    if (rs <= 2)
        rs += 7;
    return 1u << (rs - 1);
}

static uint64_t ns_to_rtc_ticks(uint64_t ns)
{
    return (ns / NS_PER_S) * RTC_HZ + (ns % NS_PER_S) * RTC_HZ / NS_PER_S;
}

/* The smallest ns with ns_to_rtc_ticks(ns) >= ticks. */
static uint64_t rtc_ticks_to_ns(uint64_t ticks)
{
    return (ticks / RTC_HZ) * NS_PER_S + ((ticks % RTC_HZ) * NS_PER_S + RTC_HZ - 1) / RTC_HZ;
}

static uint8_t irqf(const struct vrtc *r)
{
    uint8_t enabled = r->reg_c & r->reg_b & (VRTC_C_PF | VRTC_C_AF | VRTC_C_UF);
    return enabled ? VRTC_C_IRQF : 0;
}

static void update_irq(struct vrtc *r)
{
    bool level = irqf(r) != 0;
    if (level == r->irq_level)
        return;
    r->irq_level = level;
    if (r->env->set_irq)
        r->env->set_irq(r->env->ctx, VRTC_IRQ, level);
}

/* Brings the clock and the flags up to the current guest time. */
static void sync(struct vrtc *r)
{
    uint64_t now = now_ns(r);
    if (!clock_running(r)) {
        r->second_start_ns = now; /* restart a whole second when released */
    } else if (now >= r->second_start_ns + NS_PER_S) {
        uint64_t n = (now - r->second_start_ns) / NS_PER_S;
        r->second_start_ns += n * NS_PER_S;
        add_seconds(r, n);
    }
    uint32_t period = periodic_ticks(r);
    if ((r->reg_a & 0x70) != VRTC_A_DV_NORMAL || period == 0) {
        r->periodic_start_ns = now;
        r->periodic_seen = 0;
    } else if (now > r->periodic_start_ns) {
        uint64_t k = ns_to_rtc_ticks(now - r->periodic_start_ns) / period;
        if (k > r->periodic_seen) {
            r->periodic_seen = k;
            r->reg_c |= VRTC_C_PF;
        }
    }
    update_irq(r);
}

static void checksum_fix(struct vrtc *r)
{
    uint16_t sum = 0;
    for (unsigned i = 0x10; i <= 0x2D; i++)
        sum = (uint16_t)(sum + r->ram[i]);
    r->ram[0x2E] = (uint8_t)(sum >> 8);
    r->ram[0x2F] = (uint8_t)sum;
}

void vrtc_cmos_set(struct vrtc *r, uint8_t index, uint8_t value)
{
    if (index < 0x0E || index > 0x7F)
        return;
    r->ram[index] = value;
    if (index >= 0x10 && index <= 0x2D)
        checksum_fix(r);
}

void vrtc_set_memory_kib(struct vrtc *r, uint64_t kib)
{
    uint64_t base = kib < 640 ? kib : 640;
    uint64_t ext = kib > 1024 ? kib - 1024 : 0;
    uint64_t ext16 = kib > 16384 ? (kib - 16384) / 64 : 0;
    if (ext > 0xFFFF)
        ext = 0xFFFF;
    if (ext16 > 0xFFFF)
        ext16 = 0xFFFF;
    r->ram[0x15] = (uint8_t)base;
    r->ram[0x16] = (uint8_t)(base >> 8);
    r->ram[0x17] = r->ram[0x30] = (uint8_t)ext;
    r->ram[0x18] = r->ram[0x31] = (uint8_t)(ext >> 8);
    r->ram[0x34] = (uint8_t)ext16;
    r->ram[0x35] = (uint8_t)(ext16 >> 8);
    checksum_fix(r);
}

void vrtc_set_time(struct vrtc *r, const struct datetime *dt)
{
    r->tm = *dt;
    if (r->tm.weekday < 1 || r->tm.weekday > 7)
        r->tm.weekday = weekday_of(dt->year, dt->month, dt->day);
    r->second_start_ns = now_ns(r);
}

void vrtc_get_time(struct vrtc *r, struct datetime *dt)
{
    sync(r);
    *dt = r->tm;
}

void vrtc_reset(struct vrtc *r)
{
    r->reg_b &= (uint8_t)~(VRTC_B_PIE | VRTC_B_AIE | VRTC_B_UIE | 0x08);
    r->reg_c = 0;
    update_irq(r);
}

void vrtc_init(struct vrtc *r, struct vdev_env *env)
{
    memset(r, 0, sizeof(*r));
    r->env = env;
    r->reg_a = VRTC_A_DV_NORMAL | 0x06;
    r->reg_b = VRTC_B_24H;
    r->periodic_start_ns = now_ns(r);
    struct datetime y2k = {.year = 2000, .month = 1, .day = 1};
    vrtc_set_time(r, &y2k);
}

bool vrtc_nmi_masked(const struct vrtc *r)
{
    return r->nmi_masked;
}

void vrtc_update(struct vrtc *r)
{
    sync(r);
}

uint64_t vrtc_next_event_ns(const struct vrtc *r)
{
    uint64_t next = UINT64_MAX;
    uint32_t period = periodic_ticks(r);
    if ((r->reg_b & VRTC_B_PIE) && period && (r->reg_a & 0x70) == VRTC_A_DV_NORMAL)
        next = r->periodic_start_ns + rtc_ticks_to_ns((r->periodic_seen + 1) * period);
    if ((r->reg_b & (VRTC_B_UIE | VRTC_B_AIE)) && clock_running(r) &&
        r->second_start_ns + NS_PER_S < next)
        next = r->second_start_ns + NS_PER_S;
    return next;
}

static uint8_t read_reg(struct vrtc *r, uint8_t i)
{
    switch (i) {
    case VRTC_SEC: return encode(r, r->tm.sec);
    case VRTC_MIN: return encode(r, r->tm.min);
    case VRTC_HOUR: return encode_hour(r, r->tm.hour);
    case VRTC_SEC_ALARM: return r->alarm[0];
    case VRTC_MIN_ALARM: return r->alarm[1];
    case VRTC_HOUR_ALARM: return r->alarm[2];
    case VRTC_WEEKDAY: return encode(r, r->tm.weekday);
    case VRTC_DAY: return encode(r, r->tm.day);
    case VRTC_MONTH: return encode(r, r->tm.month);
    case VRTC_YEAR: return encode(r, r->tm.year % 100);
    case VRTC_CENTURY: return encode(r, r->tm.year / 100 % 100);
    case VRTC_REG_A: {
        uint8_t v = r->reg_a;
        if (clock_running(r) && now_ns(r) - r->second_start_ns >= NS_PER_S - UIP_WINDOW_NS)
            v |= VRTC_A_UIP;
        return v;
    }
    case VRTC_REG_B: return r->reg_b;
    case VRTC_REG_C: {
        uint8_t v = (uint8_t)(r->reg_c | irqf(r));
        r->reg_c = 0; /* reading C clears every flag and releases IRQ 8 */
        update_irq(r);
        return v;
    }
    case VRTC_REG_D: return VRTC_D_VRT;
    default: return r->ram[i];
    }
}

static void write_reg(struct vrtc *r, uint8_t i, uint8_t v)
{
    switch (i) {
    case VRTC_SEC: r->tm.sec = (uint8_t)decode(r, v); break;
    case VRTC_MIN: r->tm.min = (uint8_t)decode(r, v); break;
    case VRTC_HOUR: r->tm.hour = (uint8_t)decode_hour(r, v); break;
    case VRTC_SEC_ALARM: r->alarm[0] = v; break;
    case VRTC_MIN_ALARM: r->alarm[1] = v; break;
    case VRTC_HOUR_ALARM: r->alarm[2] = v; break;
    case VRTC_WEEKDAY: r->tm.weekday = (uint8_t)decode(r, v); break;
    case VRTC_DAY: r->tm.day = (uint8_t)decode(r, v); break;
    case VRTC_MONTH: r->tm.month = (uint8_t)decode(r, v); break;
    case VRTC_YEAR: r->tm.year = (uint16_t)(r->tm.year / 100 * 100 + decode(r, v) % 100); break;
    case VRTC_CENTURY: r->tm.year = (uint16_t)(decode(r, v) * 100 + r->tm.year % 100); break;
    case VRTC_REG_A:
        if ((v ^ r->reg_a) & 0x0F) { /* new rate: restart the periodic phase */
            r->periodic_start_ns = now_ns(r);
            r->periodic_seen = 0;
        }
        r->reg_a = v & 0x7F; /* UIP is read-only */
        break;
    case VRTC_REG_B:
        r->reg_b = (v & VRTC_B_SET) ? (uint8_t)(v & ~VRTC_B_UIE) : v;
        break;
    case VRTC_REG_C:
    case VRTC_REG_D:
        break; /* read-only */
    default:
        r->ram[i] = v;
        break;
    }
}

uint8_t vrtc_read(struct vrtc *r, uint16_t port)
{
    if (port == VRTC_BASE)
        return 0xFF; /* the index register is write-only */
    sync(r);
    return read_reg(r, r->index);
}

void vrtc_write(struct vrtc *r, uint16_t port, uint8_t value)
{
    if (port == VRTC_BASE) {
        r->index = value & 0x7F;
        r->nmi_masked = value & 0x80;
        return;
    }
    sync(r);
    write_reg(r, r->index, value);
    sync(r); /* a release of SET/DV or a new enable takes effect now */
}

static uint32_t vrtc_io_read(void *dev, uint16_t port, unsigned size)
{
    (void)size; /* 8-bit ports: the bus splits wider accesses */
    return vrtc_read(dev, port);
}

static void vrtc_io_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    (void)size;
    vrtc_write(dev, port, (uint8_t)value);
}

int vrtc_attach(struct vrtc *r, struct vdev_bus *bus)
{
    return vdev_register_io_sized(bus, VRTC_BASE, VRTC_BASE + 1, 1, "vrtc", vrtc_io_read,
                                  vrtc_io_write, r);
}

/* A virtual local APIC (xAPIC through MMIO, x2APIC through MSRs) for a single-vCPU guest. */
#include "kernel/vm/vdev/vlapic.h"
#include "kernel/string.h"

#define NS_PER_S 1000000000ull
#define DEFAULT_HZ 1000000000ull
#define VERSION (0x14u | ((VLAPIC_LVT_COUNT - 1u) << 16))
#define X2APIC_BROADCAST 0xFFFFFFFFu
#define XAPIC_BROADCAST 0xFFu

/* Writable bits of each LVT entry (SDM Figure 11-8); delivery status and remote IRR read 0. */
static const uint32_t lvt_writable[VLAPIC_LVT_COUNT] = {
    [VLAPIC_LVT_CMCI] = 0x107FF,   [VLAPIC_LVT_TIMER] = 0x700FF,
    [VLAPIC_LVT_THERMAL] = 0x107FF, [VLAPIC_LVT_PERF] = 0x107FF,
    [VLAPIC_LVT_LINT0] = 0x1A7FF,  [VLAPIC_LVT_LINT1] = 0x1A7FF,
    [VLAPIC_LVT_ERROR] = 0x100FF,
};

/* floor (or ceil) of a * b / c, saturating; exact while (c - 1) * b fits in 64 bits.
 * Splitting a into quotient and remainder avoids 128-bit division (no libgcc). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c, bool round_up)
{
    uint64_t q = a / c, r = a % c;
    if (b && q > UINT64_MAX / b)
        return UINT64_MAX;
    uint64_t hi = q * b, lo = (r * b + (round_up ? c - 1 : 0)) / c;
    return hi > UINT64_MAX - lo ? UINT64_MAX : hi + lo;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static uint64_t now_ns(const struct vlapic *l) { return l->env->now_ns(l->env->ctx); }
static uint64_t now_tsc(const struct vlapic *l) { return l->env->now_tsc(l->env->ctx); }

static bool test_bit(const uint32_t *v, unsigned n) { return v[n / 32] & (1u << (n % 32)); }
static void set_bit(uint32_t *v, unsigned n) { v[n / 32] |= 1u << (n % 32); }
static void clear_bit(uint32_t *v, unsigned n) { v[n / 32] &= ~(1u << (n % 32)); }

/* The highest vector set in a 256-bit register, or -1. */
static int highest(const uint32_t *v)
{
    for (int i = 7; i >= 0; i--)
        if (v[i])
            return i * 32 + 31 - __builtin_clz(v[i]);
    return -1;
}

/* Reserved mode 3 behaves as one-shot. */
static unsigned timer_mode(const struct vlapic *l)
{
    return (l->lvt[VLAPIC_LVT_TIMER] >> VLAPIC_TIMER_MODE_SHIFT) & 3;
}

/* log2 of the divisor: DCR bits 3,1:0 = 000 -> 2, ..., 110 -> 128, 111 -> 1 (SDM Figure 11-10). */
static unsigned divide_shift(const struct vlapic *l)
{
    unsigned v = (l->dcr & 3) | ((l->dcr >> 1) & 4);
    return (v + 1) & 7;
}

static uint64_t ns_to_ticks(const struct vlapic *l, uint64_t ns)
{
    return muldiv(ns, l->bus_hz, NS_PER_S, false) >> divide_shift(l);
}

/* The smallest ns with ns_to_ticks(ns) >= ticks. */
static uint64_t ticks_to_ns(const struct vlapic *l, uint64_t ticks)
{
    if (ticks > UINT64_MAX >> 7)
        return UINT64_MAX;
    return muldiv(ticks << divide_shift(l), NS_PER_S, l->bus_hz, true);
}

static uint64_t timer_ticks(const struct vlapic *l, uint64_t now)
{
    uint64_t t = l->timer_base_ticks;
    if (now > l->timer_base_ns)
        t += ns_to_ticks(l, now - l->timer_base_ns);
    return t;
}

static uint32_t ppr(const struct vlapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    return (l->tpr & 0xF0u) >= isr_class ? l->tpr : isr_class;
}

static void deliver_lvt(struct vlapic *l, enum vlapic_lvt which);

/* ESR bits accumulate until the next ESR write; each error raises the LVT error entry. */
static void set_error(struct vlapic *l, uint32_t bit)
{
    l->esr_pending |= bit;
    if ((l->lvt[VLAPIC_LVT_ERROR] & 0xFF) >= 16)
        deliver_lvt(l, VLAPIC_LVT_ERROR);
}

void vlapic_set_irq(struct vlapic *l, uint8_t vector, bool level_triggered)
{
    if (!vlapic_sw_enabled(l))
        return;
    if (vector < 16) {
        set_error(l, VLAPIC_ESR_RECV_ILLEGAL);
        return;
    }
    set_bit(l->irr, vector);
    if (level_triggered)
        set_bit(l->tmr, vector);
    else
        clear_bit(l->tmr, vector);
}

/* Timer and error entries are always fixed and edge-triggered (SDM 11.5.1). */
static void deliver_lvt(struct vlapic *l, enum vlapic_lvt which)
{
    uint32_t v = l->lvt[which];
    if (!(v & VLAPIC_LVT_MASKED))
        vlapic_set_irq(l, (uint8_t)v, false);
}

int vlapic_pending_vector(const struct vlapic *l)
{
    if (!vlapic_sw_enabled(l))
        return -1;
    int v = highest(l->irr);
    if (v < 0 || ((uint32_t)v & 0xF0) <= (ppr(l) & 0xF0))
        return -1;
    return v;
}

static bool irr_empty(const struct vlapic *l) { return highest(l->irr) < 0; }

/* The guest's PV EOI byte is no longer ours to read: 0, and the guest's next EOI goes
 * through the register. */
static void pv_eoi_withdraw(struct vlapic *l)
{
    if (l->pv_eoi_pending)
        *l->pv_eoi = 0;
    l->pv_eoi_pending = false;
}

void vlapic_ack(struct vlapic *l, uint8_t vector)
{
    clear_bit(l->irr, vector);
    set_bit(l->isr, vector);
    if (!l->pv_eoi)
        return;
    /* Its EOI may be the guest's write to memory: edge-triggered (no IOAPIC EOI to send),
     * and nothing waiting that the EOI should let in at once. It is the highest in service,
     * so an EOI is its EOI. */
    if (!test_bit(l->tmr, vector) && irr_empty(l)) {
        *l->pv_eoi = 1;
        l->pv_eoi_pending = true;
    } else {
        pv_eoi_withdraw(l);
    }
}

static void eoi(struct vlapic *l)
{
    int v = highest(l->isr);
    if (v < 0)
        return;
    clear_bit(l->isr, (unsigned)v);
    if (test_bit(l->tmr, (unsigned)v) && l->env->lapic_eoi)
        l->env->lapic_eoi(l->env->ctx, (uint8_t)v);
}

/* The guest cleared its PV EOI byte: the EOI it stood for, now. */
static void pv_eoi_sync(struct vlapic *l)
{
    if (!l->pv_eoi_pending || (*l->pv_eoi & 1))
        return;
    l->pv_eoi_pending = false;
    l->pv_eois++;
    eoi(l);
}

void vlapic_set_pv_eoi(struct vlapic *l, volatile uint8_t *flag)
{
    if (l->pv_eoi) {
        pv_eoi_sync(l);
        pv_eoi_withdraw(l);
    }
    l->pv_eoi = flag;
}

bool vlapic_accepts_pic(const struct vlapic *l)
{
    uint32_t lint0 = l->lvt[VLAPIC_LVT_LINT0];
    if (!vlapic_hw_enabled(l))
        return true;
    return !(lint0 & VLAPIC_LVT_MASKED) && ((lint0 >> VLAPIC_LVT_DM_SHIFT) & 7) == VLAPIC_DM_EXTINT;
}

/* Does a no-shorthand IPI destination name this APIC? (SDM 11.6.2, 11.12.10.2) */
static bool dest_is_self(const struct vlapic *l, bool logical, uint32_t dest)
{
    if (vlapic_x2apic_mode(l)) {
        if (dest == X2APIC_BROADCAST)
            return true;
        if (!logical)
            return dest == l->apic_id;
        return (dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xFFFF);
    }
    dest &= 0xFF;
    if (dest == XAPIC_BROADCAST)
        return true;
    if (!logical)
        return dest == l->xapic_id;
    uint32_t ldr = l->ldr >> 24;
    if ((l->dfr >> 28) == 0xF) /* flat model */
        return dest & ldr;
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xF); /* cluster model */
}

/* Sends the IPI in l->icr to this APIC if it is a destination: fixed and lowest-priority
 * set their vector in the IRR; NMI raises the CPU's NMI line (vector ignored, SDM 11.6.1).
 * SMI, INIT and SIPI reach nothing on a one-CPU machine without SMM. */
static void send_ipi(struct vlapic *l)
{
    uint32_t lo = (uint32_t)l->icr, mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3;
    uint32_t dest = vlapic_x2apic_mode(l) ? (uint32_t)(l->icr >> 32) : (uint32_t)(l->icr >> 56);
    uint8_t vector = (uint8_t)lo;
    bool self = shorthand == 1 || shorthand == 2 ||
                (shorthand == 0 && dest_is_self(l, lo & VLAPIC_ICR_LOGICAL, dest));
    if (mode == VLAPIC_DM_NMI) {
        if (self)
            l->nmi_pending = true;
        return;
    }
    if (mode > 1)
        return;
    if (vector < 16) {
        set_error(l, VLAPIC_ESR_SEND_ILLEGAL);
        return;
    }
    if (self)
        vlapic_set_irq(l, vector, false);
}

static void timer_stop(struct vlapic *l)
{
    l->timer_armed = false;
    l->tsc_deadline = 0;
}

static void timer_start(struct vlapic *l)
{
    l->timer_armed = l->timer_initial != 0;
    l->timer_base_ns = now_ns(l);
    l->timer_base_ticks = 0;
    l->timer_next_tick = l->timer_initial;
}

static uint32_t current_count(const struct vlapic *l)
{
    if (!l->timer_armed || timer_mode(l) == VLAPIC_TIMER_TSC_DEADLINE)
        return 0;
    uint64_t t = timer_ticks(l, now_ns(l)), n = l->timer_initial;
    if (timer_mode(l) == VLAPIC_TIMER_PERIODIC)
        return (uint32_t)(n - t % n);
    return t >= n ? 0 : (uint32_t)(n - t);
}

static void timer_update(struct vlapic *l)
{
    if (timer_mode(l) == VLAPIC_TIMER_TSC_DEADLINE) {
        if (l->tsc_deadline && l->env->now_tsc && now_tsc(l) >= l->tsc_deadline) {
            l->tsc_deadline = 0;
            deliver_lvt(l, VLAPIC_LVT_TIMER);
        }
        return;
    }
    if (!l->timer_armed)
        return;
    uint64_t t = timer_ticks(l, now_ns(l));
    if (t < l->timer_next_tick)
        return;
    deliver_lvt(l, VLAPIC_LVT_TIMER);
    if (timer_mode(l) == VLAPIC_TIMER_PERIODIC)
        l->timer_next_tick = (t / l->timer_initial + 1) * l->timer_initial;
    else
        l->timer_armed = false;
}

void vlapic_update(struct vlapic *l)
{
    pv_eoi_sync(l);
    timer_update(l);
    if (l->pv_eoi_pending && !irr_empty(l))
        pv_eoi_withdraw(l);     /* a vector waits: the EOI must exit to let it in */
}

uint64_t vlapic_next_event_ns(const struct vlapic *l)
{
    if (l->lvt[VLAPIC_LVT_TIMER] & VLAPIC_LVT_MASKED)
        return UINT64_MAX;
    if (timer_mode(l) == VLAPIC_TIMER_TSC_DEADLINE) {
        if (!l->tsc_deadline || !l->env->now_tsc)
            return UINT64_MAX;
        uint64_t tsc = now_tsc(l), ns = now_ns(l);
        if (tsc >= l->tsc_deadline)
            return ns;
        return sat_add(ns, muldiv(l->tsc_deadline - tsc, NS_PER_S, l->tsc_hz, true));
    }
    if (!l->timer_armed)
        return UINT64_MAX;
    if (l->timer_next_tick <= l->timer_base_ticks)
        return l->timer_base_ns;
    return sat_add(l->timer_base_ns, ticks_to_ns(l, l->timer_next_tick - l->timer_base_ticks));
}

static int lvt_index(uint32_t off)
{
    if (off == VLAPIC_REG_LVT_CMCI)
        return VLAPIC_LVT_CMCI;
    if (off >= VLAPIC_REG_LVT_TIMER && off <= VLAPIC_REG_LVT_ERROR)
        return (int)(off - VLAPIC_REG_LVT_TIMER) / 16 + VLAPIC_LVT_TIMER;
    return -1;
}

/* The 32-bit register at off (16-byte aligned), or -1 if there is none in this mode. */
static int reg_read(const struct vlapic *l, uint32_t off, uint32_t *v)
{
    bool x2 = vlapic_x2apic_mode(l);
    int lvt = lvt_index(off);
    if (lvt >= 0) {
        *v = l->lvt[lvt];
        return 0;
    }
    if (off >= VLAPIC_REG_ISR && off < VLAPIC_REG_ESR) {
        const uint32_t *bits = off < VLAPIC_REG_TMR   ? l->isr
                               : off < VLAPIC_REG_IRR ? l->tmr
                                                      : l->irr;
        *v = bits[(off >> 4) & 7];
        return 0;
    }
    switch (off) {
    case VLAPIC_REG_ID: *v = x2 ? l->apic_id : (uint32_t)l->xapic_id << 24; return 0;
    case VLAPIC_REG_VERSION: *v = VERSION; return 0;
    case VLAPIC_REG_TPR: *v = l->tpr; return 0;
    case VLAPIC_REG_PPR: *v = ppr(l); return 0;
    case VLAPIC_REG_LDR: *v = l->ldr; return 0;
    case VLAPIC_REG_SVR: *v = l->svr; return 0;
    case VLAPIC_REG_ESR: *v = l->esr; return 0;
    case VLAPIC_REG_ICR_LO: *v = (uint32_t)l->icr; return 0;
    case VLAPIC_REG_TIMER_ICR: *v = l->timer_initial; return 0;
    case VLAPIC_REG_TIMER_CCR: *v = current_count(l); return 0;
    case VLAPIC_REG_TIMER_DCR: *v = l->dcr; return 0;
    case VLAPIC_REG_APR: case VLAPIC_REG_EOI: *v = 0; return x2 ? -1 : 0; /* EOI: write-only */
    case VLAPIC_REG_DFR: *v = l->dfr; return x2 ? -1 : 0;
    case VLAPIC_REG_ICR_HI: *v = (uint32_t)(l->icr >> 32); return x2 ? -1 : 0;
    default: return -1; /* includes SELF IPI, write-only */
    }
}

static void write_lvt(struct vlapic *l, int lvt, uint32_t v)
{
    v &= lvt_writable[lvt];
    if (!(l->svr & VLAPIC_SVR_ENABLE))
        v |= VLAPIC_LVT_MASKED; /* SDM 11.4.7.2 */
    if (lvt == VLAPIC_LVT_TIMER && (((l->lvt[lvt] ^ v) >> VLAPIC_TIMER_MODE_SHIFT) & 3))
        timer_stop(l); /* a mode change disarms (SDM 11.5.4.1) */
    l->lvt[lvt] = v;
}

static void write_svr(struct vlapic *l, uint32_t v)
{
    l->svr = v & 0x3FF; /* vector, enable, focus checking; no EOI-broadcast suppression */
    if (!(v & VLAPIC_SVR_ENABLE))
        for (int i = 0; i < VLAPIC_LVT_COUNT; i++)
            l->lvt[i] |= VLAPIC_LVT_MASKED;
}

static void write_dcr(struct vlapic *l, uint32_t v)
{
    uint64_t now = now_ns(l);
    if (l->timer_armed) { /* keep the ticks counted so far, count on at the new rate */
        l->timer_base_ticks = timer_ticks(l, now);
        l->timer_base_ns = now;
    }
    l->dcr = v & 0xB;
}

/* x2APIC WRMSR with reserved bits set raises #GP (SDM 11.12.1.3); the xAPIC page ignores them. */
static bool x2apic_reserved(uint32_t off, int lvt, uint32_t v)
{
    if (lvt >= 0)
        return v & ~lvt_writable[lvt];
    switch (off) {
    case VLAPIC_REG_TPR: return v & ~0xFFu;
    case VLAPIC_REG_SVR: return v & ~0x3FFu;
    case VLAPIC_REG_TIMER_DCR: return v & ~0xBu;
    case VLAPIC_REG_ICR_LO: return v & ~0xCCFFFu;
    default: return false;
    }
}

/* Writes the 32-bit register at off. Returns -1 if it is read-only or absent in x2APIC mode
 * (the caller raises #GP); in xAPIC mode such writes are ignored. */
static int reg_write(struct vlapic *l, uint32_t off, uint32_t v)
{
    bool x2 = vlapic_x2apic_mode(l);
    int lvt = lvt_index(off);
    if (x2 && x2apic_reserved(off, lvt, v))
        return -1;
    if (lvt >= 0) {
        write_lvt(l, lvt, v);
        return 0;
    }
    /* Read-only in x2APIC mode, or absent there; EOI and ESR take only 0 (SDM 11.12.1.2). */
    if (x2 && (off == VLAPIC_REG_ID || off == VLAPIC_REG_LDR || off == VLAPIC_REG_DFR ||
               off == VLAPIC_REG_ICR_HI || ((off == VLAPIC_REG_EOI || off == VLAPIC_REG_ESR) && v)))
        return -1;
    switch (off) {
    case VLAPIC_REG_ID: l->xapic_id = (uint8_t)(v >> 24); return 0;
    case VLAPIC_REG_TPR: l->tpr = (uint8_t)v; return 0;
    case VLAPIC_REG_EOI: eoi(l); return 0;
    case VLAPIC_REG_LDR: l->ldr = v & 0xFF000000u; return 0;
    case VLAPIC_REG_DFR: l->dfr = v | 0x0FFFFFFFu; return 0;
    case VLAPIC_REG_SVR: write_svr(l, v); return 0;
    case VLAPIC_REG_ESR:
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        return 0;
    case VLAPIC_REG_ICR_LO:
        l->icr = (l->icr & 0xFFFFFFFF00000000ull) | (v & 0xCCFFFu);
        send_ipi(l);
        return 0;
    case VLAPIC_REG_ICR_HI:
        l->icr = (uint32_t)l->icr | ((uint64_t)(v & 0xFF000000u) << 32);
        return 0;
    case VLAPIC_REG_TIMER_ICR:
        if (timer_mode(l) != VLAPIC_TIMER_TSC_DEADLINE) { /* ignored in TSC-deadline mode */
            l->timer_initial = v;
            timer_start(l);
        }
        return 0;
    case VLAPIC_REG_TIMER_DCR: write_dcr(l, v); return 0;
    case VLAPIC_REG_SELF_IPI:
        if (!x2)
            return 0;
        if (v > 0xFF)
            return -1;
        l->icr = (l->icr & 0xFFFFFFFF00000000ull) | VLAPIC_ICR_SELF | v;
        send_ipi(l);
        return 0;
    default: /* read-only (version, PPR, APR, ISR/TMR/IRR, current count) or reserved */
        return x2 ? -1 : 0;
    }
}

static bool xapic_mode(const struct vlapic *l)
{
    return vlapic_hw_enabled(l) && !vlapic_x2apic_mode(l);
}

/* The bus calls the handlers only while the page is claimed, that is in xAPIC mode; outside
 * it they answer as the nothing the guest would then reach (all-ones, writes dropped). */
uint64_t vlapic_mmio_read(void *dev, uint64_t offset, unsigned size)
{
    struct vlapic *l = dev;
    uint32_t reg = 0;
    if (offset >= VLAPIC_SIZE || size == 0 || size > 8)
        return 0;
    if (!xapic_mode(l))
        return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
    vlapic_update(l);
    if (reg_read(l, (uint32_t)offset & ~0xFu, &reg) < 0)
        reg = 0;
    unsigned byte = offset & 0xF;
    uint64_t v = byte < 4 ? reg >> (8 * byte) : 0;
    return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

void vlapic_mmio_write(void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    struct vlapic *l = dev;
    if (!xapic_mode(l) || offset >= VLAPIC_SIZE || size != 4 || (offset & 0xF))
        return;
    vlapic_update(l);
    reg_write(l, (uint32_t)offset, (uint32_t)value);
}

bool vlapic_hw_enabled(const struct vlapic *l) { return l->apic_base & VLAPIC_BASE_EN; }
bool vlapic_sw_enabled(const struct vlapic *l)
{
    return vlapic_hw_enabled(l) && (l->svr & VLAPIC_SVR_ENABLE);
}

bool vlapic_x2apic_mode(const struct vlapic *l)
{
    return vlapic_hw_enabled(l) && (l->apic_base & VLAPIC_BASE_EXTD);
}
uint64_t vlapic_base(const struct vlapic *l) { return l->apic_base & l->base_addr_mask; }

bool vlapic_handles_msr(uint32_t msr)
{
    return msr == VLAPIC_MSR_APIC_BASE || msr == VLAPIC_MSR_TSC_DEADLINE ||
           (msr >= VLAPIC_MSR_X2APIC_FIRST && msr <= VLAPIC_MSR_X2APIC_LAST);
}

/* Registers and timer as after power-up or reset (SDM 11.4.7.1, 11.12.5.1): the ID the
 * hardware assigned, SVR 0xFF, DFR all ones, every LVT entry masked, the rest 0.
 * IA32_APIC_BASE untouched. */
static void power_up_registers(struct vlapic *l)
{
    l->xapic_id = (uint8_t)l->apic_id;
    l->tpr = 0;
    l->ldr = 0;
    l->dfr = 0xFFFFFFFFu;
    l->svr = 0xFF;
    memset(l->isr, 0, sizeof(l->isr));
    memset(l->tmr, 0, sizeof(l->tmr));
    memset(l->irr, 0, sizeof(l->irr));
    pv_eoi_withdraw(l);                 /* nothing in service any more */
    l->nmi_pending = false;
    l->esr = l->esr_pending = 0;
    l->icr = 0;
    for (int i = 0; i < VLAPIC_LVT_COUNT; i++)
        l->lvt[i] = VLAPIC_LVT_MASKED;
    l->timer_initial = 0;
    l->dcr = 0;
    timer_stop(l);
}

/* The xAPIC page is a device only in xAPIC mode, at the address IA32_APIC_BASE names:
 * disabled, or in x2APIC mode, the guest reaches what is behind it (SDM 11.4.3, 11.12.2).
 * Claims, releases or moves the page on the bus to match. A page that would overlap
 * another device's range stays unclaimed (that device answers there). */
static void place_page(struct vlapic *l)
{
    bool want = xapic_mode(l);
    uint64_t base = vlapic_base(l);
    if (!l->bus || (want == l->page_claimed && (!want || base == l->page)))
        return;
    if (l->page_claimed)
        vdev_unregister_mmio(l->bus, l->page, l);
    l->page = base;
    l->page_claimed = want && vdev_register_mmio(l->bus, base, VLAPIC_SIZE, "vlapic",
                                                 vlapic_mmio_read, vlapic_mmio_write, l) == 0;
}

/* Valid transitions (SDM 11.12.5, Figure 11-27): disabled <-> xAPIC, xAPIC -> x2APIC,
 * x2APIC -> disabled; EN=0 with EXTD=1 is no state at all. Leaving the enabled states
 * resets the registers (SDM 11.4.3); only the hardware-assigned ID survives. */
static int write_apic_base(struct vlapic *l, uint64_t v)
{
    uint64_t reserved =
        ~(l->base_addr_mask | VLAPIC_BASE_BSP | VLAPIC_BASE_EXTD | VLAPIC_BASE_EN);
    bool en = v & VLAPIC_BASE_EN, extd = v & VLAPIC_BASE_EXTD;
    bool was_en = vlapic_hw_enabled(l), was_x2 = vlapic_x2apic_mode(l);
    if ((v & reserved) || (extd && !en) || (was_x2 && en && !extd) || (!was_en && extd))
        return -1;
    l->apic_base = (v & ~VLAPIC_BASE_BSP) | VLAPIC_BASE_BSP;
    if (was_en && !en)
        power_up_registers(l);
    if (!was_x2 && extd) {
        /* Not kept from xAPIC mode: a written ID, the ICR's high half; the logical ID is
         * derived from the x2APIC ID (SDM 11.12.5.1, 11.12.10.2). */
        l->xapic_id = (uint8_t)l->apic_id;
        l->icr = (uint32_t)l->icr;
        l->ldr = ((l->apic_id >> 4) << 16) | (1u << (l->apic_id & 15));
    }
    place_page(l);
    return 0;
}

/* An x2APIC register MSR, and the APIC is in x2APIC mode. */
static bool x2apic_msr(const struct vlapic *l, uint32_t msr)
{
    return msr >= VLAPIC_MSR_X2APIC_FIRST && msr <= VLAPIC_MSR_X2APIC_LAST && vlapic_x2apic_mode(l);
}

int vlapic_rdmsr(struct vlapic *l, uint32_t msr, uint64_t *value)
{
    uint32_t reg;
    vlapic_update(l);
    if (msr == VLAPIC_MSR_APIC_BASE) {
        *value = l->apic_base;
        return 0;
    }
    if (msr == VLAPIC_MSR_TSC_DEADLINE) {
        *value = timer_mode(l) == VLAPIC_TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
        return 0;
    }
    if (!x2apic_msr(l, msr))
        return -1;
    uint32_t off = (msr - VLAPIC_MSR_X2APIC_FIRST) << 4;
    if (off == VLAPIC_REG_ICR_LO) {
        *value = l->icr;
        return 0;
    }
    if (reg_read(l, off, &reg) < 0)
        return -1;
    *value = reg;
    return 0;
}

int vlapic_wrmsr(struct vlapic *l, uint32_t msr, uint64_t value)
{
    vlapic_update(l);
    if (msr == VLAPIC_MSR_APIC_BASE)
        return write_apic_base(l, value);
    if (msr == VLAPIC_MSR_TSC_DEADLINE) {
        if (timer_mode(l) == VLAPIC_TIMER_TSC_DEADLINE) /* ignored in other modes */
            l->tsc_deadline = value;
        return 0;
    }
    if (!x2apic_msr(l, msr))
        return -1;
    uint32_t off = (msr - VLAPIC_MSR_X2APIC_FIRST) << 4;
    if (off == VLAPIC_REG_ICR_LO) {
        l->icr = value & 0xFFFFFFFF000CCFFFull;
        send_ipi(l);
        return 0;
    }
    if (value >> 32)
        return -1;
    return reg_write(l, off, (uint32_t)value);
}

void vlapic_reset(struct vlapic *l)
{
    l->apic_base = VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EN | VLAPIC_BASE_BSP;
    power_up_registers(l);
    l->lvt[VLAPIC_LVT_LINT0] = VLAPIC_DM_EXTINT << VLAPIC_LVT_DM_SHIFT; /* the BIOS's virtual wire */
    l->lvt[VLAPIC_LVT_LINT1] = VLAPIC_DM_NMI << VLAPIC_LVT_DM_SHIFT;
    place_page(l);
}

void vlapic_init(struct vlapic *l, struct vdev_env *env, uint32_t apic_id, uint64_t bus_hz,
                 uint64_t tsc_hz, unsigned maxphyaddr)
{
    memset(l, 0, sizeof(*l));
    l->env = env;
    if (maxphyaddr < 36 || maxphyaddr > 52)
        maxphyaddr = 36;                /* what CPUs without leaf 80000008H have */
    l->base_addr_mask = ((1ull << maxphyaddr) - 1) & VLAPIC_BASE_PAGE_MASK;
    l->apic_id = apic_id;
    l->bus_hz = bus_hz ? bus_hz : DEFAULT_HZ;
    l->tsc_hz = tsc_hz ? tsc_hz : DEFAULT_HZ;
    vlapic_reset(l);
}

int vlapic_attach(struct vlapic *l, struct vdev_bus *bus)
{
    l->bus = bus;
    l->page_claimed = false;
    place_page(l);
    return xapic_mode(l) && !l->page_claimed ? -1 : 0;
}

bool vlapic_lint_edge(struct vlapic *l, unsigned pin)
{
    if (pin > 1)
        return false;
    if (!vlapic_hw_enabled(l)) {        /* a disabled APIC passes LINT1 through as NMI */
        if (pin == 1)
            l->nmi_pending = true;
        return pin == 1;
    }
    uint32_t lvt = l->lvt[pin ? VLAPIC_LVT_LINT1 : VLAPIC_LVT_LINT0];
    if (lvt & VLAPIC_LVT_MASKED)       /* software disabling masks every LVT entry */
        return false;
    switch ((lvt >> VLAPIC_LVT_DM_SHIFT) & 7) {
    case VLAPIC_DM_NMI:
        l->nmi_pending = true;
        return true;
    case 0:                             /* fixed: the LVT's vector, edge or level */
        if ((uint8_t)lvt < 16 || !vlapic_sw_enabled(l))
            return false;
        vlapic_set_irq(l, (uint8_t)lvt, (lvt & (1u << 15)) != 0);
        return true;
    default:                            /* ExtINT is the 8259's path; SMI, INIT: not modelled */
        return false;
    }
}

bool vlapic_nmi_pending(const struct vlapic *l)
{
    return l->nmi_pending;
}

void vlapic_nmi_ack(struct vlapic *l)
{
    l->nmi_pending = false;
}


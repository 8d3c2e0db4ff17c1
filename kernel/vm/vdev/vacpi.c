/* The ACPI PM1 event/control registers and PM timer: a guest's power-off and a 3.58 MHz clock. */
#include "kernel/vm/vdev/vacpi.h"
#include "kernel/string.h"

/* PM1_EN bits that hold what the guest writes (the others are reserved and read 0). */
#define PM1_EN_WRITABLE (VACPI_PM1_TMR | VACPI_PM1_GBL | VACPI_PM1_PWRBTN | VACPI_PM1_SLPBTN | \
                         VACPI_PM1_RTC | VACPI_PM1_PCIEXP_WAKE)
/* PM1_CNT bits kept for reading back; SLP_EN and GBL_RLS are write-only, SCI_EN fixed. */
#define PM1_CNT_KEPT (VACPI_PM1_CNT_BM_RLD | VACPI_PM1_CNT_SLP_TYP)

#define NS_PER_SEC 1000000000ull

/* The SCI follows the enabled status bits, as a level (ACPI 6.0, 4.8.2.1). */
static void update_sci(struct vacpi *a)
{
    bool level = (a->pm1_sts & a->pm1_en & VACPI_PM1_PWRBTN) != 0;
    if (level != a->sci_level) {
        a->sci_level = level;
        a->env->set_irq(a->env->ctx, ACPI_SCI_IRQ, level);
    }
}

void vacpi_reset(struct vacpi *a)
{
    a->pm1_sts = 0;
    a->pm1_en = 0;
    a->pm1_cnt = 0;
    update_sci(a);
}

void vacpi_init(struct vacpi *a, struct vdev_env *env)
{
    memset(a, 0, sizeof(*a));
    a->env = env;
    vacpi_reset(a);
}

/* floor(now_ns * 3579545 / 1e9) mod 2^24. Split into whole seconds and the rest so the
 * product cannot overflow; the seconds' term may wrap 64 bits, which keeps it right
 * modulo 2^24. */
uint32_t vacpi_pm_timer(const struct vacpi *a)
{
    uint64_t ns = a->env->now_ns(a->env->ctx);
    uint64_t ticks = (ns / NS_PER_SEC) * VACPI_PM_TIMER_HZ +
                     (ns % NS_PER_SEC) * VACPI_PM_TIMER_HZ / NS_PER_SEC;
    return (uint32_t)(ticks & VACPI_PM_TIMER_MASK);
}

void vacpi_power_button(struct vacpi *a)
{
    a->pm1_sts |= VACPI_PM1_PWRBTN;
    update_sci(a);
}

/* Bytes [offset, offset+size) of a little-endian register block holding block. */
static uint32_t block_read(uint32_t block, uint16_t offset, unsigned size)
{
    uint32_t v = block >> (8 * offset);
    return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

/* The byte lanes of a register block that an access of size bytes at offset covers. */
static uint32_t lanes(uint16_t offset, unsigned size)
{
    uint32_t m = size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    return m << (8 * offset);
}

/* ---- PM1 event block: PM1_STS at +0, PM1_EN at +2. */

static uint32_t evt_read(void *dev, uint16_t port, unsigned size)
{
    struct vacpi *a = dev;
    return block_read(a->pm1_sts | (uint32_t)a->pm1_en << 16, port - ACPI_PM1A_EVT_PORT, size);
}

static void evt_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct vacpi *a = dev;
    uint16_t off = port - ACPI_PM1A_EVT_PORT;
    uint32_t mask = lanes(off, size), v = value << (8 * off);
    a->pm1_sts &= (uint16_t)~(v & mask);                       /* write 1 to clear */
    uint16_t en_mask = (uint16_t)(mask >> 16) & PM1_EN_WRITABLE;
    a->pm1_en = (uint16_t)((a->pm1_en & ~en_mask) | ((v >> 16) & en_mask));
    update_sci(a);
}

/* ---- PM1 control block. */

static uint32_t cnt_read(void *dev, uint16_t port, unsigned size)
{
    struct vacpi *a = dev;
    return block_read(a->pm1_cnt | VACPI_PM1_CNT_SCI_EN, port - ACPI_PM1A_CNT_PORT, size);
}

static void cnt_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct vacpi *a = dev;
    uint16_t off = port - ACPI_PM1A_CNT_PORT;
    uint32_t mask = lanes(off, size), v = (value << (8 * off)) & mask;
    uint16_t kept = (uint16_t)(mask & PM1_CNT_KEPT);
    a->pm1_cnt = (uint16_t)((a->pm1_cnt & ~kept) | (v & kept));
    if (!(v & VACPI_PM1_CNT_SLP_EN))
        return;
    /* Sleep request: only S5 (soft off) exists; any other SLP_TYP is not a state. */
    unsigned slp_typ = (a->pm1_cnt & VACPI_PM1_CNT_SLP_TYP) >> VACPI_PM1_CNT_SLP_TYP_SHIFT;
    if (slp_typ == ACPI_SLP_TYP_S5 && a->env->machine)
        a->env->machine(a->env->ctx, VDEV_POWER_OFF, 0);
}

/* ---- PM timer: read-only. */

static uint32_t tmr_read(void *dev, uint16_t port, unsigned size)
{
    struct vacpi *a = dev;
    return block_read(vacpi_pm_timer(a), port - ACPI_PM_TMR_PORT, size);
}

/* Whole accesses (up to 4 bytes) reach the handlers, so a 32-bit timer read is one
 * sample of the clock, never bytes from two different instants. */
int vacpi_attach(struct vacpi *a, struct vdev_bus *bus)
{
    if (vdev_register_io(bus, ACPI_PM1A_EVT_PORT, ACPI_PM1A_EVT_PORT + ACPI_PM1_EVT_LEN - 1,
                         "acpi-pm1-evt", evt_read, evt_write, a) ||
        vdev_register_io(bus, ACPI_PM1A_CNT_PORT, ACPI_PM1A_CNT_PORT + ACPI_PM1_CNT_LEN - 1,
                         "acpi-pm1-cnt", cnt_read, cnt_write, a) ||
        vdev_register_io(bus, ACPI_PM_TMR_PORT, ACPI_PM_TMR_PORT + ACPI_PM_TMR_LEN - 1,
                         "acpi-pm-tmr", tmr_read, NULL, a))
        return -1;
    return 0;
}

/* The local APIC: register access through x2APIC MSRs (0x800 + reg/16) or the xAPIC MMIO page. */
#include "drivers/lapic.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"

enum {
    LAPIC_ID = 0x20, LAPIC_VERSION = 0x30, LAPIC_TPR = 0x80, LAPIC_EOI = 0xB0,
    LAPIC_SVR = 0xF0, LAPIC_LVT_TIMER = 0x320, LAPIC_LVT_LINT0 = 0x350,
    LAPIC_LVT_LINT1 = 0x360, LAPIC_LVT_ERROR = 0x370, LAPIC_TIMER_INIT = 0x380,
    LAPIC_TIMER_CUR = 0x390, LAPIC_TIMER_DIV = 0x3E0,
};
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2APIC (1ull << 10)
#define LVT_MASKED       (1u << 16)
#define LVT_PERIODIC     (1u << 17)

static bool x2apic;
static volatile uint32_t *mmio;

static uint32_t lapic_read(uint32_t reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(0x800 + reg / 16);
    return mmio[reg / 4];
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + reg / 16, v);
    else
        mmio[reg / 4] = v;
}

void lapic_init(void)
{
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    x2apic = cpuid(1, 0).ecx & (1u << 21);
    base |= APIC_BASE_ENABLE;
    if (x2apic)
        base |= APIC_BASE_X2APIC;
    wrmsr(MSR_IA32_APIC_BASE, base);
    mmio = (volatile uint32_t *)(base & 0xFFFFFF000ull);

    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);    /* software enable */
}

void lapic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

uint32_t lapic_id(void)
{
    uint32_t id = lapic_read(LAPIC_ID);
    return x2apic ? id : id >> 24;
}

bool lapic_is_x2apic(void)
{
    return x2apic;
}

uint64_t lapic_mmio_base(void)
{
    return (uint64_t)mmio;
}

void lapic_timer_start_oneshot(uint32_t count, uint8_t vector, bool masked)
{
    lapic_write(LAPIC_TIMER_DIV, 0x3);  /* divide by 16 */
    lapic_write(LAPIC_LVT_TIMER, vector | (masked ? LVT_MASKED : 0));
    lapic_write(LAPIC_TIMER_INIT, count);
}

void lapic_timer_start_periodic(uint32_t count, uint8_t vector)
{
    lapic_write(LAPIC_TIMER_DIV, 0x3);
    lapic_write(LAPIC_LVT_TIMER, vector | LVT_PERIODIC);
    lapic_write(LAPIC_TIMER_INIT, count);
}

uint32_t lapic_timer_current(void)
{
    return lapic_read(LAPIC_TIMER_CUR);
}

void lapic_timer_stop(void)
{
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0);
}

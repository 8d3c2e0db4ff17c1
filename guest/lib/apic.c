/* Local APIC (xAPIC page or x2APIC MSRs), IOAPIC, and TSC timing for guests. */
#include "apic.h"
#include "arch.h"
#include "str.h"

static bool x2apic;

uint32_t lapic_read(uint32_t reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR(reg));
    return mmio_read32(LAPIC_DEFAULT_BASE + reg);
}

void lapic_write(uint32_t reg, uint32_t value)
{
    if (x2apic)
        wrmsr(X2APIC_MSR(reg), value);
    else
        mmio_write32(LAPIC_DEFAULT_BASE + reg, value);
}

void lapic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

bool lapic_vector_set(uint32_t reg, uint8_t vector)
{
    return lapic_read(reg + (vector / 32u) * 0x10u) & (1u << (vector % 32u));
}

void lapic_sw_enable(uint8_t spurious_vector)
{
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | spurious_vector);
}

void lapic_enter_x2apic(void)
{
    wrmsr(MSR_IA32_APIC_BASE, rdmsr(MSR_IA32_APIC_BASE) | APIC_BASE_EXTD);
    x2apic = true;
}

bool lapic_in_x2apic(void)
{
    return x2apic;
}

uint32_t ioapic_read(uint8_t reg)
{
    mmio_write32(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, reg);
    return mmio_read32(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN);
}

void ioapic_write(uint8_t reg, uint32_t value)
{
    mmio_write32(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, reg);
    mmio_write32(IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, value);
}

uint64_t ioapic_read_rte(unsigned pin)
{
    uint32_t lo = ioapic_read((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin));
    uint32_t hi = ioapic_read((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin + 1));
    return ((uint64_t)hi << 32) | lo;
}

void ioapic_write_rte(unsigned pin, uint64_t rte)
{
    ioapic_write((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin + 1), (uint32_t)(rte >> 32));
    ioapic_write((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin), (uint32_t)rte);
}

static uint64_t tsc_hz_cpuid(void)
{
    uint32_t max, a, b, c, d;
    cpuid(0, 0, &max, &b, &c, &d);
    if (max >= 0x15) {
        cpuid(0x15, 0, &a, &b, &c, &d);
        if (a && b && c)
            return u64_divmod((uint64_t)c * b, a, NULL);
    }
    if (max >= 0x16) {
        cpuid(0x16, 0, &a, &b, &c, &d);
        if (a & 0xffff)
            return (uint64_t)(a & 0xffff) * 1000000u;
    }
    return 0;
}

uint64_t tsc_hz(void)
{
    static uint64_t hz;
    if (!hz)
        hz = tsc_hz_cpuid();
    return hz;
}

uint64_t tsc_from_us(uint64_t us)
{
    return u64_divmod(us * tsc_hz(), 1000000u, NULL);
}

uint64_t tsc_to_us(uint64_t ticks)
{
    uint32_t khz = (uint32_t)u64_divmod(tsc_hz(), 1000u, NULL);
    return khz ? u64_divmod(ticks * 1000u, khz, NULL) : 0;
}

void tsc_delay_us(uint64_t us, bool interrupts)
{
    uint64_t end = rdtsc() + tsc_from_us(us);
    if (interrupts)
        sti();
    while (rdtsc() < end)
        cpu_relax();
    cli();
}

uint32_t tsc_wait_count(volatile uint32_t *counter, uint32_t n, uint64_t us)
{
    uint64_t end = rdtsc() + tsc_from_us(us);
    sti();
    while (*counter < n && rdtsc() < end)
        cpu_relax();
    cli();
    return *counter;
}

/* Local APIC (xAPIC page or x2APIC MSRs), IOAPIC, and TSC timing for guests. */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include <stdbool.h>
#include <stdint.h>

/* MSRs (SDM Vol. 4; Vol. 3A 11.4.4, 11.5.4.1, 11.12.1.2). */
#define MSR_IA32_APIC_BASE      0x1b
#define MSR_IA32_TSC_DEADLINE   0x6e0
#define APIC_BASE_BSP           (1ull << 8)
#define APIC_BASE_EXTD          (1ull << 10)
#define APIC_BASE_EN            (1ull << 11)
#define X2APIC_MSR(reg)         (0x800u + ((reg) >> 4))

#define CPUID1_ECX_X2APIC       (1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_EDX_APIC         (1u << 9)

/* Local APIC register offsets (SDM Table 11-1); x2APIC MSR = X2APIC_MSR(offset). */
#define LAPIC_DEFAULT_BASE  0xfee00000u
#define LAPIC_ID            0x020
#define LAPIC_VERSION       0x030
#define LAPIC_TPR           0x080
#define LAPIC_PPR           0x0a0
#define LAPIC_EOI           0x0b0
#define LAPIC_SVR           0x0f0
#define LAPIC_ISR           0x100   /* 8 registers, vector v in (v / 32) * 0x10, bit v % 32 */
#define LAPIC_TMR           0x180
#define LAPIC_IRR           0x200
#define LAPIC_ESR           0x280
#define LAPIC_ICR_LO        0x300
#define LAPIC_ICR_HI        0x310
#define LAPIC_LVT_TIMER     0x320
#define LAPIC_LVT_LINT0     0x350
#define LAPIC_LVT_LINT1     0x360
#define LAPIC_LVT_ERROR     0x370
#define LAPIC_TIMER_ICR     0x380   /* initial count */
#define LAPIC_TIMER_CCR     0x390   /* current count */
#define LAPIC_TIMER_DCR     0x3e0   /* divide configuration */
#define LAPIC_SELF_IPI      0x3f0   /* x2APIC only */

#define LAPIC_SVR_ENABLE        (1u << 8)
#define LAPIC_LVT_MASKED        (1u << 16)
#define LAPIC_LVT_EXTINT        (7u << 8)
#define LAPIC_TIMER_ONESHOT     (0u << 17)
#define LAPIC_TIMER_PERIODIC    (1u << 17)
#define LAPIC_TIMER_TSC_DEADLINE (2u << 17)
#define LAPIC_DCR_DIV1          0xb
#define LAPIC_ICR_DELIVS        (1u << 12)  /* send pending (xAPIC) */
#define LAPIC_ICR_SELF          (1u << 18)  /* destination shorthand 01 */

/* IOAPIC (82093AA datasheet 3.1, 3.2; EOI register from version 0x20). */
#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define IOAPIC_IOREGSEL     0x00
#define IOAPIC_IOWIN        0x10
#define IOAPIC_EOI          0x40
#define IOAPIC_REG_ID       0x00
#define IOAPIC_REG_VERSION  0x01
#define IOAPIC_REG_ARB      0x02
#define IOAPIC_REG_REDTBL   0x10    /* + 2 * pin: low dword; + 1: high dword */

#define IOAPIC_RTE_DELMODE      (7ull << 8)
#define IOAPIC_RTE_DESTMODE     (1ull << 11)
#define IOAPIC_RTE_DELIVS       (1ull << 12)
#define IOAPIC_RTE_ACTIVE_LOW   (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR   (1ull << 14)
#define IOAPIC_RTE_LEVEL        (1ull << 15)
#define IOAPIC_RTE_MASKED       (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT   56

/* A register of the local APIC, through the page at LAPIC_DEFAULT_BASE or, after
 * lapic_enter_x2apic(), through its MSR (rdmsr/wrmsr, which may raise #GP). */
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t value);
/* EOI to the local APIC (writes 0 to the EOI register). */
void lapic_eoi(void);
/* Is vector set in the 256-bit register at reg (LAPIC_ISR, LAPIC_TMR or LAPIC_IRR)? */
bool lapic_vector_set(uint32_t reg, uint8_t vector);
/* Software-enable the APIC with this spurious-interrupt vector (SVR = vector | enable). */
void lapic_sw_enable(uint8_t spurious_vector);
/* IA32_APIC_BASE |= EXTD; lapic_read/lapic_write then use the MSRs. */
void lapic_enter_x2apic(void);
bool lapic_in_x2apic(void);

/* IOAPIC indirect registers and redirection entries (high dword written first, so an
 * entry is never live with a half-written destination). */
uint32_t ioapic_read(uint8_t reg);
void ioapic_write(uint8_t reg, uint32_t value);
uint64_t ioapic_read_rte(unsigned pin);
void ioapic_write_rte(unsigned pin, uint64_t rte);

/* The TSC's frequency from CPUID leaf 0x15 (crystal Hz * EBX / EAX), else leaf 0x16's
 * base MHz; 0 if the CPU reports neither. */
uint64_t tsc_hz(void);
/* Conversions at tsc_hz() (which must be non-zero). */
uint64_t tsc_from_us(uint64_t us);
uint64_t tsc_to_us(uint64_t ticks);
/* Busy-wait us microseconds, taking interrupts meanwhile if interrupts is true; returns
 * with IF=0. */
void tsc_delay_us(uint64_t us, bool interrupts);
/* With IF=1, wait until *counter (bumped by an interrupt handler) reaches n, or us
 * microseconds passed; returns with IF=0 and the count. */
uint32_t tsc_wait_count(volatile uint32_t *counter, uint32_t n, uint64_t us);

#endif

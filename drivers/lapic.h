/* The local APIC of the running CPU: x2APIC (MSRs) when the CPU has it, xAPIC (MMIO) otherwise. */
#ifndef DRIVERS_LAPIC_H
#define DRIVERS_LAPIC_H

#include <stdint.h>
#include <stdbool.h>

#define LAPIC_DEFAULT_BASE 0xFEE00000ull

/* Enables the LAPIC (software enable, spurious vector, TPR 0, LINT0/1 masked). */
void lapic_init(void);
void lapic_eoi(void);
uint32_t lapic_id(void);
bool lapic_is_x2apic(void);
uint64_t lapic_mmio_base(void);

/* The LAPIC timer, used by drivers/timer.c. Divide 16. */
void lapic_timer_start_oneshot(uint32_t count, uint8_t vector, bool masked);
void lapic_timer_start_periodic(uint32_t count, uint8_t vector);
uint32_t lapic_timer_current(void);
void lapic_timer_stop(void);

#endif

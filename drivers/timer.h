/* The host's periodic timer: the LAPIC timer, calibrated against the PIT (or CPUID's TSC leaves). */
#ifndef DRIVERS_TIMER_H
#define DRIVERS_TIMER_H

#include <stdint.h>

/* Measures the TSC and LAPIC timer frequencies; sets up kernel/time. Interrupts off. */
void timer_calibrate(void);
/* Starts the periodic interrupt at hz, then (interrupts on) counts 10 ticks against the
 * TSC and logs the measured rate. */
void timer_start(uint32_t hz);
/* Ticks since timer_start. */
uint64_t timer_ticks(void);
uint32_t timer_hz(void);
/* Registers a function the tick interrupt calls (the scheduler). */
void timer_set_tick_hook(void (*hook)(void));

#endif

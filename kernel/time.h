/* Host time: the TSC, calibrated at boot, as nanoseconds since boot. */
#ifndef KERNEL_TIME_H
#define KERNEL_TIME_H

#include <stdint.h>

void time_init(uint64_t tsc_hz);
uint64_t time_tsc_hz(void);
/* Nanoseconds since time_init. */
uint64_t time_ns(void);
/* Converts a TSC delta to nanoseconds and back. */
uint64_t time_tsc_to_ns(uint64_t tsc);
uint64_t time_ns_to_tsc(uint64_t ns);
/* Busy-waits (for calibration-free short delays). */
void time_delay_us(uint64_t us);

/* A calendar date and time (the CMOS clock's reading, a guest RTC's setting). weekday:
 * 1..7 with Sunday = 1 (the RTC's convention), 0 = "compute it". */
struct datetime {
    uint16_t year;
    uint8_t month, day, hour, min, sec, weekday;
};

#endif

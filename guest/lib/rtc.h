/* MC146818 real-time clock through the CMOS ports 0x70/0x71. */
#ifndef GUEST_RTC_H
#define GUEST_RTC_H

#include <stdbool.h>
#include <stdint.h>

#define RTC_IRQ 8

struct rtc_time {
    uint8_t sec, min, hour;     /* hour 0..23 whatever the RTC's mode */
    uint8_t day, month;
    uint16_t year;              /* 2000 + the RTC's two digits */
};

/* Read or write one CMOS register. */
uint8_t cmos_read(uint8_t reg);
void cmos_write(uint8_t reg, uint8_t value);
/* A consistent snapshot of the clock, decoding BCD and 12-hour modes; false if it never settled. */
bool rtc_read(struct rtc_time *t);

#endif

/* MC146818 real-time clock through the CMOS ports 0x70/0x71. */
#include "arch.h"
#include "rtc.h"

#define CMOS_INDEX      0x70
#define CMOS_DATA       0x71
#define RTC_SEC         0x00
#define RTC_MIN         0x02
#define RTC_HOUR        0x04
#define RTC_DAY         0x07
#define RTC_MONTH       0x08
#define RTC_YEAR        0x09
#define RTC_STATUS_A    0x0a
#define RTC_STATUS_B    0x0b
#define RTC_A_UIP       0x80    /* update in progress: the time registers are changing */
#define RTC_B_24H       0x02
#define RTC_B_BINARY    0x04
#define RTC_HOUR_PM     0x80    /* in 12-hour mode */

uint8_t cmos_read(uint8_t reg)
{
    outb(CMOS_INDEX, reg);
    return inb(CMOS_DATA);
}

void cmos_write(uint8_t reg, uint8_t value)
{
    outb(CMOS_INDEX, reg);
    outb(CMOS_DATA, value);
}

static bool rtc_wait_not_updating(void)
{
    for (uint32_t i = 0; i < 1000000; i++)
        if (!(cmos_read(RTC_STATUS_A) & RTC_A_UIP))
            return true;
    return false;
}

static void rtc_read_raw(uint8_t raw[6])
{
    static const uint8_t regs[6] = { RTC_SEC, RTC_MIN, RTC_HOUR, RTC_DAY, RTC_MONTH, RTC_YEAR };
    for (int i = 0; i < 6; i++)
        raw[i] = cmos_read(regs[i]);
}

static uint8_t from_bcd(uint8_t v)
{
    return (uint8_t)((v >> 4) * 10 + (v & 0x0f));
}

bool rtc_read(struct rtc_time *t)
{
    uint8_t a[6], b[6];
    int tries = 0;
    /* Read until two snapshots agree, so an update between reads cannot tear the time. */
    do {
        if (!rtc_wait_not_updating() || ++tries > 10)
            return false;
        rtc_read_raw(a);
        if (!rtc_wait_not_updating())
            return false;
        rtc_read_raw(b);
    } while (a[0] != b[0] || a[1] != b[1] || a[2] != b[2] ||
             a[3] != b[3] || a[4] != b[4] || a[5] != b[5]);

    uint8_t status_b = cmos_read(RTC_STATUS_B);
    bool pm = !(status_b & RTC_B_24H) && (b[2] & RTC_HOUR_PM);
    uint8_t hour = b[2] & ~RTC_HOUR_PM;
    if (!(status_b & RTC_B_BINARY)) {
        for (int i = 0; i < 6; i++)
            b[i] = from_bcd(i == 2 ? hour : b[i]);
        hour = b[2];
    }
    if (!(status_b & RTC_B_24H)) {
        hour %= 12;                     /* 12 AM is 0, 12 PM is 12 */
        if (pm)
            hour += 12;
    }
    t->sec = b[0];
    t->min = b[1];
    t->hour = hour;
    t->day = b[3];
    t->month = b[4];
    t->year = (uint16_t)(2000 + b[5]);
    return true;
}

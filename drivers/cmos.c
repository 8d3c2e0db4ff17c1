/* Real-time clock reading (MC146818 registers 0-9, status B for BCD/12-hour), then the
 * host keeps time with the TSC: the CMOS is read once. */
#include "drivers/cmos.h"
#include "kernel/cpu.h"
#include "kernel/time.h"

static struct datetime boot_time;
static uint64_t boot_ns;
static bool have_boot_time;

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg | 0x80);         /* keep NMIs masked while we use the index */
    return inb(0x71);
}

static uint8_t from_bcd(uint8_t v, bool bcd)
{
    return bcd ? (v >> 4) * 10 + (v & 15) : v;
}

void cmos_read_time(struct datetime *dt)
{
    for (int i = 0; i < 100000 && (cmos(0x0A) & 0x80); i++)
        pause();
    uint8_t b = cmos(0x0B);
    bool bcd = !(b & 4), h12 = !(b & 2);
    uint8_t hour = cmos(4);
    bool pm = hour & 0x80;
    dt->sec = from_bcd(cmos(0), bcd);
    dt->min = from_bcd(cmos(2), bcd);
    dt->hour = from_bcd(hour & 0x7F, bcd);
    if (h12)
        dt->hour = (dt->hour % 12) + (pm ? 12 : 0);
    dt->day = from_bcd(cmos(7), bcd);
    dt->month = from_bcd(cmos(8), bcd);
    dt->year = 2000 + from_bcd(cmos(9), bcd);
    dt->weekday = 0;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

void cmos_now(struct datetime *dt)
{
    if (!have_boot_time) {
        cmos_read_time(&boot_time);
        boot_ns = time_ns();
        have_boot_time = true;
    }
    static const uint8_t mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    *dt = boot_time;
    uint64_t secs = (time_ns() - boot_ns) / 1000000000ull + dt->sec + 60ull * dt->min + 3600ull * dt->hour;
    uint64_t days = secs / 86400;
    secs %= 86400;
    dt->hour = secs / 3600;
    dt->min = (secs / 60) % 60;
    dt->sec = secs % 60;
    while (days--) {
        unsigned dim = mdays[(dt->month - 1) % 12] + (dt->month == 2 && leap(dt->year));
        if (++dt->day > dim) {
            dt->day = 1;
            if (++dt->month > 12) {
                dt->month = 1;
                dt->year++;
            }
        }
    }
}

/* 8254 programmable interval timer, channel 0 (IRQ 0). */
#include "arch.h"
#include "pit.h"
#include "str.h"

#define PIT_CH0     0x40
#define PIT_CMD     0x43

static uint32_t current_divisor = 65536;

void pit_set_divisor(uint32_t divisor)
{
    if (divisor < 1)
        divisor = 1;
    if (divisor > 65536)
        divisor = 65536;
    current_divisor = divisor;
    outb(PIT_CMD, 0x34);                /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(PIT_CH0, divisor & 0xff);      /* 65536 is written as 0 */
    outb(PIT_CH0, (divisor >> 8) & 0xff);
}

void pit_set_periodic(uint32_t hz)
{
    if (hz == 0)
        hz = 1;
    pit_set_divisor((PIT_INPUT_HZ + hz / 2) / hz);
}

uint32_t pit_read_count(void)
{
    outb(PIT_CMD, 0x00);                /* latch channel 0 */
    uint32_t lo = inb(PIT_CH0);
    uint32_t hi = inb(PIT_CH0);
    uint32_t count = lo | (hi << 8);
    return count ? count : 65536;
}

bool pit_poll_wait_us(uint32_t us)
{
    uint64_t target = u64_divmod((uint64_t)us * PIT_INPUT_HZ, 1000000, NULL);
    uint64_t elapsed = 0;
    uint32_t prev = pit_read_count(), same = 0;
    while (elapsed < target) {
        uint32_t cur = pit_read_count();
        if (cur == prev) {
            if (++same > 1000000)
                return false;
            continue;
        }
        same = 0;
        /* Counting down, reloading from the divisor after reaching 1. */
        elapsed += cur < prev ? prev - cur : prev + current_divisor - cur;
        prev = cur;
    }
    return true;
}

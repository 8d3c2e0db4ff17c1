/* 8254 programmable interval timer, channel 0 (IRQ 0). */
#ifndef GUEST_PIT_H
#define GUEST_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_INPUT_HZ    1193182u
#define PIT_IRQ         0

/* Channel 0 as a rate generator (mode 2) at about hz interrupts per second (19..1193182). */
void pit_set_periodic(uint32_t hz);
/* Channel 0, mode 2, with a raw divisor (1..65536). */
void pit_set_divisor(uint32_t divisor);
/* Latch and read channel 0's current count. */
uint32_t pit_read_count(void);
/*
 * Busy-wait about us microseconds by watching channel 0 count down (it must
 * already run in mode 2; works with IF=0). False if the counter never moved.
 */
bool pit_poll_wait_us(uint32_t us);

#endif

/*
 * tinyos: a small preemptive guest OS. Task 0 is the boot thread: it runs the
 * console (status lines, shell) and halts when idle; tasks 1..N only count.
 * The timer interrupt switches tasks round-robin by swapping saved frames.
 */
#ifndef TINYOS_H
#define TINYOS_H

#include "guest.h"

#define TINYOS_MAX_TASKS 8

/* Create count counting tasks (1..TINYOS_MAX_TASKS); the caller becomes task 0. */
void sched_init(unsigned count);
/* Number of counting tasks. */
unsigned sched_task_count(void);
/* Counter of counting task i (0-based); read with interrupts off. */
uint64_t sched_counter(unsigned i);
/* Timer ticks since sched_init. */
uint32_t sched_ticks(void);
/* IRQ 0: count the tick, flag a status line every `every` ticks, pick the next task. */
struct int_frame *sched_timer_irq(struct int_frame *f);
/* IRQ 4: take the UART's bytes and run the console task next. */
struct int_frame *sched_uart_irq(struct int_frame *f);
/* Set how many ticks apart status lines are due. */
void sched_set_status_every(uint32_t every);
/* True once per due status line (clears the flag). Call with interrupts off. */
bool sched_take_status_due(void);

/* The console: status lines and the command shell; never returns. */
void shell_run(uint32_t hz, bool echo) __attribute__((noreturn));

#endif

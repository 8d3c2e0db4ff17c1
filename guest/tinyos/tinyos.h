/*
 * tinyos: a small preemptive guest OS. Task 0 is the boot thread: it runs the
 * console (status lines, shell) and halts when idle; tasks 1..N only count.
 * The timer interrupt switches tasks round-robin by swapping saved frames. The
 * tasks and the shell are the runtime's (guest/lib/tasks.c, tshell.c), shared
 * with pvos; what is tinyos's own is the PIC, PIT, UART and RTC behind them.
 */
#ifndef TINYOS_H
#define TINYOS_H

#include "guest.h"
#include "tasks.h"
#include "tshell.h"

/* IRQ 0: count the tick, flag a status line every `every` ticks, pick the next task. */
struct int_frame *sched_timer_irq(struct int_frame *f);
/* IRQ 4: take the UART's bytes and run the console task next. */
struct int_frame *sched_uart_irq(struct int_frame *f);

/* The console: status lines and the command shell; never returns. */
void shell_run(uint32_t hz, bool echo) __attribute__((noreturn));

#endif

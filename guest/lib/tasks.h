/*
 * The counting tasks of tinyos and pvos. Task 0 is the boot thread: it runs the console
 * and idles; tasks 1..N only count. A task's state is the interrupt frame saved on its
 * stack, so the guest's tick handler switches tasks by returning another task's frame.
 * Also the tick count, the status lines due every `every` ticks, and the options both
 * guests take. Nothing here touches a device or the interrupt flag: the guest brings the
 * tick (PIT interrupt or timer upcall) and its own way of masking, so pvos stays free of
 * port I/O, CLI and STI.
 */
#ifndef GUEST_TASKS_H
#define GUEST_TASKS_H

#include <stdbool.h>
#include <stdint.h>

#include "desc.h"

#define TASKS_MAX 8

/* The command-line options tinyos and pvos share (README), the console's echo= with them. */
struct tasks_options {
    uint32_t hz;                /* hz=: ticks a second, 19..10000 (default 100) */
    uint32_t ntasks;            /* tasks=: counting tasks, 1..TASKS_MAX (default 2) */
    uint32_t every;             /* every=: ticks between status lines (default hz) */
    bool echo;                  /* echo=off: do not echo keystrokes */
};

/* Reads the options from a Multiboot command line, clamped to their ranges. */
void tasks_read_options(const char *cmdline, struct tasks_options *o);

/* Create count counting tasks (clamped to 1..TASKS_MAX); the caller becomes task 0. */
void tasks_init(unsigned count);
/* Set how many ticks apart status lines are due. */
void tasks_set_status_every(uint32_t every);
/* Timer ticks counted so far. */
uint32_t tasks_ticks(void);

/* What a status line shows, read at one instant. */
struct tasks_snapshot {
    uint32_t ticks;
    unsigned count;                     /* counting tasks */
    uint64_t counters[TASKS_MAX];       /* counting task i's counter at [i] */
};
/* Fill s. Call with interrupts off (cli, or pvos's mask): the counters are 64-bit, and a
 * counting task that ran in the middle of a read would tear it. */
void tasks_snapshot(struct tasks_snapshot *s);
/* True once per due status line (clears the flag). Call with interrupts off. */
bool tasks_take_status_due(void);

/* From the tick handler: count n ticks (more than one when a paravirtual guest waited for
 * the CPU), and flag a status line, and the console, when a multiple of every is passed. */
void tasks_tick(uint32_t n);
/* From an interrupt handler: run task 0 at the next tasks_switch, whatever it is given. */
void tasks_want_console(void);
/* The task that was running when the interrupt came. */
unsigned tasks_current(void);
/* The task after t, round robin over task 0 and the counting tasks. */
unsigned tasks_next(unsigned t);
/* Save f as the current task's frame and return the frame to resume: task 0's if the
 * console is wanted, else next's. */
struct int_frame *tasks_switch(struct int_frame *f, unsigned next);

#endif

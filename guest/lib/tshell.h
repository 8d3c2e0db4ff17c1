/*
 * The shell that tinyos and pvos share: a line editor fed one received byte at a time, the
 * commands both guests have (help, echo TEXT, ticks, tasks) and then the guest's own table,
 * each run by its first word, and the start of their status line. Every byte goes out
 * through the guest's own printf, the UART's or pvos's console hypercall (pv_printf), so
 * that pvos makes no port I/O; input, idling and masking stay the guest's own loop.
 */
#ifndef GUEST_TSHELL_H
#define GUEST_TSHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tasks.h"

#define TSHELL_LINE_MAX 80          /* a line's bytes, its NUL included */

struct tshell;

/* Where the shell's output goes: printf, or pv_printf. */
typedef int (*tshell_printf_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct tshell_command {
    const char *name;
    const char *usage;              /* as help lists it ("echo TEXT"); NULL: the name */
    void (*run)(struct tshell *sh, const char *args);
};

struct tshell {
    tshell_printf_fn print;
    void (*status)(void);           /* prints a status line, for tasks */
    const struct tshell_command *commands;  /* the guest's own, listed after the common ones */
    size_t ncommands;
    uint32_t hz;                    /* the tick rate, for ticks */
    bool echo;                      /* echo keystrokes (echo=off for scripts) */
    size_t len;                     /* the line typed so far */
    char line[TSHELL_LINE_MAX];
};

/* Feed one received byte to the line editor: a printable byte is added (the rest of a
 * full line is dropped), backspace or DEL takes one back, CR or LF runs the line. */
void tshell_take_char(struct tshell *sh, int c);

/* The status line's start, "tick T: tasks C1 ... Cn", which tests parse; the guest ends
 * it with its clock (" rtc HH:MM:SS\n"). */
void tshell_print_tasks(const struct tshell *sh, const struct tasks_snapshot *s);

#endif

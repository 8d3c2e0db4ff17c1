/* The serial console shell ("hv> "): line editing, a table of commands, their help. */
#ifndef KERNEL_SHELL_SHELL_H
#define KERNEL_SHELL_SHELL_H

#include <stdbool.h>
#include <stdint.h>

#define SHELL_MAX_ARGS 16

struct shell_command {
    const char *name;
    const char *usage;          /* arguments, e.g. "NAME" */
    const char *help;           /* one line */
    int (*run)(int argc, char **argv);
};

/* Prints the first prompt and starts accepting input. */
void shell_init(void);
/* Handles the input bytes that have arrived; returns true if it consumed any. */
bool shell_poll(void);
/* Sends every input byte to hook instead of the line editor (console attach mode).
 * When hook returns false, or on shell_set_input_hook(NULL), the shell shows its
 * prompt again. The prompt stays off the screen while a hook is set. */
void shell_set_input_hook(bool (*hook)(uint8_t byte));
/* Optional flow control for the hook: while ready() is false, input bytes wait in the
 * UART's receive queue (the attached guest's UART has no room yet). NULL: always ready. */
void shell_set_input_ready(bool (*ready)(void));
/* True if input bytes are waiting that shell_poll() would take now (the scheduler then
 * gives the shell the CPU soon). */
bool shell_input_waiting(void);
/* Fills out with at most max names of guests that start with prefix; returns how
 * many (kernel/shell/shell_guest.c; the pointers stay valid). For Tab completion. */
int shell_complete_guests(const char *prefix, const char **out, int max);
/* Splits line in place into at most max arguments at spaces; returns argc. Pure. */
int shell_tokenize(char *line, char **argv, int max);
/* Looks a command up by exact name. */
const struct shell_command *shell_find(const char *name);
/* Prints "error: ..." (one line) and returns -1, for command handlers. */
int shell_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/* The serial console shell ("hv> "): line editing, a table of commands, their help. */
#ifndef KERNEL_SHELL_H
#define KERNEL_SHELL_H

#include <stdbool.h>

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
/* Splits line in place into at most max arguments at spaces; returns argc. Pure. */
int shell_tokenize(char *line, char **argv, int max);
/* Looks a command up by exact name. */
const struct shell_command *shell_find(const char *name);
/* Prints "error: ..." (one line) and returns -1, for command handlers. */
int shell_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

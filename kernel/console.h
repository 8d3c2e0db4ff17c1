/* The serial console: the hypervisor's output and the user's keystrokes, over COM1. */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <stddef.h>
#include <stdbool.h>

/* Writes text to the console ('\n' becomes "\r\n"); never drops bytes (waits when the queue is full). */
void console_write(const char *s, size_t n);
/* Writes one complete line of asynchronous output (log or guest line): the shell's
 * prompt and half-typed line are taken off the screen first and redrawn after. */
void console_write_line(const char *s, size_t n);
/* Brackets several lines of asynchronous output (a crash report): the shell's line is
 * taken off the screen at begin and redrawn at end. */
void console_async_begin(void);
void console_async_end(void);
/* Registers how to redraw the shell's input line after asynchronous output (NULL: nothing). */
void console_set_prompt_redraw(void (*redraw)(void));
/* Tells the console whether the shell's input line is on screen. */
void console_prompt_visible(bool visible);
/* Returns the next received byte, or -1 if none is waiting. */
int console_getc(void);
/* Switches to polled output for a panic report: flushes what is queued. */
void console_panic_mode(void);

#endif

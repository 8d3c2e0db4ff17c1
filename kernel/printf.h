/* printf-style formatting into a buffer: %d %i %u %x %X %p %s %c %% with flags '-' '0',
 * width, precision (also '*'), and the length modifiers hh h l ll z. */
#ifndef KERNEL_PRINTF_H
#define KERNEL_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into buf (always NUL-terminated when size > 0); returns the length the full
 * output would have had, like C99 vsnprintf. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

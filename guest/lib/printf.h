/* printf for guests: output to COM1, or into a buffer. */
#ifndef GUEST_PRINTF_H
#define GUEST_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Conversions: %d %i %u %x %X %p %s %c %%, length modifiers l and ll
 * (ll for uint64_t), flags '-' and '0', a width (or '*').
 * Returns the number of characters produced.
 */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
/* Like printf into buf (always NUL-terminated when size > 0); returns the full length. */
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/* Write s and a newline. */
void puts(const char *s);

#endif

/* printf for guests: one formatter feeding either the UART or a buffer. */
#include <stdbool.h>
#include <stdint.h>

#include "printf.h"
#include "str.h"
#include "uart.h"

struct sink {
    bool uart;          /* true: the UART, false: buf */
    char *buf;
    size_t size;
    size_t len;
};

static void sink_put(struct sink *s, char c)
{
    if (s->uart)
        uart_putc(c);
    else if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void sink_pad(struct sink *s, char c, int n)
{
    while (n-- > 0)
        sink_put(s, c);
}

/* Digits of v in base 10 or 16, least significant first; returns their count. */
static int format_digits(char *tmp, uint64_t v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        uint32_t d;
        if (base == 16) {
            d = (uint32_t)v & 15;
            v >>= 4;
        } else {
            v = u64_divmod(v, base, &d);
        }
        tmp[n++] = digits[d];
    } while (v);
    return n;
}

static void format_number(struct sink *s, uint64_t v, bool negative, unsigned base,
                          bool upper, int width, bool left, bool zero)
{
    char tmp[24];
    int n = format_digits(tmp, v, base, upper);
    int len = n + (negative ? 1 : 0);
    if (!left && !zero)
        sink_pad(s, ' ', width - len);
    if (negative)
        sink_put(s, '-');
    if (!left && zero)
        sink_pad(s, '0', width - len);
    while (n)
        sink_put(s, tmp[--n]);
    if (left)
        sink_pad(s, ' ', width - len);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            sink_put(s, *fmt);
            continue;
        }
        bool left = false, zero = false;
        int width = 0, lng = 0;
        for (fmt++; *fmt == '-' || *fmt == '0'; fmt++) {
            if (*fmt == '-')
                left = true;
            else
                zero = true;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            fmt++;
        }
        for (; *fmt >= '0' && *fmt <= '9'; fmt++)
            width = width * 10 + (*fmt - '0');
        for (; *fmt == 'l'; fmt++)
            lng++;
        if (*fmt == 'z')
            fmt++;                      /* size_t is 32 bits here */

        uint64_t u;
        int64_t i;
        switch (*fmt) {
        case 'd':
        case 'i':
            i = lng >= 2 ? va_arg(ap, long long) : (lng ? va_arg(ap, long) : va_arg(ap, int));
            u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
            format_number(s, u, i < 0, 10, false, width, left, zero);
            break;
        case 'u':
        case 'x':
        case 'X':
            u = lng >= 2 ? va_arg(ap, unsigned long long)
                         : (lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int));
            format_number(s, u, false, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, left, zero);
            break;
        case 'p':
            sink_put(s, '0');
            sink_put(s, 'x');
            format_number(s, (uintptr_t)va_arg(ap, void *), false, 16, false, 8, false, true);
            break;
        case 'c': {
            int pad = width - 1;
            if (!left)
                sink_pad(s, ' ', pad);
            sink_put(s, (char)va_arg(ap, int));
            if (left)
                sink_pad(s, ' ', pad);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int pad = width - (int)strlen(str);
            if (!left)
                sink_pad(s, ' ', pad);
            while (*str)
                sink_put(s, *str++);
            if (left)
                sink_pad(s, ' ', pad);
            break;
        }
        case '%':
            sink_put(s, '%');
            break;
        case '\0':
            return;
        default:
            sink_put(s, '%');
            sink_put(s, *fmt);
            break;
        }
    }
}

int vprintf(const char *fmt, va_list ap)
{
    struct sink s = { .uart = true };
    format(&s, fmt, ap);
    return (int)s.len;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { .buf = buf, .size = size };
    format(&s, fmt, ap);
    if (size)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return (int)s.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void puts(const char *s)
{
    while (*s)
        uart_putc(*s++);
    uart_putc('\n');
}

/* printf-style formatting: the one formatter behind the log, the shell and panic reports. */
#include "kernel/printf.h"
#include <stdint.h>
#include <stdbool.h>

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_padding(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

struct spec {
    bool left;
    bool zero;
    int width;
    int precision;  /* -1: none */
};

static void put_string(struct out *o, const char *s, const struct spec *sp)
{
    int n = 0;
    if (!s)
        s = "(null)";
    while (s[n] && (sp->precision < 0 || n < sp->precision))
        n++;
    if (!sp->left)
        put_padding(o, ' ', sp->width - n);
    for (int i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        put_padding(o, ' ', sp->width - n);
}

static void put_number(struct out *o, uint64_t v, bool negative, unsigned base, bool upper,
                       const char *prefix, const struct spec *sp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    while (v || (n == 0 && sp->precision != 0)) {   /* C: "%.0d" of 0 prints no digits */
        tmp[n++] = digits[v % base];
        v /= base;
    }
    int digits_len = n;
    if (sp->precision > digits_len)
        digits_len = sp->precision;
    int prefix_len = (negative ? 1 : 0) + (int)__builtin_strlen(prefix);
    int pad = sp->width - digits_len - prefix_len;
    if (!sp->left && !(sp->zero && sp->precision < 0))
        put_padding(o, ' ', pad);
    if (negative)
        put(o, '-');
    for (const char *p = prefix; *p; p++)
        put(o, *p);
    if (!sp->left && sp->zero && sp->precision < 0)
        put_padding(o, '0', pad);
    put_padding(o, '0', digits_len - n);
    while (n)
        put(o, tmp[--n]);
    if (sp->left)
        put_padding(o, ' ', pad);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        struct spec sp = { false, false, 0, -1 };
        fmt++;
        for (;; fmt++) {
            if (*fmt == '-')
                sp.left = true;
            else if (*fmt == '0')
                sp.zero = true;
            else
                break;
        }
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            sp.precision = 0;
            if (*fmt == '*') {
                sp.precision = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    sp.precision = sp.precision * 10 + (*fmt++ - '0');
            }
        }
        int length = 0;     /* -2 hh, -1 h, 0 int, 1 long, 2 long long / size_t */
        for (;; fmt++) {
            if (*fmt == 'h')
                length--;
            else if (*fmt == 'l')
                length++;
            else if (*fmt == 'z')
                length = 2;
            else
                break;
        }

        uint64_t u;
        int64_t s;
        switch (*fmt) {
        case 'd':
        case 'i':
            if (length >= 1)
                s = length == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            else
                s = va_arg(ap, int);
            if (length == -1)
                s = (short)s;
            else if (length <= -2)
                s = (signed char)s;
            put_number(&o, s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s, s < 0, 10, false, "", &sp);
            break;
        case 'u':
        case 'x':
        case 'X':
            if (length >= 1)
                u = length == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long);
            else
                u = va_arg(ap, unsigned int);
            if (length == -1)
                u = (uint16_t)u;
            else if (length <= -2)
                u = (uint8_t)u;
            put_number(&o, u, false, *fmt == 'u' ? 10 : 16, *fmt == 'X', "", &sp);
            break;
        case 'p':
            u = (uintptr_t)va_arg(ap, void *);
            sp.zero = true;
            if (sp.width == 0)
                sp.width = 18;
            put_number(&o, u, false, 16, false, "0x", &sp);
            break;
        case 's':
            put_string(&o, va_arg(ap, const char *), &sp);
            break;
        case 'c': {
            char c[2] = { (char)va_arg(ap, int), 0 };
            sp.precision = 1;
            if (c[0] == 0) {        /* keep a NUL character visible in the count */
                put(&o, 0);
                break;
            }
            put_string(&o, c, &sp);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:        /* unknown conversion: print it as written */
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

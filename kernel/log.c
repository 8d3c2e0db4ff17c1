/* The hypervisor's log: formats "hv: " lines and hands them to the console. */
#include "kernel/log.h"
#include "kernel/console.h"
#include "kernel/printf.h"
#include "kernel/string.h"

enum log_level log_level = LOG_INFO;

static const char *const level_names[LOG_LEVEL_COUNT] = {
    "error", "warn", "info", "debug", "trace",
};

int log_level_parse(const char *name)
{
    for (int i = 0; i < LOG_LEVEL_COUNT; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return level < LOG_LEVEL_COUNT ? level_names[level] : "?";
}

void vkprintf(const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n > (int)sizeof buf - 1)
        n = sizeof buf - 1;
    console_write(buf, (size_t)n);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vkprintf(fmt, ap);
    va_end(ap);
}

void log_printf(enum log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char buf[512];
    memcpy(buf, "hv: ", 4);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + 4, sizeof buf - 5, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 6)
        n = sizeof buf - 6;
    n += 4;
    buf[n++] = '\n';
    console_write_line(buf, (size_t)n);
}

/* The hypervisor's log: "hv: " lines on the console, filtered by level (option loglevel=). */
#ifndef KERNEL_LOG_H
#define KERNEL_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE, LOG_LEVEL_COUNT };

extern enum log_level log_level;

/* Prints "hv: " + the formatted message + newline if level is at or above the threshold. */
void log_printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the formatted text as is (no prefix, no newline added, no filter). */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vkprintf(const char *fmt, va_list ap);

/* Level names: "error", "warn", "info", "debug", "trace". Returns -1 for an unknown name. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

#define hv_error(...) log_printf(LOG_ERROR, __VA_ARGS__)
#define hv_warn(...)  log_printf(LOG_WARN, __VA_ARGS__)
#define hv_info(...)  log_printf(LOG_INFO, __VA_ARGS__)
#define hv_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
#define hv_trace(...) log_printf(LOG_TRACE, __VA_ARGS__)

#endif

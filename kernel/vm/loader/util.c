/* Small helpers the guest loaders share: refusal reasons and table checksums. */
#include "kernel/vm/loader/util.h"
#include <stdarg.h>
#include "kernel/printf.h"

int loader_fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

uint8_t loader_checksum(const void *p, uint32_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + b[i]);
    return (uint8_t)-sum;
}

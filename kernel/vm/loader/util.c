/* Small helpers the guest loaders share: refusal reasons, table checksums, the PC memory map. */
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

void loader_pc_map(uint64_t ram_size, struct pc_map_entry map[PC_MAP_ENTRIES])
{
    map[0] = (struct pc_map_entry){ 0, PC_EBDA_GPA, PC_MAP_RAM };
    map[1] = (struct pc_map_entry){ PC_EBDA_GPA, PC_HOLE_GPA - PC_EBDA_GPA, PC_MAP_RESERVED };
    map[2] = (struct pc_map_entry){ PC_BIOS_GPA, PC_BIOS_END - PC_BIOS_GPA, PC_MAP_RESERVED };
    map[3] = (struct pc_map_entry){ PC_BIOS_END, ram_size - PC_BIOS_END, PC_MAP_RAM };
}

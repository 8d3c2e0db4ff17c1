/* Small helpers the guest loaders share: refusal reasons and table checksums. */
#ifndef KERNEL_VM_LOADER_UTIL_H
#define KERNEL_VM_LOADER_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Formats a one-line reason into why (at most size bytes) and returns -1. */
int loader_fail(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The byte that makes the len bytes at p sum to zero (ACPI and SMBIOS checksums). */
uint8_t loader_checksum(const void *p, uint32_t len);

#endif

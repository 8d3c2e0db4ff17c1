/* Freestanding memory, string and number-parsing helpers for guests. */
#ifndef GUEST_STR_H
#define GUEST_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Same contracts as ISO C; gcc may also emit calls to the first four. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Parse a decimal or 0x-prefixed hex number of exactly len characters; false if malformed or > 32 bits. */
bool parse_u32(const char *s, size_t len, uint32_t *out);

/* 64-by-32 unsigned division without libgcc: returns n / d and stores n % d in *rem (if not NULL). */
uint64_t u64_divmod(uint64_t n, uint32_t d, uint32_t *rem);

#endif

/* A fake guest RAM for the host unit tests of the guest loaders and table builders (unit
 * tests only): one static RAM and the struct guest_mem that reaches it, and little-endian
 * readers that fail the test on an address outside it. Include it after cmocka.h. */
#ifndef TESTS_UNIT_FAKE_RAM_H
#define TESTS_UNIT_FAKE_RAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kernel/vm/loader/multiboot.h"     /* struct guest_mem */

#ifndef MiB                             /* some sources under test define it too */
#define MiB (1ull << 20)
#endif
#define RAM_FILL 0xAA                   /* what every byte holds until something writes it */

/* A heap buffer, so the sanitizer catches a write past its end. A hole
 * [hole_start, hole_end) is not RAM, as a VM without memory in the BIOS area would be;
 * ram_alloc() leaves none. */
struct fake_ram {
    uint8_t *bytes;
    uint64_t size;
    uint64_t hole_start, hole_end;
};

static inline void *fake_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
    struct fake_ram *r = ctx;
    if (gpa > r->size || len > r->size - gpa)
        return NULL;
    if (gpa < r->hole_end && r->hole_start < gpa + len)
        return NULL;
    return r->bytes + gpa;
}

static struct fake_ram ram;
static struct guest_mem mem;

/* Replaces the RAM with size bytes of RAM_FILL, without a hole. */
static inline void ram_alloc(uint64_t size)
{
    free(ram.bytes);
    ram = (struct fake_ram){.bytes = malloc(size), .size = size};
    assert_non_null(ram.bytes);
    memset(ram.bytes, RAM_FILL, size);
    mem = (struct guest_mem){.ctx = &ram, .size = size, .ptr = fake_ptr};
}

static inline void ram_free(void)
{
    free(ram.bytes);
    ram.bytes = NULL;
}

/* cmocka setup and teardown for a test that needs nothing but 4 MiB of RAM. */
static inline int ram_setup(void **state)
{
    (void)state;
    ram_alloc(4 * MiB);
    return 0;
}

static inline int ram_teardown(void **state)
{
    (void)state;
    ram_free();
    return 0;
}

/* ---- Reading the RAM, little-endian. */

/* The len bytes at gpa, all of which must lie in the RAM. */
static inline const uint8_t *ram_span(uint64_t gpa, uint64_t len)
{
    assert_true(gpa <= ram.size && len <= ram.size - gpa);
    return ram.bytes + gpa;
}

static inline const uint8_t *at(uint64_t gpa) { return ram_span(gpa, 1); }
static inline uint8_t rd8(uint64_t gpa) { return *at(gpa); }
static inline uint16_t rd16(uint64_t gpa) { uint16_t v; memcpy(&v, ram_span(gpa, 2), 2); return v; }
static inline uint32_t rd32(uint64_t gpa) { uint32_t v; memcpy(&v, ram_span(gpa, 4), 4); return v; }
static inline uint64_t rd64(uint64_t gpa) { uint64_t v; memcpy(&v, ram_span(gpa, 8), 8); return v; }

/* The 8-bit sum of len bytes at gpa: 0 for a table with a good checksum. */
static inline uint8_t sum(uint64_t gpa, uint32_t len)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + rd8(gpa + i));
    return s;
}

/* Fails unless the n bytes at gpa all hold v. */
static inline void assert_ram_is(uint64_t gpa, uint64_t n, uint8_t v)
{
    const uint8_t *p = ram_span(gpa, n);
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != v)
            fail_msg("RAM at 0x%llx is 0x%02x, expected 0x%02x", (unsigned long long)(gpa + i),
                     p[i], v);
}

#endif

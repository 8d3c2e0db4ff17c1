/* A guest's RAM for the VM layer's unit tests (unit tests only): struct guest_ram over heap
 * chunks, so that the sanitizer sees every access, and the guest_ram_ptr() the VM layer calls,
 * which (as on the host, where chunks need not be adjacent) never spans two chunks. Include it
 * after cmocka.h and the sources under test. */
#ifndef TESTS_UNIT_FAKE_GUEST_RAM_H
#define TESTS_UNIT_FAKE_GUEST_RAM_H

#include <stdint.h>
#include <stdlib.h>
#include "vmx/guest_mem.h"

void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa >= ram->size || len > ram->size - gpa)
        return NULL;
    if (gpa / GUEST_RAM_CHUNK != (gpa + len - 1) / GUEST_RAM_CHUNK)
        return NULL;                    /* test chunks are not contiguous on the host */
    return (void *)(uintptr_t)(ram->chunks[gpa / GUEST_RAM_CHUNK] + gpa % GUEST_RAM_CHUNK);
}

/* size bytes of zeroed RAM (a multiple of GUEST_RAM_CHUNK). */
static inline void fake_guest_ram_alloc(struct guest_ram *ram, uint64_t size)
{
    ram->size = size;
    ram->n_chunks = (unsigned)(size / GUEST_RAM_CHUNK);
    for (unsigned i = 0; i < ram->n_chunks; i++)
        ram->chunks[i] = (uint64_t)(uintptr_t)calloc(1, GUEST_RAM_CHUNK);
}

static inline void fake_guest_ram_free(struct guest_ram *ram)
{
    for (unsigned i = 0; i < ram->n_chunks; i++)
        free((void *)(uintptr_t)ram->chunks[i]);
    ram->n_chunks = 0;
}

/* The host address of guest-physical gpa (a byte of RAM). */
static inline void *fake_gptr(struct guest_ram *ram, uint64_t gpa)
{
    return guest_ram_ptr(ram, gpa, 1);
}

#endif

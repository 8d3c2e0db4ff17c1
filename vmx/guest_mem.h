/* A guest's RAM as the CPU side sees it: guest-physical [0, size) backed by 2 MiB host
 * chunks, which its EPT maps. The VM layer allocates it; vmx/ reads through it when it
 * walks the guest's page tables or fetches an instruction to decode. */
#ifndef VMX_GUEST_MEM_H
#define VMX_GUEST_MEM_H

#include <stdint.h>

#define GUEST_RAM_MAX        (1ull << 30)           /* the largest guest RAM (mem=) */
#define GUEST_RAM_CHUNK      (2ull << 20)
#define GUEST_RAM_MAX_CHUNKS (GUEST_RAM_MAX / GUEST_RAM_CHUNK)

struct guest_ram {
    uint64_t size;                                  /* bytes */
    uint64_t chunks[GUEST_RAM_MAX_CHUNKS];          /* host-physical address of each chunk */
    unsigned n_chunks;
};

/* Host address of the len bytes at guest-physical gpa if they are all RAM and contiguous
 * on the host, else NULL. Pure. */
void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len);

#endif

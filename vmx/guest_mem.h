/* A guest's RAM as the CPU side sees it: guest-physical [0, size) backed by 2 MiB host
 * chunks, which its EPT maps. The VM layer allocates it; vmx/ reads through it when it
 * walks the guest's page tables or fetches an instruction to decode.
 *
 * Every access anfitrion makes to guest memory on the guest's behalf (string I/O, the
 * operands of an emulated MMIO instruction and its fetch, the TSS and descriptors of a task
 * switch) goes through the checked path below, which applies what the CPU would: segment
 * limits and types, canonical form and address-size wrap (guest_seg_linear), then the
 * guest's paging with its permissions, setting accessed and dirty flags (guest_translate,
 * guest_mem_read, guest_mem_write). A refused access says which fault the guest gets. */
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

struct vcpu;

/* What an access is, for the checks (SDM Vol. 3A 4.6, 5.3-5.4). */
enum {
    GUEST_READ     = 0,
    GUEST_WRITE    = 1 << 0,
    GUEST_FETCH    = 1 << 1,
    GUEST_IMPLICIT = 1 << 2,    /* a supervisor-mode access the CPU makes itself (a TSS, a
                                 * descriptor table): supervisor whatever the CPL (4.6) */
    GUEST_NOTHING  = 1 << 3,    /* bytes at no RAM read all-ones and take no writes, as a PC's
                                 * memory of nothing does, instead of GUEST_MEM_NOT_RAM */
};

/* The exception an access earns: #SS(0) (12), #GP(0) (13) or #PF (14, error code and CR2). */
struct guest_fault {
    uint8_t vector;
    uint32_t error;
    uint64_t cr2;
};

/* Page-fault error code bits (SDM Vol. 3A 4.7). */
#define PF_P    (1u << 0)
#define PF_W    (1u << 1)
#define PF_U    (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I    (1u << 4)

#define GUEST_MEM_FAULT   (-1)  /* *fault says what the guest gets; nothing was touched */
#define GUEST_MEM_NOT_RAM (-2)  /* a byte translates to memory that is not the guest's RAM */

/* MAXPHYADDR, as the guest's CPUID 80000008H reports it (the CPU's). */
unsigned guest_maxphyaddr(void);
/* Physical-address bits from MAXPHYADDR to 51, reserved in every present 8-byte paging
 * entry (SDM Vol. 3A 4.5); and the reserved bits of a present PAE PDPTE (Table 4-8: 2:1,
 * 8:5, MAXPHYADDR to 63). */
uint64_t guest_phys_reserved(void);
uint64_t guest_pdpte_reserved(void);
/* The current privilege level: SS.DPL (SDM Vol. 3C 25.4.1). */
unsigned guest_cpl(void);
/* The linear address of seg:offset (seg 0 ES ... 5 GS; offset already cut to the address
 * size) for size bytes: in 64-bit mode the base counts for FS and GS only and the address
 * must be canonical; elsewhere the limit (and in protected mode the type) is checked and the
 * address wraps at 4 GiB. 0, or GUEST_MEM_FAULT with #GP(0) (#SS(0) for SS). */
int guest_seg_linear(struct vcpu *vcpu, unsigned seg, uint64_t offset, unsigned size, unsigned access,
                     uint64_t *gla, struct guest_fault *fault);
/* The guest-physical address of linear gla through the guest's own paging, the permission
 * checks passed and the accessed (and for a write, dirty) flags set as the CPU sets them.
 * 0, or GUEST_MEM_FAULT with the #PF. A paging-structure entry outside RAM is a #PF with
 * RSVD (what all-ones, the value of memory of nothing, gives in PAE and 4-level paging). */
int guest_translate(struct vcpu *vcpu, uint64_t gla, unsigned access, uint64_t *gpa, struct guest_fault *fault);
/* len bytes at linear gla (any number of pages): every page is checked before a byte moves.
 * 0, GUEST_MEM_FAULT or GUEST_MEM_NOT_RAM (unless GUEST_NOTHING). */
int guest_mem_read(struct vcpu *vcpu, uint64_t gla, void *dst, uint64_t len, unsigned access,
                   struct guest_fault *fault);
int guest_mem_write(struct vcpu *vcpu, uint64_t gla, const void *src, uint64_t len, unsigned access,
                    struct guest_fault *fault);
/* Queues the fault for the guest (CR2 for a #PF). */
void guest_fault_inject(struct vcpu *vcpu, const struct guest_fault *fault);

#endif

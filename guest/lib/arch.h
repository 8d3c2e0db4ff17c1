/* Inline wrappers for the x86 instructions guests use: port I/O, CPUID, MSRs, control registers. */
#ifndef GUEST_ARCH_H
#define GUEST_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#define EFLAGS_IF       (1u << 9)
#define CR0_PG          (1u << 31)
#define CR4_PSE         (1u << 4)
#define CR4_VMXE        (1u << 13)

#define CPUID1_ECX_VMX          (1u << 5)
#define CPUID1_ECX_HYPERVISOR   (1u << 31)
#define CPUID1_EDX_FPU          (1u << 0)
#define CPUID1_EDX_PSE          (1u << 3)
#define CPUID1_EDX_TSC          (1u << 4)
#define CPUID1_EDX_MSR          (1u << 5)

#define MSR_IA32_TSC                0x00000010
#define MSR_IA32_FEATURE_CONTROL    0x0000003a
#define MSR_IA32_EFER               0xc0000080

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* rep insb: n bytes from port into buf. */
static inline void insb(uint16_t port, void *buf, uint32_t n)
{
    __asm__ volatile("cld; rep insb" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}

/* A write to the POST port: the classic ~1 us delay between slow ISA accesses. */
static inline void io_delay(void) { outb(0x80, 0); }

static inline void cpuid(uint32_t leaf, uint32_t subleaf,
                         uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint64_t v;
    __asm__ volatile("rdmsr" : "=A"(v) : "c"(msr));
    return v;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "A"(v) : "memory");
}

static inline uint64_t rdtsc(void)
{
    uint64_t v;
    __asm__ volatile("rdtsc" : "=A"(v));
    return v;
}

/* One aligned 32-bit MOV to or from device memory: what an emulated MMIO page decodes
 * (the compiler could otherwise fold a read-modify-write into one OR instruction). */
static inline uint32_t mmio_read32(uint32_t addr)
{
    uint32_t v;
    __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write32(uint32_t addr, uint32_t v)
{
    __asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline uint8_t mmio_read8(uint32_t addr)
{
    uint8_t v;
    __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(addr) : "memory");
    return v;
}

static inline uint16_t mmio_read16(uint32_t addr)
{
    uint16_t v;
    __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void mmio_write8(uint32_t addr, uint8_t v)
{
    __asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(addr) : "memory");
}

static inline void mmio_write16(uint32_t addr, uint16_t v)
{
    __asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

#define GUEST_CR_ACCESSORS(n) \
    static inline uint32_t read_cr##n(void) \
    { uint32_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uint32_t v) \
    { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
GUEST_CR_ACCESSORS(0)
GUEST_CR_ACCESSORS(2)
GUEST_CR_ACCESSORS(3)
GUEST_CR_ACCESSORS(4)
#undef GUEST_CR_ACCESSORS

static inline uint32_t read_eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushf; pop %0" : "=r"(v));
    return v;
}

static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void sti(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" : : : "memory"); }
/* sti;hlt back to back: an interrupt cannot slip in between the check and the halt. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" : : : "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }
static inline void barrier(void) { __asm__ volatile("" : : : "memory"); }

/* Stop this CPU for good: interrupts off, halt, and halt again after an NMI. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" : : : "memory");
}

#endif

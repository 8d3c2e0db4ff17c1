/* Thin wrappers for the x86-64 instructions the kernel uses (port I/O, MSRs, CPUID, control registers). */
#ifndef KERNEL_CPU_H
#define KERNEL_CPU_H

#include <stdint.h>
#include <stdbool.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

struct cpuid_regs { uint32_t eax, ebx, ecx, edx; };

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR(n) \
    static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline uint64_t read_rflags(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f;
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
/* Enables interrupts and halts with no window between them (STI's one-instruction shadow). */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause"); }
/* Stops this CPU for good (interrupts off). */
static inline __attribute__((noreturn)) void halt_forever(void) { for (;;) __asm__ volatile("cli; hlt" ::: "memory"); }
static inline bool irqs_enabled(void) { return read_rflags() & (1u << 9); }

/* Saves the interrupt flag and disables interrupts; irq_restore puts it back. */
static inline uint64_t irq_save(void) { uint64_t f = read_rflags(); cli(); return f; }
static inline void irq_restore(uint64_t f) { if (f & (1u << 9)) sti(); }

/* A pointer to identity-mapped physical memory. The empty asm hides the constant from the
 * compiler, which would otherwise treat low addresses such as 0x40E as null-pointer arithmetic. */
static inline void *phys_ptr(uint64_t phys)
{
    __asm__("" : "+r"(phys));
    return (void *)phys;
}

static inline uint64_t xgetbv(uint32_t idx)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(idx));
    return ((uint64_t)hi << 32) | lo;
}

#define RFLAGS_CF  (1u << 0)
#define RFLAGS_ZF  (1u << 6)
#define RFLAGS_TF  (1u << 8)
#define RFLAGS_IF  (1u << 9)
#define RFLAGS_DF  (1u << 10)
#define RFLAGS_RF  (1u << 16)
#define RFLAGS_VM  (1u << 17)
#define RFLAGS_AC  (1u << 18)

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

#define CR4_VME        (1ull << 0)
#define CR4_DE         (1ull << 3)
#define CR4_PSE        (1ull << 4)
#define CR4_PAE        (1ull << 5)
#define CR4_MCE        (1ull << 6)
#define CR4_PGE        (1ull << 7)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_LA57       (1ull << 12)
#define CR4_VMXE       (1ull << 13)
#define CR4_SMXE       (1ull << 14)
#define CR4_PCIDE      (1ull << 17)
#define CR4_OSXSAVE    (1ull << 18)
#define CR4_SMEP       (1ull << 20)
#define CR4_SMAP       (1ull << 21)
#define CR4_PKE        (1ull << 22)

#define MSR_IA32_TSC              0x10
#define MSR_IA32_APIC_BASE        0x1B
#define MSR_IA32_FEATURE_CONTROL  0x3A
#define MSR_IA32_SYSENTER_CS      0x174
#define MSR_IA32_SYSENTER_ESP     0x175
#define MSR_IA32_SYSENTER_EIP     0x176
#define MSR_IA32_PAT              0x277
#define MSR_IA32_EFER             0xC0000080
#define MSR_IA32_FS_BASE          0xC0000100
#define MSR_IA32_GS_BASE          0xC0000101
#define MSR_IA32_KERNEL_GS_BASE   0xC0000102
#define MSR_TSC_AUX               0xC0000103

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#endif

/*
 * Descriptor tables and interrupt dispatch for guests: a flat GDT, an IDT
 * with the 32 exception vectors, the 16 PIC IRQ vectors (32..47) and the
 * vectors 48..255 (LAPIC and IOAPIC interrupts, IPIs), and guest_try() to run
 * code that is expected to fault.
 */
#ifndef GUEST_DESC_H
#define GUEST_DESC_H

#include <stdbool.h>
#include <stdint.h>

#define GDT_CODE_SEL    0x08
#define GDT_DATA_SEL    0x10
#define IRQ_VECTOR_BASE 32
#define IDT_VECTORS     256
#define HIGH_VECTOR_BASE 48     /* first vector past the PIC's: int_set_handler() */

#define VEC_DE  0
#define VEC_UD  6
#define VEC_DF  8
#define VEC_GP  13
#define VEC_PF  14

/* What the stubs in entry.S push: pusha, then vector and error code, then the CPU's frame. */
struct int_frame {
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};
_Static_assert(sizeof(struct int_frame) == 13 * 4, "int_frame must match isr_common");

/* An IRQ handler: returns the frame to resume, f itself or another task's saved frame. */
typedef struct int_frame *(*irq_handler_fn)(struct int_frame *f);

/* A 32-bit TSS (SDM Vol. 3A Figure 7-2): each selector in a 32-bit slot whose upper half is
 * reserved. */
struct tss32 {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss32) == 104, "32-bit TSS layout");

/* A segment descriptor (SDM Vol. 3A 3.4.5): base, 20-bit limit, access byte (P, DPL, S, type),
 * flags nibble (G, D/B, L, AVL). */
uint64_t gdt_seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);

/* Load our GDT and reload every segment register. */
void gdt_init(void);
/* Fill and load the IDT: vectors 0..255, interrupt gates. */
void idt_init(void);
/* Load a zero-length IDT: the next exception or interrupt triple-faults. */
void idt_load_empty(void);
/* Route PIC IRQ line irq (0..15) to fn; NULL removes it. The dispatcher sends the EOI. */
void irq_set_handler(unsigned irq, irq_handler_fn fn);
/* Route vector (HIGH_VECTOR_BASE..255) to fn; NULL removes it. No EOI is sent: fn
 * does what its interrupt controller needs. An interrupt at a vector with no handler
 * is reported like an unexpected exception and halts. */
void int_set_handler(unsigned vector, irq_handler_fn fn);
/* Point vector's gate straight at stub (no common entry code, no EOI): for measurements
 * that need the handler's very first instruction. The stub ends with IRET. */
void idt_set_raw_gate(unsigned vector, void (*stub)(void));
/* Name of an exception vector, "#GP" style ("vec" past 31). */
const char *exception_name(unsigned vector);

/*
 * Run fn(arg); if it raises an exception, abandon it and return the vector,
 * else return -1. The error code is then in guest_try_error(). Not nestable.
 */
int guest_try(void (*fn)(void *), void *arg);
uint32_t guest_try_error(void);
/* RDMSR/WRMSR under guest_try: the vector raised (#GP for an MSR the CPU lacks), or -1;
 * rdmsr_safe stores the value read (0 after a fault). */
int rdmsr_safe(uint32_t msr, uint64_t *value);
int wrmsr_safe(uint32_t msr, uint64_t value);
/* The EFLAGS the CPU pushed for the last exception guest_try() caught (RF is bit 16). */
uint32_t guest_try_eflags(void);
/* The EIP the CPU pushed for it (the faulting instruction, or the next one for a trap). */
uint32_t guest_try_eip(void);

/* Set by test_title(): unexpected exceptions then also print the failing result line. */
extern bool guest_is_test;

#endif

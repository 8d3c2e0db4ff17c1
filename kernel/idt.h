/* The host's interrupt descriptor table: exceptions go to panic, device vectors to registered handlers. */
#ifndef KERNEL_IDT_H
#define KERNEL_IDT_H

#include <stdint.h>

/* The registers the common interrupt stub saves, in the order it pushes them (see isr.S). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;      /* pushed by the CPU */
};

/* Host vectors. Legacy PIC vectors 0x20-0x2F are masked; only their spurious IRQs can arrive. */
#define VEC_PIC_BASE     0x20
#define VEC_UART         0x30
#define VEC_TIMER        0xEF
#define VEC_SPURIOUS     0xFF

typedef void (*irq_handler_fn)(struct trap_frame *tf);

void idt_init(void);
/* Routes vector (32..255) to handler; the stub sends the LAPIC EOI after it returns. */
void idt_set_handler(uint8_t vector, irq_handler_fn handler);
/* The TSC when the host last took a device interrupt, and its vector (for the
 * interrupt-latency benchmark). */
extern volatile uint64_t idt_last_irq_tsc;
extern volatile uint8_t idt_last_irq_vector;
/* Interrupts counted per vector since boot. */
uint64_t idt_irq_count(uint8_t vector);
/* Name of an exception vector 0..31 ("page fault") and its mnemonic ("#PF"). */
const char *exception_name(unsigned vector);
const char *exception_mnemonic(unsigned vector);

#endif

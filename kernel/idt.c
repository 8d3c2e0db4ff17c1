/* The host IDT: 32 exception vectors that end in panic, device vectors dispatched to handlers. */
#include "kernel/idt.h"
#include "kernel/cpu.h"
#include "kernel/panic.h"
#include "kernel/gdt.h"
#include "boot/boot.h"
#include "drivers/lapic.h"

struct idt_entry {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t zero;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_entry) == 16, "IDT entry layout");

static struct idt_entry idt[256] __attribute__((aligned(16)));
static irq_handler_fn handlers[256];
static uint64_t counts[256];
extern const uint64_t isr_stubs[256];

static const char *const names[32][2] = {
    { "divide error", "#DE" }, { "debug", "#DB" }, { "non-maskable interrupt", "NMI" },
    { "breakpoint", "#BP" }, { "overflow", "#OF" }, { "bound range exceeded", "#BR" },
    { "invalid opcode", "#UD" }, { "device not available", "#NM" }, { "double fault", "#DF" },
    { "coprocessor segment overrun", "#CSO" }, { "invalid TSS", "#TS" },
    { "segment not present", "#NP" }, { "stack-segment fault", "#SS" },
    { "general protection", "#GP" }, { "page fault", "#PF" }, { "reserved 15", "#15" },
    { "x87 floating-point error", "#MF" }, { "alignment check", "#AC" },
    { "machine check", "#MC" }, { "SIMD floating-point exception", "#XM" },
    { "virtualization exception", "#VE" }, { "control protection", "#CP" },
    { "reserved 22", "#22" }, { "reserved 23", "#23" }, { "reserved 24", "#24" },
    { "reserved 25", "#25" }, { "reserved 26", "#26" }, { "reserved 27", "#27" },
    { "hypervisor injection", "#HV" }, { "VMM communication", "#VC" },
    { "security exception", "#SX" }, { "reserved 31", "#31" },
};

const char *exception_name(unsigned vector)
{
    return vector < 32 ? names[vector][0] : "interrupt";
}

const char *exception_mnemonic(unsigned vector)
{
    return vector < 32 ? names[vector][1] : "INT";
}

static void set_gate(unsigned vector, uint64_t addr, uint8_t ist)
{
    idt[vector] = (struct idt_entry){
        .offset_lo = addr & 0xFFFF,
        .selector = SEL_KCODE,
        .ist = ist,
        .type_attr = 0x8E,              /* present, DPL 0, 64-bit interrupt gate */
        .offset_mid = (addr >> 16) & 0xFFFF,
        .offset_hi = addr >> 32,
    };
}

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint8_t ist = 0;
        if (v == 2)
            ist = IST_NMI;
        else if (v == 8)
            ist = IST_DOUBLE_FAULT;
        else if (v == 18)
            ist = IST_MACHINE_CHECK;
        set_gate(v, isr_stubs[v], ist);
    }
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = {
        sizeof idt - 1, (uint64_t)idt,
    };
    __asm__ volatile("lidt %0" :: "m"(ptr));
}

void idt_set_handler(uint8_t vector, irq_handler_fn handler)
{
    handlers[vector] = handler;
}

uint64_t idt_irq_count(uint8_t vector)
{
    return counts[vector];
}

volatile uint64_t idt_last_irq_tsc;
volatile uint8_t idt_last_irq_vector;

/* Called by isr_common with interrupts disabled. */
void trap_dispatch(struct trap_frame *tf);
void trap_dispatch(struct trap_frame *tf)
{
    unsigned v = tf->vector;
    if (v < 32)
        panic_exception(tf);
    idt_last_irq_tsc = rdtsc();
    idt_last_irq_vector = (uint8_t)v;
    counts[v]++;
    if (v == VEC_SPURIOUS || v == VEC_PIC_BASE + 7 || v == VEC_PIC_BASE + 15)
        return;                         /* spurious: no EOI */
    if (handlers[v])
        handlers[v](tf);
    lapic_eoi();
}

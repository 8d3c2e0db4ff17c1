/* Descriptor tables, the interrupt dispatcher and expected-exception recovery for guests. */
#include "arch.h"
#include "desc.h"
#include "pic.h"
#include "printf.h"

struct jmp_ctx {
    uint32_t ebx, esi, edi, ebp, esp, eip, eflags;
};
int guest_setjmp(struct jmp_ctx *ctx) __attribute__((returns_twice));
void guest_longjmp(struct jmp_ctx *ctx, int val) __attribute__((noreturn));

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t zero;
    uint8_t type_attr;
    uint16_t offset_hi;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 8, "IDT gates are 8 bytes");

struct table_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

/* Null, ring-0 flat code (base 0, 4 GiB, 32-bit), ring-0 flat data. */
static const uint64_t gdt[3] __attribute__((aligned(8))) = {
    0,
    0x00cf9a000000ffffull,
    0x00cf92000000ffffull,
};

static struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(8)));
extern const uint32_t isr_stub_table[IDT_VECTORS];
static irq_handler_fn irq_handlers[16];
static irq_handler_fn high_handlers[IDT_VECTORS - HIGH_VECTOR_BASE];

static struct jmp_ctx try_ctx;
static volatile bool try_armed;
static volatile uint32_t try_vector, try_error, try_eflags, try_eip;

bool guest_is_test;

void gdt_init(void)
{
    struct table_ptr p = { sizeof(gdt) - 1, (uint32_t)gdt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "ljmp %1, $1f\n"
        "1:\n\t"
        "mov %2, %%ax\n\t"
        "mov %%ax, %%ds\n\t"
        "mov %%ax, %%es\n\t"
        "mov %%ax, %%fs\n\t"
        "mov %%ax, %%gs\n\t"
        "mov %%ax, %%ss\n\t"
        : : "m"(p), "i"(GDT_CODE_SEL), "i"(GDT_DATA_SEL) : "eax", "memory");
}

void idt_init(void)
{
    for (unsigned v = 0; v < IDT_VECTORS; v++) {
        idt[v].offset_lo = isr_stub_table[v] & 0xffff;
        idt[v].selector = GDT_CODE_SEL;
        idt[v].zero = 0;
        idt[v].type_attr = 0x8e;        /* present, DPL 0, 32-bit interrupt gate: IF off inside */
        idt[v].offset_hi = isr_stub_table[v] >> 16;
    }
    struct table_ptr p = { sizeof(idt) - 1, (uint32_t)idt };
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void idt_load_empty(void)
{
    struct table_ptr p = { 0, 0 };
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void idt_set_raw_gate(unsigned vector, void (*stub)(void))
{
    if (vector >= IDT_VECTORS)
        return;
    uint32_t at = (uint32_t)stub;
    idt[vector].offset_lo = at & 0xffff;
    idt[vector].offset_hi = at >> 16;
}

void irq_set_handler(unsigned irq, irq_handler_fn fn)
{
    if (irq < 16)
        irq_handlers[irq] = fn;
}

void int_set_handler(unsigned vector, irq_handler_fn fn)
{
    if (vector >= HIGH_VECTOR_BASE && vector < IDT_VECTORS)
        high_handlers[vector - HIGH_VECTOR_BASE] = fn;
}

const char *exception_name(unsigned vector)
{
    static const char *const names[32] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
        "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "rsvd15",
        "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "rsvd22", "rsvd23",
        "rsvd24", "rsvd25", "rsvd26", "rsvd27", "#HV", "#VC", "#SX", "rsvd31",
    };
    return vector < 32 ? names[vector] : "vec";
}

int guest_try(void (*fn)(void *), void *arg)
{
    if (guest_setjmp(&try_ctx) != 0)
        return (int)try_vector;
    try_armed = true;
    fn(arg);
    try_armed = false;
    return -1;
}

struct msr_op {
    uint32_t msr;
    uint64_t value;
};

static void do_rdmsr(void *arg)
{
    struct msr_op *op = arg;
    op->value = rdmsr(op->msr);
}

static void do_wrmsr(void *arg)
{
    struct msr_op *op = arg;
    wrmsr(op->msr, op->value);
}

int rdmsr_safe(uint32_t msr, uint64_t *value)
{
    struct msr_op op = { msr, 0 };
    int vec = guest_try(do_rdmsr, &op);
    *value = op.value;
    return vec;
}

int wrmsr_safe(uint32_t msr, uint64_t value)
{
    struct msr_op op = { msr, value };
    return guest_try(do_wrmsr, &op);
}

uint32_t guest_try_error(void)
{
    return try_error;
}

uint32_t guest_try_eflags(void)
{
    return try_eflags;
}

uint32_t guest_try_eip(void)
{
    return try_eip;
}

static void __attribute__((noreturn)) unexpected_exception(const struct int_frame *f)
{
    printf("unexpected %s %u (%s) at EIP=0x%08x err=0x%x", f->vector < 32 ? "exception" : "interrupt",
           f->vector, exception_name(f->vector), f->eip, f->error);
    if (f->vector == VEC_PF)
        printf(" CR2=0x%08x", read_cr2());
    printf("\n  eax=%08x ebx=%08x ecx=%08x edx=%08x esi=%08x edi=%08x ebp=%08x eflags=%08x\n",
           f->eax, f->ebx, f->ecx, f->edx, f->esi, f->edi, f->ebp, f->eflags);
    if (guest_is_test)
        printf("Test result: FAIL\n");
    halt_forever();
}

/* Called by isr_common with the saved frame; returns the frame to resume. */
struct int_frame *int_dispatch(struct int_frame *f);
struct int_frame *int_dispatch(struct int_frame *f)
{
    if (f->vector < IRQ_VECTOR_BASE) {
        if (try_armed) {
            try_armed = false;
            try_vector = f->vector;
            try_error = f->error;
            try_eflags = f->eflags;
            try_eip = f->eip;
            guest_longjmp(&try_ctx, 1);
        }
        unexpected_exception(f);
    }
    if (f->vector >= HIGH_VECTOR_BASE) {
        irq_handler_fn fn = high_handlers[f->vector - HIGH_VECTOR_BASE];
        if (!fn)
            unexpected_exception(f);
        return fn(f);
    }
    unsigned irq = f->vector - IRQ_VECTOR_BASE;
    if (pic_is_spurious(irq))
        return f;
    struct int_frame *next = f;
    if (irq_handlers[irq])
        next = irq_handlers[irq](f);
    pic_eoi(irq);
    return next;
}

uint64_t gdt_seg_desc(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint64_t d = (limit & 0xFFFF) | (uint64_t)(base & 0xFFFFFF) << 16 | (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xF) << 48 | (uint64_t)(flags & 0xF) << 52;
    return d | (uint64_t)(base >> 24) << 56;
}

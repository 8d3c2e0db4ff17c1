/* The host GDT and TSS. Selectors match boot/boot.h so the switch from the boot GDT is seamless. */
#include "kernel/gdt.h"
#include "boot/boot.h"
#include "kernel/string.h"

#define IST_STACK_SIZE 8192

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static uint8_t ist_stacks[3][IST_STACK_SIZE] __attribute__((aligned(16)));

void gdt_init(void)
{
    gdt[0] = 0;
    gdt[SEL_KCODE / 8] = 0x00AF9A000000FFFFull;     /* 64-bit code, DPL 0 */
    gdt[SEL_KDATA / 8] = 0x00CF92000000FFFFull;     /* data, DPL 0 */

    memset(&tss, 0, sizeof tss);
    for (int i = 0; i < 3; i++)
        tss.ist[i] = (uint64_t)&ist_stacks[i][IST_STACK_SIZE];
    tss.iomap_base = sizeof tss;                    /* no I/O permission bitmap */

    uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
    gdt[SEL_TSS / 8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
                       (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[SEL_TSS / 8 + 1] = base >> 32;

    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = {
        sizeof gdt - 1, (uint64_t)gdt,
    };
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw %w2, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "ltr %w3"
        :: "m"(ptr), "i"((uint64_t)SEL_KCODE), "r"(SEL_KDATA), "r"(SEL_TSS) : "rax", "memory");
}

uint64_t gdt_base(void)
{
    return (uint64_t)gdt;
}

uint64_t tss_base(void)
{
    return (uint64_t)&tss;
}

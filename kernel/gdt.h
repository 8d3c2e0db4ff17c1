/* The host GDT and TSS: 64-bit code and data segments, and the TSS whose IST stacks take
 * NMIs, double faults and machine checks on known-good stacks. */
#ifndef KERNEL_GDT_H
#define KERNEL_GDT_H

#include <stdint.h>

#define IST_NMI           1
#define IST_DOUBLE_FAULT  2
#define IST_MACHINE_CHECK 3

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS layout");

/* Loads the final GDT (same selectors as the boot GDT) and the TSS. */
void gdt_init(void);
/* Base addresses the VMCS host-state area needs. */
uint64_t gdt_base(void);
uint64_t tss_base(void);

#endif

/* The guest's debug registers in the hardware. DR7 is in the VMCS (VM entry loads it, VM exit
 * sets the host's to 0x400, SDM 27.3.1.1/28.5.1), but DR0-DR3 and DR6 are not: the CPU's own
 * registers hold the state owner's values while it runs, so its breakpoints and watchpoints
 * fire and a #DB updates its DR6 (SDM 18.2). The host itself sets no breakpoints. */
#include "vmx/exits.h"

uint64_t dr_hw_read(unsigned n)
{
    uint64_t v = 0;
    switch (n) {
    case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(v)); break;
    case 1: __asm__ volatile("mov %%dr1, %0" : "=r"(v)); break;
    case 2: __asm__ volatile("mov %%dr2, %0" : "=r"(v)); break;
    case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(v)); break;
    case 6: __asm__ volatile("mov %%dr6, %0" : "=r"(v)); break;
    default: break;
    }
    return v;
}

void dr_hw_write(unsigned n, uint64_t v)
{
    switch (n) {
    case 0: __asm__ volatile("mov %0, %%dr0" : : "r"(v)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" : : "r"(v)); break;
    case 2: __asm__ volatile("mov %0, %%dr2" : : "r"(v)); break;
    case 3: __asm__ volatile("mov %0, %%dr3" : : "r"(v)); break;
    case 6: __asm__ volatile("mov %0, %%dr6" : : "r"(v)); break;
    default: break;
    }
}

/* Guest test realmode: exceptions the hypervisor injects into a guest in real mode (issue 10,
 * item 1). Unrestricted guest lets a guest clear CR0.PE; in real mode an exception pushes no
 * error code, and VM entry refuses an injection that asks for one (SDM Vol. 3C 27.2.1.3), so
 * a #GP the hypervisor gives for RDMSR of an unknown MSR, MOV CR0 with PG=1 and PE=0, or
 * XSETBV of XCR1 used to stop the guest with "VM entry with invalid control field(s)".
 *
 * The guest drops to real mode through a 16-bit protected-mode segment, runs the three
 * instructions with its own real-mode IVT counting #GP and #UD (each handler skips the
 * faulting instruction), and comes back to 32-bit protected mode. */
#include "guest.h"

#define BLOB_ADDR   0x1000u         /* where the 16-bit code runs (below 64 KiB, segment 0) */
#define RM_GP_COUNT 0x0F00u         /* bytes the real-mode handlers count in */
#define RM_UD_COUNT 0x0F01u
#define RM_SKIP     0x0F08u         /* length of the instruction under test */
#define RM_IDTR     0x0F10u         /* limit 0x3FF, base 0: the real-mode IVT */
#define CR4_OSXSAVE (1u << 18)

extern char rm_blob_start[], rm_blob_end[], rm_gp_handler[], rm_ud_handler[];
void rm_enter(void);

__asm__(
    ".section .text\n"
    ".globl rm_enter, rm_blob_start, rm_blob_end, rm_gp_handler, rm_ud_handler\n"
    ".code32\n"
    "rm_enter:\n"
    "    pushal\n"
    "    movl %esp, rm_saved_esp\n"
    "    ljmp $0x18, $(0x1000 + (rm_pm16 - rm_blob_start))\n"
    "rm_blob_start:\n"
    ".code16\n"
    "rm_pm16:\n"                                /* 16-bit protected mode, segment base 0 */
    "    movw $0x20, %ax\n"
    "    movw %ax, %ds\n    movw %ax, %es\n    movw %ax, %ss\n    movw %ax, %fs\n    movw %ax, %gs\n"
    "    movl %cr0, %eax\n"
    "    andl $0xfffffffe, %eax\n"
    "    movl %eax, %cr0\n"                     /* PE=0: real mode from the next far jump */
    "    ljmp $0, $(0x1000 + (rm_real - rm_blob_start))\n"
    "rm_real:\n"
    "    xorw %ax, %ax\n"
    "    movw %ax, %ds\n    movw %ax, %es\n    movw %ax, %ss\n"
    "    movw $0x0ff0, %sp\n"
    "    lidt 0x0f10\n"
    "    movb $2, 0x0f08\n"
    "    movl $0x1234, %ecx\n"
    "    rdmsr\n"                               /* 0F 32: #GP, an MSR that does not exist */
    "    movb $3, 0x0f08\n"
    "    movl %cr0, %eax\n"
    "    orl $0x80000000, %eax\n"
    "    movl %eax, %cr0\n"                     /* 0F 22 C0: #GP, PG without PE */
    "    movb $3, 0x0f08\n"
    "    movl $1, %ecx\n"
    "    xorl %eax, %eax\n    xorl %edx, %edx\n"
    "    xsetbv\n"                              /* 0F 01 D1: #GP, XCR1 */
    "    movl %cr0, %eax\n"
    "    orl $1, %eax\n"
    "    movl %eax, %cr0\n"
    "    ljmpl $0x08, $rm_back\n"
    "rm_gp_handler:\n"                          /* IP, CS, FLAGS on the stack; no error code */
    "    incb 0x0f00\n"
    "    jmp rm_skip\n"
    "rm_ud_handler:\n"
    "    incb 0x0f01\n"
    "rm_skip:\n"
    "    pushw %bp\n"
    "    movw %sp, %bp\n"
    "    pushw %ax\n"
    "    movzbw 0x0f08, %ax\n"
    "    addw %ax, 2(%bp)\n"
    "    popw %ax\n"
    "    popw %bp\n"
    "    iret\n"
    "rm_blob_end:\n"
    ".code32\n"
    "rm_back:\n"
    "    movw $0x10, %ax\n"
    "    movw %ax, %ds\n    movw %ax, %es\n    movw %ax, %ss\n    movw %ax, %fs\n    movw %ax, %gs\n"
    "    movl rm_saved_esp, %esp\n"
    "    popal\n"
    "    ret\n");

uint32_t rm_saved_esp;

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};

static const uint64_t test_gdt[5] __attribute__((aligned(8))) = {
    0,
    0x00CF9A000000FFFFull,      /* 0x08: flat 32-bit code, as the runtime's */
    0x00CF92000000FFFFull,      /* 0x10: flat 32-bit data */
    0x00009A000000FFFFull,      /* 0x18: 16-bit code, base 0, limit 64 KiB */
    0x000092000000FFFFull,      /* 0x20: 16-bit data */
};

/* A pointer into the first 64 KiB (the compiler treats small constant addresses as NULL
 * plus an offset and refuses them). */
static inline volatile void *low(uint32_t addr)
{
    volatile void *p;
    __asm__("" : "=r"(p) : "0"(addr));
    return p;
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("realmode: #GP injected in real mode carries no error code (SDM Vol. 3C 27.2.1.3)");

    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    bool xsave = c & (1u << 26);
    if (xsave)
        write_cr4(read_cr4() | CR4_OSXSAVE);    /* else XSETBV would be #UD, not #GP */

    uint32_t len = (uint32_t)(rm_blob_end - rm_blob_start);
    volatile uint8_t *blob = low(BLOB_ADDR);
    for (uint32_t i = 0; i < len; i++)
        blob[i] = (uint8_t)rm_blob_start[i];
    volatile uint16_t *ivt = low(0);
    ivt[13 * 2] = (uint16_t)(BLOB_ADDR + (rm_gp_handler - rm_blob_start));
    ivt[13 * 2 + 1] = 0;
    ivt[6 * 2] = (uint16_t)(BLOB_ADDR + (rm_ud_handler - rm_blob_start));
    ivt[6 * 2 + 1] = 0;
    *(volatile uint8_t *)low(RM_GP_COUNT) = 0;
    *(volatile uint8_t *)low(RM_UD_COUNT) = 0;
    *(volatile uint16_t *)low(RM_IDTR) = 0x3FF;
    *(volatile uint32_t *)low(RM_IDTR + 2) = 0;

    struct dtr gdtr, idtr, test = { sizeof test_gdt - 1, (uint32_t)test_gdt };
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    __asm__ volatile("lgdt %0" : : "m"(test));
    rm_enter();
    __asm__ volatile("lgdt %0; lidt %1" : : "m"(gdtr), "m"(idtr));
    if (xsave)
        write_cr4(read_cr4() & ~CR4_OSXSAVE);

    uint8_t gp = *(volatile uint8_t *)low(RM_GP_COUNT), ud = *(volatile uint8_t *)low(RM_UD_COUNT);
    test_check(true, "back in protected mode after real mode (the guest was not stopped)");
    test_check(gp == (xsave ? 3 : 2) && ud == (xsave ? 0 : 1),
               "real mode: RDMSR 0x1234, MOV CR0 with PG and no PE%s each #GP through the IVT "
               "(#GP %u, #UD %u)", xsave ? ", XSETBV of XCR1" : "; XSETBV #UD without XSAVE", gp, ud);
    test_end();
}

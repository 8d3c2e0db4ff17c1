/*
 * Guest test inject: the shell's `inject` and `corrupt` commands, driven by
 * tests/boot/test_inject.py (tests/iso/inject.cfg). For each event the guest says what it
 * waits for, halts, and checks what arrived as the CPU would deliver it:
 *   nmi      an NMI through LINT1 (virtual wire: LVT LINT1 in NMI mode, SDM Vol. 3A 11.5.1),
 *            arriving as vector 2 although IF=0, waking HLT (SDM Vol. 2A HLT);
 *   ud, gp   #UD, and #GP with error code 0, waking HLT with IF=0;
 *   pf       #PF with error code 0 and CR2 the address given;
 *   irq 5    an edge on ISA IRQ 5, through the 8259 to its handler (IF=1);
 *   corrupt  one bit of a byte of its RAM flipped (0x55 -> 0x54 for bit 0).
 */
#include "guest.h"

#define IRQ_LINE 5
#define PF_ADDR  0xdead000u

volatile uint32_t nmi_count, ud_count, gp_count, gp_error, pf_count, pf_error, pf_cr2, irq_count;
volatile uint8_t target = 0x55;
extern char nmi_stub[], ud_stub[], gp_stub[], pf_stub[];

__asm__(".globl nmi_stub\nnmi_stub:\n incl nmi_count\n iret\n"
        ".globl ud_stub\nud_stub:\n incl ud_count\n iret\n"
        ".globl gp_stub\ngp_stub:\n popl gp_error\n incl gp_count\n iret\n"
        ".globl pf_stub\npf_stub:\n popl pf_error\n pushl %eax\n movl %cr2, %eax\n"
        " movl %eax, pf_cr2\n popl %eax\n incl pf_count\n iret\n");

static struct int_frame *irq_handler(struct int_frame *f)
{
    irq_count++;
    return f;
}

/* Halts until *count moves, with interrupts off (only what was injected wakes it). */
static void wait_halted(const char *what, volatile uint32_t *count)
{
    printf("inject: waiting for %s\n", what);
    cli();
    while (*count == 0)
        hlt();
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("inject: events and bit flips from the hypervisor's shell");
    idt_set_raw_gate(2, (void (*)(void))nmi_stub);
    idt_set_raw_gate(6, (void (*)(void))ud_stub);
    idt_set_raw_gate(13, (void (*)(void))gp_stub);
    idt_set_raw_gate(14, (void (*)(void))pf_stub);

    wait_halted("nmi", &nmi_count);
    test_check(nmi_count == 1, "an NMI through LINT1 arrived as vector 2 with IF=0 (count %u)", nmi_count);
    wait_halted("ud", &ud_count);
    test_check(ud_count == 1, "#UD arrived (count %u)", ud_count);
    wait_halted("gp", &gp_count);
    test_check(gp_count == 1 && gp_error == 0, "#GP arrived with error code 0 (count %u, error 0x%x)",
               gp_count, gp_error);
    printf("inject: pf address 0x%x\n", PF_ADDR);
    wait_halted("pf", &pf_count);
    test_check(pf_count == 1 && pf_error == 0 && pf_cr2 == PF_ADDR,
               "#PF arrived with error code 0 and CR2 0x%x (count %u, error 0x%x, CR2 0x%x)", PF_ADDR,
               pf_count, pf_error, pf_cr2);

    pic_init();
    irq_set_handler(IRQ_LINE, irq_handler);
    pic_unmask(IRQ_LINE);
    printf("inject: waiting for irq %u\n", IRQ_LINE);
    while (irq_count == 0)
        sti_hlt();
    cli();
    test_check(irq_count == 1, "an edge on ISA IRQ %u reached its handler through the 8259 (count %u)",
               IRQ_LINE, irq_count);

    printf("inject: corrupt 0x%x bit 0\n", (uint32_t)&target);
    while (target == 0x55)
        cpu_relax();
    test_check(target == 0x54, "bit 0 of the byte at 0x%x flipped: 0x55 -> 0x%02x", (uint32_t)&target, target);
    test_check(nmi_count == 1 && ud_count == 1 && gp_count == 1 && pf_count == 1,
               "each event arrived once (NMI %u, #UD %u, #GP %u, #PF %u)", nmi_count, ud_count,
               gp_count, pf_count);
    test_end();
}

/* Guest test nmi: NMIs reach the guest as on hardware (issue 10, item 4). A self-IPI with
 * delivery mode NMI (SDM Vol. 3A 11.6.1) arrives as vector 2 whatever RFLAGS.IF says; a second
 * NMI raised inside the first one's handler waits for its IRET (NMI blocking, 6.7.1) and then
 * arrives (the hypervisor asks for an NMI-window exit, Vol. 3C 25.6.2). Before, the vLAPIC dropped every NMI IPI and a guest waiting for one waited
 * forever. */
#include "guest.h"

#define DM_NMI (4u << 8)

volatile uint32_t nmi_count, nmi_count_inside;
volatile uint32_t nmi_nest;                 /* 1: the first handler sends a second NMI */
void nmi_stub(void);
void nmi_body(void);

__asm__(
    ".globl nmi_stub\n"
    "nmi_stub:\n"
    "    pushal\n"
    "    call nmi_body\n"
    "    popal\n"
    "    iret\n");

void nmi_body(void)
{
    nmi_count++;
    if (nmi_nest) {
        nmi_nest = 0;
        lapic_write(LAPIC_ICR_LO, LAPIC_ICR_SELF | DM_NMI);
        for (volatile int i = 0; i < 1000; i++)     /* exits and entries: the NMI must wait */
            (void)lapic_read(LAPIC_ICR_LO);
        nmi_count_inside = nmi_count;
    }
}

static void send_self_nmi(void)
{
    lapic_write(LAPIC_ICR_LO, LAPIC_ICR_SELF | DM_NMI);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("nmi: self-NMI IPIs arrive with IF=0, NMI blocking until IRET (SDM 6.7.1, 11.6.1)");
    idt_set_raw_gate(2, nmi_stub);
    cli();

    send_self_nmi();
    for (volatile int i = 0; i < 100 && nmi_count == 0; i++)
        ;
    test_check(nmi_count == 1, "a self-IPI with delivery mode NMI arrives as vector 2 with IF=0 "
               "(count %u)", nmi_count);

    nmi_nest = 1;
    send_self_nmi();
    for (volatile int i = 0; i < 1000 && nmi_count < 3; i++)
        ;
    test_check(nmi_count_inside == 2 && nmi_count == 3,
               "an NMI raised in an NMI handler waits for its IRET, then arrives (inside %u, after %u)",
               nmi_count_inside, nmi_count);

    test_end();
}

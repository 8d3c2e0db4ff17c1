/* Guest test pvevents: the virtual interrupt flag, upcalls, block and the one-shot timer of
 * anfitrion's hypercall ABI (docs/hypercalls.md, "Events and the virtual interrupt flag").
 * - While the shared page's mask is 1 no upcall comes, however long the event stays pending;
 *   clearing the mask and calling ANF_HC_NOP delivers it at once, with mask set again by the
 *   hypervisor (as an interrupt gate clears IF).
 * - Nothing is lost: two events raised while masked are both delivered, lowest first, each
 *   once.
 * - An upcall also waits for RFLAGS.IF (CLI holds it; it arrives after STI), as the seed says
 *   a virtual interrupt is raised only when the guest has interrupts enabled.
 * - ANF_HC_BLOCK returns when an event is pending, even a masked one, and at once if one is.
 * - The timer: never early (guest time from the page at wake-up >= the deadline), late by
 *   little, a past deadline fires at once, 0 cancels; its accuracy is measured with RDTSC.
 * - Events between guests: with peers=pvevents the guest may send itself event 8.
 * Runs with mem=16M peers=pvevents. */
#include "guest.h"
#include "hypercall.h"

#define VEC_TIMER   0x40
#define VEC_PEER    0x41
#define EV_PEER     8

static struct anf_shared shared;
static struct anf_time tpage;
static char name[] = "pvevents";

static volatile uint32_t upcalls[2];            /* per vector: timer, peer */
static volatile uint8_t mask_seen;              /* mask at the last upcall's entry */
static volatile uint32_t order[4], n_order;

static int32_t hc(uint32_t nr, uint32_t a1, uint32_t a2, uint32_t a3)
{
    return anf_hypercall(nr, a1, a2, a3, 0);
}

static uint64_t now_ns(void) { return anf_time_read(&tpage, rdtsc()); }
static uint32_t us(uint64_t ns) { return (uint32_t)u64_divmod(ns, 1000, NULL); }

/* Takes one event's bit from pending (locked AND), as a handler must. */
static void take(unsigned ev)
{
    anf_take_event(&shared, ev);
}

static struct int_frame *on_upcall(struct int_frame *f)
{
    unsigned i = f->vector == VEC_TIMER ? 0 : 1;
    mask_seen = shared.mask;
    upcalls[i]++;
    if (n_order < 4)
        order[n_order++] = f->vector;
    take(i == 0 ? ANF_EV_TIMER : EV_PEER);
    return f;
}

static void unmask(void)
{
    shared.mask = 0;
    __asm__ volatile("" ::: "memory");
    if (shared.pending)
        hc(ANF_HC_NOP, 0, 0, 0);                /* deliver it now (docs/hypercalls.md) */
}

/* Spins us microseconds with IF=1 (upcalls may come). */
static void spin_us(uint32_t us)
{
    uint64_t end = now_ns() + (uint64_t)us * 1000;
    __asm__ volatile("sti");
    while (now_ns() < end)
        __asm__ volatile("pause");
}

static void check_setup(void)
{
    int_set_handler(VEC_TIMER, on_upcall);
    int_set_handler(VEC_PEER, on_upcall);
    shared.mask = 0;
    shared.pending = 0xdead;                    /* the hypervisor starts it afresh */
    int32_t r1 = hc(ANF_HC_TIME_PAGE, (uint32_t)&tpage, 0, 0);
    int32_t r2 = hc(ANF_HC_SHARED_PAGE, (uint32_t)&shared, 0, 0);
    test_check(r1 == 0 && r2 == 0 && shared.mask == 1 && shared.pending == 0,
               "time page and shared page registered (%d, %d): mask %u (want 1), pending 0x%llx (want 0)",
               r1, r2, shared.mask, shared.pending);
    test_check(hc(ANF_HC_EVENT_BIND, ANF_EV_TIMER, VEC_TIMER, 0) == 0 &&
               hc(ANF_HC_EVENT_BIND, EV_PEER, VEC_PEER, 0) == 0,
               "timer event bound to vector 0x%x, event %u to 0x%x", VEC_TIMER, EV_PEER, VEC_PEER);
}

static void check_masked(void)
{
    upcalls[0] = upcalls[1] = 0;
    uint64_t deadline = now_ns() + 2000000;
    anf_set_timer(deadline);
    spin_us(6000);                              /* IF=1, mask=1: the event waits */
    __asm__ volatile("cli");
    test_check(upcalls[0] == 0 && (shared.pending & (1ull << ANF_EV_TIMER)),
               "masked: the timer event is pending (0x%llx) and no upcall came in 4 ms past it (%u)",
               shared.pending, upcalls[0]);
    __asm__ volatile("sti");
    shared.mask = 0;
    hc(ANF_HC_NOP, 0, 0, 0);
    uint32_t got = upcalls[0];
    __asm__ volatile("cli");
    test_check(got == 1 && mask_seen == 1 && shared.mask == 1 && !(shared.pending & 1),
               "unmask + ANF_HC_NOP: the upcall came at once (%u), mask was 1 in the handler (%u) and "
               "stays 1 after it (%u); the handler took the event", got, mask_seen, shared.mask);
}

static void check_nothing_lost(void)
{
    upcalls[0] = upcalls[1] = 0;
    n_order = 0;
    anf_set_timer(1);                           /* 1 ns: long past, fires at once */
    int32_t r = hc(ANF_HC_EVENT_SEND, (uint32_t)name, sizeof name - 1, EV_PEER);
    test_check(r == 0, "send event %u to ourselves (peers=pvevents): %d", EV_PEER, r);
    test_check((shared.pending & 0x101) == 0x101, "both events pending while masked: 0x%llx", shared.pending);
    __asm__ volatile("sti");
    unmask();                                   /* the timer's upcall (lowest event first) */
    unmask();                                   /* the handler left mask = 1: the peer's */
    spin_us(1000);
    __asm__ volatile("cli");
    test_check(upcalls[0] == 1 && upcalls[1] == 1 && n_order == 2 && order[0] == VEC_TIMER &&
               order[1] == VEC_PEER, "both delivered once each, lowest event first (timer %u, peer %u; "
               "vectors 0x%x then 0x%x)", upcalls[0], upcalls[1], order[0], order[1]);
    shared.mask = 1;
}

static void check_if(void)
{
    upcalls[1] = 0;
    __asm__ volatile("cli");
    hc(ANF_HC_EVENT_SEND, (uint32_t)name, sizeof name - 1, EV_PEER);
    shared.mask = 0;
    hc(ANF_HC_NOP, 0, 0, 0);
    for (volatile int i = 0; i < 1000; i++)
        ;
    uint32_t before = upcalls[1];
    __asm__ volatile("sti; nop; cli");
    test_check(before == 0 && upcalls[1] == 1, "mask clear but IF=0: no upcall (%u); after STI it came (%u)",
               before, upcalls[1]);
    shared.mask = 1;
}

static void check_block(void)
{
    shared.mask = 1;
    uint64_t t0 = now_ns();
    hc(ANF_HC_EVENT_SEND, (uint32_t)name, sizeof name - 1, EV_PEER);
    int32_t r = hc(ANF_HC_BLOCK, 0, 0, 0);
    uint64_t took = now_ns() - t0;
    test_check(r == 0 && took < 2000000, "block with an event already pending returns at once (%d, %u us)",
               r, us(took));
    take(EV_PEER);
    uint64_t deadline = now_ns() + 5000000;
    anf_set_timer(deadline);
    r = hc(ANF_HC_BLOCK, 0, 0, 0);
    uint64_t woke = now_ns();
    test_check(r == 0 && woke >= deadline && (shared.pending & 1),
               "block until a 5 ms timer (masked): woke %d us after the deadline, the event pending",
               woke >= deadline ? (int)us(woke - deadline) : -(int)us(deadline - woke));
    take(ANF_EV_TIMER);
}

/* Deadlines from 1 to 20 ms: at wake-up the TSC says the guest time passed the deadline, and
 * not by much (the host's timer runs at 1 kHz; Bochs time is emulated). */
static void check_timer_accuracy(void)
{
    static const uint32_t ms[] = { 1, 2, 5, 10, 20 };
    uint64_t worst = 0;
    bool early = false;
    for (unsigned i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        uint64_t deadline = now_ns() + ms[i] * 1000000ull;
        anf_set_timer(deadline);
        hc(ANF_HC_BLOCK, 0, 0, 0);
        uint64_t tsc = rdtsc(), t = anf_time_read(&tpage, tsc);
        take(ANF_EV_TIMER);
        if (t < deadline)
            early = true;
        else if (t - deadline > worst)
            worst = t - deadline;
    }
    test_check(!early && worst < 5000000, "5 timers of 1-20 ms: none early, the latest %u us late", us(worst));
    test_note("timer lateness (emulator figure): worst %u us", us(worst));
    anf_set_timer(now_ns() + 2000000);
    anf_set_timer(0);
    spin_us(5000);
    __asm__ volatile("cli");
    test_check(!(shared.pending & 1), "a cancelled timer (deadline 0) does not fire");
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("pvevents: the virtual interrupt flag, upcalls, block and the one-shot timer");
    check_setup();
    check_masked();
    check_nothing_lost();
    check_if();
    check_block();
    check_timer_accuracy();
    test_end();
}

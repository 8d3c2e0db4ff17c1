/* pvos's events for the runtime's round-robin tasks (guest/lib/tasks.c): the upcall takes
 * the place of tinyos's timer and UART interrupts. */
#include "pvos.h"

#define EV(n) (1ull << (n))

static volatile bool console_input;
static volatile uint32_t pings, pongs;
static uint32_t period_ns;
static uint64_t deadline_ns;

void sched_start_timer(uint32_t hz)
{
    period_ns = 1000000000u / (hz ? hz : 1);
    deadline_ns = pv_time_ns() + period_ns;
    anf_set_timer(deadline_ns);
}

uint32_t sched_pings(void)
{
    return pings;
}

uint32_t sched_pongs(void)
{
    return pongs;
}

bool sched_take_console(void)
{
    bool in = console_input;
    console_input = false;
    return in;
}

/* The timer expired: count every period that ended by now (several if the guest waited
 * for the CPU while other guests ran), and arm the next deadline at the last one plus the
 * periods, not at now plus one: the time an upcall takes to come never adds up into
 * drift. One hypercall per upcall, however many ticks it counts. */
static uint32_t timer_expired(void)
{
    uint64_t now = pv_time_ns();
    uint32_t n = 1;
    if (now >= deadline_ns + period_ns)
        n += (uint32_t)u64_divmod(now - deadline_ns, period_ns, NULL);
    deadline_ns += (uint64_t)n * period_ns;
    anf_set_timer(deadline_ns);
    return n;
}

/* One batch of events; returns the task to run next (from next, the current choice). */
static unsigned handle_events(uint64_t ev, unsigned next)
{
    if (ev & EV(ANF_EV_TIMER)) {
        tasks_tick(timer_expired());
        next = tasks_next(next);
    }
    if (ev & EV(ANF_EV_CONSOLE)) {
        console_input = true;
        tasks_want_console();
    }
    if (ev & EV(PVOS_EV_PING)) {
        pings++;
        tasks_want_console();
    }
    if (ev & EV(PVOS_EV_PONG)) {
        pongs++;
        tasks_want_console();
    }
    return next;
}

struct int_frame *sched_upcall(struct int_frame *f)
{
    /* The hypervisor set mask = 1 to deliver this. An upcall only comes while mask is 0, so
     * whichever frame we resume ran unmasked: clear it on the way out (IF is 0 until the
     * IRET, so nothing comes in between). An event raised meanwhile is taken here. */
    unsigned next = tasks_current();
    for (;;) {
        next = handle_events(pv_take_events(), next);
        pv_shared()->mask = 0;
        if (!pv_upcall_waiting())
            break;
        pv_mask();
    }
    return tasks_switch(f, next);
}

/* pvos ping-pong between guests: event PVOS_EV_PING to the guest named by peer=NAME, which
 * answers PVOS_EV_PONG to its own peer=. Events are bits, not a queue (two pings before the
 * peer takes them are one), so a ping-pong keeps one ping out at a time. The hypervisor
 * delivers an event only if the receiver's module option peers= names the sender. */
#include "pvos.h"

#define NAME_MAX        16                  /* a guest name: [a-z0-9_-]{1,16} */
#define TIMEOUT_NS      5000000000ull       /* a pong later than this is given up */
#define RETRY_NS        1000000000ull       /* a peer not started yet: try again */
#define RETRIES         10

static char peer[NAME_MAX + 1];
static char self[NAME_MAX + 1];
static uint32_t pings_seen, pongs_seen;     /* sched_pings()/sched_pongs() handled */
static uint32_t total, answered;            /* the ping-pong: pongs wanted, pongs got */
static bool waiting;                        /* a ping is out */
static bool retrying;                       /* the next ping goes at retry_at */
static unsigned retries;
static uint64_t sent_at, retry_at;

static int32_t send_event(unsigned ev)
{
    return anf_hypercall(ANF_HC_EVENT_SEND, (uint32_t)peer, strlen(peer), ev, 0);
}

static void report_failure(const char *what, int32_t r)
{
    if (r == ANF_EPERM)
        pv_printf("pvos: %s to %s refused (EPERM): %s's peers= does not name %s\n",
                  what, peer, peer, self);
    else if (r == ANF_ENOENT)
        pv_printf("pvos: %s to %s failed (ENOENT): no guest %s is running\n", what, peer, peer);
    else
        pv_printf("pvos: %s to %s failed (%s)\n", what, peer, pv_strerror(r));
}

static void send_ping(void)
{
    int32_t r = send_event(PVOS_EV_PING);
    if (r == 0) {
        waiting = true;
        sent_at = pv_time_ns();
        return;
    }
    if (r == ANF_ENOENT && retries < RETRIES) {
        /* Guests start one after another: the peer may not be there yet. */
        if (!retries)
            pv_printf("pvos: ping: no guest %s yet, retrying every second\n", peer);
        retries++;
        retrying = true;
        retry_at = pv_time_ns() + RETRY_NS;
        return;
    }
    report_failure("ping", r);
    pv_printf("pvos: pingpong stopped: %u/%u pongs from %s\n", answered, total, peer);
    total = 0;
}

void peer_init(const char *cmdline, const char *me)
{
    cmdline_str(cmdline, "peer", peer, sizeof(peer));
    size_t n = strlen(me);
    if (n > NAME_MAX)
        n = NAME_MAX;
    memcpy(self, me, n);
    self[n] = '\0';
    uint32_t count = cmdline_u32(cmdline, "pingpong", 0);
    if (count)
        peer_start(count);
}

void peer_start(uint32_t n)
{
    if (!peer[0]) {
        pv_printf("pvos: ping: no peer (start pvos with peer=NAME)\n");
        return;
    }
    if (total) {
        pv_printf("pvos: ping: a pingpong with %s is running (%u/%u)\n", peer, answered, total);
        return;
    }
    total = n;
    answered = 0;
    retries = 0;
    retrying = false;
    pv_printf("pvos: pingpong: %u ping%s to %s\n", n, n == 1 ? "" : "s", peer);
    send_ping();
}

bool peer_work(void)
{
    if (pings_seen != sched_pings() || pongs_seen != sched_pongs())
        return true;
    if (!retrying && !waiting)
        return false;
    uint64_t now = pv_time_ns();
    return (retrying && now >= retry_at) || (waiting && now - sent_at >= TIMEOUT_NS);
}

static void answer_ping(void)
{
    if (!peer[0]) {
        pv_printf("pvos: ping from peer, not answered (no peer=NAME)\n");
        return;
    }
    int32_t r = send_event(PVOS_EV_PONG);
    if (r == 0)
        pv_printf("pvos: ping from peer, pong sent to %s\n", peer);
    else
        report_failure("pong", r);
}

static void take_pong(void)
{
    if (!waiting) {
        pv_printf("pvos: pong from peer, none expected\n");
        return;
    }
    waiting = false;
    answered++;
    uint64_t rtt_us = u64_divmod(pv_time_ns() - sent_at, 1000, NULL);
    pv_printf("pvos: pong %u/%u from %s (round trip %llu us)\n", answered, total, peer, rtt_us);
    if (answered < total) {
        send_ping();
    } else {
        pv_printf("pvos: pingpong done: %u/%u pongs from %s\n", answered, total, peer);
        total = 0;
    }
}

void peer_poll(void)
{
    for (uint32_t p = sched_pings(); pings_seen != p; pings_seen++)
        answer_ping();
    for (uint32_t p = sched_pongs(); pongs_seen != p; pongs_seen++)
        take_pong();
    uint64_t now = pv_time_ns();
    if (retrying && now >= retry_at) {
        retrying = false;
        send_ping();
    }
    if (waiting && now - sent_at >= TIMEOUT_NS) {
        waiting = false;
        pv_printf("pvos: pingpong stopped: no pong from %s within 5 s (%u/%u)\n", peer, answered, total);
        total = 0;
    }
}

void peer_report(void)
{
    pv_printf("peer %s: pings received %u, pongs received %u, pingpong %u/%u\n",
              peer[0] ? peer : "(none)", sched_pings(), sched_pongs(), answered, total);
}

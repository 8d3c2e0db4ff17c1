/* pvos console: periodic status lines and the runtime's line-oriented shell (tshell.c),
 * over the console hypercalls (input signalled by ANF_EV_CONSOLE), idling in ANF_HC_BLOCK. */
#include "pvos.h"

#define READ_CHUNK 64

static struct tshell sh;
static const struct pv_discovery *disc;

/* pvos has no RTC: the clock it shows is the guest time, which starts at 00:00:00. */
static void guest_clock(uint32_t *h, uint32_t *m, uint32_t *s, uint32_t *ms)
{
    uint32_t rem;
    uint64_t total_ms = u64_divmod(pv_time_ns(), 1000000, NULL);
    uint64_t secs = u64_divmod(total_ms, 1000, ms);
    uint64_t mins = u64_divmod(secs, 60, s);
    uint64_t hours = u64_divmod(mins, 60, m);
    u64_divmod(hours, 24, &rem);
    *h = rem;
}

/* The same line as tinyos's, byte for byte; its rtc field is the guest clock. */
static void print_status(void)
{
    struct tasks_snapshot snap;
    pv_mask();                      /* the counting tasks cannot run: no torn 64-bit reads */
    tasks_snapshot(&snap);
    pv_unmask();

    uint32_t h, m, s, ms;
    guest_clock(&h, &m, &s, &ms);
    tshell_print_tasks(&sh, &snap);
    pv_printf(" rtc %02u:%02u:%02u\n", h, m, s);
}

static void cmd_date(struct tshell *shell, const char *args)
{
    (void)shell;
    (void)args;
    uint32_t h, m, s, ms;
    guest_clock(&h, &m, &s, &ms);
    pv_printf("guest time %02u:%02u:%02u.%03u since start (pvos reads no RTC)\n", h, m, s, ms);
}

static void cmd_info(struct tshell *shell, const char *args)
{
    (void)shell;
    (void)args;
    char names[64];
    pv_feature_names(disc->features, names, sizeof(names));
    pv_printf("anfitrion ABI %u, features 0x%x (%s)\n", disc->version, disc->features, names);
    struct anf_guest_info gi;
    int32_t r = anf_hypercall(ANF_HC_GUEST_INFO, (uint32_t)&gi, sizeof(gi), 0, 0);
    if (r >= 0) {
        gi.name[sizeof(gi.name) - 1] = '\0';
        pv_printf("guest %s: id %u, %llu MiB, %u vcpu\n", gi.name, gi.id, gi.mem >> 20, gi.vcpus);
    } else {
        pv_printf("guest information: %s\n", pv_strerror(r));
    }
    pv_printf("upcalls %llu, mask %u, pending 0x%llx\n", pv_shared()->upcalls,
              pv_shared()->mask, pv_shared()->pending);
    uint64_t page = pv_time_ns(), call = anf_time_ns();
    pv_printf("guest time %llu ns (%s), %llu ns by ANF_HC_TIME\n", page,
              pv_time_paged() ? "time page" : "by hypercall: no time page", call);
    peer_report();
}

static void cmd_ping(struct tshell *shell, const char *args)
{
    (void)shell;
    uint32_t n = 1;
    size_t len = strlen(args);
    while (len && args[len - 1] == ' ')
        len--;
    if (len && (!parse_u32(args, len, &n) || n == 0)) {
        pv_printf("usage: ping [N] (N pings to the peer, one at a time)\n");
        return;
    }
    peer_start(n);
}

static const struct tshell_command commands[] = {
    { "date", NULL, cmd_date },
    { "info", NULL, cmd_info },
    { "ping", "ping [N]", cmd_ping },
};

/* Everything waiting, in chunks; the echo of a partial line goes out once per chunk. */
static void read_console(void)
{
    char buf[READ_CHUNK];
    int32_t n;
    while ((n = pv_console_read(buf, sizeof(buf))) > 0) {
        for (int32_t i = 0; i < n; i++)
            tshell_take_char(&sh, (uint8_t)buf[i]);
        pv_flush();
    }
}

void shell_run(uint32_t hz, bool echo, const struct pv_discovery *d)
{
    sh = (struct tshell){
        .print = pv_printf, .status = print_status, .hz = hz, .echo = echo,
        .commands = commands, .ncommands = sizeof(commands) / sizeof(commands[0]),
    };
    disc = d;
    read_console();                 /* the first read: from now on keystrokes come by hypercall */
    for (;;) {
        pv_mask();
        bool status = tasks_take_status_due();
        bool input = sched_take_console();
        bool peer = peer_work();
        if (!status && !input && !peer) {
            pv_block();             /* idle until an event: one raised since the mask counts too */
            pv_unmask();
            continue;
        }
        pv_unmask();
        if (status)
            print_status();
        if (input)
            read_console();
        if (peer)
            peer_poll();
    }
}

/* pvos entry: find anfitrion, register the shared and time pages, bind the events, start
 * the tasks and the tick, then run the console. */
#include "pvos.h"

#define NEEDED          (ANF_F_CONSOLE | ANF_F_TIME | ANF_F_EVENTS | ANF_F_TIMER)

static struct pv_discovery disc;

/* Exceptions report through the console hypercall (the runtime's report would use the
 * UART), then the guest idles for good, as tinyos's "cli; hlt" does. */
struct exc_frame {
    uint32_t eip, cs, eflags;
};

static void __attribute__((noreturn)) exception(unsigned vector, uint32_t error, const struct exc_frame *f)
{
    pv_flush();
    pv_printf("pvos: unexpected exception %u (%s) at EIP=0x%08x err=0x%x", vector,
              exception_name(vector), f->eip, error);
    if (vector == VEC_PF)
        pv_printf(" CR2=0x%08x", read_cr2());
    pv_printf("; halted\n");
    pv_halt_forever();
}

#define EXC(n) \
    static void __attribute__((interrupt)) exc_##n(struct exc_frame *f) { exception(n, 0, f); }
#define EXC_ERR(n) \
    static void __attribute__((interrupt)) exc_##n(struct exc_frame *f, uint32_t e) { exception(n, e, f); }
EXC(0) EXC(1) EXC(2) EXC(3) EXC(4) EXC(5) EXC(6) EXC(7) EXC_ERR(8) EXC(9) EXC_ERR(10)
EXC_ERR(11) EXC_ERR(12) EXC_ERR(13) EXC_ERR(14) EXC(15) EXC(16) EXC_ERR(17) EXC(18) EXC(19)
EXC(20) EXC_ERR(21) EXC(22) EXC(23) EXC(24) EXC(25) EXC(26) EXC(27) EXC(28) EXC_ERR(29)
EXC_ERR(30) EXC(31)

static void trap_exceptions(void)
{
    static void (*const stubs[32])(void) = {
#define S(n) (void (*)(void))exc_##n
        S(0), S(1), S(2), S(3), S(4), S(5), S(6), S(7), S(8), S(9), S(10), S(11), S(12), S(13),
        S(14), S(15), S(16), S(17), S(18), S(19), S(20), S(21), S(22), S(23), S(24), S(25),
        S(26), S(27), S(28), S(29), S(30), S(31),
#undef S
    };
    for (unsigned v = 0; v < 32; v++)
        idt_set_raw_gate(v, stubs[v]);
}

/* Not on anfitrion there is no console hypercall: the one line pvos says goes to the UART
 * (the only port I/O in pvos), and it halts. */
static void __attribute__((noreturn)) not_anfitrion(const char *why)
{
    uart_init();
    printf("pvos: %s; pvos runs only on anfitrion, halting\n", why);
    for (;;)
        hlt();                      /* IF is still 0 from the entry */
}

static void discover(void)
{
    char why[96];
    if (!pv_discover(&disc)) {
        if (!disc.hypervisor)
            not_anfitrion("no hypervisor (CPUID.1:ECX bit 31 clear)");
        snprintf(why, sizeof(why), "CPUID 0x40000000 says \"%s\", not \"anfitrion\"", disc.signature);
        not_anfitrion(why);
    }
    if (disc.version < ANF_ABI_VERSION || (disc.features & NEEDED) != NEEDED) {
        snprintf(why, sizeof(why), "anfitrion ABI %u with features 0x%x, pvos needs ABI %u with 0x%x",
                 disc.version, disc.features, ANF_ABI_VERSION, NEEDED);
        not_anfitrion(why);
    }
}

/* Registers the pages and binds every event pvos handles to its upcall vector. */
static bool setup_events(void)
{
    static const unsigned events[] = { ANF_EV_TIMER, ANF_EV_CONSOLE, PVOS_EV_PING, PVOS_EV_PONG };
    int32_t r = pv_events_init();
    if (r != 0) {
        pv_printf("pvos: shared page refused (%s)\n", pv_strerror(r));
        return false;
    }
    r = pv_time_init();
    if (r != 0)
        pv_printf("pvos: time page refused (%s), reading the time by hypercall\n", pv_strerror(r));
    int_set_handler(PVOS_UPCALL_VECTOR, sched_upcall);
    for (unsigned i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if (events[i] >= ANF_EV_PEER_MIN && !(disc.features & ANF_F_PEERS))
            continue;
        r = pv_bind(events[i], PVOS_UPCALL_VECTOR);
        if (r != 0) {
            pv_printf("pvos: binding event %u refused (%s)\n", events[i], pv_strerror(r));
            return false;
        }
    }
    return true;
}

/* The CPU's IF goes to 1 once, with POPF (no STI), and stays 1 outside the upcall's gate:
 * from here on "interrupts off" is the mask byte, which the hypervisor set to 1 when the
 * shared page was registered. */
static void cpu_if_on(void)
{
    __asm__ volatile("pushl %0; popfl" : : "r"(read_eflags() | EFLAGS_IF) : "memory", "cc");
}

static void banner(char *self, size_t self_size)
{
    char names[64];
    pv_feature_names(disc.features, names, sizeof(names));
    pv_printf("pvos: paravirtual tinyos on anfitrion ABI %u, features 0x%x (%s)\n",
              disc.version, disc.features, names);
    struct anf_guest_info gi;
    int32_t r = disc.features & ANF_F_MACHINE
                ? anf_hypercall(ANF_HC_GUEST_INFO, (uint32_t)&gi, sizeof(gi), 0, 0) : ANF_ENOSYS;
    if (r >= 0) {
        gi.name[sizeof(gi.name) - 1] = '\0';
        snprintf(self, self_size, "%s", gi.name);
        pv_printf("pvos: guest %s (id %u, %llu MiB)\n", gi.name, gi.id, gi.mem >> 20);
    } else {
        snprintf(self, self_size, "?");
    }
}

void guest_start(uint32_t magic, const struct mb_info *mbi);

/* Entered from guest/lib/entry.S in place of the runtime's guest_start (start.c, left out
 * of the link because this one is defined): that one would program the UART first. */
void guest_start(uint32_t magic, const struct mb_info *mbi)
{
    gdt_init();
    idt_init();
    discover();
    trap_exceptions();
    if (magic != MB_BOOT_MAGIC) {
        pv_printf("pvos: bad Multiboot magic 0x%08x (want 0x%08x), halting\n", magic, MB_BOOT_MAGIC);
        pv_halt_forever();
    }
    const char *cmdline = mb_cmdline(mbi);
    struct tasks_options opt;
    tasks_read_options(cmdline, &opt);

    char self[33];
    banner(self, sizeof(self));
    pv_printf("pvos: hz=%u tasks=%u\n", opt.hz, opt.ntasks);

    uint32_t mapped = paging_identity_map(mb_ram_end(mbi));
    pv_printf("pvos: paging on, %u MiB identity-mapped\n", mapped >> 20);

    if (!setup_events())
        pv_halt_forever();
    tasks_init(opt.ntasks);
    tasks_set_status_every(opt.every);
    cpu_if_on();
    sched_start_timer(opt.hz);
    pv_printf("pvos: status every %u ticks; commands: help, echo TEXT, ticks, tasks, date, info, ping [N]\n",
              opt.every);
    peer_init(cmdline, self);
    shell_run(opt.hz, opt.echo, &disc);
}

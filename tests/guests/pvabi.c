/* Guest test pvabi: anfitrion's hypercall ABI as docs/hypercalls.md defines it (issue 14).
 * - Discovery: CPUID 0x40000000 says "anfitrion" with 0x40000001 as its highest leaf; 0x40000001
 *   gives version 1 and the six feature bits; KVM's signature at 0x40000100 (pv=on, the
 *   default); other hypervisor leaves read zeros.
 * - Each call's result and its errors: lengths and event numbers out of range (-22), buffers
 *   that are not this guest's RAM or are misaligned (-14), a peer that does not allow us (-1),
 *   a guest that does not exist (-2), numbers that are no call (-1000).
 * - Only EAX changes: every other register comes back as it went in.
 * - Garbage: every number 0-1023 with random arguments and pointers outside RAM, three times
 *   over, gets an error or a harmless answer, and the guest goes on.
 * - The last call is ANF_HC_SHUTDOWN(3): the hypervisor reports "exited: status 3".
 * Runs with mem=16M and peers=other (a guest that does not exist: it allows no one we are). */
#include "guest.h"
#include "hypercall.h"

#define MIB         (1024u * 1024u)
#define RAM_END     (16u * MIB)

static char buf[8192] __attribute__((aligned(4096)));
static struct anf_time tpage;
static struct anf_shared shared;

static int32_t hc(uint32_t nr, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4)
{
    return anf_hypercall(nr, a1, a2, a3, a4);
}

static void check_discovery(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    test_check(c & CPUID1_ECX_HYPERVISOR, "CPUID.1:ECX[31], the hypervisor-present bit, is set");
    cpuid(ANF_CPUID_BASE, 0, &a, &b, &c, &d);
    char sig[13];
    memcpy(sig, &b, 4), memcpy(sig + 4, &c, 4), memcpy(sig + 8, &d, 4);
    sig[12] = '\0';
    test_check(strcmp(sig, "anfitrion") == 0 && a == ANF_CPUID_FEATURES,
               "CPUID 0x40000000: \"%s\", highest leaf 0x%x (want \"anfitrion\", 0x40000001)", sig, a);
    cpuid(ANF_CPUID_FEATURES, 0, &a, &b, &c, &d);
    uint32_t all = ANF_F_CONSOLE | ANF_F_TIME | ANF_F_EVENTS | ANF_F_TIMER | ANF_F_PEERS | ANF_F_MACHINE;
    test_check(a == ANF_ABI_VERSION && b == all && c == 0 && d == 0,
               "CPUID 0x40000001: version %u, features 0x%x, 0x%x, 0x%x (want 1, 0x%x, 0, 0)", a, b, c, d, all);
    cpuid(0x40000100, 0, &a, &b, &c, &d);
    memcpy(sig, &b, 4), memcpy(sig + 4, &c, 4), memcpy(sig + 8, &d, 4);
    test_check(strcmp(sig, "KVMKVMKVM") == 0 && a == 0x40000101,
               "CPUID 0x40000100 (pv=on): KVM's signature \"%s\", highest leaf 0x%x", sig, a);
    static const uint32_t empty[] = { 0x40000002, 0x400000ff, 0x40000200, 0x4000ff00, 0x4000ffff };
    bool zeros = true;
    for (unsigned i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        cpuid(empty[i], 0, &a, &b, &c, &d);
        zeros &= !(a | b | c | d);
    }
    test_check(zeros, "other hypervisor leaves (0x40000002, 0x400000ff, 0x40000200, ...) read zeros");
}

/* Every register but EAX as it went in (EBP through static slots: the stack moves while it
 * is saved). */
uint32_t bp_in = 0x66666666, bp_out;      /* used by name in the asm below */

static void check_registers_kept(void)
{
    uint32_t a = ANF_HC_NOP, b = 0x11111111, c = 0x22222222, d = 0x33333333, s = 0x44444444, di = 0x55555555;
    __asm__ volatile("push %%ebp\n\tmov bp_in, %%ebp\n\tvmcall\n\tmov %%ebp, bp_out\n\tpop %%ebp"
                     : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "+S"(s), "+D"(di) : : "memory");
    test_check(a == 0 && b == 0x11111111 && c == 0x22222222 && d == 0x33333333 && s == 0x44444444 &&
               di == 0x55555555 && bp_out == bp_in,
               "ANF_HC_NOP returns 0 and changes no other register");
    uint32_t lo = ANF_HC_TIME, hi = 0, b2 = 0x77, c2 = 0x88;
    __asm__ volatile("vmcall" : "+a"(lo), "+d"(hi), "+b"(b2), "+c"(c2) : : "memory");
    test_check(b2 == 0x77 && c2 == 0x88 && (lo | hi),
               "ANF_HC_TIME from 32-bit code: EDX:EAX = %u:%u ns, EBX and ECX kept", hi, lo);
}

static void check_console(void)
{
    static const char line[] = "pvabi: a line through ANF_HC_CONSOLE_WRITE\n";
    memcpy(buf, line, sizeof line - 1);
    int32_t r = hc(ANF_HC_CONSOLE_WRITE, (uint32_t)buf, sizeof line - 1, 0, 0);
    test_check(r == (int32_t)sizeof line - 1, "console write of %u bytes returns %d", (unsigned)sizeof line - 1, r);
    test_check(hc(ANF_HC_CONSOLE_WRITE, (uint32_t)buf, 0, 0, 0) == 0, "console write of 0 bytes returns 0");
    r = hc(ANF_HC_CONSOLE_WRITE, (uint32_t)buf, 4097, 0, 0);
    test_check(r == ANF_EINVAL, "console write of 4097 bytes: -22 (got %d)", r);
    r = hc(ANF_HC_CONSOLE_WRITE, RAM_END - 8, 16, 0, 0);
    test_check(r == ANF_EFAULT, "console write straddling the end of RAM: -14 (got %d)", r);
    r = hc(ANF_HC_CONSOLE_WRITE, 0xFEE00000, 4, 0, 0);
    test_check(r == ANF_EFAULT, "console write from the local APIC's page: -14 (got %d)", r);
    r = hc(ANF_HC_CONSOLE_WRITE, 0xFFFFFFF0, 32, 0, 0);
    test_check(r == ANF_EFAULT, "console write at 0xfffffff0: -14 (got %d)", r);
    memset(buf, 0x5A, 64);
    r = hc(ANF_HC_CONSOLE_READ, (uint32_t)buf, 64, 0, 0);
    test_check(r == 0 && buf[0] == 0x5A, "console read with no input waiting: 0, buffer untouched (got %d)", r);
    r = hc(ANF_HC_CONSOLE_READ, RAM_END, 1, 0, 0);
    test_check(r == ANF_EFAULT, "console read into the first byte past RAM: -14 (got %d)", r);
    r = hc(ANF_HC_CONSOLE_READ, (uint32_t)buf, 5000, 0, 0);
    test_check(r == ANF_EINVAL, "console read of 5000 bytes: -22 (got %d)", r);
}

/* The time page against ANF_HC_TIME and the TSC's rate (CPUID 0x15). */
static void check_time(void)
{
    int32_t r = hc(ANF_HC_TIME_PAGE, (uint32_t)&tpage + 8, 0, 0, 0);
    test_check(r == ANF_EFAULT, "time page not 32-byte aligned: -14 (got %d)", r);
    r = hc(ANF_HC_TIME_PAGE, RAM_END - 16, 0, 0, 0);
    test_check(r == ANF_EFAULT, "time page straddling the end of RAM: -14 (got %d)", r);
    r = hc(ANF_HC_TIME_PAGE, (uint32_t)&tpage, 0, 0, 0);
    test_check(r == 0 && !(tpage.version & 1) && tpage.version && (tpage.flags & ANF_TIME_STABLE),
               "time page registered: version %u (even), flags 0x%x (stable)", tpage.version, tpage.flags);
    uint64_t t0 = anf_time_read(&tpage, rdtsc());
    uint64_t h = anf_time_ns();
    uint64_t t1 = anf_time_read(&tpage, rdtsc());
    test_check(t0 <= h && h <= t1, "ANF_HC_TIME (%llu ns) lies between two readings of the page (%llu, %llu)",
               h, t0, t1);
    uint64_t hz = tsc_hz();
    if (!hz) {
        test_fail("CPUID 0x15/0x16 give no TSC rate");
        return;
    }
    uint64_t ticks = hz;                        /* one second of TSC */
    uint64_t ns = anf_time_read(&tpage, tpage.tsc_timestamp + ticks) - tpage.system_time;
    uint64_t err = ns > 1000000000ull ? ns - 1000000000ull : 1000000000ull - ns;
    /* CPUID 0x15 states the rate as a ratio of a 1 MHz crystal: a few ppm from the host's. */
    test_check(err < 10000, "the page turns %llu TSC ticks (1 s at CPUID's %llu Hz) into %llu ns "
               "(within 10 ppm)", ticks, hz, ns);
    test_check(hc(ANF_HC_TIME_PAGE, 0, 0, 0, 0) == 0, "time page unregistered (gpa 0)");
}

static void check_events_and_peers(void)
{
    int32_t r = hc(ANF_HC_SHARED_PAGE, (uint32_t)&shared + 4, 0, 0, 0);
    test_check(r == ANF_EFAULT, "shared page not 64-byte aligned: -14 (got %d)", r);
    r = hc(ANF_HC_SHARED_PAGE, RAM_END, 0, 0, 0);
    test_check(r == ANF_EFAULT, "shared page past RAM: -14 (got %d)", r);
    r = hc(ANF_HC_EVENT_BIND, 64, 0x80, 0, 0);
    test_check(r == ANF_EINVAL, "bind event 64: -22 (got %d)", r);
    r = hc(ANF_HC_EVENT_BIND, 3, 31, 0, 0);
    test_check(r == ANF_EINVAL, "bind to vector 31 (an exception's): -22 (got %d)", r);
    r = hc(ANF_HC_EVENT_BIND, 3, 256, 0, 0);
    test_check(r == ANF_EINVAL, "bind to vector 256: -22 (got %d)", r);
    test_check(hc(ANF_HC_EVENT_BIND, 3, 0x80, 0, 0) == 0 && hc(ANF_HC_EVENT_BIND, 3, 0, 0, 0) == 0,
               "bind event 3 to vector 0x80, then unbind it: 0, 0");
    memcpy(buf, "pvabi", 5);
    r = hc(ANF_HC_EVENT_SEND, (uint32_t)buf, 5, 8, 0);
    test_check(r == ANF_EPERM, "send event 8 to ourselves, whose peers= does not name us: -1 (got %d)", r);
    memcpy(buf, "nosuch", 6);
    r = hc(ANF_HC_EVENT_SEND, (uint32_t)buf, 6, 8, 0);
    test_check(r == ANF_ENOENT, "send to a guest that does not exist: -2 (got %d)", r);
    r = hc(ANF_HC_EVENT_SEND, (uint32_t)buf, 5, 7, 0);
    test_check(r == ANF_EINVAL, "send event 7 (below the peer range 8-63): -22 (got %d)", r);
    r = hc(ANF_HC_EVENT_SEND, (uint32_t)buf, 5, 64, 0);
    test_check(r == ANF_EINVAL, "send event 64: -22 (got %d)", r);
    r = hc(ANF_HC_EVENT_SEND, (uint32_t)buf, 0, 8, 0);
    test_check(r == ANF_EINVAL, "send with a name of length 0: -22 (got %d)", r);
    r = hc(ANF_HC_EVENT_SEND, (uint32_t)buf, 17, 8, 0);
    test_check(r == ANF_EINVAL, "send with a name of length 17: -22 (got %d)", r);
    r = hc(ANF_HC_EVENT_SEND, RAM_END - 2, 5, 8, 0);
    test_check(r == ANF_EFAULT, "send with a name straddling the end of RAM: -14 (got %d)", r);
}

static void check_info_and_machine(void)
{
    struct anf_guest_info *info = (struct anf_guest_info *)buf;
    memset(buf, 0, 64);
    int32_t r = hc(ANF_HC_GUEST_INFO, (uint32_t)buf, 47, 0, 0);
    test_check(r == ANF_EINVAL, "guest info into 47 bytes: -22 (got %d)", r);
    r = hc(ANF_HC_GUEST_INFO, RAM_END - 40, 64, 0, 0);
    test_check(r == ANF_EFAULT, "guest info straddling the end of RAM: -14 (got %d)", r);
    r = hc(ANF_HC_GUEST_INFO, (uint32_t)buf, 64, 0, 0);
    test_check(r == 48 && strcmp(info->name, "pvabi") == 0 && info->mem == RAM_END && info->vcpus == 1,
               "guest info: %d bytes, name \"%s\", %llu bytes of RAM, %u vCPU, id %u", r, info->name,
               info->mem, info->vcpus, info->id);
    r = hc(ANF_HC_SHUTDOWN, 256, 0, 0, 0);
    test_check(r == ANF_EINVAL, "shutdown with status 256: -22, and the guest runs on (got %d)", r);
    static const uint32_t none[] = { 1, 11, 12, 0xff, 0x10d, 0x1ef, 0x1ff, 0x200, 1023, 0xffffffff };
    bool all = true;
    for (unsigned i = 0; i < sizeof none / sizeof none[0]; i++) {
        r = hc(none[i], 1, 2, 3, 4);
        if (r != ANF_ENOSYS)
            test_fail("number 0x%x: %d (want -1000)", none[i], r), all = false;
    }
    test_check(all, "numbers that are no call (KVM's 1-12 from 32-bit code, 0x10d, 0x200, 0xffffffff): -1000");
}

/* 0-1023 with random arguments, three times; pointers point past RAM or at a scratch page,
 * and the calls that would end, block or reload the guest or move its pages get bad values. */
static uint32_t seed = 12345;
static uint32_t rnd(void) { return seed = seed * 1103515245u + 12345u; }

static void check_garbage(void)
{
    unsigned bad = 0, calls = 0;
    for (unsigned round = 0; round < 3; round++) {
        for (uint32_t nr = 0; nr < 1024; nr++) {
            uint32_t a1 = rnd(), a2 = rnd(), a3 = rnd(), a4 = rnd();
            if (nr == ANF_HC_BLOCK || nr == ANF_HC_REBOOT || nr == ANF_HC_YIELD)
                continue;                       /* harmless, but they stop or sleep */
            if (nr == ANF_HC_SHUTDOWN)
                a1 |= 0x100;                    /* status > 255: refused */
            if (nr == ANF_HC_TIME_PAGE || nr == ANF_HC_SHARED_PAGE || nr == ANF_HC_CONSOLE_READ ||
                nr == ANF_HC_GUEST_INFO)
                a1 = RAM_END + (a1 & 0x0FFFFFFF);   /* never inside RAM */
            if (nr == ANF_HC_CONSOLE_WRITE)
                a1 = RAM_END + (a1 & 0x0FFFFFFF);
            if (nr == ANF_HC_EVENT_BIND)
                a2 = 0;                         /* unbind: no upcall can come */
            int32_t r = hc(nr, a1, a2, a3, a4);
            calls++;
            bool known = nr == ANF_HC_NOP || (nr >= ANF_HC_CONSOLE_WRITE && nr <= ANF_HC_REBOOT) ||
                         nr == ANF_HC_IRQ_LATENCY;
            bool ok;
            if (!known)
                ok = r == ANF_ENOSYS;
            else if (nr == ANF_HC_TIME || nr == ANF_HC_IRQ_LATENCY)
                ok = true;                      /* a number, any (the latency: -1 if none) */
            else
                ok = r >= 0 || r == ANF_EPERM || r == ANF_ENOENT || r == ANF_EFAULT || r == ANF_EINVAL;
            if (!ok && bad++ < 5)
                test_fail("garbage call 0x%x (0x%x, 0x%x, 0x%x, 0x%x): %d", nr, a1, a2, a3, a4, r);
        }
    }
    test_check(bad == 0, "%u calls with garbage arguments: each got its error (or a harmless answer)", calls);
    hc(ANF_HC_SET_TIMER, 0, 0, 0, 0);            /* a random deadline may be armed: cancel it */
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("pvabi: anfitrion's hypercall ABI (docs/hypercalls.md): discovery, each call, errors");
    check_discovery();
    check_registers_kept();
    check_console();
    check_time();
    check_events_and_peers();
    check_info_and_machine();
    check_garbage();
    test_finish();
    hc(ANF_HC_SHUTDOWN, 3, 0, 0, 0);
    printf("FAIL: still running after ANF_HC_SHUTDOWN\n");
    halt_forever();
}

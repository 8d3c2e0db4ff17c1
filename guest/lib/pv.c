/* Helpers for guests of anfitrion's hypercalls: discovery, the virtual interrupt flag, the
 * time page and the line-buffered hypercall console (docs/hypercalls.md). */
#include <stdarg.h>

#include "arch.h"
#include "printf.h"
#include "pv.h"
#include "str.h"

#define PV_LINE_MAX 256

static struct anf_shared shared_page;   /* aligned(64) by its type */
static struct anf_time time_page;       /* aligned(32) */
static volatile struct anf_shared *shared;
static volatile struct anf_time *clock;
static uint64_t bound;                  /* events bound to a vector */

bool pv_discover(struct pv_discovery *d)
{
    uint32_t a, b, c, e;
    memset(d, 0, sizeof(*d));
    cpuid(1, 0, &a, &b, &c, &e);
    d->hypervisor = (c & CPUID1_ECX_HYPERVISOR) != 0;
    if (!d->hypervisor)
        return false;                   /* leaf 0x40000000 would be the CPU's own */
    cpuid(ANF_CPUID_BASE, 0, &d->max_leaf, &b, &c, &e);
    memcpy(d->signature, &b, 4);
    memcpy(d->signature + 4, &c, 4);
    memcpy(d->signature + 8, &e, 4);
    for (int i = 0; i < 12; i++)
        if (d->signature[i] && (d->signature[i] < 0x20 || d->signature[i] > 0x7e))
            d->signature[i] = '?';
    if (memcmp(d->signature, "anfitrion\0\0\0", 12) != 0 || d->max_leaf < ANF_CPUID_FEATURES)
        return false;
    cpuid(ANF_CPUID_FEATURES, 0, &d->version, &d->features, &c, &e);
    return true;
}

void pv_feature_names(uint32_t features, char *buf, size_t size)
{
    static const char *const names[] = { "console", "time", "events", "timer", "peers", "machine" };
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 32; i++) {
        if (!(features & (1u << i)))
            continue;
        const char *sep = len ? " " : "";
        size_t room = len < size ? size - len : 0;
        if (i < sizeof(names) / sizeof(names[0]))
            len += snprintf(buf + len, room, "%s%s", sep, names[i]);
        else
            len += snprintf(buf + len, room, "%sbit%u", sep, i);
    }
    if (!len)
        snprintf(buf, size, "none");
}

const char *pv_strerror(int32_t err)
{
    static char other[16];
    switch (err) {
    case 0: return "ok";
    case ANF_EPERM: return "EPERM";
    case ANF_ENOENT: return "ENOENT";
    case ANF_EFAULT: return "EFAULT";
    case ANF_EINVAL: return "EINVAL";
    case ANF_ENOSYS: return "ENOSYS";
    }
    snprintf(other, sizeof(other), "error %d", (int)err);
    return other;
}

int32_t pv_events_init(void)
{
    int32_t r = anf_hypercall(ANF_HC_SHARED_PAGE, (uint32_t)&shared_page, 0, 0, 0);
    if (r == 0)
        shared = &shared_page;
    return r;
}

int32_t pv_bind(unsigned event, unsigned vector)
{
    int32_t r = anf_hypercall(ANF_HC_EVENT_BIND, event, vector, 0, 0);
    if (r == 0 && event <= ANF_EV_MAX) {
        if (vector)
            bound |= 1ull << event;
        else
            bound &= ~(1ull << event);
    }
    return r;
}

volatile struct anf_shared *pv_shared(void)
{
    return shared;
}

void pv_mask(void)
{
    shared->mask = 1;
    barrier();
}

bool pv_upcall_waiting(void)
{
    barrier();
    return (shared->pending & bound) != 0;
}

void pv_unmask(void)
{
    barrier();
    shared->mask = 0;
    if (pv_upcall_waiting())
        anf_hypercall(ANF_HC_NOP, 0, 0, 0, 0);
}

/* Both halves at once with CMPXCHG8B: the hypervisor's locked OR can land between two
 * 32-bit exchanges on another CPU, and no bit may be lost or taken twice. */
uint64_t pv_take_events(void)
{
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("1: lock cmpxchg8b %0\n\t"
                     "jnz 1b"
                     : "+m"(shared->pending), "+a"(lo), "+d"(hi)
                     : "b"(0), "c"(0)
                     : "memory", "cc");
    return (uint64_t)hi << 32 | lo;
}

void pv_block(void)
{
    anf_hypercall(ANF_HC_BLOCK, 0, 0, 0, 0);
}

void pv_halt_forever(void)
{
    anf_set_timer(0);
    if (!shared)
        for (;;)
            pv_block();
    pv_mask();
    for (;;) {
        pv_take_events();
        pv_block();
    }
}

int32_t pv_time_init(void)
{
    int32_t r = anf_hypercall(ANF_HC_TIME_PAGE, (uint32_t)&time_page, 0, 0, 0);
    if (r == 0)
        clock = &time_page;
    return r;
}

uint64_t pv_time_ns(void)
{
    return clock ? anf_time_read(clock, rdtsc()) : anf_time_ns();
}

bool pv_time_paged(void)
{
    return clock != NULL;
}

static char line[PV_LINE_MAX];
static size_t line_len;

void pv_flush(void)
{
    if (line_len)
        anf_hypercall(ANF_HC_CONSOLE_WRITE, (uint32_t)line, line_len, 0, 0);
    line_len = 0;
}

void pv_putc(char c)
{
    if (c == '\n')
        pv_putc('\r');
    line[line_len++] = c;
    if (c == '\n' || line_len == sizeof(line))
        pv_flush();
}

void pv_write(const char *s, size_t n)
{
    while (n--)
        pv_putc(*s++);
}

int pv_printf(const char *fmt, ...)
{
    char buf[PV_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pv_write(buf, strlen(buf));
    return n;
}

int32_t pv_console_read(char *buf, size_t n)
{
    return anf_hypercall(ANF_HC_CONSOLE_READ, (uint32_t)buf, n, 0, 0);
}

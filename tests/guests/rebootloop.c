/* Guest test rebootloop: the two guests of the reboot-loop scenario (tests/boot/test_rebootloop.py,
 * make bench). role=reboot checks that its RAM is zero at every boot, dirties it and resets the
 * machine through port 0xCF9, again and again; role=count is the neighbour that counts its
 * timer ticks and its work. */
#include "guest.h"

/*
 * role=reboot [after=MS] (default: reboot at once)
 *   Each boot: one word at the start and one at the end of every 4 KiB page of its RAM
 *   outside its image, the Multiboot information and the firmware's area must read zero
 *   (the hypervisor reloads a rebooted guest into zeroed RAM); prints
 *   "rebootloop: boot: RAM zero (N pages checked)" or "... NOT zero at 0x..., M pages";
 *   then writes a pattern in those words, waits AFTER ms of its PIT and writes 0x06 to the
 *   reset register 0xCF9 (FADT RESET_REG).
 * role=count [hz=100] [every=20] [gap=10000000]
 *   PIT at HZ; counts in a loop with interrupts on and prints every EVERY ticks, and when
 *   GAP TSC ticks passed since its last line (so a line comes soon after it was kept from
 *   running), "rebootloop: count: ticks N tsc T work W" (T the TSC, W the loop's count):
 *   the bench turns two such lines into ticks and work per second of emulated time.
 */

#define PAGE            4096u
#define LOW_START       0x1000u         /* below: the real-mode IVT and BDA, left alone */
#define LOW_END         0x9F000u        /* the EBDA's page and up: the firmware's */
#define HIGH_START      0x100000u
#define INFO_SKIP       0x10000u        /* the Multiboot information (MB_INFO_SIZE, 32 KiB), with room */
#define RESET_PORT      0xCF9
#define RESET_VALUE     0x06
#define TIMER_HZ        100
#define PATTERN         0xA5A5A5A5u

static volatile uint32_t ticks;

static struct int_frame *timer_irq(struct int_frame *f)
{
    ticks++;
    return f;
}

struct span { uint32_t start, end; };

/* The pages this guest may expect to be zero at boot: its RAM outside its image, the
 * Multiboot information and the firmware's area. */
static unsigned plain_ram(const struct mb_info *mbi, struct span out[3])
{
    uint32_t info = (uint32_t)mbi & ~(PAGE - 1);
    uint32_t image_end = ((uint32_t)guest_image_end + PAGE - 1) & ~(PAGE - 1);
    uint64_t ram_end = mb_ram_end(mbi);
    unsigned n = 0;
    /* The information sits in low memory (kernel/vm/loader/multiboot.h): split around it. */
    if (info >= LOW_START && info < LOW_END) {
        out[n++] = (struct span){ LOW_START, info };
        if (info + INFO_SKIP < LOW_END)
            out[n++] = (struct span){ info + INFO_SKIP, LOW_END };
    } else {
        out[n++] = (struct span){ LOW_START, LOW_END };
    }
    uint32_t high = image_end > HIGH_START ? image_end : HIGH_START;
    if (info >= high && info < ram_end)
        ram_end = info;                 /* not expected; then check below it only */
    if (ram_end > high)
        out[n++] = (struct span){ high, (uint32_t)ram_end };
    return n;
}

static void role_reboot(const struct mb_info *mbi, uint32_t after_ms)
{
    struct span s[3];
    unsigned n = plain_ram(mbi, s);
    uint32_t pages = 0, dirty = 0, first_dirty = 0;
    for (unsigned i = 0; i < n; i++)
        for (uint32_t p = s[i].start; p < s[i].end; p += PAGE, pages++) {
            volatile uint32_t *head = (volatile uint32_t *)p, *tail = (volatile uint32_t *)(p + PAGE - 4);
            if (*head || *tail) {
                if (!dirty++)
                    first_dirty = p;
            }
            *head = PATTERN;
            *tail = PATTERN;
        }
    if (dirty)
        printf("rebootloop: boot: RAM NOT zero at 0x%08x, %u of %u pages\n", first_dirty, dirty, pages);
    else
        printf("rebootloop: boot: RAM zero (%u pages checked)\n", pages);

    pic_init();
    pit_set_periodic(TIMER_HZ);
    irq_set_handler(PIT_IRQ, timer_irq);
    pic_unmask(PIT_IRQ);
    uint32_t due = (after_ms + 1000 / TIMER_HZ - 1) / (1000 / TIMER_HZ);
    while (ticks < due)
        sti_hlt();
    cli();
    printf("rebootloop: rebooting\n");
    outb(RESET_PORT, RESET_VALUE);
    printf("rebootloop: the reset register did not reset the machine\n");
    halt_forever();
}

static void role_count(uint32_t hz, uint32_t every, uint32_t gap)
{
    pic_init();
    pit_set_periodic(hz);
    irq_set_handler(PIT_IRQ, timer_irq);
    pic_unmask(PIT_IRQ);
    printf("rebootloop: count: hz=%u every=%u\n", hz, every);
    uint32_t next = every;
    uint64_t work = 0, last = rdtsc();
    sti();
    for (;;) {
        work++;
        barrier();
        if (ticks < next && ((work & 0xFFF) || rdtsc() - last < gap))
            continue;
        uint32_t t = ticks;
        last = rdtsc();
        printf("rebootloop: count: ticks %u tsc %llu work %llu\n", t, (unsigned long long)last,
               (unsigned long long)work);
        if (t >= next)
            next = t - t % every + every;
    }
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    char cmdline[128];
    const char *c = mb_cmdline(mbi);
    size_t len = strlen(c) < sizeof cmdline - 1 ? strlen(c) : sizeof cmdline - 1;
    memcpy(cmdline, c, len);
    cmdline[len] = 0;
    char role[16] = "reboot";
    cmdline_str(cmdline, "role", role, sizeof role);
    if (strcmp(role, "count") == 0) {
        uint32_t hz = cmdline_u32(cmdline, "hz", TIMER_HZ);
        uint32_t every = cmdline_u32(cmdline, "every", 20);
        role_count(hz < 19 ? 19 : hz, every ? every : 1, cmdline_u32(cmdline, "gap", 10000000));
    }
    if (strcmp(role, "reboot") == 0)
        role_reboot(mbi, cmdline_u32(cmdline, "after", 0));
    printf("rebootloop: unknown role %s (reboot or count)\n", role);
    halt_forever();
}

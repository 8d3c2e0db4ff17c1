/*
 * crash: a guest that misbehaves on purpose. It ticks like tinyos for a while,
 * then fails in the way mode= asks, so the hypervisor's crash handling
 * (stop, restart, reports) can be exercised.
 */
#include "guest.h"

#define TIMER_HZ        100
#define MS_PER_TICK     (1000 / TIMER_HZ)
#define DEFAULT_AFTER_MS 3000
#define FAR_OUTSIDE     0x7ff00000u

static volatile uint32_t ticks;
static uint32_t outside_addr;
static uint64_t vmxon_region_pa;
static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));

static struct int_frame *timer_irq(struct int_frame *f)
{
    ticks++;
    return f;                       /* the dispatcher sends the EOI */
}

static void crash_triple(void)
{
    idt_load_empty();
    __asm__ volatile("ud2");        /* #UD -> no gate -> #GP -> #DF -> shutdown */
}

static void crash_jump(void)
{
    void (*target)(void) = (void (*)(void))outside_addr;
    target();
}

static void crash_write(void)
{
    *(volatile uint32_t *)outside_addr = 0xdeadbeef;
}

/* An instruction anfitrion does not emulate (an indirect call) with its operand in the xAPIC
 * page: the report names the bytes the guest's memory gave, and only those. */
static void crash_mmio(void)
{
    __asm__ volatile("call *(%0)" : : "a"(0xfee00000u) : "memory");
}

static void crash_hlt(void)
{
    halt_forever();
}

static void crash_spin(void)
{
    cli();
    for (;;)
        barrier();
}

static void crash_storm(void)
{
    pit_set_divisor(1);             /* fastest the 8254 goes: ~1.19 MHz of IRQ 0 */
    for (;;)
        sti_hlt();
}

static void crash_vmx(void)
{
    vmxon_region_pa = (uint32_t)vmxon_region;
    __asm__ volatile("vmxon %0" : : "m"(vmxon_region_pa) : "cc", "memory");
}

static const struct {
    const char *name;
    void (*fail)(void);
} modes[] = {
    { "triple", crash_triple },
    { "jump", crash_jump },
    { "write", crash_write },
    { "mmio", crash_mmio },
    { "hlt", crash_hlt },
    { "spin", crash_spin },
    { "storm", crash_storm },
    { "vmx", crash_vmx },
};

/* "3s", "500ms", or a bare number of seconds; def if absent or malformed. */
static uint32_t parse_after_ms(const char *cmdline, uint32_t def)
{
    size_t len;
    uint32_t v;
    const char *s = cmdline_find(cmdline, "after", &len);
    if (!s)
        return def;
    if (len > 2 && s[len - 2] == 'm' && s[len - 1] == 's')
        return parse_u32(s, len - 2, &v) ? v : def;
    if (len > 1 && s[len - 1] == 's')
        return parse_u32(s, len - 1, &v) ? v * 1000 : def;
    return parse_u32(s, len, &v) ? v * 1000 : def;
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    const char *cmdline = mb_cmdline(mbi);
    char mode[16] = "triple";
    cmdline_str(cmdline, "mode", mode, sizeof(mode));
    uint32_t after_ms = parse_after_ms(cmdline, DEFAULT_AFTER_MS);

    void (*fail)(void) = NULL;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(mode, modes[i].name) == 0)
            fail = modes[i].fail;
    if (!fail) {
        printf("crash: unknown mode %s (known: triple jump write mmio hlt spin storm vmx)\n", mode);
        halt_forever();
    }

    uint64_t ram_end = mb_ram_end(mbi);
    outside_addr = ram_end < FAR_OUTSIDE ? FAR_OUTSIDE : (uint32_t)(ram_end + (16u << 20));
    if (after_ms % 1000)
        printf("crash: mode=%s in %ums\n", mode, after_ms);
    else
        printf("crash: mode=%s in %us\n", mode, after_ms / 1000);

    pic_init();
    pit_set_periodic(TIMER_HZ);
    irq_set_handler(PIT_IRQ, timer_irq);
    pic_unmask(PIT_IRQ);
    uint32_t due = (after_ms + MS_PER_TICK - 1) / MS_PER_TICK;
    uint32_t printed = 0;
    for (;;) {
        sti_hlt();
        cli();
        uint32_t t = ticks;
        if (t >= due)
            break;
        if (t / TIMER_HZ > printed) {
            printed = t / TIMER_HZ;
            printf("crash: alive %us\n", printed);
        }
    }

    printf("crash: now\n");
    fail();
    printf("crash: mode %s did not stop the guest (at 0x%08x)\n", mode, outside_addr);
    halt_forever();
}

/* bench: RDTSC cost of the operations a hypervisor must trap, against an empty loop. */
#include "guest.h"
#include "hypercall.h"

#define DEFAULT_ITERS   10000

typedef void (*bench_fn)(uint32_t iters);

static void run_empty(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++)
        __asm__ volatile("" : : : "memory");
}

static void run_cpuid(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++) {
        uint32_t a = 0, b, c = 0, d;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
    }
}

static void run_vmcall(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++) {
        uint32_t a = 0, b = 0, c = 0, d = 0;
        __asm__ volatile("vmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) : : "memory");
    }
}

static void run_outb_scratch(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++)
        outb(UART_COM1 + UART_SCR, (uint8_t)i);
}

/* CPU-bound loop with no exit: xorshift32 in assembly with 32-bit registers only, the
 * same instruction sequence as run_compute in kernel/bench.c (the host's baseline). */
static void run_compute(uint32_t iters)
{
    uint32_t x = 2463534242u, n = iters, t;
    __asm__ volatile("1:\n\t"
                     "movl %0, %2\n\t" "shll $13, %2\n\t" "xorl %2, %0\n\t"
                     "movl %0, %2\n\t" "shrl $17, %2\n\t" "xorl %2, %0\n\t"
                     "movl %0, %2\n\t" "shll $5, %2\n\t"  "xorl %2, %0\n\t"
                     "decl %1\n\t" "jnz 1b"
                     : "+r"(x), "+r"(n), "=&r"(t) : : "cc");
    __asm__ volatile("" : : "r"(x));
}

static void vmcall_once(void *arg)
{
    (void)arg;
    run_vmcall(1);
}

/* Timer-interrupt latency: IRQ 0's gate points straight at irqlat_stub, whose first
 * instruction is RDTSC. The main loop waits with sti;hlt and declares EAX/EDX clobbered, so
 * the stub may use them without saving. The hypervisor (ANF_HC_IRQ_LATENCY) turns the TSC into
 * ticks since the host timer interrupt that led to the injection. */
volatile uint32_t irqlat_lo, irqlat_hi, irqlat_count;
void irqlat_stub(void);
__asm__(".globl irqlat_stub\n"
        "irqlat_stub:\n\t"
        "rdtsc\n\t"
        "movl %eax, irqlat_lo\n\t"
        "movl %edx, irqlat_hi\n\t"
        "incl irqlat_count\n\t"
        "movb $0x20, %al\n\t"
        "outb %al, $0x20\n\t"             /* non-specific EOI to the master PIC */
        "iret\n");

static void irq_latency(uint32_t samples)
{
    pic_init();
    idt_set_raw_gate(IRQ_VECTOR_BASE + 0, irqlat_stub);
    pit_set_periodic(100);
    pic_unmask(0);
    uint64_t min = ~0ull, max = 0, sum = 0;
    uint32_t got = 0, bad = 0;
    while (got < samples) {
        uint32_t seen = irqlat_count;
        __asm__ volatile("sti; hlt; cli" : : : "eax", "edx", "memory");
        if (irqlat_count == seen)
            continue;
        uint32_t a = ANF_HC_IRQ_LATENCY, b = irqlat_lo, c = irqlat_hi, d = 0;
        __asm__ volatile("vmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) : : "memory");
        if (a == 0xFFFFFFFFu) {
            bad++;
            continue;
        }
        if (got++ == 0)
            continue;                   /* the first tick follows the PIT's programming */
        sum += a;
        if (a < min)
            min = a;
        if (a > max)
            max = a;
    }
    pic_mask(0);
    if (got < 2) {
        printf("bench: irq_latency: no samples\n");
        return;
    }
    printf("bench: irq_latency %u samples: min %llu avg %llu max %llu ticks (%u unusable)\n",
           got - 1, min, u64_divmod(sum, got - 1, NULL), max, bad);
}

/* The same for a paravirtual guest (docs/hypercalls.md): the timer event's upcall points at
 * the same stub minus the PIC's EOI, the hypervisor's one-shot timer replaces the PIT and
 * ANF_HC_BLOCK replaces HLT. The wait declares EAX/EDX clobbered as above. */
static struct anf_shared pv_shared;
static struct anf_time pv_time;
void pvlat_stub(void);
__asm__(".globl pvlat_stub\n"
        "pvlat_stub:\n\t"
        "rdtsc\n\t"
        "movl %eax, irqlat_lo\n\t"
        "movl %edx, irqlat_hi\n\t"
        "incl irqlat_count\n\t"
        "iret\n");

#define PVLAT_VECTOR 0x40
#define PVLAT_PERIOD_NS 10000000ull             /* 100 Hz, as the PIT above */

static void pv_irq_latency(uint32_t samples)
{
    if (anf_hypercall(ANF_HC_SHARED_PAGE, (uint32_t)&pv_shared, 0, 0, 0) ||
        anf_hypercall(ANF_HC_TIME_PAGE, (uint32_t)&pv_time, 0, 0, 0)) {
        printf("bench: pv_latency: no hypercalls\n");
        return;
    }
    idt_set_raw_gate(PVLAT_VECTOR, pvlat_stub);
    anf_hypercall(ANF_HC_EVENT_BIND, ANF_EV_TIMER, PVLAT_VECTOR, 0, 0);
    uint64_t deadline = anf_time_read(&pv_time, rdtsc());
    uint64_t min = ~0ull, max = 0, sum = 0;
    uint32_t got = 0, bad = 0;
    irqlat_count = 0;
    while (got < samples) {
        uint32_t seen = irqlat_count, nr = ANF_HC_BLOCK;
        deadline += PVLAT_PERIOD_NS;
        anf_set_timer(deadline);
        pv_shared.mask = 0;
        __asm__ volatile("sti; vmcall; cli" : "+a"(nr) : : "edx", "memory");
        if (irqlat_count == seen)
            continue;
        anf_take_event(&pv_shared, ANF_EV_TIMER);
        pv_shared.mask = 1;
        uint32_t a = ANF_HC_IRQ_LATENCY, b = irqlat_lo, c = irqlat_hi, d = 0;
        __asm__ volatile("vmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) : : "memory");
        if (a == 0xFFFFFFFFu) {
            bad++;
            continue;
        }
        sum += a;
        if (a < min)
            min = a;
        if (a > max)
            max = a;
        got++;
    }
    printf("bench: pv_latency %u samples: min %llu avg %llu max %llu ticks (%u unusable)\n",
           got, min, u64_divmod(sum, got, NULL), max, bad);
}

static void report(const char *name, uint32_t iters, bench_fn fn)
{
    uint64_t start = rdtsc();
    fn(iters);
    uint64_t total = rdtsc() - start;
    printf("bench: %-12s %8u %14llu %10llu\n", name, iters, total, u64_divmod(total, iters, NULL));
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    uint32_t iters = cmdline_u32(mb_cmdline(mbi), "iters", DEFAULT_ITERS);
    if (iters == 0)
        iters = 1;
    printf("bench: %-12s %8s %14s %10s\n", "name", "iters", "total_ticks", "ticks_per_op");
    report("empty_loop", iters, run_empty);
    report("cpuid_0", iters, run_cpuid);
    int vec = guest_try(vmcall_once, NULL);
    if (vec < 0)
        report("vmcall_0", iters, run_vmcall);
    else
        printf("bench: %-12s %8u %14s %10s (vmcall raised %s)\n", "vmcall_0", iters, "n/a", "n/a",
               exception_name((unsigned)vec));
    report("outb_scratch", iters, run_outb_scratch);
    report("compute", iters * 100, run_compute);
    uint32_t samples = cmdline_u32(mb_cmdline(mbi), "irqlat", 0);
    if (samples)
        irq_latency(samples);
    samples = cmdline_u32(mb_cmdline(mbi), "pvlat", 0);
    if (samples)
        pv_irq_latency(samples);
    printf("bench: done\n");
}

/* bench: RDTSC cost of the operations a hypervisor must trap, against an empty loop. */
#include "guest.h"

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

static void vmcall_once(void *arg)
{
    (void)arg;
    run_vmcall(1);
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
    printf("bench: done\n");
}

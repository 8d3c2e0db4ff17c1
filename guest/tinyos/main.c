/* tinyos entry: read the command line, set up paging, PIC, PIT and tasks, then run the console. */
#include "tinyos.h"

#define DEFAULT_HZ      100
#define DEFAULT_TASKS   2

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    const char *cmdline = mb_cmdline(mbi);
    uint32_t hz = cmdline_u32(cmdline, "hz", DEFAULT_HZ);
    uint32_t ntasks = cmdline_u32(cmdline, "tasks", DEFAULT_TASKS);
    if (hz < 19)
        hz = 19;                    /* slowest the 8254 can go: divisor 65535 */
    if (hz > 10000)
        hz = 10000;
    if (ntasks < 1)
        ntasks = 1;
    if (ntasks > TINYOS_MAX_TASKS)
        ntasks = TINYOS_MAX_TASKS;
    uint32_t every = cmdline_u32(cmdline, "every", hz);
    char echo_opt[8] = "on";
    cmdline_str(cmdline, "echo", echo_opt, sizeof(echo_opt));
    bool echo = strcmp(echo_opt, "off") != 0;

    printf("tinyos: hz=%u tasks=%u\n", hz, ntasks);

    /* Map all our RAM (and at least our image) before turning paging on. */
    uint64_t ram_end = mb_ram_end(mbi);
    if (ram_end < (uint32_t)guest_image_end)
        ram_end = (uint32_t)guest_image_end;
    uint32_t mapped = paging_identity_map(ram_end);
    printf("tinyos: paging on, %u MiB identity-mapped\n", mapped >> 20);

    pic_init();
    pit_set_periodic(hz);
    sched_init(ntasks);
    sched_set_status_every(every);
    irq_set_handler(PIT_IRQ, sched_timer_irq);
    irq_set_handler(UART_IRQ, sched_uart_irq);
    uart_rx_irq_enable();
    pic_unmask(PIT_IRQ);
    pic_unmask(UART_IRQ);
    printf("tinyos: status every %u ticks; commands: help, echo TEXT, ticks, tasks, date\n", every);
    shell_run(hz, echo);
}

/* tinyos entry: read the command line, set up paging, PIC, PIT and tasks, then run the console. */
#include "tinyos.h"

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    struct tasks_options opt;
    tasks_read_options(mb_cmdline(mbi), &opt);

    printf("tinyos: hz=%u tasks=%u\n", opt.hz, opt.ntasks);

    /* Map all our RAM (and at least our image) before turning paging on. */
    uint32_t mapped = paging_identity_map(mb_ram_end(mbi));
    printf("tinyos: paging on, %u MiB identity-mapped\n", mapped >> 20);

    pic_init();
    pit_set_periodic(opt.hz);
    tasks_init(opt.ntasks);
    tasks_set_status_every(opt.every);
    irq_set_handler(PIT_IRQ, sched_timer_irq);
    irq_set_handler(UART_IRQ, sched_uart_irq);
    uart_rx_irq_enable();
    pic_unmask(PIT_IRQ);
    pic_unmask(UART_IRQ);
    printf("tinyos: status every %u ticks; commands: help, echo TEXT, ticks, tasks, date\n", opt.every);
    shell_run(opt.hz, opt.echo);
}

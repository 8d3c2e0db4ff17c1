/* tinyos console: periodic status lines and a line-oriented shell on COM1 (interrupt-driven input). */
#include "tinyos.h"

static struct tshell sh;

static void print_status(void)
{
    struct tasks_snapshot snap;
    cli();                          /* the counting tasks cannot run: no torn 64-bit reads */
    tasks_snapshot(&snap);
    sti();

    tshell_print_tasks(&sh, &snap);
    struct rtc_time now;
    if (rtc_read(&now))
        printf(" rtc %02u:%02u:%02u\n", now.hour, now.min, now.sec);
    else
        printf(" rtc ?\n");
}

static void cmd_date(struct tshell *shell, const char *args)
{
    (void)shell;
    (void)args;
    struct rtc_time now;
    if (rtc_read(&now))
        printf("rtc %04u-%02u-%02u %02u:%02u:%02u\n", now.year, now.month, now.day,
               now.hour, now.min, now.sec);
    else
        printf("rtc: not responding\n");
}

static const struct tshell_command commands[] = {
    { "date", NULL, cmd_date },
};

void shell_run(uint32_t hz, bool echo)
{
    sh = (struct tshell){
        .print = printf, .status = print_status, .hz = hz, .echo = echo,
        .commands = commands, .ncommands = sizeof(commands) / sizeof(commands[0]),
    };
    for (;;) {
        cli();
        bool status = tasks_take_status_due();
        int c = uart_getc();
        if (!status && c < 0) {
            sti_hlt();              /* idle until the next interrupt */
            continue;
        }
        sti();
        if (status)
            print_status();
        for (; c >= 0; c = uart_getc())
            tshell_take_char(&sh, c);
    }
}

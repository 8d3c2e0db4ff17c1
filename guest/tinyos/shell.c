/* tinyos console: periodic status lines and a line-oriented shell on COM1 (interrupt-driven input). */
#include "tinyos.h"

#define LINE_MAX 80

static uint32_t shell_hz;

static void print_status(void)
{
    uint64_t counts[TINYOS_MAX_TASKS];
    unsigned n = sched_task_count();
    cli();                          /* the counting tasks cannot run: no torn 64-bit reads */
    uint32_t t = sched_ticks();
    for (unsigned i = 0; i < n; i++)
        counts[i] = sched_counter(i);
    sti();

    printf("tick %u: tasks", t);
    for (unsigned i = 0; i < n; i++)
        printf(" %llu", counts[i]);
    struct rtc_time now;
    if (rtc_read(&now))
        printf(" rtc %02u:%02u:%02u\n", now.hour, now.min, now.sec);
    else
        printf(" rtc ?\n");
}

static void cmd_help(const char *args)
{
    (void)args;
    printf("commands: help, echo TEXT, ticks, tasks, date\n");
}

static void cmd_echo(const char *args)
{
    printf("%s\n", args);
}

static void cmd_ticks(const char *args)
{
    (void)args;
    uint32_t t = sched_ticks();
    printf("ticks %u (%u s at %u Hz)\n", t, t / shell_hz, shell_hz);
}

static void cmd_tasks(const char *args)
{
    (void)args;
    print_status();
}

static void cmd_date(const char *args)
{
    (void)args;
    struct rtc_time now;
    if (rtc_read(&now))
        printf("rtc %04u-%02u-%02u %02u:%02u:%02u\n", now.year, now.month, now.day,
               now.hour, now.min, now.sec);
    else
        printf("rtc: not responding\n");
}

static const struct {
    const char *name;
    void (*run)(const char *args);
} commands[] = {
    { "help", cmd_help },
    { "echo", cmd_echo },
    { "ticks", cmd_ticks },
    { "tasks", cmd_tasks },
    { "date", cmd_date },
};

static void run_line(char *line)
{
    while (*line == ' ')
        line++;
    if (!*line)
        return;
    char *args = line;
    while (*args && *args != ' ')
        args++;
    if (*args)
        *args++ = '\0';
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(line, commands[i].name) == 0) {
            commands[i].run(args);
            return;
        }
    }
    printf("unknown command: %s\n", line);
}

/* Feed one received byte to the line editor; runs the line on CR or LF. */
static void take_char(char *line, size_t *len, int c, bool echo)
{
    if (c == '\r' || c == '\n') {
        if (echo)
            uart_putc('\n');
        line[*len] = '\0';
        *len = 0;
        run_line(line);
    } else if (c == 0x7f || c == 0x08) {
        if (*len > 0) {
            (*len)--;
            if (echo)
                printf("\b \b");
        }
    } else if (c >= 0x20 && c < 0x7f && *len < LINE_MAX - 1) {
        line[(*len)++] = (char)c;
        if (echo)
            uart_putc((char)c);
    }
}

void shell_run(uint32_t hz, bool echo)
{
    char line[LINE_MAX];
    size_t len = 0;
    shell_hz = hz;
    for (;;) {
        cli();
        bool status = sched_take_status_due();
        int c = uart_getc();
        if (!status && c < 0) {
            sti_hlt();              /* idle until the next interrupt */
            continue;
        }
        sti();
        if (status)
            print_status();
        for (; c >= 0; c = uart_getc())
            take_char(line, &len, c, echo);
    }
}

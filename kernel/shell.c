/* The console shell: reads keystrokes from COM1, edits a line, runs commands from a table. */
#include "kernel/shell.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/printf.h"
#include "kernel/string.h"
#include "kernel/shell_cmds.h"

#define LINE_MAX 256
#define PROMPT "hv> "

static char line[LINE_MAX];
static unsigned line_len;

int shell_tokenize(char *s, char **argv, int max)
{
    int argc = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            *s++ = '\0';
        if (!*s)
            break;
        if (argc == max)
            break;
        argv[argc++] = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
    }
    return argc;
}

const struct shell_command *shell_find(const char *name)
{
    for (const struct shell_command *c = shell_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int shell_error(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kprintf("error: %s\n", buf);
    return -1;
}

static void redraw(void)
{
    console_write(PROMPT, sizeof PROMPT - 1);
    console_write(line, line_len);
}

static void execute(void)
{
    char *argv[SHELL_MAX_ARGS];
    line[line_len] = '\0';
    int argc = shell_tokenize(line, argv, SHELL_MAX_ARGS);
    if (argc > 0) {
        const struct shell_command *c = shell_find(argv[0]);
        if (c)
            c->run(argc, argv);
        else
            shell_error("unknown command \"%s\" (try help)", argv[0]);
    }
    line_len = 0;
}

void shell_init(void)
{
    console_set_prompt_redraw(redraw);
    redraw();
    console_prompt_visible(true);
}

bool shell_poll(void)
{
    bool any = false;
    int c;
    while ((c = console_getc()) >= 0) {
        any = true;
        if (c == '\r' || c == '\n') {
            console_write("\n", 1);
            console_prompt_visible(false);
            execute();
            redraw();
            console_prompt_visible(true);
        } else if (c == 0x7F || c == 0x08) {            /* backspace */
            if (line_len) {
                line_len--;
                console_write("\b \b", 3);
            }
        } else if (c == 0x15) {                         /* Ctrl-U: kill the line */
            line_len = 0;
            console_write("\r\033[K", 4);
            redraw();
        } else if (c == 0x03) {                         /* Ctrl-C: drop the line */
            console_write("^C\n", 3);
            line_len = 0;
            redraw();
        } else if (c >= 0x20 && c < 0x7F && line_len < LINE_MAX - 1) {
            line[line_len++] = (char)c;
            char ch = (char)c;
            console_write(&ch, 1);
        }
    }
    return any;
}

/* The console shell: reads keystrokes from COM1, edits a line, runs commands from a table. */
#include "kernel/shell/shell.h"
#include "drivers/uart.h"
#include "kernel/console.h"
#include "kernel/shell/lineedit.h"
#include "kernel/log.h"
#include "kernel/printf.h"
#include "kernel/string.h"
#include "kernel/shell/shell_cmds.h"

#define PROMPT "hv> "

static struct lineedit editor;
static bool (*input_hook)(uint8_t byte);   /* set: input goes there, not to the editor */
static bool (*input_ready)(void);          /* the hook's flow control, or NULL */
static bool hook_skip_lf;                   /* the line that set the hook ended in CR */

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

/* Until the guest commands are linked in (and in host tests): no guests to offer. */
__attribute__((weak)) int shell_complete_guests(const char *prefix, const char **out, int max)
{
    (void)prefix, (void)out, (void)max;
    return 0;
}

static int complete_commands(const char *prefix, const char **out, int max)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const struct shell_command *c = shell_commands; c->name && n < max; c++)
        if (strncmp(c->name, prefix, len) == 0)
            out[n++] = c->name;
    return n;
}

/* The editor's Tab: command names for the first word (and after "help"), guest
 * names for the others. */
static int complete_word(void *ctx, const char *text, size_t cursor, const char **out, int max)
{
    (void)ctx;
    char word[LE_LINE_MAX + 1];
    size_t start = cursor, first = 0, first_end;
    while (start > 0 && text[start - 1] != ' ')
        start--;
    memcpy(word, text + start, cursor - start);
    word[cursor - start] = '\0';
    while (first < start && text[first] == ' ')
        first++;
    if (first == start)
        return complete_commands(word, out, max);
    for (first_end = first; text[first_end] && text[first_end] != ' '; first_end++)
        ;
    if (first_end - first == 4 && strncmp(text + first, "help", 4) == 0)
        return complete_commands(word, out, max);
    return shell_complete_guests(word, out, max);
}

static void term_write(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    console_write(s, n);
}

/* The console's callback after asynchronous output: prompt and half-typed line again. */
static void redraw(void)
{
    lineedit_redraw(&editor);
}

static void show_prompt(void)
{
    lineedit_redraw(&editor);
    console_prompt_visible(true);
}

static void execute(const char *text)
{
    char line[LE_LINE_MAX + 1];
    char *argv[SHELL_MAX_ARGS];
    strcpy(line, text);
    int argc = shell_tokenize(line, argv, SHELL_MAX_ARGS);
    if (argc > 0) {
        const struct shell_command *c = shell_find(argv[0]);
        if (c)
            c->run(argc, argv);
        else
            shell_error("unknown command \"%s\" (try help)", argv[0]);
    }
}

void shell_set_input_ready(bool (*ready)(void))
{
    input_ready = ready;
}

static bool hook_ready(void)
{
    return !input_hook || !input_ready || input_ready();
}

bool shell_input_waiting(void)
{
    return uart_rx_pending() && hook_ready();
}

void shell_set_input_hook(bool (*hook)(uint8_t byte))
{
    bool had = input_hook != NULL;
    input_hook = hook;
    if (!hook)
        input_ready = NULL;
    if (hook) {
        console_prompt_visible(false);
        editor.after_cr = false;        /* the editor sees nothing until the hook lets go */
    } else if (had) {
        show_prompt();
    }
}

void shell_init(void)
{
    lineedit_init(&editor, PROMPT, term_write, complete_word, NULL);
    console_set_prompt_redraw(redraw);
    show_prompt();
}

/* One byte for the attached hook; a false answer gives the console back to the shell. */
static void hook_byte(uint8_t byte)
{
    bool skip = hook_skip_lf && byte == '\n';
    hook_skip_lf = false;
    if (!skip && !input_hook(byte))
        shell_set_input_hook(NULL);
}

bool shell_poll(void)
{
    bool any = false;
    int c;
    while (hook_ready() && (c = console_getc()) >= 0) {
        any = true;
        if (input_hook) {
            hook_byte((uint8_t)c);
            continue;
        }
        switch (lineedit_feed(&editor, (uint8_t)c)) {
        case LE_LINE:
            console_prompt_visible(false);
            lineedit_history_add(&editor, lineedit_line(&editor));
            execute(lineedit_line(&editor));
            hook_skip_lf = input_hook && c == '\r';
            if (!input_hook)
                show_prompt();
            break;
        case LE_CANCEL:
            show_prompt();
            break;
        case LE_NONE:
            break;
        }
    }
    return any;
}

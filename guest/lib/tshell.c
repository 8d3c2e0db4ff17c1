/* The line editor, command table and common commands of tinyos's and pvos's shell. */
#include "str.h"
#include "tshell.h"

static void cmd_help(struct tshell *sh, const char *args);

static void cmd_echo(struct tshell *sh, const char *args)
{
    sh->print("%s\n", args);
}

static void cmd_ticks(struct tshell *sh, const char *args)
{
    (void)args;
    uint32_t t = tasks_ticks();
    sh->print("ticks %u (%u s at %u Hz)\n", t, t / sh->hz, sh->hz);
}

static void cmd_tasks(struct tshell *sh, const char *args)
{
    (void)args;
    sh->status();
}

/* Before the guest's commands, in help's list too ("help, echo TEXT, ticks, tasks, date"). */
static const struct tshell_command common[] = {
    { "help", NULL, cmd_help },
    { "echo", "echo TEXT", cmd_echo },
    { "ticks", NULL, cmd_ticks },
    { "tasks", NULL, cmd_tasks },
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

/* Command i: a common one, then the guest's. */
static const struct tshell_command *command(const struct tshell *sh, size_t i)
{
    return i < NCOMMON ? &common[i] : &sh->commands[i - NCOMMON];
}

static void cmd_help(struct tshell *sh, const char *args)
{
    (void)args;
    sh->print("commands:");
    for (size_t i = 0; i < NCOMMON + sh->ncommands; i++) {
        const struct tshell_command *cmd = command(sh, i);
        sh->print("%s %s", i ? "," : "", cmd->usage ? cmd->usage : cmd->name);
    }
    sh->print("\n");
}

/* Split off the first word, the command's name, and run the command it names. */
static void run_line(struct tshell *sh, char *line)
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
    for (size_t i = 0; i < NCOMMON + sh->ncommands; i++) {
        const struct tshell_command *cmd = command(sh, i);
        if (strcmp(line, cmd->name) == 0) {
            cmd->run(sh, args);
            return;
        }
    }
    sh->print("unknown command: %s\n", line);
}

void tshell_take_char(struct tshell *sh, int c)
{
    if (c == '\r' || c == '\n') {
        if (sh->echo)
            sh->print("\n");
        sh->line[sh->len] = '\0';
        sh->len = 0;
        run_line(sh, sh->line);
    } else if (c == 0x7f || c == 0x08) {
        if (sh->len > 0) {
            sh->len--;
            if (sh->echo)
                sh->print("\b \b");
        }
    } else if (c >= 0x20 && c < 0x7f && sh->len < TSHELL_LINE_MAX - 1) {
        sh->line[sh->len++] = (char)c;
        if (sh->echo)
            sh->print("%c", c);
    }
}

void tshell_print_tasks(const struct tshell *sh, const struct tasks_snapshot *s)
{
    sh->print("tick %u: tasks", s->ticks);
    for (unsigned i = 0; i < s->count; i++)
        sh->print(" %llu", s->counters[i]);
}

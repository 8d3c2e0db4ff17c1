/* The counting tasks of tinyos and pvos, switched round robin by swapping saved frames. */
#include "arch.h"
#include "multiboot.h"
#include "str.h"
#include "tasks.h"

#define TASK_STACK_SIZE 8192
#define DEFAULT_HZ      100
#define DEFAULT_TASKS   2

struct task {
    struct int_frame *frame;        /* saved when the task is not running */
    volatile uint64_t counter;
};

static struct task tasks[TASKS_MAX + 1];    /* [0] is the console/idle task */
static uint8_t task_stacks[TASKS_MAX][TASK_STACK_SIZE] __attribute__((aligned(16)));
static unsigned task_count;         /* counting tasks, not including task 0 */
static unsigned current;
static volatile uint32_t ticks;
static uint32_t status_every = 100;
static volatile bool status_due;
static volatile bool console_wanted;

void tasks_read_options(const char *cmdline, struct tasks_options *o)
{
    o->hz = cmdline_u32(cmdline, "hz", DEFAULT_HZ);
    o->ntasks = cmdline_u32(cmdline, "tasks", DEFAULT_TASKS);
    /* 19 Hz is the slowest the 8254 can go (divisor 65535); pvos keeps tinyos's bounds, so
     * that the same options do the same work. */
    if (o->hz < 19)
        o->hz = 19;
    if (o->hz > 10000)
        o->hz = 10000;
    if (o->ntasks < 1)
        o->ntasks = 1;
    if (o->ntasks > TASKS_MAX)
        o->ntasks = TASKS_MAX;
    o->every = cmdline_u32(cmdline, "every", o->hz);
    char echo_opt[8] = "on";
    cmdline_str(cmdline, "echo", echo_opt, sizeof(echo_opt));
    o->echo = strcmp(echo_opt, "off") != 0;
}

static void __attribute__((noreturn)) counting_task(unsigned id)
{
    for (;;)
        tasks[id].counter++;
}

/* Lay out a frame that isr_common's popa/iret will "return" into counting_task(id). IF is
 * set in it: in pvos too, whose CPU flag stays 1 while the shared page's mask masks. */
static struct int_frame *task_initial_frame(unsigned id)
{
    uint32_t *top = (uint32_t *)(task_stacks[id - 1] + TASK_STACK_SIZE);
    *--top = id;                    /* the argument */
    *--top = 0;                     /* return address: counting_task never returns */
    struct int_frame *f = (struct int_frame *)top - 1;
    memset(f, 0, sizeof(*f));
    f->eip = (uint32_t)counting_task;
    f->cs = GDT_CODE_SEL;
    f->eflags = EFLAGS_IF | 0x2;    /* bit 1 is always set */
    return f;
}

void tasks_init(unsigned count)
{
    if (count < 1)
        count = 1;
    if (count > TASKS_MAX)
        count = TASKS_MAX;
    task_count = count;
    for (unsigned id = 1; id <= count; id++)
        tasks[id].frame = task_initial_frame(id);
    current = 0;
}

void tasks_set_status_every(uint32_t every)
{
    status_every = every ? every : 1;
}

uint32_t tasks_ticks(void)
{
    return ticks;
}

void tasks_snapshot(struct tasks_snapshot *s)
{
    s->ticks = ticks;
    s->count = task_count;
    for (unsigned i = 0; i < task_count; i++)
        s->counters[i] = tasks[i + 1].counter;
}

bool tasks_take_status_due(void)
{
    bool due = status_due;
    status_due = false;
    return due;
}

void tasks_tick(uint32_t n)
{
    uint32_t before = ticks;
    ticks = before + n;
    /* A multiple of every passed, even when n jumped over it (as ticks % every == 0 says
     * when n is 1, wrap-around included). */
    if (ticks / status_every != before / status_every) {
        status_due = true;
        console_wanted = true;
    }
}

void tasks_want_console(void)
{
    console_wanted = true;
}

unsigned tasks_current(void)
{
    return current;
}

unsigned tasks_next(unsigned t)
{
    return (t + 1) % (task_count + 1);
}

struct int_frame *tasks_switch(struct int_frame *f, unsigned next)
{
    if (console_wanted) {
        /* Events jump the queue: the console answers within a tick. */
        console_wanted = false;
        next = 0;
    }
    tasks[current].frame = f;
    current = next;
    return tasks[next].frame;
}

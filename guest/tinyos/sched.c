/* tinyos round-robin scheduler: every task's state is the interrupt frame saved on its stack. */
#include "tinyos.h"

#define TASK_STACK_SIZE 8192

struct task {
    struct int_frame *frame;        /* saved when the task is not running */
    volatile uint64_t counter;
};

static struct task tasks[TINYOS_MAX_TASKS + 1];    /* [0] is the console/idle task */
static uint8_t task_stacks[TINYOS_MAX_TASKS][TASK_STACK_SIZE] __attribute__((aligned(16)));
static unsigned task_count;         /* counting tasks, not including task 0 */
static unsigned current;
static volatile uint32_t ticks;
static uint32_t status_every = 100;
static volatile bool status_due;
static volatile bool console_wanted;

static void __attribute__((noreturn)) counting_task(unsigned id)
{
    for (;;)
        tasks[id].counter++;
}

/* Lay out a frame that isr_common's popa/iret will "return" into counting_task(id). */
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

void sched_init(unsigned count)
{
    if (count < 1)
        count = 1;
    if (count > TINYOS_MAX_TASKS)
        count = TINYOS_MAX_TASKS;
    task_count = count;
    for (unsigned id = 1; id <= count; id++)
        tasks[id].frame = task_initial_frame(id);
    current = 0;
}

unsigned sched_task_count(void)
{
    return task_count;
}

uint64_t sched_counter(unsigned i)
{
    return i < task_count ? tasks[i + 1].counter : 0;
}

uint32_t sched_ticks(void)
{
    return ticks;
}

void sched_set_status_every(uint32_t every)
{
    status_every = every ? every : 1;
}

bool sched_take_status_due(void)
{
    bool due = status_due;
    status_due = false;
    return due;
}

static struct int_frame *switch_to(struct int_frame *f, unsigned next)
{
    tasks[current].frame = f;
    current = next;
    return tasks[next].frame;
}

struct int_frame *sched_timer_irq(struct int_frame *f)
{
    ticks++;
    if (ticks % status_every == 0) {
        status_due = true;
        console_wanted = true;
    }
    unsigned next = (current + 1) % (task_count + 1);
    if (console_wanted) {
        /* Events jump the queue: the console answers within a tick. */
        console_wanted = false;
        next = 0;
    }
    return switch_to(f, next);
}

struct int_frame *sched_uart_irq(struct int_frame *f)
{
    uart_rx_irq();
    return switch_to(f, 0);
}

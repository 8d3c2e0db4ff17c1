/* tinyos's interrupts for the runtime's round-robin tasks: the PIT's tick and the UART's input. */
#include "tinyos.h"

struct int_frame *sched_timer_irq(struct int_frame *f)
{
    tasks_tick(1);
    return tasks_switch(f, tasks_next(tasks_current()));
}

struct int_frame *sched_uart_irq(struct int_frame *f)
{
    uart_rx_irq();
    return tasks_switch(f, 0);
}

/* Host panics: a bug in the hypervisor. Prints "PANIC: " with the reason, registers,
 * control registers and a backtrace on the console, then halts this CPU for good. */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include "kernel/idt.h"

__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);
/* Called for any exception taken in the host (vectors 0..31). */
__attribute__((noreturn)) void panic_exception(struct trap_frame *tf);

#define ASSERT(cond) \
    do { if (!(cond)) panic("assertion failed: %s at %s:%d", #cond, __FILE__, __LINE__); } while (0)

#endif

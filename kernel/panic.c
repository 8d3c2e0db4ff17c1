/* Host panics: the report format is part of the console contract (PRODUCT.md: "PANIC: "). */
#include "kernel/panic.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/printf.h"

extern char __kernel_start[], __text_end[];

static volatile int panicking;

static void print_registers(const struct trap_frame *tf)
{
    kprintf("RIP=%016lx CS=%04lx RFLAGS=%016lx RSP=%016lx SS=%04lx\n",
            tf->rip, tf->cs, tf->rflags, tf->rsp, tf->ss);
    kprintf("RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
    kprintf("RSI=%016lx RDI=%016lx RBP=%016lx R8 =%016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
    kprintf("R9 =%016lx R10=%016lx R11=%016lx R12=%016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
    kprintf("R13=%016lx R14=%016lx R15=%016lx\n", tf->r13, tf->r14, tf->r15);
    kprintf("CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx\n",
            read_cr0(), read_cr2(), read_cr3(), read_cr4());
}

/* Follows the frame-pointer chain (the kernel keeps frame pointers) from rip/rbp. */
static void print_backtrace(uint64_t rip, uint64_t rbp)
{
    kprintf("backtrace: %016lx", rip);
    for (int depth = 0; depth < 16 && rbp && !(rbp & 7); depth++) {
        if (rbp < (uint64_t)__kernel_start || rbp >= 0x100000000ull)
            break;
        const uint64_t *frame = (const uint64_t *)rbp;
        uint64_t ret = frame[1];
        if (ret < (uint64_t)__kernel_start || ret >= (uint64_t)__text_end)
            break;
        kprintf(" %016lx", ret);
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
    kprintf("\n");
}

/* Stops reentry: a fault while reporting a panic just halts. */
static void panic_enter(void)
{
    cli();
    if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST))
        halt_forever();
    console_panic_mode();
}

void panic_exception(struct trap_frame *tf)
{
    panic_enter();
    kprintf("\nPANIC: %s (%s, vector %lu), error code 0x%lx\n", exception_name(tf->vector),
            exception_mnemonic(tf->vector), tf->vector, tf->error_code);
    print_registers(tf);
    print_backtrace(tf->rip, tf->rbp);
    halt_forever();
    __builtin_unreachable();
}

void panic(const char *fmt, ...)
{
    panic_enter();
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kprintf("\nPANIC: %s\n", msg);

    struct trap_frame tf = { 0 };
    __asm__ volatile("movq %%rbp, %0; movq %%rsp, %1; leaq (%%rip), %%rax; movq %%rax, %2"
                     : "=m"(tf.rbp), "=m"(tf.rsp), "=m"(tf.rip) :: "rax");
    __asm__ volatile("movq %%rax, %0; movq %%rbx, %1; movq %%rcx, %2; movq %%rdx, %3"
                     : "=m"(tf.rax), "=m"(tf.rbx), "=m"(tf.rcx), "=m"(tf.rdx));
    __asm__ volatile("movq %%rsi, %0; movq %%rdi, %1; movq %%r8, %2; movq %%r9, %3"
                     : "=m"(tf.rsi), "=m"(tf.rdi), "=m"(tf.r8), "=m"(tf.r9));
    __asm__ volatile("movq %%r10, %0; movq %%r11, %1; movq %%r12, %2; movq %%r13, %3"
                     : "=m"(tf.r10), "=m"(tf.r11), "=m"(tf.r12), "=m"(tf.r13));
    __asm__ volatile("movq %%r14, %0; movq %%r15, %1; movw %%cs, %2; movw %%ss, %3"
                     : "=m"(tf.r14), "=m"(tf.r15), "=m"(tf.cs), "=m"(tf.ss));
    tf.rflags = read_rflags();
    print_registers(&tf);
    print_backtrace(tf.rip, tf.rbp);
    halt_forever();
    __builtin_unreachable();
}

/* Round-robin scheduling of vCPUs on the boot CPU. A guest in HLT is skipped until one of
 * its virtual devices raises an interrupt; the host itself sleeps in HLT when no guest can
 * run, woken by its own timer (which paces the virtual devices) or the console. */
#include "kernel/sched.h"
#include "kernel/cpu.h"
#include "kernel/hv.h"
#include "kernel/shell.h"
#include "kernel/shell_guest.h"
#include "kernel/time.h"
#include "kernel/vm.h"
#include "drivers/uart.h"

static unsigned next_index;
static uint64_t total_run_tsc;

uint64_t sched_total_run_tsc(void)
{
    return total_run_tsc;
}

/* The next runnable VM after the last one that ran, or NULL. */
static struct vm *pick(void)
{
    for (unsigned k = 0; k < VM_MAX; k++) {
        unsigned i = (next_index + k) % VM_MAX;
        if (vms[i].state == VM_RUNNING && vm_runnable(&vms[i])) {
            next_index = i + 1;
            return &vms[i];
        }
    }
    return NULL;
}

void sched_loop(void)
{
    uint64_t slice_tsc = time_ns_to_tsc(hv_options.slice_us * 1000);
    for (;;) {
        shell_console_check();
        shell_poll();
        struct vm *vm = pick();
        if (!vm) {
            /* Nothing to run: sleep until an interrupt (host timer or console). */
            cli();
            if (!shell_input_waiting())
                sti_hlt();
            else
                sti();
            continue;
        }
        cli();                          /* host interrupts arrive as exits while in a guest */
        uint64_t t0 = rdtsc();
        enum exit_action a = vcpu_run(&vm->vcpu, slice_tsc);
        total_run_tsc += rdtsc() - t0;
        vm_after_run(vm, a);
        sti();
    }
}

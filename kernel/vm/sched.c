/* Round-robin scheduling of vCPUs on the boot CPU. A guest in HLT is skipped until one of
 * its virtual devices raises an interrupt; when none can run, the main loop (kernel/hv.c)
 * sleeps until the host's timer or the console wakes it. A guest being reloaded (after a
 * reboot or a crash) takes its turns like the others, each spent on a slice's worth of its
 * load, so that reloading a large guest never holds the CPU for long. */
#include "kernel/vm/sched.h"
#include "kernel/cpu.h"
#include "kernel/options.h"
#include "kernel/time.h"
#include "kernel/vm/vm.h"

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
        if (vms[i].state == VM_RUNNING && (vm_loading(&vms[i]) || vm_runnable(&vms[i]))) {
            next_index = i + 1;
            return &vms[i];
        }
    }
    return NULL;
}

bool sched_run_next(void)
{
    struct vm *vm = pick();
    if (!vm)
        return false;
    uint64_t slice = time_ns_to_tsc(hv_options.slice_us * 1000);
    uint64_t t0 = rdtsc();
    if (vm_loading(vm)) {
        vm_load_step(vm, slice);        /* host work: interrupts stay on */
        uint64_t spent = rdtsc() - t0;
        vm->vcpu.run_tsc += spent;      /* its CPU share in `stats` counts its loads */
        total_run_tsc += spent;
        return true;
    }
    cli();                              /* host interrupts arrive as exits while in a guest */
    enum exit_action a = vm_run_slice(vm, slice);
    total_run_tsc += rdtsc() - t0;
    vm_after_run(vm, a);
    sti();
    return true;
}

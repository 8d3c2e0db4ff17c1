/* The hypervisor's top level: VT-x bring-up, guest creation, and the main loop. */
#include "kernel/hv.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/sched.h"
#include "kernel/vm.h"
#include "vmx/vmx.h"

void hv_start_guests(const struct boot_info *bi)
{
    const char *why = vmx_init();
    if (why) {
        hv_info("no VT-x: %s", why);
        if (bi->n_modules)
            hv_info("%u guest module(s) not started: guests need VT-x", bi->n_modules);
        return;
    }
    for (unsigned i = 0; i < bi->n_modules; i++)
        vm_create(&bi->modules[i]);
}

void hv_main_loop(void)
{
    sched_loop();
}

/* The hypervisor's top level: VT-x bring-up, guest creation, and the main loop. */
#include "kernel/hv.h"
#include "kernel/cpu.h"
#include "kernel/vm/loader/config.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "kernel/shell/shell.h"
#include "kernel/shell/shell_guest.h"
#include "kernel/vm/sched.h"
#include "kernel/vm/vm.h"
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
    /* Modules with for=NAME belong to guest NAME; the others are guests. */
    static struct guest_config cfgs[BOOT_MAX_MODULES];
    static bool refused[BOOT_MAX_MODULES];
    for (unsigned i = 0; i < bi->n_modules; i++) {
        char why[160];
        refused[i] = false;
        if (guest_config_parse(bi->modules[i].cmdline, &cfgs[i], why, sizeof why) < 0) {
            if (cfgs[i].for_guest[0])
                hv_error("module %u: refused: %s", i, why);
            else
                hv_error("guest %s: refused: %s", cfgs[i].name, why);
            refused[i] = true;
        }
    }
    for (unsigned i = 0; i < bi->n_modules; i++) {
        if (cfgs[i].for_guest[0] || refused[i])
            continue;
        const struct boot_module *mods[BOOT_MAX_MODULES];
        unsigned n = 0;
        for (unsigned j = 0; j < bi->n_modules; j++)
            if (cfgs[j].for_guest[0] && !refused[j] && strcmp(cfgs[j].for_guest, cfgs[i].name) == 0)
                mods[n++] = &bi->modules[j];
        vm_create(&bi->modules[i], &cfgs[i], mods, n);
    }
    for (unsigned i = 0; i < bi->n_modules; i++) {
        if (cfgs[i].for_guest[0] && !refused[i] && !vm_find(cfgs[i].for_guest))
            hv_error("module %u: refused: for=%s names no guest", i, cfgs[i].for_guest);
    }
}

/* The host's main loop: the console first (shell input, a console session whose guest
 * stopped), then one guest's slice; with nothing to run, sleep until an interrupt (the
 * host timer, which paces the virtual devices, or the console). Console input also ends a
 * guest's slice early (vm_set_host_work), so the shell answers at once. */
void hv_main_loop(void)
{
    vm_set_host_work(shell_input_waiting);
    for (;;) {
        shell_console_check();
        shell_poll();
        if (sched_run_next())
            continue;
        cli();
        if (!shell_input_waiting())
            sti_hlt();
        else
            sti();
    }
}

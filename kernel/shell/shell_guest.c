/* The shell's guest commands: what a user of xl or virsh expects, over the serial console. */
#include "kernel/shell/shell_guest.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/printf.h"
#include "kernel/vm/sched.h"
#include "kernel/shell/shell.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vm/vm.h"
#include "kernel/options.h"
#include "vmx/trace.h"

#define CTRL_RIGHT_BRACKET 0x1D

static uint64_t attach_dropped;

/* The guest named by argv[1], or NULL after printing the error line. */
static struct vm *guest_arg(int argc, char **argv)
{
    if (argc < 2) {
        shell_error("%s needs a guest name (see list)", argv[0]);
        return NULL;
    }
    struct vm *vm = vm_find(argv[1]);
    if (!vm)
        shell_error("no guest named \"%s\" (see list)", argv[1]);
    return vm;
}

int shell_complete_guests(const char *prefix, const char **out, int max)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (int i = 0; i < VM_MAX && n < max; i++)
        if (vms[i].state != VM_EMPTY && strncmp(vms[i].cfg.name, prefix, len) == 0)
            out[n++] = vms[i].cfg.name;
    return n;
}

static void format_uptime(const struct vm *vm, char *buf, size_t size)
{
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
        snprintf(buf, size, "-");
        return;
    }
    uint64_t s = vm_uptime_ns(vm) / 1000000000ull;
    snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, (s / 60) % 60, s % 60);
}

int cmd_list(int argc, char **argv)
{
    (void)argc, (void)argv;
    kprintf("%-16s %-8s %8s %8s %10s %12s\n", "NAME", "STATE", "MEMORY", "RESTARTS", "UPTIME", "EXITS");
    int n = 0;
    for (int i = 0; i < VM_MAX; i++) {
        struct vm *vm = &vms[i];
        if (vm->state == VM_EMPTY)
            continue;
        char up[24];
        format_uptime(vm, up, sizeof up);
        kprintf("%-16s %-8s %7luM %8u %10s %12lu\n", vm->cfg.name, vm_state_name(vm),
                vm->cfg.mem >> 20, vm->restarts, up, vm->vcpu.exits_total);
        n++;
    }
    if (!n)
        kprintf("(no guests: add module2 lines to the GRUB entry)\n");
    return 0;
}

static bool has_vcpu(const struct vm *vm)
{
    return (vm->state == VM_RUNNING || vm->state == VM_PAUSED) && vm->vcpu.vmcs_pa;
}

int cmd_info(int argc, char **argv)
{
    struct vm *vm = guest_arg(argc, argv);
    if (!vm)
        return -1;
    char up[24];
    format_uptime(vm, up, sizeof up);
    kprintf("guest %s: %s, uptime %s, %u restarts\n", vm->cfg.name, vm_state_name(vm), up, vm->restarts);
    kprintf("  config: mem=%luM on_crash=%s%s%s\n", vm->cfg.mem >> 20,
            vm->cfg.on_crash == ON_CRASH_RESTART ? "restart" : "stop",
            vm->cfg.path[0] ? " image=" : "", vm->cfg.path);
    kprintf("  cmdline: \"%s\"\n", vm->cfg.cmdline);
    kprintf("  image: %s, %lu KiB, %u module%s", vm->kind == KIND_LINUX ? "Linux bzImage" : "Multiboot",
            vm->image_len >> 10, vm->n_mods, vm->n_mods == 1 ? "" : "s");
    for (unsigned i = 0; i < vm->n_mods; i++)
        kprintf("%s%lu KiB", i ? ", " : " (", (vm->mods[i]->end - vm->mods[i]->start) >> 10);
    kprintf("%s\n", vm->n_mods ? ")" : "");
    if (vm->last_crash_rip)
        kprintf("  last crash at RIP=0x%lx\n", vm->last_crash_rip);
    if (!has_vcpu(vm))
        return 0;
    kprintf("  vcpu 0:%s\n", !vm->vcpu.halted ? "" : vm->pv.blocked ? " blocked (ANF_HC_BLOCK)" : " halted (HLT)");
    vcpu_load(&vm->vcpu);
    vcpu_dump(&vm->vcpu);
    const struct vpic *p = &vm->pic;
    kprintf("  vpic: master base 0x%02x imr %02x irr %02x isr %02x; slave base 0x%02x imr %02x irr %02x isr %02x\n",
            p->chip[0].vector_base, p->chip[0].imr, p->chip[0].irr, p->chip[0].isr,
            p->chip[1].vector_base, p->chip[1].imr, p->chip[1].irr, p->chip[1].isr);
    const struct vpit_channel *c0 = &vm->pit.ch[0];
    kprintf("  vpit: channel 0 mode %u count %u (%s), %lu ticks delivered, %lu coalesced\n",
            c0->mode, c0->count, c0->running ? "running" : "stopped", c0->edges_seen,
            vm->pit.ticks_coalesced);
    const struct vuart *u = &vm->uart;
    kprintf("  vuart: ier %02x lcr %02x mcr %02x lsr %02x divisor %u, %u bytes waiting\n",
            u->ier, u->lcr, u->mcr, u->lsr, u->divisor, u->rx_count);
    struct datetime t;
    vrtc_get_time(&vm->rtc, &t);
    kprintf("  vrtc: %04u-%02u-%02u %02u:%02u:%02u, NMI %s\n", t.year, t.month, t.day, t.hour,
            t.min, t.sec, vrtc_nmi_masked(&vm->rtc) ? "masked" : "enabled");
    const struct vlapic *l = &vm->lapic;
    kprintf("  vlapic: %s, svr %03x tpr %02x, lvt timer %05x lint0 %05x, pending vector %d\n",
            !vlapic_hw_enabled(l) ? "disabled" : vlapic_x2apic_mode(l) ? "x2APIC" : "xAPIC",
            l->svr, l->tpr, l->lvt[VLAPIC_LVT_TIMER], l->lvt[VLAPIC_LVT_LINT0], vlapic_pending_vector(l));
    const struct vm_pv *pv = &vm->pv;
    if (pv->shared || pv->time || pv->timer_tsc || pv->raised)
        kprintf("  pv: shared page 0x%lx%s, time page 0x%lx, timer %s, events pending %lx bound %lx\n",
                pv->shared_gpa, pv->shared && pv->shared->mask ? " (masked)" : "", pv->time_gpa,
                pv->timer_tsc ? "armed" : "off",
                pv->raised | (pv->shared ? pv->shared->pending : 0), pv->bound);
    kvm_pv_print(vm);                   /* pv=on: KVM's interface, what the guest registered */
    return 0;
}

/* Runs a lifecycle transition; prints "error: guest NAME WHY" when it does not apply. */
static int transition(int argc, char **argv, int (*fn)(struct vm *, const char **))
{
    struct vm *vm = guest_arg(argc, argv);
    if (!vm)
        return -1;
    const char *why = NULL;
    if (fn(vm, &why) < 0)
        return shell_error("guest %s %s", vm->cfg.name, why);
    return 0;
}

int cmd_start(int argc, char **argv) { return transition(argc, argv, vm_start); }
int cmd_stop(int argc, char **argv) { return transition(argc, argv, vm_stop); }
int cmd_pause(int argc, char **argv) { return transition(argc, argv, vm_pause); }
int cmd_resume(int argc, char **argv) { return transition(argc, argv, vm_resume); }
int cmd_reset(int argc, char **argv) { return transition(argc, argv, vm_reset); }

void shell_console_check(void)
{
    struct vm *attached = vm_console_owner();
    if (!attached || attached->state == VM_RUNNING || attached->state == VM_PAUSED)
        return;
    kprintf("\n");
    hv_info("console: detached from %s (it is %s)", attached->cfg.name, vm_state_name(attached));
    vm_attach_console(NULL);
    shell_set_input_hook(NULL);
}

/* While attached (the VM layer's console owner, vm_console_owner()): keystrokes go to the
 * guest's UART (or its hypercall console, once it reads one); Ctrl-] comes back to the shell. */
static bool console_input(uint8_t byte)
{
    struct vm *attached = vm_console_owner();
    if (byte == CTRL_RIGHT_BRACKET) {
        kprintf("\n");
        hv_info("console: detached from %s", attached->cfg.name);
        vm_attach_console(NULL);
        return false;
    }
    if (attached->state == VM_RUNNING || attached->state == VM_PAUSED) {
        if (!vm_console_receive(attached, byte))
            attach_dropped++;
    }
    return true;
}

/* Typed (or pasted) bytes wait while the guest's receive FIFO is full, as a terminal
 * with flow control would; a guest that reads nothing for a second loses them instead,
 * so that Ctrl-] always gets through. */
static uint64_t full_since_ns;

static bool console_ready(void)
{
    struct vm *attached = vm_console_owner();
    if (attached->state != VM_RUNNING || vm_console_can_receive(attached)) {
        full_since_ns = 0;
        return true;
    }
    uint64_t now = time_ns();
    if (!full_since_ns)
        full_since_ns = now;
    return now - full_since_ns > 1000000000ull;
}

int cmd_console(int argc, char **argv)
{
    struct vm *vm = guest_arg(argc, argv);
    if (!vm)
        return -1;
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED)
        return shell_error("guest %s is not running", vm->cfg.name);
    hv_info("console: attached to %s; Ctrl-] detaches", vm->cfg.name);
    vm_attach_console(vm);
    shell_set_input_hook(console_input);
    shell_set_input_ready(console_ready);
    full_since_ns = 0;
    return 0;
}

static void print_stats(struct vm *vm, uint64_t total_tsc)
{
    struct vcpu *v = &vm->vcpu;
    uint64_t share10 = total_tsc ? v->run_tsc * 1000 / total_tsc : 0;
    kprintf("guest %s: %lu exits, CPU share %lu.%lu%% of guest time, %lu console bytes dropped\n",
            vm->cfg.name, v->exits_total, share10 / 10, share10 % 10, vm->console_dropped);
    for (unsigned r = 0; r < EXIT_REASON_MAX; r++)
        if (v->exits[r])
            kprintf("  exit %-32s %12lu\n", exit_reason_name(r), v->exits[r]);
    if (vm->bad_accesses)
        kprintf("  accesses to nothing %lu (reads gave all-ones, writes were dropped)\n", vm->bad_accesses);
    if (vm->pv.calls)
        kprintf("  hypercalls %lu (%lu refused), upcalls %lu\n", vm->pv.calls, vm->pv.failed, vm->pv.upcalls);
    for (unsigned vec = 0; vec < 256; vec++)
        if (vm->irqs_injected[vec])
            kprintf("  interrupt vector 0x%02x injected %8lu\n", vec, vm->irqs_injected[vec]);
}

int cmd_stats(int argc, char **argv)
{
    uint64_t total = 0;
    for (int i = 0; i < VM_MAX; i++)
        if (vms[i].state != VM_EMPTY)
            total += vms[i].vcpu.run_tsc;
    if (argc >= 2) {
        struct vm *vm = guest_arg(argc, argv);
        if (!vm)
            return -1;
        print_stats(vm, total);
        return 0;
    }
    int n = 0;
    for (int i = 0; i < VM_MAX; i++)
        if (vms[i].state != VM_EMPTY) {
            print_stats(&vms[i], total);
            n++;
        }
    if (!n)
        kprintf("no guests\n");
    return 0;
}

int cmd_trace(int argc, char **argv)
{
    struct vm *vm = guest_arg(argc, argv);
    if (!vm)
        return -1;
    if (argc < 3 || (strcmp(argv[2], "on") != 0 && strcmp(argv[2], "off") != 0))
        return shell_error("usage: trace NAME on|off [REASON...]");
    bool on = strcmp(argv[2], "on") == 0;
    uint64_t mask[VCPU_TRACE_WORDS];
    memset(mask, argc == 3 ? 0xFF : 0, sizeof mask);   /* no reasons named: all of them */
    if (argc > 3) {
        for (int i = 3; i < argc; i++) {
            int r = trace_reason_lookup(argv[i]);
            if (r < 0)
                return shell_error("unknown exit reason \"%s\" (e.g. CPUID, IO_INSTRUCTION, HLT, RDMSR)", argv[i]);
            mask[r / 64] |= 1ull << (r % 64);
        }
    }
    trace_set(&vm->vcpu, on, mask);
    if (on)
        hv_info("trace %s: on (at most %u lines a second)", vm->cfg.name, TRACE_LINES_PER_SEC);
    else
        hv_info("trace %s: off", vm->cfg.name);
    return 0;
}

void shell_guest_mem(void)
{
    for (int i = 0; i < VM_MAX; i++) {
        const struct vm *vm = &vms[i];
        if (vm->state == VM_EMPTY)
            continue;
        bool loaded = vm->state == VM_RUNNING || vm->state == VM_PAUSED;
        kprintf("  guest %-16s RAM %6lu KiB, overhead %5lu KiB (EPT %lu pages, VMCS, state)\n", vm->cfg.name,
                loaded ? vm->cfg.mem / 1024 : 0, vm_overhead_bytes(vm) / 1024, vm->ept.table_pages);
    }
}

/* inject NAME nmi|irq N|gp|ud|pf ADDR: one event for the guest (kernel/vm/inject.c). */
int cmd_inject(int argc, char **argv)
{
    static const struct { const char *name; enum vm_inject_kind kind; bool arg; const char *what; } kinds[] = {
        { "nmi", INJECT_NMI, false, "an NMI through LINT1" },
        { "irq", INJECT_IRQ, true, "an edge on ISA IRQ" },
        { "ud", INJECT_UD, false, "#UD at its next entry" },
        { "gp", INJECT_GP, false, "#GP(0) at its next entry" },
        { "pf", INJECT_PF, true, "#PF (error 0) at its next entry, CR2 =" },
    };
    struct vm *vm = guest_arg(argc, argv);
    if (!vm)
        return -1;
    for (size_t i = 0; argc >= 3 && i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(argv[2], kinds[i].name) != 0)
            continue;
        uint64_t arg = 0;
        if (kinds[i].arg && (argc != 4 || opt_parse_uint(argv[3], &arg) < 0))
            return shell_error("inject %s %s needs a number (decimal or 0x...)", argv[1], argv[2]);
        if (!kinds[i].arg && argc != 3)
            return shell_error("inject %s %s takes nothing more", argv[1], argv[2]);
        const char *why = NULL;
        if (vm_inject(vm, kinds[i].kind, arg, &why) < 0)
            return shell_error("guest %s %s", vm->cfg.name, why);
        if (kinds[i].kind == INJECT_IRQ)
            hv_info("inject %s: %s %lu", vm->cfg.name, kinds[i].what, arg);
        else if (kinds[i].arg)
            hv_info("inject %s: %s 0x%lx", vm->cfg.name, kinds[i].what, arg);
        else
            hv_info("inject %s: %s", vm->cfg.name, kinds[i].what);
        return 0;
    }
    return shell_error("inject needs NAME nmi|irq N|gp|ud|pf ADDR");
}

/* corrupt NAME GPA BIT: flips one bit of the guest's RAM. */
int cmd_corrupt(int argc, char **argv)
{
    struct vm *vm = guest_arg(argc, argv);
    if (!vm)
        return -1;
    uint64_t gpa, bit;
    if (argc != 4 || opt_parse_uint(argv[2], &gpa) < 0 || opt_parse_uint(argv[3], &bit) < 0)
        return shell_error("corrupt needs NAME GPA BIT (numbers, decimal or 0x...)");
    uint8_t before, after;
    const char *why = NULL;
    if (vm_corrupt(vm, gpa, (unsigned)(bit > 8 ? 8 : bit), &before, &after, &why) < 0)
        return shell_error("guest %s %s", vm->cfg.name, why);
    hv_info("corrupt %s: bit %lu of guest-physical 0x%lx: 0x%02x -> 0x%02x", vm->cfg.name, bit, gpa,
            before, after);
    return 0;
}

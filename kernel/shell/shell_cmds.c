/* The shell's commands that concern the host itself: help, version, cpus, mem, log, halt, reboot. */
#include "kernel/shell/shell_cmds.h"
#include "kernel/shell/shell_guest.h"
#include "drivers/lapic.h"
#include "drivers/timer.h"
#include "drivers/uart.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/log.h"
#include "kernel/paging.h"
#include "kernel/printf.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "vmx/caps.h"

static int cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        const struct shell_command *c = shell_find(argv[1]);
        if (!c)
            return shell_error("no command \"%s\" (try help)", argv[1]);
        kprintf("%s %s\n    %s\n", c->name, c->usage, c->help);
        return 0;
    }
    for (const struct shell_command *c = shell_commands; c->name; c++) {
        char left[40];
        snprintf(left, sizeof left, "%s %s", c->name, c->usage);
        kprintf("  %-22s %s\n", left, c->help);
    }
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    kprintf("anfitrion %s, a type-1 hypervisor for x86-64 with VT-x and EPT\n", ANFITRION_VERSION);
    return 0;
}

static int cmd_cpus(int argc, char **argv)
{
    (void)argc, (void)argv;
    uint64_t up_ms = time_ns() / 1000000;
    kprintf("cpu 0: apic id %u, %s, %s family %u model %u, vmx=%s\n", lapic_id(),
            lapic_is_x2apic() ? "x2APIC" : "xAPIC", vmx_caps.vendor, vmx_caps.family,
            vmx_caps.model, vmx_caps.vmx ? "yes" : "no");
    kprintf("  timer %u Hz, ticks=%lu, uptime %lu.%03lu s, tsc %lu kHz\n", timer_hz(), timer_ticks(),
            up_ms / 1000, up_ms % 1000, time_tsc_hz() / 1000);
    struct uart_stats u = uart_stats();
    kprintf("  interrupts: timer %lu, uart %lu (rx %lu bytes, %lu dropped)\n",
            idt_irq_count(VEC_TIMER), idt_irq_count(VEC_UART), u.rx_bytes, u.rx_dropped);
    return 0;
}

static int cmd_mem(int argc, char **argv)
{
    (void)argc, (void)argv;
    uint64_t free_kib = host_frames.free_frames * 4, managed_kib = host_frames.managed_frames * 4;
    kprintf("host memory: %lu KiB managed, %lu KiB free, %lu KiB used\n", managed_kib, free_kib,
            managed_kib - free_kib);
    kprintf("  hypervisor pages: %lu KiB (page tables, VMX structures, guest EPTs)\n", mm_host_pages() * 4);
    shell_guest_mem();
    return 0;
}

static int cmd_log(int argc, char **argv)
{
    if (argc < 2) {
        kprintf("log level: %s\n", log_level_name(log_level));
        return 0;
    }
    int level = log_level_parse(argv[1]);
    if (level < 0)
        return shell_error("unknown log level \"%s\" (error, warn, info, debug, trace)", argv[1]);
    log_level = level;
    kprintf("log level: %s\n", log_level_name(log_level));
    return 0;
}

static int cmd_halt(int argc, char **argv)
{
    (void)argc, (void)argv;
    hv_info("halting: the machine stops here");
    /* Bochs and QEMU's ACPI-less poweroff: Bochs ends on "Shutdown" at port 0x8900. */
    for (const char *s = "Shutdown"; *s; s++)
        outb(0x8900, *s);
    outw(0x604, 0x2000);                /* QEMU's PIIX4 ACPI PM1a: S5 */
    halt_forever();
}

static int cmd_reboot(int argc, char **argv)
{
    (void)argc, (void)argv;
    hv_info("rebooting");
    outb(0xCF9, 0x06);                  /* reset control register: full reset */
    outb(0x64, 0xFE);                   /* keyboard controller reset line */
    halt_forever();
}

const struct shell_command shell_commands[] = {
    { "help", "[CMD]", "list the commands, or describe one", cmd_help },
    { "version", "", "show the hypervisor's version", cmd_version },
    { "list", "", "list the guests: state, memory, restarts, uptime, exits", cmd_list },
    { "info", "NAME", "show a guest's configuration, state, registers and devices", cmd_info },
    { "start", "NAME", "start a stopped or crashed guest from its boot module", cmd_start },
    { "stop", "NAME", "stop a guest and free its memory", cmd_stop },
    { "pause", "NAME", "stop scheduling a guest, keeping its state", cmd_pause },
    { "resume", "NAME", "schedule a paused guest again", cmd_resume },
    { "reset", "NAME", "restart a guest from its boot module", cmd_reset },
    { "console", "NAME", "attach to a guest's serial console (Ctrl-] detaches)", cmd_console },
    { "stats", "[NAME]", "exits by reason, injected interrupts, CPU share, dropped output", cmd_stats },
    { "trace", "NAME on|off [REASON...]", "print each VM exit of a guest, decoded (rate-limited)", cmd_trace },
    { "inject", "NAME nmi|irq N|gp|ud|pf ADDR", "deliver an event to a guest (NMI through LINT1, an ISA IRQ edge, an exception)", cmd_inject },
    { "corrupt", "NAME GPA BIT", "flip one bit of a guest's RAM", cmd_corrupt },
    { "cpus", "", "show the processors, the host timer and interrupt counts", cmd_cpus },
    { "mem", "", "show host memory use", cmd_mem },
    { "log", "[LEVEL]", "show or set the log level (error, warn, info, debug, trace)", cmd_log },
    { "halt", "", "stop the machine", cmd_halt },
    { "reboot", "", "reset the machine", cmd_reboot },
    { NULL, NULL, NULL, NULL },
};

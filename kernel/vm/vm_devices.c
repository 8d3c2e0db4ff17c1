/* A guest's devices as the VM layer wires them: the environment its virtual devices see
 * (time, interrupt lines, LAPIC delivery and EOI, machine events), the bus they sit on, and
 * the guest's console output. The exits reach them through kernel/vm/run.c. */
#include "kernel/vm/vm.h"
#include "drivers/cmos.h"
#include "drivers/timer.h"
#include "drivers/uart.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/panic.h"
#include "kernel/printf.h"
#include "kernel/time.h"

static uint64_t env_now(void *ctx)
{
    (void)ctx;
    return time_ns();
}

/* The guest's TSC: the host's plus the vCPU's offset (which IA32_TSC and IA32_TSC_ADJUST
 * writes move); the vLAPIC's TSC deadline compares against it. */
static uint64_t env_now_tsc(void *ctx)
{
    struct vm *vm = ctx;
    return rdtsc() + vm->vcpu.tsc_offset;
}

/* An ISA interrupt line goes to both interrupt controllers, as on a PC: the 8259 input of
 * the same number and the IOAPIC pin the MADT names (IRQ 0 is pin 2). The guest decides
 * which one delivers by what it unmasks. */
static void env_set_irq(void *ctx, unsigned irq, bool level)
{
    struct vm *vm = ctx;
    vpic_set_irq(&vm->pic, irq, level);
    vioapic_set_irq(&vm->ioapic, irq == 0 ? 2 : irq, level);
}

static void env_lapic_irq(void *ctx, uint8_t vector, bool level_triggered)
{
    struct vm *vm = ctx;
    vlapic_set_irq(&vm->lapic, vector, level_triggered);
}

static void env_lapic_eoi(void *ctx, uint8_t vector)
{
    struct vm *vm = ctx;
    vioapic_eoi(&vm->ioapic, vector);
}

/* Power-off, reset and debug exit end the run as soon as the device's exit is handled. */
static void env_machine(void *ctx, enum vdev_machine_event event, uint32_t status)
{
    struct vm *vm = ctx;
    if (vm->machine_event < 0) {
        vm->machine_event = (int)event;
        vm->exit_status = status;
    }
}

static struct vm *console_owner;        /* attached by the shell's console command */

void vm_attach_console(struct vm *vm)
{
    console_owner = vm;
}

struct vm *vm_console_owner(void)
{
    return console_owner;
}

void vm_flush_line(struct vm *vm)
{
    if (console_owner) {
        /* While the user talks to one guest, the others' lines would garble the session. */
        vm->console_dropped += vm->line_len + 1;
        vm->line_len = 0;
        return;
    }
    char buf[VM_LINE_MAX + GUEST_NAME_MAX + 8];
    int n = snprintf(buf, sizeof buf, "[%s] %.*s\n", vm->cfg.name, (int)vm->line_len, vm->line);
    if (n > (int)sizeof buf - 1)
        n = sizeof buf - 1;
    /* The console never stalls a guest: a line that does not fit the output queue is dropped. */
    if (uart_tx_room() < (unsigned)n * 2) {
        vm->console_dropped += vm->line_len + 1;
    } else {
        console_write_line(buf, (size_t)n);
    }
    vm->line_len = 0;
}

/* One byte of the guest's console output (its UART's, or its console hypercall's). */
void vm_console_out(struct vm *vm, uint8_t byte)
{
    if (vm == console_owner) {
        uart_putc(byte);                /* attached: the guest's bytes as they are, no prefix */
        return;
    }
    if (byte == '\r')
        return;
    if (byte == '\n') {
        vm_flush_line(vm);
        return;
    }
    if (byte < 0x20 && byte != '\t')
        byte = '.';
    vm->line[vm->line_len++] = (char)byte;
    if (vm->line_len == VM_LINE_MAX)
        vm_flush_line(vm);
}

static void uart_tx(void *ctx, uint8_t byte)
{
    vm_console_out(ctx, byte);
}

/* The guest's PC: 8259 pair, PIT, RTC, UART, local APIC, IOAPIC, PCI ports (no devices),
 * ACPI power management, QEMU's fw_cfg and debug-exit ports, and with testdev=on QEMU's
 * pc-testdev (without it, its ports and window are unclaimed, as on a PC). */
void vm_devices_init(struct vm *vm)
{
    vm->env = (struct vdev_env){
        .ctx = vm, .now_ns = env_now, .set_irq = env_set_irq, .now_tsc = env_now_tsc,
        .lapic_irq = env_lapic_irq, .lapic_eoi = env_lapic_eoi, .machine = env_machine,
    };
    vm->machine_event = -1;
    vdev_bus_init(&vm->bus);
    vpic_init(&vm->pic, &vm->env);
    vpit_init(&vm->pit, &vm->env);
    vrtc_init(&vm->rtc, &vm->env);
    vuart_init(&vm->uart, &vm->env, 0x3F8, 4, uart_tx, vm);
    /* The APIC timer's clock is the "crystal" CPUID leaf 0x15 reports (exit_cpuid.c). */
    vlapic_init(&vm->lapic, &vm->env, 0, VCPU_CRYSTAL_HZ, time_tsc_hz(), guest_maxphyaddr());
    vioapic_init(&vm->ioapic, &vm->env, 1);
    vpci_init(&vm->pci, &vm->env);
    vacpi_init(&vm->acpi, &vm->env);
    struct fwcfg_config fw = { .ram_size = vm->cfg.mem, .nb_cpus = 1, .max_cpus = 1, .name = vm->cfg.name };
    fwcfg_init(&vm->fwcfg, &fw);
    debugexit_init(&vm->debugexit, &vm->env);
    int rc = vpic_attach(&vm->pic, &vm->bus) | vpit_attach(&vm->pit, &vm->bus) |
             vrtc_attach(&vm->rtc, &vm->bus) | vuart_attach(&vm->uart, &vm->bus) |
             vlapic_attach(&vm->lapic, &vm->bus) | vioapic_attach(&vm->ioapic, &vm->bus) |
             vpci_attach(&vm->pci, &vm->bus) | vacpi_attach(&vm->acpi, &vm->bus) |
             fwcfg_attach(&vm->fwcfg, &vm->bus) | debugexit_attach(&vm->debugexit, &vm->bus);
    if (vm->cfg.testdev) {
        testdev_init(&vm->testdev, &vm->env);
        rc |= testdev_attach(&vm->testdev, &vm->bus);
    }
    ASSERT(rc == 0);
    struct datetime now;
    cmos_now(&now);
    vrtc_set_time(&vm->rtc, &now);
    vrtc_set_memory_kib(&vm->rtc, vm->cfg.mem / 1024);
    vm->line_len = 0;
}


/* A guest's devices as the VM layer wires them: the environment its virtual devices see
 * (time, interrupt lines, LAPIC delivery and EOI, machine events), the bus the exit
 * handlers reach through the vm_port, vm_mmio and vm_msr calls, interrupt routing through the
 * 8259 pair or the LAPIC/IOAPIC, hypercalls, and the guest's console output. */
#include "kernel/vm.h"
#include "drivers/cmos.h"
#include "drivers/timer.h"
#include "kernel/idt.h"
#include "drivers/uart.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/panic.h"
#include "kernel/printf.h"
#include "kernel/shell.h"
#include "kernel/time.h"

static uint64_t env_now(void *ctx)
{
    (void)ctx;
    return time_ns();
}

/* The guest's TSC runs with the host's (TSC_OFFSET is 0 unless the guest writes IA32_TSC,
 * which Linux does not do; the vLAPIC's deadline then compares against the host TSC). */
static uint64_t env_now_tsc(void *ctx)
{
    (void)ctx;
    return rdtsc();
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

/* Power-off, reset and debug exit end the run at the next exit (vm_machine_event()). */
static void env_machine(void *ctx, enum vdev_machine_event event, uint32_t status)
{
    struct vm *vm = ctx;
    if (vm->machine_event < 0) {
        vm->machine_event = (int)event;
        vm->exit_status = status;
    }
}

bool vm_apic_enabled(struct vm *vm)
{
    return vlapic_hw_enabled(&vm->lapic);
}

bool vm_machine_event(struct vm *vm)
{
    return vm->machine_event >= 0;
}

static struct vm *console_owner;        /* attached by the shell's console command */

void vm_attach_console(struct vm *vm)
{
    console_owner = vm;
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

static void uart_tx(void *ctx, uint8_t byte)
{
    struct vm *vm = ctx;
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

/* The guest's PC: 8259 pair, PIT, RTC, UART, local APIC, IOAPIC, PCI ports (no devices),
 * ACPI power management, and QEMU's fw_cfg and debug-exit ports. */
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
    vlapic_init(&vm->lapic, &vm->env, 0, VLAPIC_BUS_HZ, time_tsc_hz());
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
    ASSERT(rc == 0);
    struct vdev_datetime now;
    cmos_now(&now);
    vrtc_set_time(&vm->rtc, &now);
    vrtc_set_memory_kib(&vm->rtc, vm->cfg.mem / 1024);
    vm->line_len = 0;
}

uint32_t vm_port_in(struct vm *vm, uint16_t port, unsigned size)
{
    return vdev_io_in(&vm->bus, port, size);
}

void vm_port_out(struct vm *vm, uint16_t port, unsigned size, uint32_t value)
{
    vdev_io_out(&vm->bus, port, size, value);
}

/* Hypercalls (VMCALL with the number in EAX, arguments in EBX and ECX), for benchmarks:
 *   0 HC_NOP          a round trip; returns 0.
 *   1 HC_IRQ_LATENCY  EBX:ECX = the TSC the guest read at the first instruction of an
 *                     interrupt handler; returns the TSC ticks since the host timer
 *                     interrupt that preceded the injection (~0 if that makes no sense). */
uint64_t vm_hypercall(struct vm *vm, uint64_t nr, uint64_t a1, uint64_t a2)
{
    if (nr == 0)
        return 0;
    if (nr == 1) {
        uint64_t tsc = ((uint64_t)(uint32_t)a2 << 32) | (uint32_t)a1;
        return vm->inject_timer_tsc && tsc > vm->inject_timer_tsc ? tsc - vm->inject_timer_tsc : ~0ull;
    }
    return ~0ull;                       /* unknown hypercall */
}

/* True if the 8259's IRQ 0 reaches the CPU: unmasked, and the LAPIC passes ExtINT. */
static bool pic_timer_path(struct vm *vm)
{
    return !(vm->pic.chip[0].imr & (1u << VPIT_IRQ)) && vlapic_accepts_pic(&vm->lapic);
}

static void update_devices(struct vm *vm)
{
    /* One PIT tick at a time through the 8259: the next (possibly a late one) only once the
     * guest took the last. Through the IOAPIC, ticks the guest has not taken yet merge in
     * the LAPIC's IRR, as on hardware. */
    if (!(vm->pic.chip[0].irr & (1u << VPIT_IRQ)) || !pic_timer_path(vm))
        vpit_update(&vm->pit);
    vrtc_update(&vm->rtc);
    vlapic_update(&vm->lapic);
}

/* Which controller has an interrupt for the CPU: the LAPIC (its IRR above the PPR), else
 * the 8259 if the LAPIC lets ExtINT through. Returns 1 (LAPIC), 2 (8259) or 0. */
static int interrupt_source(struct vm *vm)
{
    if (vlapic_pending_vector(&vm->lapic) >= 0)
        return 1;
    if (vlapic_accepts_pic(&vm->lapic) && vpic_has_interrupt(&vm->pic))
        return 2;
    return 0;
}

int vm_pending_interrupt(struct vm *vm, bool can_inject, bool *want_window)
{
    update_devices(vm);
    *want_window = false;
    int source = interrupt_source(vm);
    if (!source)
        return -1;
    if (!can_inject) {
        *want_window = true;
        return -1;
    }
    int vector;
    if (source == 1) {
        vector = vlapic_pending_vector(&vm->lapic);
        vlapic_ack(&vm->lapic, (uint8_t)vector);
    } else {
        vector = vpic_ack(&vm->pic);
    }
    vm->irqs_injected[vector & 0xFF]++;
    /* For the latency benchmark: the host timer interrupt that led here, if the last host
     * interrupt was the timer's (a console interrupt may wake the host instead). */
    vm->inject_timer_tsc = idt_last_irq_vector == VEC_TIMER ? idt_last_irq_tsc : 0;
    return vector;
}

bool vm_should_yield(struct vm *vm)
{
    (void)vm;
    return shell_input_waiting();
}

bool vm_runnable(struct vm *vm)
{
    if (vm->state != VM_RUNNING)
        return false;
    if (!vm->vcpu.halted)
        return true;
    if (!vm->halt_if)
        return false;                   /* HLT with interrupts off: nothing can wake it */
    update_devices(vm);
    return interrupt_source(vm) != 0;
}

uint64_t vm_next_event_ns(struct vm *vm)
{
    uint64_t a = vpit_next_event_ns(&vm->pit), b = vrtc_next_event_ns(&vm->rtc);
    uint64_t c = vlapic_next_event_ns(&vm->lapic);
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

bool vm_mmio_claims(struct vm *vm, uint64_t gpa)
{
    return vdev_mmio_find(&vm->bus, gpa) != NULL;
}

bool vm_mmio_read(struct vm *vm, uint64_t gpa, unsigned size, uint64_t *value)
{
    return vdev_mmio_read(&vm->bus, gpa, size, value);
}

bool vm_mmio_write(struct vm *vm, uint64_t gpa, unsigned size, uint64_t value)
{
    return vdev_mmio_write(&vm->bus, gpa, size, value);
}

int vm_msr_read(struct vm *vm, uint32_t msr, uint64_t *value)
{
    if (!vlapic_handles_msr(msr))
        return 0;
    return vlapic_rdmsr(&vm->lapic, msr, value) == 0 ? 1 : -1;
}

int vm_msr_write(struct vm *vm, uint32_t msr, uint64_t value)
{
    if (!vlapic_handles_msr(msr))
        return 0;
    return vlapic_wrmsr(&vm->lapic, msr, value) == 0 ? 1 : -1;
}


/* Guests: creation from boot modules, their RAM and EPT, their virtual devices, the ports
 * and interrupts the exit handlers ask about, and the lifecycle with its console messages. */
#include "kernel/vm.h"
#include "drivers/cmos.h"
#include "drivers/timer.h"
#include "drivers/uart.h"
#include "guest/loader/acpi.h"
#include "guest/loader/linux.h"
#include "guest/loader/multiboot.h"
#include "guest/loader/smbios.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/paging.h"
#include "kernel/panic.h"
#include "kernel/printf.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "vmx/cr.h"

struct vm vms[VM_MAX];

const char *vm_state_name(const struct vm *vm)
{
    switch (vm->state) {
    case VM_RUNNING: return vm->vcpu.halted ? (vm->halt_if ? "idle" : "halted") : "running";
    case VM_PAUSED: return "paused";
    case VM_STOPPED: return "stopped";
    case VM_CRASHED: return "crashed";
    default: return "empty";
    }
}

struct vm *vm_find(const char *name)
{
    for (int i = 0; i < VM_MAX; i++)
        if (vms[i].state != VM_EMPTY && strcmp(vms[i].cfg.name, name) == 0)
            return &vms[i];
    return NULL;
}

/* --- guest RAM ---------------------------------------------------------------------- */

void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa || gpa + len > vm->cfg.mem)
        return NULL;
    uint64_t first = gpa >> 21, last = (gpa + len - 1) >> 21;
    /* A range crossing chunks is contiguous on the host only if the chunks are. */
    for (uint64_t c = first; c < last; c++)
        if (vm->chunks[c + 1] != vm->chunks[c] + (2ull << 20))
            return NULL;
    return (void *)(vm->chunks[first] + (gpa & 0x1FFFFF));
}

static void *loader_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
    return vm_gpa_to_hva(ctx, gpa, len);
}

static void free_ram(struct vm *vm)
{
    for (unsigned i = 0; i < vm->n_chunks; i++)
        frame_free(&host_frames, vm->chunks[i], 512);
    vm->n_chunks = 0;
    ept_destroy(&vm->ept);
}

/* Fresh, zeroed RAM in 2 MiB chunks, mapped by the EPT; nothing else is mapped. */
static const char *alloc_ram(struct vm *vm)
{
    unsigned need = (vm->cfg.mem + (2ull << 20) - 1) >> 21;
    if (ept_init(&vm->ept) < 0)
        return "out of memory for its EPT";
    for (vm->n_chunks = 0; vm->n_chunks < need; vm->n_chunks++) {
        uint64_t pa = frame_alloc_contig(&host_frames, 512, 2ull << 20);
        if (!pa) {
            free_ram(vm);
            return "not enough free host memory for its RAM";
        }
        vm->chunks[vm->n_chunks] = pa;
        memset((void *)pa, 0, 2ull << 20);
        uint64_t gpa = (uint64_t)vm->n_chunks << 21;
        uint64_t size = vm->cfg.mem - gpa < (2ull << 20) ? vm->cfg.mem - gpa : (2ull << 20);
        if (ept_map(&vm->ept, gpa, pa, size, EPT_RWX) < 0) {
            vm->n_chunks++;
            free_ram(vm);
            return "out of memory for its EPT";
        }
    }
    return NULL;
}

uint64_t vm_overhead_bytes(const struct vm *vm)
{
    /* EPT tables, VMCS, FPU area; the shared bitmaps are not counted per guest. */
    return (vm->ept.table_pages + (vm->vcpu.vmcs_pa ? 2 : 0)) * 4096 + sizeof *vm;
}

/* --- devices ------------------------------------------------------------------------ */

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

bool vm_machine_event(struct vm *vm)
{
    return vm->machine_event >= 0;
}

static struct vm *console_owner;        /* attached by the shell's console command */

void vm_attach_console(struct vm *vm)
{
    console_owner = vm;
}

static void flush_line(struct vm *vm)
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
        flush_line(vm);
        return;
    }
    if (byte < 0x20 && byte != '\t')
        byte = '.';
    vm->line[vm->line_len++] = (char)byte;
    if (vm->line_len == VM_LINE_MAX)
        flush_line(vm);
}

/* The guest's PC: 8259 pair, PIT, RTC, UART, local APIC, IOAPIC, PCI ports (no devices),
 * ACPI power management, and QEMU's fw_cfg and debug-exit ports. */
static void devices_init(struct vm *vm)
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
    vm->inject_timer_tsc = timer_last_irq_tsc;
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

/* --- lifecycle ---------------------------------------------------------------------- */

static char load_why[160];

/* A Multiboot 1 kernel with its information structure and modules. */
static const char *load_multiboot(struct vm *vm, const struct guest_mem *mem, struct vcpu_boot *boot)
{
    struct mb_image img;
    if (mb_load(vm->image, vm->image_len, mem, &img, load_why, sizeof load_why) < 0)
        return load_why;
    struct mb_module mods[VM_MODULES_MAX];
    static char strings[VM_MODULES_MAX][BOOT_CMDLINE_MAX];
    for (unsigned i = 0; i < vm->n_mods; i++) {
        const struct boot_module *m = vm->mods[i];
        struct guest_config mc;
        char why[8];
        guest_config_parse(m->cmdline, &mc, why, sizeof why);  /* parsed fine at boot */
        snprintf(strings[i], sizeof strings[i], "%s%s%s", mc.path, mc.path[0] && mc.cmdline[0] ? " " : "",
                 mc.cmdline);
        mods[i] = (struct mb_module){ (const uint8_t *)m->start, m->end - m->start, strings[i] };
    }
    uint32_t info = mb_build_info(mem, vm->cfg.cmdline, "anfitrion " ANFITRION_VERSION, mods, vm->n_mods,
                                  img.load_end);
    if (!info)
        return vm->n_mods ? "its command line or its modules do not fit its RAM"
                          : "its command line does not fit the Multiboot information area";
    *boot = (struct vcpu_boot){ .entry = img.entry, .eax = MB_GUEST_MAGIC, .ebx = info };
    hv_debug("guest %s: Multiboot image at 0x%lx-0x%lx, entry 0x%x, info at 0x%x", vm->cfg.name,
             img.load_start, img.load_end, img.entry, info);
    return NULL;
}

/* A Linux bzImage through the 32-bit boot protocol, with ACPI tables and its initrd. */
static const char *load_linux(struct vm *vm, const struct guest_mem *mem, struct vcpu_boot *boot)
{
    if (vm->n_mods > 1)
        return "a Linux guest takes one module (its initrd)";
    struct acpi_config ac = { .lapic_addr = VLAPIC_BASE_DEFAULT, .lapic_id = 0,
                              .ioapic_addr = VIOAPIC_BASE, .ioapic_id = 1 };
    uint32_t rsdp = acpi_build_tables(mem, &ac);
    if (!rsdp)
        return "its ACPI tables do not fit";
    /* SMBIOS, mostly for its BIOS date: Linux trusts PCI config access without probing
     * for a host bridge only on a "2001 or later" machine (arch/x86/pci/direct.c). */
    struct smbios_config sc = { .vm_name = vm->cfg.name, .ram_size = vm->cfg.mem };
    if (!smbios_build(mem, &sc))
        return "its SMBIOS tables do not fit";
    struct linux_boot_args args = { .cmdline = vm->cfg.cmdline, .acpi_rsdp = rsdp };
    if (vm->n_mods) {
        args.initrd = (const uint8_t *)vm->mods[0]->start;
        args.initrd_len = vm->mods[0]->end - vm->mods[0]->start;
    }
    struct linux_image img;
    if (linux_load(vm->image, vm->image_len, mem, &args, &img, load_why, sizeof load_why) < 0)
        return load_why;
    *boot = (struct vcpu_boot){ .entry = img.entry, .esi = img.boot_params,
                                .gdt_base = img.gdt_base, .gdt_limit = img.gdt_limit };
    hv_debug("guest %s: Linux boot protocol %x.%02x, kernel at 0x%x-0x%x, initrd at 0x%x (%u bytes)",
             vm->cfg.name, img.version >> 8, img.version & 0xFF, img.load_addr, img.load_end,
             img.initrd_addr, img.initrd_size);
    return NULL;
}

/* Loads the module image into fresh RAM and prepares the vCPU to enter at its entry point. */
static const char *load(struct vm *vm)
{
    const char *why = alloc_ram(vm);
    if (why)
        return why;
    struct guest_mem mem = { vm, vm->cfg.mem, loader_ptr };
    struct vcpu_boot boot;
    why = vm->kind == KIND_LINUX ? load_linux(vm, &mem, &boot) : load_multiboot(vm, &mem, &boot);
    if (why) {
        free_ram(vm);
        return why;
    }
    devices_init(vm);
    /* A fresh vCPU, but tracing and statistics carry over a restart. */
    struct vcpu keep = vm->vcpu;
    memset(&vm->vcpu, 0, sizeof vm->vcpu);
    vm->vcpu.vm = vm;
    vm->vcpu.name = vm->cfg.name;
    vm->vcpu.trace_on = keep.trace_on;
    vm->vcpu.trace_mask[0] = keep.trace_mask[0];
    vm->vcpu.trace_mask[1] = keep.trace_mask[1];
    memcpy(vm->vcpu.exits, keep.exits, sizeof keep.exits);
    vm->vcpu.exits_total = keep.exits_total;
    vm->vcpu.run_tsc = keep.run_tsc;
    why = vmcs_create(&vm->vcpu, ept_pointer(&vm->ept), &boot);
    if (why) {
        vmcs_destroy(&vm->vcpu);
        free_ram(vm);
        return why;
    }
    ept_invalidate(&vm->ept);
    return NULL;
}

static void unload(struct vm *vm)
{
    vmcs_destroy(&vm->vcpu);
    free_ram(vm);
}

struct vm *vm_create(const struct boot_module *m, const struct boot_module *const *mods, unsigned n_mods)
{
    struct guest_config cfg;
    char why[160];
    if (guest_config_parse(m->cmdline, &cfg, why, sizeof why) < 0) {
        hv_error("guest %s: refused: %s", cfg.name, why);
        return NULL;
    }
    if (vm_find(cfg.name)) {
        hv_error("guest %s: refused: a guest named %s already exists", cfg.name, cfg.name);
        return NULL;
    }
    struct vm *vm = NULL;
    for (int i = 0; i < VM_MAX && !vm; i++)
        if (vms[i].state == VM_EMPTY)
            vm = &vms[i];
    if (!vm) {
        hv_error("guest %s: refused: more than %d guests", cfg.name, VM_MAX);
        return NULL;
    }
    memset(vm, 0, sizeof *vm);
    vm->id = (int)(vm - vms);
    vm->cfg = cfg;
    vm->image = (const uint8_t *)m->start;
    vm->image_len = m->end - m->start;
    if (n_mods > VM_MODULES_MAX) {
        hv_error("guest %s: refused: %u modules for it (at most %d)", cfg.name, n_mods, VM_MODULES_MAX);
        vm->state = VM_EMPTY;
        return NULL;
    }
    for (unsigned i = 0; i < n_mods; i++)
        vm->mods[i] = mods[i];
    vm->n_mods = n_mods;
    vm->kind = cfg.kind != KIND_AUTO ? cfg.kind
             : linux_is_bzimage(vm->image, vm->image_len) ? KIND_LINUX : KIND_MULTIBOOT;
    const char *reason = load(vm);
    if (reason) {
        hv_error("guest %s: refused: %s", cfg.name, reason);
        vm->state = VM_EMPTY;
        return NULL;
    }
    vm->state = VM_STOPPED;
    hv_info("guest %s: loaded (%s, %lu MiB RAM, %u module%s, %s%s%s)", cfg.name,
            vm->kind == KIND_LINUX ? "Linux" : "Multiboot", cfg.mem >> 20, n_mods, n_mods == 1 ? "" : "s",
            cfg.on_crash == ON_CRASH_RESTART ? "on_crash=restart" : "on_crash=stop",
            cfg.cmdline[0] ? ", cmdline: " : "", cfg.cmdline);
    vm->state = VM_RUNNING;
    vm->started_ns = time_ns();
    hv_info("guest %s: started", cfg.name);
    return vm;
}

int vm_start(struct vm *vm, const char **why)
{
    if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
        *why = vm->state == VM_PAUSED ? "is paused (resume it, or reset it)" : "is already running";
        return -1;
    }
    const char *reason = load(vm);
    if (reason) {
        *why = reason;
        return -1;
    }
    vm->state = VM_RUNNING;
    vm->started_ns = time_ns();
    hv_info("guest %s: started", vm->cfg.name);
    return 0;
}

int vm_stop(struct vm *vm, const char **why)
{
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
        *why = "is not running";
        return -1;
    }
    if (vm->line_len)
        flush_line(vm);
    unload(vm);
    vm->state = VM_STOPPED;
    hv_info("guest %s: stopped", vm->cfg.name);
    return 0;
}

int vm_pause(struct vm *vm, const char **why)
{
    if (vm->state != VM_RUNNING) {
        *why = vm->state == VM_PAUSED ? "is already paused" : "is not running";
        return -1;
    }
    vm->state = VM_PAUSED;
    hv_info("guest %s: paused", vm->cfg.name);
    return 0;
}

int vm_resume(struct vm *vm, const char **why)
{
    if (vm->state != VM_PAUSED) {
        *why = vm->state == VM_RUNNING ? "is not paused" : "is not running";
        return -1;
    }
    vm->state = VM_RUNNING;
    hv_info("guest %s: resumed", vm->cfg.name);
    return 0;
}

int vm_reset(struct vm *vm, const char **why)
{
    if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
        if (vm->line_len)
            flush_line(vm);
        unload(vm);
    }
    vm->state = VM_STOPPED;
    const char *reason = load(vm);
    if (reason) {
        *why = reason;
        return -1;
    }
    vm->state = VM_RUNNING;
    vm->started_ns = time_ns();
    hv_info("guest %s: reset", vm->cfg.name);
    return 0;
}

/* Crash policy: stop, or reload from the module unless it crashed too often lately. */
static void crashed(struct vm *vm)
{
    struct vcpu *v = &vm->vcpu;
    uint64_t rip = vmcs_readnat(GUEST_RIP);
    if (vm->line_len)
        flush_line(vm);
    uint64_t now = time_ns();
    console_async_begin();
    unsigned recent = 0;
    for (unsigned i = 0; i < VM_RESTART_LIMIT; i++)
        if (vm->restart_ns[i] && now - vm->restart_ns[i] < VM_RESTART_WINDOW_NS)
            recent++;
    bool restart = vm->cfg.on_crash == ON_CRASH_RESTART && recent < VM_RESTART_LIMIT;
    if (restart)
        hv_error("guest %s: crashed: %s at RIP=0x%lx; restarting (%u/%u)", vm->cfg.name,
                 v->crash_reason, rip, recent + 1, VM_RESTART_LIMIT);
    else if (vm->cfg.on_crash == ON_CRASH_RESTART)
        hv_error("guest %s: crashed: %s at RIP=0x%lx; stopped (crash loop: %u restarts within %lu s)",
                 vm->cfg.name, v->crash_reason, rip, recent, (unsigned long)(VM_RESTART_WINDOW_NS / 1000000000ull));
    else
        hv_error("guest %s: crashed: %s at RIP=0x%lx; stopped", vm->cfg.name, v->crash_reason, rip);
    if (log_level >= LOG_ERROR)
        vcpu_dump(v);
    console_async_end();
    vm->last_crash_rip = rip;
    unload(vm);
    vm->state = VM_CRASHED;
    if (!restart)
        return;
    memmove(&vm->restart_ns[1], &vm->restart_ns[0], sizeof vm->restart_ns[0] * (VM_RESTART_LIMIT - 1));
    vm->restart_ns[0] = now;
    vm->restarts++;
    const char *reason = load(vm);
    if (reason) {
        hv_error("guest %s: restart failed: %s", vm->cfg.name, reason);
        return;
    }
    vm->state = VM_RUNNING;
    vm->started_ns = now;
    hv_info("guest %s: started", vm->cfg.name);
}

/* The guest switched itself off, reset itself, or exited through the debug-exit port. */
static void machine_event(struct vm *vm)
{
    int event = vm->machine_event;
    if (vm->line_len)
        flush_line(vm);
    unload(vm);
    vm->state = VM_STOPPED;
    if (event == VDEV_POWER_OFF) {
        hv_info("guest %s: powered off", vm->cfg.name);
    } else if (event == VDEV_EXIT) {
        hv_info("guest %s: exited: status %u", vm->cfg.name, vm->exit_status);
    } else {
        const char *reason = load(vm);
        if (reason) {
            hv_error("guest %s: reboot failed: %s", vm->cfg.name, reason);
            return;
        }
        vm->state = VM_RUNNING;
        vm->started_ns = time_ns();
        hv_info("guest %s: rebooted", vm->cfg.name);
    }
}

void vm_after_run(struct vm *vm, enum exit_action action)
{
    if (vm->vcpu.halted && action == EXIT_YIELD)
        vm->halt_if = vmcs_readnat(GUEST_RFLAGS) & RFLAGS_IF;
    if (action == EXIT_CRASH)
        crashed(vm);
    else if (action == EXIT_STOP && vm->machine_event >= 0)
        machine_event(vm);
}

/* Guests: creation from boot modules, their RAM and EPT, their virtual devices, the ports
 * and interrupts the exit handlers ask about, and the lifecycle with its console messages. */
#include "kernel/vm.h"
#include "drivers/cmos.h"
#include "drivers/uart.h"
#include "guest/loader/multiboot.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/paging.h"
#include "kernel/printf.h"
#include "kernel/string.h"
#include "kernel/time.h"

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

static void env_set_irq(void *ctx, unsigned irq, bool level)
{
    struct vm *vm = ctx;
    vpic_set_irq(&vm->pic, irq, level);
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

static void devices_init(struct vm *vm)
{
    vm->env = (struct vdev_env){ .ctx = vm, .now_ns = env_now, .set_irq = env_set_irq };
    vdev_bus_init(&vm->bus);
    vpic_init(&vm->pic, &vm->env);
    vpit_init(&vm->pit, &vm->env);
    vrtc_init(&vm->rtc, &vm->env);
    vuart_init(&vm->uart, &vm->env, 0x3F8, 4, uart_tx, vm);
    vpic_attach(&vm->pic, &vm->bus);
    vpit_attach(&vm->pit, &vm->bus);
    vrtc_attach(&vm->rtc, &vm->bus);
    vuart_attach(&vm->uart, &vm->bus);
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

uint64_t vm_hypercall(struct vm *vm, uint64_t nr, uint64_t a1, uint64_t a2)
{
    (void)vm, (void)a1, (void)a2;
    if (nr == 0)
        return 0;                       /* HC_NOP: a round trip, for benchmarks */
    return ~0ull;                       /* unknown hypercall */
}

static void update_devices(struct vm *vm)
{
    /* One PIT tick at a time: the next (possibly a late one) only once the guest took the last. */
    if (!(vm->pic.chip[0].irr & (1u << VPIT_IRQ)))
        vpit_update(&vm->pit);
    vrtc_update(&vm->rtc);
}

int vm_pending_interrupt(struct vm *vm, bool can_inject, bool *want_window)
{
    update_devices(vm);
    *want_window = false;
    if (!vpic_has_interrupt(&vm->pic))
        return -1;
    if (!can_inject) {
        *want_window = true;
        return -1;
    }
    int vector = vpic_ack(&vm->pic);
    vm->irqs_injected[vector & 0xFF]++;
    return vector;
}

bool vm_should_yield(struct vm *vm)
{
    (void)vm;
    return uart_rx_pending();
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
    return vpic_has_interrupt(&vm->pic);
}

uint64_t vm_next_event_ns(struct vm *vm)
{
    uint64_t a = vpit_next_event_ns(&vm->pit), b = vrtc_next_event_ns(&vm->rtc);
    return a < b ? a : b;
}

/* --- lifecycle ---------------------------------------------------------------------- */

/* Loads the module image into fresh RAM and prepares the vCPU to enter at its entry point. */
static const char *load(struct vm *vm)
{
    const char *why = alloc_ram(vm);
    if (why)
        return why;
    static char reason[128];
    struct guest_mem mem = { vm, vm->cfg.mem, loader_ptr };
    struct mb_image img;
    if (mb_load(vm->image, vm->image_len, &mem, &img, reason, sizeof reason) < 0) {
        free_ram(vm);
        return reason;
    }
    uint32_t info = mb_build_info(&mem, vm->cfg.cmdline, "anfitrion " ANFITRION_VERSION, NULL, 0,
                                  img.load_end);
    if (!info) {
        free_ram(vm);
        return "its command line does not fit the Multiboot information area";
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
    struct vcpu_boot boot = { .entry = img.entry, .eax = MB_GUEST_MAGIC, .ebx = info };
    why = vmcs_create(&vm->vcpu, ept_pointer(&vm->ept), &boot);
    if (why) {
        vmcs_destroy(&vm->vcpu);
        free_ram(vm);
        return why;
    }
    ept_invalidate(&vm->ept);
    hv_debug("guest %s: image at 0x%lx-0x%lx, entry 0x%x, info at 0x%x", vm->cfg.name,
             img.load_start, img.load_end, img.entry, info);
    return NULL;
}

static void unload(struct vm *vm)
{
    vmcs_destroy(&vm->vcpu);
    free_ram(vm);
}

struct vm *vm_create(const struct boot_module *m)
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
    const char *reason = load(vm);
    if (reason) {
        hv_error("guest %s: refused: %s", cfg.name, reason);
        vm->state = VM_EMPTY;
        return NULL;
    }
    vm->state = VM_STOPPED;
    hv_info("guest %s: loaded (%lu MiB RAM, %s%s%s)", cfg.name, cfg.mem >> 20,
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

void vm_after_run(struct vm *vm, enum exit_action action)
{
    if (vm->vcpu.halted && action == EXIT_YIELD)
        vm->halt_if = vmcs_readnat(GUEST_RFLAGS) & RFLAGS_IF;
    if (action == EXIT_CRASH)
        crashed(vm);
}

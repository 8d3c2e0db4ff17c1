/* Guests: creation from boot modules, their RAM and EPT, loading (Multiboot or Linux),
 * and the lifecycle with its console messages. Their devices: kernel/vm/vm_devices.c. */
#include "kernel/vm/vm.h"
#include "kernel/vm/loader/acpi_tables.h"
#include "kernel/vm/loader/linux.h"
#include "kernel/vm/loader/multiboot.h"
#include "kernel/vm/loader/smbios.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/paging.h"
#include "kernel/panic.h"
#include "kernel/printf.h"
#include "kernel/string.h"
#include "kernel/time.h"

struct vm vms[VM_MAX];

const char *vm_state_name(const struct vm *vm)
{
    switch (vm->state) {
    case VM_RUNNING:
        if (vm_loading(vm))
            return "loading";
        return vm->vcpu.halted ? (vm->vcpu.halt_if ? "idle" : "halted") : "running";
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

static void *loader_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
    struct vm *vm = ctx;
    return guest_ram_ptr(&vm->ram, gpa, len);
}

static void free_ram(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ram.n_chunks; i++)
        frame_free(&host_frames, vm->ram.chunks[i], GUEST_RAM_CHUNK / 4096);
    vm->ram.n_chunks = 0;
    ept_destroy(&vm->ept);
}

/* Fresh RAM in 2 MiB chunks, mapped by the EPT; nothing else is mapped. The load zeroes it
 * (load_zero) before the guest runs. */
static const char *alloc_ram(struct vm *vm)
{
    struct guest_ram *ram = &vm->ram;
    unsigned need = (unsigned)((vm->cfg.mem + GUEST_RAM_CHUNK - 1) / GUEST_RAM_CHUNK);
    if (ept_init(&vm->ept) < 0)
        return "out of memory for its EPT";
    ram->size = vm->cfg.mem;
    for (ram->n_chunks = 0; ram->n_chunks < need; ram->n_chunks++) {
        uint64_t pa = frame_alloc_contig(&host_frames, GUEST_RAM_CHUNK / 4096, GUEST_RAM_CHUNK);
        if (!pa) {
            free_ram(vm);
            return "not enough free host memory for its RAM";
        }
        ram->chunks[ram->n_chunks] = pa;
        uint64_t gpa = (uint64_t)ram->n_chunks * GUEST_RAM_CHUNK;
        uint64_t size = ram->size - gpa < GUEST_RAM_CHUNK ? ram->size - gpa : GUEST_RAM_CHUNK;
        if (ept_map(&vm->ept, gpa, pa, size, EPT_RWX) < 0) {
            ram->n_chunks++;
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

/* --- lifecycle ---------------------------------------------------------------------- */

static char load_why[160];

/* What a PC's firmware leaves in the BIOS area for every guest, whatever it boots: the
 * ACPI tables (their RSDP's address in *rsdp) and the SMBIOS tables. */
static const char *build_firmware(struct vm *vm, const struct guest_mem *mem, uint32_t *rsdp)
{
    struct acpi_config ac = { .lapic_addr = VLAPIC_BASE_DEFAULT, .lapic_id = 0,
                              .ioapic_addr = VIOAPIC_BASE, .ioapic_id = 1 };
    *rsdp = acpi_build_tables(mem, &ac);
    if (!*rsdp)
        return "its ACPI tables do not fit";
    /* SMBIOS, mostly for its BIOS date: Linux trusts PCI config access without probing
     * for a host bridge only on a "2001 or later" machine (arch/x86/pci/direct.c). */
    struct smbios_config sc = { .vm_name = vm->cfg.name, .ram_size = vm->cfg.mem };
    if (!smbios_build(mem, &sc))
        return "its SMBIOS tables do not fit";
    return NULL;
}

/* A Multiboot 1 kernel with the firmware's tables, its information structure and modules. */
static const char *load_multiboot(struct vm *vm, const struct guest_mem *mem, struct vcpu_boot *boot)
{
    struct mb_image img;
    if (mb_load(vm->image, vm->image_len, mem, &img, load_why, sizeof load_why) < 0)
        return load_why;
    uint32_t rsdp;
    const char *why = build_firmware(vm, mem, &rsdp);
    if (why)
        return why;
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
    struct mb_boot_args args = { .cmdline = vm->cfg.cmdline, .loader_name = "anfitrion " ANFITRION_VERSION,
                                 .mods = mods, .n_mods = vm->n_mods,
                                 .image_start = img.load_start, .image_end = img.load_end };
    uint32_t info = mb_build_info(mem, &args, load_why, sizeof load_why);
    if (!info)
        return load_why;
    *boot = (struct vcpu_boot){ .entry = img.entry, .eax = MB_GUEST_MAGIC, .ebx = info };
    hv_debug("guest %s: Multiboot image at 0x%lx-0x%lx, entry 0x%x, info at 0x%x, RSDP at 0x%x",
             vm->cfg.name, img.load_start, img.load_end, img.entry, info, rsdp);
    return NULL;
}

/* A Linux bzImage through the 32-bit boot protocol, with ACPI tables and its initrd. */
static const char *load_linux(struct vm *vm, const struct guest_mem *mem, struct vcpu_boot *boot)
{
    if (vm->n_mods > 1)
        return "a Linux guest takes one module (its initrd)";
    uint32_t rsdp;
    const char *why = build_firmware(vm, mem, &rsdp);
    if (why)
        return why;
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

/* --- loading, piece by piece ----------------------------------------------------------- */

/* Copies c's bytes from *done on, at most max of them (and the zeroes after them), never
 * across a RAM chunk; returns how many it did. The range was checked by the loader. */
static uint64_t copy_piece(struct vm *vm, const struct vm_copy *c, uint64_t done, uint64_t max)
{
    uint64_t gpa = c->gpa + done, left = c->len + c->zero - done;
    uint64_t n = GUEST_RAM_CHUNK - (gpa & (GUEST_RAM_CHUNK - 1));
    n = n < left ? n : left;
    n = n < max ? n : max;
    uint8_t *dst = guest_ram_ptr(&vm->ram, gpa, n);
    uint64_t from_src = done < c->len ? c->len - done : 0;
    from_src = from_src < n ? from_src : n;
    memcpy(dst, c->src + done, from_src);
    memset(dst + from_src, 0, n - from_src);
    return n;
}

/* The loader's copy hook: queued in order, done by load_copy. With the queue full, what is
 * queued is done first (order matters if ranges overlap), then this one. */
static void loader_copy(void *ctx, uint64_t gpa, const uint8_t *src, uint64_t len, uint64_t zero)
{
    struct vm *vm = ctx;
    struct vm_load *l = &vm->load;
    if (l->n_copies == VM_LOAD_COPIES) {
        for (unsigned i = 0; i < l->n_copies; i++)
            for (uint64_t done = 0; done < l->copies[i].len + l->copies[i].zero;)
                done += copy_piece(vm, &l->copies[i], done, UINT64_MAX);
        l->n_copies = 0;
    }
    l->copies[l->n_copies++] = (struct vm_copy){ gpa, src, len, zero };
}

/* The guest's RAM, zeroed: one piece of it. */
static void load_zero(struct vm *vm)
{
    struct vm_load *l = &vm->load;
    memset((void *)(vm->ram.chunks[l->done / GUEST_RAM_CHUNK] + l->done % GUEST_RAM_CHUNK), 0,
           VM_LOAD_PIECE);
    l->done += VM_LOAD_PIECE;
}

_Static_assert(GUEST_RAM_CHUNK % VM_LOAD_PIECE == 0, "pieces tile a chunk");

/* On zeroed RAM: the firmware's tables and the boot structures written, the image's copies
 * queued (loader_copy). */
static const char *load_image(struct vm *vm)
{
    struct guest_mem mem = { vm, vm->cfg.mem, loader_ptr, loader_copy };
    vm->load.n_copies = vm->load.next = 0;
    vm->load.done = 0;
    return vm->kind == KIND_LINUX ? load_linux(vm, &mem, &vm->load.boot)
                                  : load_multiboot(vm, &mem, &vm->load.boot);
}

/* The image copied in: one piece of the queued copies. */
static void load_copy(struct vm *vm)
{
    struct vm_load *l = &vm->load;
    const struct vm_copy *c = &l->copies[l->next];
    l->done += copy_piece(vm, c, l->done, VM_LOAD_PIECE);
    if (l->done == c->len + c->zero) {
        l->next++;
        l->done = 0;
    }
}

/* Fresh devices and vCPU entering at the loader's entry point; tracing and statistics carry
 * over a restart. */
static const char *load_vcpu(struct vm *vm)
{
    vm_devices_init(vm);
    vm->n_bad_regions = 0;              /* log accesses to nothing afresh each run */
    static uint64_t exits[EXIT_REASON_MAX];   /* too big for the stack; one load at a time */
    struct vcpu *v = &vm->vcpu;
    bool trace_on = v->trace_on;
    uint64_t trace_mask[VCPU_TRACE_WORDS];
    memcpy(trace_mask, v->trace_mask, sizeof trace_mask);
    uint64_t exits_total = v->exits_total, run_tsc = v->run_tsc;
    memcpy(exits, v->exits, sizeof exits);
    memset(v, 0, sizeof *v);
    v->name = vm->cfg.name;
    v->ram = &vm->ram;
    v->tpr = &vm->lapic.tpr;            /* CR8 is the vLAPIC's TPR (vmx/cr.c) */
    v->cpuid_apic = vlapic_hw_enabled(&vm->lapic);
    vm_pv_reset(vm);                    /* hypercall state and the hypervisor leaves */
    kvm_pv_reset(vm);                   /* KVM's leaves and MSRs (pv=on) */
    v->trace_on = trace_on;
    memcpy(v->trace_mask, trace_mask, sizeof trace_mask);
    memcpy(v->exits, exits, sizeof exits);
    v->exits_total = exits_total;
    v->run_tsc = run_tsc;
    const char *why = vmcs_create(&vm->vcpu, ept_pointer(&vm->ept), &vm->load.boot);
    if (why)
        return why;
    ept_invalidate(&vm->ept);
    return NULL;
}

/* Ends the guest's run: its last console line out, its vCPU and memory freed. */
static void unload(struct vm *vm)
{
    if (vm->line_len)
        vm_flush_line(vm);
    vmcs_destroy(&vm->vcpu);
    free_ram(vm);
    vm->load.phase = LOAD_NONE;
}

/* Starts a load into vm's RAM (allocated, its vCPU gone): RUNNING, listed as "loading". */
static void load_begin(struct vm *vm, const char *how, const char *failed, enum vm_state fail_state)
{
    vm->load = (struct vm_load){ .phase = LOAD_ZERO, .how = how, .failed = failed,
                                 .fail_state = fail_state };
    vm->state = VM_RUNNING;
    vm->started_ns = time_ns();
    vm->paused_ns = 0;
}

/* A load again into the RAM the guest has (a reboot, a crash restart, a reset): its vCPU
 * goes now; its RAM is zeroed piecewise by vm_load_step, or at once for a small guest. */
static void drop_vcpu(struct vm *vm)
{
    if (vm->line_len)
        vm_flush_line(vm);
    vmcs_destroy(&vm->vcpu);
}

static void reload(struct vm *vm, const char *how, const char *failed, enum vm_state fail_state)
{
    drop_vcpu(vm);
    load_begin(vm, how, failed, fail_state);
    if (vm->cfg.mem <= VM_LOAD_AT_ONCE)
        vm_load_step(vm, UINT64_MAX);
}

/* Does vm's load for about budget_tsc ticks, one piece at least: *done when the guest has
 * its vCPU. A failure unloads it and returns why. */
static const char *load_advance(struct vm *vm, uint64_t budget_tsc, bool *done)
{
    struct vm_load *l = &vm->load;
    uint64_t t0 = rdtsc();
    *done = false;
    do {
        const char *why = NULL;
        if (l->phase == LOAD_ZERO && l->done < (uint64_t)vm->ram.n_chunks * GUEST_RAM_CHUNK) {
            load_zero(vm);
        } else if (l->phase == LOAD_ZERO) {
            why = load_image(vm);
            l->phase = LOAD_COPY;
        } else if (l->next < l->n_copies) {
            load_copy(vm);
        } else {
            why = load_vcpu(vm);
            if (!why) {
                l->phase = LOAD_NONE;
                *done = true;
                return NULL;
            }
        }
        if (why) {
            unload(vm);
            return why;
        }
    } while (rdtsc() - t0 < budget_tsc);
    return NULL;
}

bool vm_loading(const struct vm *vm)
{
    return vm->load.phase != LOAD_NONE;
}

/* A freshly loaded guest starts running (its uptime from now) and says so: "started",
 * "reset" or "rebooted". */
static void run_loaded(struct vm *vm, uint64_t now, const char *how)
{
    vm->state = VM_RUNNING;
    vm->started_ns = now;
    vm->paused_ns = 0;
    hv_info("guest %s: %s", vm->cfg.name, how);
}

/* The whole load at once into vm's allocated RAM (at boot, and for the shell's start and
 * reset, whose answer is the "started" or "reset" line): NULL, or why it failed (unloaded). */
static const char *load_now(struct vm *vm)
{
    bool done;
    load_begin(vm, NULL, NULL, VM_STOPPED);
    return load_advance(vm, UINT64_MAX, &done);
}

void vm_load_step(struct vm *vm, uint64_t budget_tsc)
{
    if (vm->state != VM_RUNNING || !vm_loading(vm))
        return;
    struct vm_load l = vm->load;        /* a failure clears it */
    bool done;
    const char *why = load_advance(vm, budget_tsc, &done);
    if (why) {
        vm->state = l.fail_state;
        hv_error("guest %s: %s: %s", vm->cfg.name, l.failed, why);
    } else if (done) {
        run_loaded(vm, time_ns(), l.how);
    }
}

struct vm *vm_create(const struct boot_module *m, const struct guest_config *config,
                     const struct boot_module *const *mods, unsigned n_mods)
{
    const struct guest_config cfg = *config;
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
    const char *reason = alloc_ram(vm);
    if (!reason)
        reason = load_now(vm);          /* at boot nothing else runs yet */
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
    run_loaded(vm, time_ns(), "started");
    return vm;
}

int vm_start(struct vm *vm, const char **why)
{
    if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
        *why = vm->state == VM_PAUSED ? "is paused (resume it, or reset it)"
             : vm_loading(vm) ? "is loading (it starts when its RAM is ready)" : "is already running";
        return -1;
    }
    enum vm_state was = vm->state;
    const char *reason = alloc_ram(vm);
    if (!reason)
        reason = load_now(vm);
    if (reason) {
        vm->state = was;
        *why = reason;
        return -1;
    }
    memset(vm->restart_ns, 0, sizeof vm->restart_ns);
    run_loaded(vm, time_ns(), "started");
    return 0;
}

int vm_stop(struct vm *vm, const char **why)
{
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
        *why = "is not running";
        return -1;
    }
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
    vm->paused_at_ns = time_ns();
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
    vm->paused_ns += time_ns() - vm->paused_at_ns;
    hv_info("guest %s: resumed", vm->cfg.name);
    return 0;
}

int vm_reset(struct vm *vm, const char **why)
{
    const char *reason = NULL;
    if (vm->state == VM_RUNNING || vm->state == VM_PAUSED)
        drop_vcpu(vm);                  /* and load into the RAM it has */
    else
        reason = alloc_ram(vm);
    if (!reason)
        reason = load_now(vm);
    if (reason) {
        vm->state = VM_STOPPED;
        *why = reason;
        return -1;
    }
    memset(vm->restart_ns, 0, sizeof vm->restart_ns);
    run_loaded(vm, time_ns(), "reset");
    return 0;
}

/* How many times the guest restarted itself (crash restarts, reboots) within the window
 * before now; the next one is refused when that is VM_RESTART_LIMIT. */
static unsigned recent_restarts(const struct vm *vm, uint64_t now)
{
    unsigned recent = 0;
    for (unsigned i = 0; i < VM_RESTART_LIMIT; i++)
        if (vm->restart_ns[i] && now - vm->restart_ns[i] < VM_RESTART_WINDOW_NS)
            recent++;
    return recent;
}

static void count_restart(struct vm *vm, uint64_t now)
{
    memmove(&vm->restart_ns[1], &vm->restart_ns[0], sizeof vm->restart_ns[0] * VM_RESTART_LIMIT);
    vm->restart_ns[0] = now;
}

/* Crash policy: stop, or reload from the module unless it crashed too often lately. */
static void crashed(struct vm *vm)
{
    struct vcpu *v = &vm->vcpu;
    uint64_t rip = vcpu_guest_rip(v);
    if (vm->line_len)
        vm_flush_line(vm);
    uint64_t now = time_ns();
    console_async_begin();
    unsigned recent = recent_restarts(vm, now);
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
    if (!restart) {
        unload(vm);
        vm->state = VM_CRASHED;
        return;
    }
    count_restart(vm, now);
    vm->restarts++;
    reload(vm, "started", "restart failed", VM_CRASHED);
}

/* The guest switched itself off, reset itself, or exited through the debug-exit port. A
 * reset reloads it, unless it restarted too often lately (a reboot loop, counted with its
 * crash restarts): "rebooted" when it runs again. */
static void machine_event(struct vm *vm)
{
    int event = vm->machine_event;
    uint64_t now = time_ns();
    unsigned recent = recent_restarts(vm, now);
    if (event == VDEV_RESET && recent < VM_RESTART_LIMIT) {
        count_restart(vm, now);
        reload(vm, "rebooted", "reboot failed", VM_STOPPED);
        return;
    }
    unload(vm);
    vm->state = VM_STOPPED;
    if (event == VDEV_POWER_OFF)
        hv_info("guest %s: powered off", vm->cfg.name);
    else if (event == VDEV_EXIT)
        hv_info("guest %s: exited: status %u", vm->cfg.name, vm->exit_status);
    else
        hv_error("guest %s: rebooted; stopped (reboot loop: %u restarts within %lu s)", vm->cfg.name,
                 recent, (unsigned long)(VM_RESTART_WINDOW_NS / 1000000000ull));
}

void vm_after_run(struct vm *vm, enum exit_action action)
{
    if (action == EXIT_CRASH)
        crashed(vm);
    else if (action == EXIT_STOP && vm->machine_event >= 0)
        machine_event(vm);
}

uint64_t vm_uptime_ns(const struct vm *vm)
{
    uint64_t now = time_ns(), paused = vm->paused_ns;
    if (vm->state == VM_PAUSED)
        paused += now - vm->paused_at_ns;
    return now - vm->started_ns - paused;
}

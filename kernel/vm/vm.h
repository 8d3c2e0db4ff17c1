/* A virtual machine: one guest with its configuration, RAM, EPT, vCPU and virtual devices,
 * and its lifecycle (loaded, running, paused, stopped, crashed; restarts by policy). */
#ifndef KERNEL_VM_VM_H
#define KERNEL_VM_VM_H

#include "kernel/vm/loader/config.h"
#include "kernel/vm/hypercall.h"
#include "kernel/vm/kvm_pv.h"
#include "kernel/bootinfo.h"
#include "kernel/vm/vdev/debugexit.h"
#include "kernel/vm/vdev/fwcfg.h"
#include "kernel/vm/vdev/testdev.h"
#include "kernel/vm/vdev/vacpi.h"
#include "kernel/vm/vdev/vdev.h"
#include "kernel/vm/vdev/vioapic.h"
#include "kernel/vm/vdev/vlapic.h"
#include "kernel/vm/vdev/vpci.h"
#include "kernel/vm/vdev/vpic.h"
#include "kernel/vm/vdev/vpit.h"
#include "kernel/vm/vdev/vrtc.h"
#include "kernel/vm/vdev/vuart.h"
#include "vmx/ept.h"
#include "vmx/vcpu.h"

#define VM_MAX            32
#define VM_MODULES_MAX    8                         /* for=NAME modules per guest */
#define VM_LINE_MAX       160
#define VM_BAD_REGIONS    8                         /* accesses to nothing: regions logged */
/* A guest that restarts itself this often is in a loop and is stopped: crash restarts
 * (on_crash=restart) and reboots (reset register) count together, since each costs the
 * host a reload of the guest whatever caused it. */
#define VM_RESTART_LIMIT  5                         /* restarts allowed ... */
#define VM_RESTART_WINDOW_NS (10ull * 1000000000ull) /* ... within this window */
#define VM_LOAD_PIECE     (256u << 10)              /* RAM zeroed or image copied between looks at the clock */
#define VM_LOAD_AT_ONCE   (16ull << 20)             /* guests this small are reloaded in one go */
#define VM_LOAD_COPIES    16                        /* image ranges a load copies piecewise */

enum vm_state { VM_EMPTY, VM_RUNNING, VM_PAUSED, VM_STOPPED, VM_CRASHED };

/* A load of the guest from its module: its RAM zeroed, then the loader's small structures
 * written and its image copied in, then its devices and vCPU made. A reload the guest
 * caused (a reboot, a crash restart) of a guest larger than VM_LOAD_AT_ONCE is done over
 * several scheduler turns (vm_load_step); until it ends the guest has no vCPU and never
 * runs: it is VM_RUNNING (or VM_PAUSED, which holds the load), listed as "loading". A
 * smaller one takes a few ms on hardware, less than a time slice: done at once. */
enum vm_load_phase { LOAD_NONE, LOAD_ZERO, LOAD_COPY };

/* A range of the image the loader copies (then zeroes zero bytes after it: a bss). */
struct vm_copy {
    uint64_t gpa;
    const uint8_t *src;
    uint64_t len, zero;
};

struct vm_load {
    enum vm_load_phase phase;
    uint64_t done;                      /* LOAD_ZERO: bytes zeroed; LOAD_COPY: of copies[next] */
    unsigned next, n_copies;
    struct vm_copy copies[VM_LOAD_COPIES];
    struct vcpu_boot boot;              /* the vCPU's entry, from the loader */
    const char *how;                    /* said when it runs: "started", "reset", "rebooted" */
    const char *failed;                 /* said with the reason if it fails: "reboot failed"... */
    enum vm_state fail_state;           /* and the state it then leaves */
};

struct vm {
    enum vm_state state;
    int id;
    struct guest_config cfg;
    const uint8_t *image;               /* the boot module (kept reserved), for (re)starts */
    uint64_t image_len;
    enum guest_kind kind;               /* KIND_MULTIBOOT or KIND_LINUX, from the image */
    const struct boot_module *mods[VM_MODULES_MAX];  /* its for=NAME modules, in order */
    unsigned n_mods;

    struct guest_ram ram;               /* its RAM, in 2 MiB chunks the EPT maps */
    struct ept ept;
    struct vcpu vcpu;

    struct vdev_env env;
    struct vdev_bus bus;
    struct vuart uart;
    struct vpic pic;
    struct vpit pit;
    struct vrtc rtc;
    struct vlapic lapic;
    struct vioapic ioapic;
    struct vpci pci;
    struct vacpi acpi;
    struct fwcfg fwcfg;
    struct debugexit debugexit;
    struct testdev testdev;             /* attached only with testdev=on */
    int machine_event;                  /* enum vdev_machine_event raised, or -1 */
    uint32_t exit_status;               /* with VDEV_EXIT */

    char line[VM_LINE_MAX];             /* guest console output being assembled */
    unsigned line_len;
    uint64_t console_dropped;           /* bytes dropped when the host console was full */

    uint64_t started_ns;
    uint64_t paused_ns;                 /* time spent paused since started_ns */
    uint64_t paused_at_ns;              /* when the current pause began */
    struct vm_load load;                /* a (re)load in progress, or LOAD_NONE */
    unsigned restarts;                  /* crash restarts */
    uint64_t restart_ns[VM_RESTART_LIMIT + 1];  /* the latest restarts and reboots, newest first */
    uint64_t irqs_injected[256];
    uint64_t inject_timer_tsc;          /* host timer interrupt TSC before the last injection, or 0 */
    struct vm_pv pv;                    /* its hypercalls' state (kernel/vm/hypercall.c) */
    struct kvm_pv kvm;                  /* KVM's paravirtual interface (kernel/vm/kvm_pv.c) */
    uint64_t last_crash_rip;
    uint64_t bad_accesses;              /* reads and writes of nothing (kernel/vm/run.c) */
    uint64_t bad_regions[VM_BAD_REGIONS];   /* MiB regions already logged this run */
    unsigned n_bad_regions;
};

extern struct vm vms[VM_MAX];

/* Creates a guest from a boot module with its parsed options (its for=NAME modules in
 * mods); refuses it ("hv: guest NAME: refused: WHY") if its name is taken, or its image or
 * memory do not work out. Returns the VM or NULL. */
struct vm *vm_create(const struct boot_module *module, const struct guest_config *cfg,
                     const struct boot_module *const *mods, unsigned n_mods);
/* Lifecycle; each prints its "hv: guest NAME: ..." line. Return 0, or -1 with why set.
 * start and reset load the guest at once (its line is the shell command's answer) and
 * begin a new count of restarts; on a guest being reloaded, stop, pause and reset apply
 * (pause holds the load), start is refused. */
int vm_start(struct vm *vm, const char **why);
int vm_stop(struct vm *vm, const char **why);
int vm_pause(struct vm *vm, const char **why);
int vm_resume(struct vm *vm, const char **why);
int vm_reset(struct vm *vm, const char **why);
/* Runs vm's vCPU for at most slice_tsc TSC ticks: interrupt delivery, the vCPU's exits and
 * the requests its devices answer (kernel/vm/run.c). Returns why the slice ended:
 * EXIT_YIELD, EXIT_STOP (a machine event) or EXIT_CRASH. */
enum exit_action vm_run_slice(struct vm *vm, uint64_t slice_tsc);
/* The host's own work that ends a slice early (console input for the shell). */
void vm_set_host_work(bool (*pending)(void));
/* Handles the end of a run slice (crash, stop). */
void vm_after_run(struct vm *vm, enum exit_action action);
/* True while the guest is being loaded (zeroed RAM, image copied in): no vCPU yet. */
bool vm_loading(const struct vm *vm);
/* Advances vm's load by about budget_tsc TSC ticks of work (one piece at least); at the end
 * the guest runs and says so ("started", "reset", "rebooted"), or the failure is reported
 * ("reboot failed: WHY"...) and the guest is left stopped or crashed. */
void vm_load_step(struct vm *vm, uint64_t budget_tsc);
/* True if the VM's vCPU can run now (running and not halted, or woken by an interrupt). */
bool vm_runnable(struct vm *vm);
/* Earliest time (ns) one of its devices wants attention, UINT64_MAX if none. */
uint64_t vm_next_event_ns(struct vm *vm);
struct vm *vm_find(const char *name);
/* Fault injection (inject.c), for a running or paused guest: an NMI through its vLAPIC's
 * LINT1, an edge on ISA IRQ line arg, or #UD, #GP(0), #PF (CR2 = arg, error code 0) at its
 * next entry; and one bit of its RAM flipped (*before, *after: the byte). 0, or -1 and *why. */
enum vm_inject_kind { INJECT_NMI, INJECT_IRQ, INJECT_UD, INJECT_GP, INJECT_PF };
int vm_inject(struct vm *vm, enum vm_inject_kind kind, uint64_t arg, const char **why);
int vm_corrupt(struct vm *vm, uint64_t gpa, unsigned bit, uint8_t *before, uint8_t *after,
               const char **why);
/* Routes vm's console output raw to the user (NULL: back to "[NAME] " lines for all). */
void vm_attach_console(struct vm *vm);
/* The guest whose console is attached (its output raw, the user's keystrokes to it), or NULL. */
struct vm *vm_console_owner(void);
const char *vm_state_name(const struct vm *vm);
/* Time the guest has been running since it (re)started, pauses excluded. */
uint64_t vm_uptime_ns(const struct vm *vm);
/* Inside the VM layer (kernel/vm/vm_devices.c for kernel/vm/vm.c): a fresh set of devices for
 * vm, and the end of its current console line. */
void vm_devices_init(struct vm *vm);
void vm_flush_line(struct vm *vm);
/* One byte of vm's console output, from its UART or its console hypercall. */
void vm_console_out(struct vm *vm, uint8_t byte);
/* RAM in use by the guest and the host's overhead for it (EPT tables, VMCS...), in bytes. */
uint64_t vm_overhead_bytes(const struct vm *vm);

#endif

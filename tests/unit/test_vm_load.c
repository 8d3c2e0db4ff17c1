/* Host unit tests for kernel/vm/vm.c: the piecewise (re)load of a guest (RAM zeroed, then the
 * image copied in, a bounded amount per step, the vCPU made last) and the restart-loop limit
 * that crash restarts and reboots share. vm.c is included whole; what it calls below it (EPT,
 * frames, VMCS, the loaders, devices, log, clock) is faked here: RAM chunks are host memory,
 * the loader is a fake Multiboot image of a few segments, the log is captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define ANFITRION_VERSION "test"
#pragma GCC diagnostic ignored "-Wformat-truncation"    /* module strings: cut as the kernel's are */
#include "kernel/vm/vm.c"
#include "kernel/vm/loader/util.c"   /* loader_fail, the loaders' shared helpers */

#define MiB (1024ull * 1024)
#define KiB 1024ull

/* --- fakes ------------------------------------------------------------------------------- */

enum log_level log_level = LOG_INFO;
struct frame_alloc host_frames;
static uint64_t fake_now;                       /* time_ns() */
static char fake_log[16384];                    /* the "hv: " lines, one per line */
static int fake_chunks_held;                    /* RAM chunks allocated and not freed */
static int fake_vmcs_fail;                      /* vmcs_create fails when set */
static int fake_vmcs_made;

uint64_t time_ns(void) { return fake_now; }

void log_printf(enum log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    size_t n = strlen(fake_log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fake_log + n, sizeof fake_log - n, fmt, ap);
    va_end(ap);
    n = strlen(fake_log);
    if (n + 1 < sizeof fake_log)
        strcpy(fake_log + n, "\n");
}

void console_async_begin(void) {}
void console_async_end(void) {}

uint64_t frame_alloc_contig(struct frame_alloc *fa, uint64_t count, uint64_t align)
{
    (void)fa;
    void *p = aligned_alloc(align, count * 4096);
    memset(p, 0xEE, count * 4096);              /* what a previous owner left */
    fake_chunks_held++;
    return (uint64_t)(uintptr_t)p;
}

void frame_free(struct frame_alloc *fa, uint64_t pa, uint64_t count)
{
    (void)fa, (void)count;
    free((void *)(uintptr_t)pa);
    fake_chunks_held--;
}

int ept_init(struct ept *ept) { ept->table_pages = 1; return 0; }
int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t rights)
{
    (void)ept, (void)gpa, (void)hpa, (void)size, (void)rights;
    return 0;
}
void ept_destroy(struct ept *ept) { ept->table_pages = 0; }
void ept_invalidate(const struct ept *ept) { (void)ept; }
uint64_t ept_pointer(const struct ept *ept) { (void)ept; return 0x1000; }

void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len > ram->size)
        return NULL;
    if (gpa / GUEST_RAM_CHUNK != (gpa + len - 1) / GUEST_RAM_CHUNK)
        return NULL;                            /* test chunks are never contiguous */
    return (void *)(uintptr_t)(ram->chunks[gpa / GUEST_RAM_CHUNK] + gpa % GUEST_RAM_CHUNK);
}

const char *vmcs_create(struct vcpu *vcpu, uint64_t eptp, const struct vcpu_boot *boot)
{
    (void)eptp;
    if (fake_vmcs_fail)
        return "out of memory for its VMCS";
    assert_int_equal(boot->entry, 0x100000);
    vcpu->vmcs_pa = 0x2000;
    fake_vmcs_made++;
    return NULL;
}
void vmcs_destroy(struct vcpu *vcpu) { vcpu->vmcs_pa = 0; }
void vcpu_dump(struct vcpu *vcpu) { (void)vcpu; }
uint64_t vcpu_guest_rip(struct vcpu *vcpu) { (void)vcpu; return 0x100123; }
bool vlapic_hw_enabled(const struct vlapic *l) { (void)l; return true; }
void vm_devices_init(struct vm *vm) { vm->machine_event = -1; }
void vm_pv_reset(struct vm *vm) { (void)vm; }
void kvm_pv_reset(struct vm *vm) { (void)vm; }
void vm_flush_line(struct vm *vm) { vm->line_len = 0; }
int guest_config_parse(const char *s, struct guest_config *cfg, char *why, size_t n)
{
    (void)s, (void)why, (void)n;
    memset(cfg, 0, sizeof *cfg);
    return 0;
}
bool linux_is_bzimage(const uint8_t *img, size_t len) { (void)img, (void)len; return false; }
int linux_load(const uint8_t *img, size_t len, const struct guest_mem *mem, const struct linux_boot_args *args,
               struct linux_image *out, char *why, size_t ws)
{
    (void)img, (void)len, (void)mem, (void)args, (void)out;
    return loader_fail(why, ws, "not a Linux guest");
}
uint32_t acpi_build_tables(const struct guest_mem *mem, const struct acpi_config *cfg)
{
    (void)cfg;
    uint8_t *p = mem->ptr(mem->ctx, 0xE0000, 16);
    memcpy(p, "RSD PTR ", 8);                   /* written at once, never over the image */
    return 0xE0000;
}
uint32_t smbios_build(const struct guest_mem *mem, const struct smbios_config *cfg)
{
    (void)mem, (void)cfg;
    return 0xF0000;
}

/* The fake image: segments of SEG_LEN bytes (then SEG_BSS zeroes) every SEG_STRIDE from 1 MiB,
 * each byte of segment i at offset k being (i * 7 + k) & 0xFF. */
#define SEG_LEN     (600 * KiB)
#define SEG_BSS     (100 * KiB)
#define SEG_STRIDE  (1 * MiB)
static unsigned fake_segments = 1;
static uint8_t fake_image[SEG_LEN * 20];

static uint8_t seg_byte(unsigned i, uint64_t k) { return (uint8_t)(i * 7 + k); }

int mb_load(const uint8_t *img, size_t len, const struct guest_mem *mem, struct mb_image *out,
            char *why, size_t ws)
{
    (void)img, (void)len;
    for (unsigned i = 0; i < fake_segments; i++) {
        uint64_t gpa = MiB + i * SEG_STRIDE;
        uint8_t *dst = mem->ptr(mem->ctx, gpa, 4096);
        if (!dst)
            return loader_fail(why, ws, "segment %u outside its RAM", i);
        if (mem->copy)
            mem->copy(mem->ctx, gpa, fake_image + i * SEG_LEN, SEG_LEN, SEG_BSS);
        else
            return loader_fail(why, ws, "the VM copies through its hook");
    }
    *out = (struct mb_image){ .entry = 0x100000, .load_start = MiB,
                              .load_end = MiB + fake_segments * SEG_STRIDE };
    return 0;
}

uint32_t mb_build_info(const struct guest_mem *mem, const struct mb_boot_args *args, char *why, size_t ws)
{
    (void)args, (void)why, (void)ws;
    uint8_t *p = mem->ptr(mem->ctx, 0x9000, 64);
    memcpy(p, "info", 4);
    return 0x9000;
}

/* --- helpers ------------------------------------------------------------------------------ */

static struct boot_module module;

static struct vm *create(uint64_t mem, enum crash_policy on_crash)
{
    struct guest_config cfg = { .name = "looper", .mem = mem, .on_crash = on_crash, .kind = KIND_MULTIBOOT };
    module.start = (uint64_t)(uintptr_t)fake_image;
    module.end = module.start + sizeof fake_image;
    return vm_create(&module, &cfg, NULL, 0);
}

static int setup(void **state)
{
    (void)state;
    memset(vms, 0, sizeof vms);
    fake_log[0] = 0;
    fake_now = 1000000000ull;
    fake_chunks_held = 0;
    fake_vmcs_fail = 0;
    fake_vmcs_made = 0;
    fake_segments = 1;
    for (size_t i = 0; i < 20; i++)
        for (uint64_t k = 0; k < SEG_LEN; k++)
            fake_image[i * SEG_LEN + k] = seg_byte((unsigned)i, k);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < VM_MAX; i++)
        if (vms[i].state != VM_EMPTY && vms[i].ram.n_chunks)
            free_ram(&vms[i]);
    assert_int_equal(fake_chunks_held, 0);
    return 0;
}

static uint8_t *ram_at(struct vm *vm, uint64_t gpa)
{
    return (uint8_t *)(uintptr_t)(vm->ram.chunks[gpa / GUEST_RAM_CHUNK] + gpa % GUEST_RAM_CHUNK);
}

static void dirty_ram(struct vm *vm)
{
    for (unsigned c = 0; c < vm->ram.n_chunks; c++)
        memset((void *)(uintptr_t)vm->ram.chunks[c], 0xA5, GUEST_RAM_CHUNK);
}

/* Zero everywhere but the image (segments and their zeroed bss), the ACPI stub's RSDP and
 * the information's stub. */
static void assert_fresh_ram(struct vm *vm)
{
    for (uint64_t gpa = 0; gpa < vm->ram.n_chunks * GUEST_RAM_CHUNK; gpa++) {
        uint8_t want = 0;
        uint64_t off = gpa - MiB;
        if (gpa >= MiB && off % SEG_STRIDE < SEG_LEN && off / SEG_STRIDE < fake_segments)
            want = seg_byte((unsigned)(off / SEG_STRIDE), off % SEG_STRIDE);
        else if (gpa >= 0xE0000 && gpa < 0xE0008)
            want = (uint8_t)"RSD PTR "[gpa - 0xE0000];
        else if (gpa >= 0x9000 && gpa < 0x9004)
            want = (uint8_t)"info"[gpa - 0x9000];
        if (*ram_at(vm, gpa) != want)
            fail_msg("RAM at 0x%lx is 0x%02x, expected 0x%02x", (unsigned long)gpa, *ram_at(vm, gpa), want);
    }
}

/* Steps (budget 0: one piece each) until the guest runs; returns how many it took. The guest
 * never has a vCPU before the last. */
static unsigned steps_to_run(struct vm *vm)
{
    unsigned n = 0;
    while (vm_loading(vm)) {
        assert_int_equal(vm->vcpu.vmcs_pa, 0);
        assert_string_equal(vm_state_name(vm), "loading");
        vm_load_step(vm, 0);
        n++;
        assert_true(n < 100000);
    }
    return n;
}

static void reboot(struct vm *vm)
{
    vm->machine_event = VDEV_RESET;
    vm_after_run(vm, EXIT_STOP);
}

static int count_lines(const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = fake_log; (p = strstr(p, line)); p += len)
        if ((p == fake_log || p[-1] == '\n') && p[len] == '\n')
            n++;
    return n;
}

/* --- tests -------------------------------------------------------------------------------- */

/* At boot the load is done in one go: loaded, started, fresh RAM, a vCPU. */
static void test_first_boot_in_one_go(void **state)
{
    (void)state;
    struct vm *vm = create(16 * MiB, ON_CRASH_STOP);
    assert_non_null(vm);
    assert_false(vm_loading(vm));
    assert_int_equal(vm->state, VM_RUNNING);
    assert_int_not_equal(vm->vcpu.vmcs_pa, 0);
    assert_int_equal(count_lines("guest looper: started"), 1);
    assert_fresh_ram(vm);
}

#define STEPS_32M (128 + 1 + 3 + 1)

/* A reboot of a 32 MiB guest: 128 pieces of zeroing (256 KiB each), the loader's step, three
 * pieces of copying (600 KiB of segment and 100 KiB of bss), the vCPU, with no vCPU and no
 * "rebooted" before the last; then its RAM is as fresh as at boot. */
static void test_reboot_sliced(void **state)
{
    (void)state;
    struct vm *vm = create(32 * MiB, ON_CRASH_STOP);
    dirty_ram(vm);
    reboot(vm);
    assert_true(vm_loading(vm));
    assert_int_equal(vm->vcpu.vmcs_pa, 0);
    assert_int_equal(count_lines("guest looper: rebooted"), 0);
    assert_int_equal(fake_chunks_held, 16);          /* the RAM is kept, not reallocated */
    unsigned n = 0;
    while (vm_loading(vm)) {
        assert_int_equal(count_lines("guest looper: rebooted"), 0);
        vm_load_step(vm, 0);
        n++;
    }
    assert_int_equal(n, STEPS_32M);
    assert_int_equal(count_lines("guest looper: rebooted"), 1);
    assert_string_not_equal(vm_state_name(vm), "loading");
    assert_int_not_equal(vm->vcpu.vmcs_pa, 0);
    assert_fresh_ram(vm);
}

/* An unbounded budget does the whole load in one step. */
static void test_budget(void **state)
{
    (void)state;
    struct vm *vm = create(32 * MiB, ON_CRASH_STOP);
    reboot(vm);
    vm_load_step(vm, UINT64_MAX);
    assert_false(vm_loading(vm));
    assert_int_equal(count_lines("guest looper: rebooted"), 1);
    assert_fresh_ram(vm);
}

/* A guest of VM_LOAD_AT_ONCE or less is reloaded at once, as a crash restart is. */
static void test_small_guest_at_once(void **state)
{
    (void)state;
    struct vm *vm = create(VM_LOAD_AT_ONCE, ON_CRASH_RESTART);
    dirty_ram(vm);
    reboot(vm);
    assert_false(vm_loading(vm));
    assert_int_equal(count_lines("guest looper: rebooted"), 1);
    assert_fresh_ram(vm);
    dirty_ram(vm);
    strcpy(vm->vcpu.crash_reason, "triple fault");
    vm_after_run(vm, EXIT_CRASH);
    assert_false(vm_loading(vm));
    assert_int_equal(count_lines("guest looper: started"), 2);
    assert_fresh_ram(vm);
}

/* More image ranges than the queue holds: the queued ones are done first, in order. */
static void test_copy_queue_overflow(void **state)
{
    (void)state;
    fake_segments = VM_LOAD_COPIES + 3;
    struct vm *vm = create(24 * MiB, ON_CRASH_STOP);
    assert_non_null(vm);
    assert_fresh_ram(vm);
    dirty_ram(vm);
    reboot(vm);
    steps_to_run(vm);
    assert_fresh_ram(vm);
}

/* Reboots: five within the window are reloads, the sixth stops the guest with the line. */
static void test_reboot_loop_stopped(void **state)
{
    (void)state;
    struct vm *vm = create(32 * MiB, ON_CRASH_STOP);
    for (int i = 0; i < VM_RESTART_LIMIT; i++) {
        fake_now += 1000000000ull;               /* one a second */
        reboot(vm);
        steps_to_run(vm);
        assert_int_equal(vm->state, VM_RUNNING);
    }
    assert_int_equal(count_lines("guest looper: rebooted"), 5);
    fake_now += 1000000000ull;
    reboot(vm);
    assert_int_equal(vm->state, VM_STOPPED);
    assert_false(vm_loading(vm));
    assert_int_equal(fake_chunks_held, 0);
    assert_int_equal(count_lines("guest looper: rebooted; stopped (reboot loop: 5 restarts within 10 s)"), 1);
    assert_string_equal(vm_state_name(vm), "stopped");
}

/* A guest that reboots every 2.5 s, or once after a quiet while, is never stopped. */
static void test_slow_reboots_allowed(void **state)
{
    (void)state;
    struct vm *vm = create(4 * MiB, ON_CRASH_STOP);
    for (int i = 0; i < 20; i++) {
        fake_now += 2500000000ull;
        reboot(vm);
        steps_to_run(vm);
        assert_int_equal(vm->state, VM_RUNNING);
    }
    assert_int_equal(count_lines("guest looper: rebooted"), 20);
}

/* Crash restarts and reboots count together. */
static void test_crashes_and_reboots_share_the_count(void **state)
{
    (void)state;
    struct vm *vm = create(24 * MiB, ON_CRASH_RESTART);
    for (int i = 0; i < 3; i++) {
        fake_now += 500000000ull;
        strcpy(vm->vcpu.crash_reason, "triple fault");
        vm_after_run(vm, EXIT_CRASH);
        assert_true(vm_loading(vm));
        steps_to_run(vm);
    }
    for (int i = 0; i < 2; i++) {
        fake_now += 500000000ull;
        reboot(vm);
        steps_to_run(vm);
    }
    assert_int_equal(count_lines("guest looper: started"), 4);     /* boot and three restarts */
    fake_now += 500000000ull;
    reboot(vm);
    assert_int_equal(vm->state, VM_STOPPED);
    assert_int_equal(count_lines("guest looper: rebooted; stopped (reboot loop: 5 restarts within 10 s)"), 1);
    /* and the other way round: after a start, 5 reboots then a crash is a crash loop */
    const char *why = NULL;
    assert_int_equal(vm_start(vm, &why), 0);
    steps_to_run(vm);
    for (int i = 0; i < 5; i++) {
        reboot(vm);
        steps_to_run(vm);
    }
    strcpy(vm->vcpu.crash_reason, "triple fault");
    vm_after_run(vm, EXIT_CRASH);
    assert_int_equal(vm->state, VM_CRASHED);
    assert_non_null(strstr(fake_log, "crashed: triple fault at RIP=0x100123; stopped (crash loop: 5 restarts within 10 s)"));
}

/* The shell's transitions on a loading guest. */
static void test_shell_on_loading_guest(void **state)
{
    (void)state;
    struct vm *vm = create(32 * MiB, ON_CRASH_STOP);
    const char *why = NULL;
    reboot(vm);
    vm_load_step(vm, 0);
    assert_int_equal(vm_start(vm, &why), -1);
    assert_string_equal(why, "is loading (it starts when its RAM is ready)");
    /* pause holds the load; resume goes on from where it was */
    assert_int_equal(vm_pause(vm, &why), 0);
    assert_string_equal(vm_state_name(vm), "paused");
    uint64_t done = vm->load.done;
    vm_load_step(vm, 0);
    assert_int_equal(vm->load.done, done);
    assert_int_equal(vm_resume(vm, &why), 0);
    assert_string_equal(vm_state_name(vm), "loading");
    assert_int_equal(steps_to_run(vm), STEPS_32M - 1);
    /* reset loads it afresh at once, in the RAM it has, and says "reset" */
    reboot(vm);
    vm_load_step(vm, 0);
    dirty_ram(vm);
    assert_int_equal(vm_reset(vm, &why), 0);
    assert_false(vm_loading(vm));
    assert_int_equal(vm->state, VM_RUNNING);
    assert_int_equal(count_lines("guest looper: reset"), 1);
    assert_int_equal(count_lines("guest looper: rebooted"), 1);    /* the one before, not this */
    assert_int_equal(fake_chunks_held, 16);
    assert_fresh_ram(vm);
    /* stop frees it, loading or not; start loads it at once */
    reboot(vm);
    assert_int_equal(vm_stop(vm, &why), 0);
    assert_int_equal(vm->state, VM_STOPPED);
    assert_false(vm_loading(vm));
    assert_int_equal(fake_chunks_held, 0);
    assert_int_equal(count_lines("guest looper: stopped"), 1);
    assert_int_equal(vm_start(vm, &why), 0);
    assert_false(vm_loading(vm));
    assert_int_equal(count_lines("guest looper: started"), 2);
    assert_fresh_ram(vm);
    /* a paused guest being reloaded: reset runs it */
    reboot(vm);
    assert_int_equal(vm_pause(vm, &why), 0);
    assert_int_equal(vm_reset(vm, &why), 0);
    assert_int_equal(vm->state, VM_RUNNING);
    assert_false(vm_loading(vm));
    assert_int_equal(count_lines("guest looper: reset"), 2);
}

/* A load that fails at its end is reported as before, and frees the guest's RAM. */
static void test_failures_reported(void **state)
{
    (void)state;
    struct vm *vm = create(24 * MiB, ON_CRASH_RESTART);
    fake_vmcs_fail = 1;
    reboot(vm);
    steps_to_run(vm);
    assert_int_equal(vm->state, VM_STOPPED);
    assert_int_equal(count_lines("guest looper: reboot failed: out of memory for its VMCS"), 1);
    assert_int_equal(fake_chunks_held, 0);
    /* start and reset say why as their error, and change nothing */
    const char *why = NULL;
    assert_int_equal(vm_start(vm, &why), -1);
    assert_string_equal(why, "out of memory for its VMCS");
    assert_int_equal(vm->state, VM_STOPPED);
    assert_int_equal(fake_chunks_held, 0);
    fake_vmcs_fail = 0;
    assert_int_equal(vm_start(vm, &why), 0);
    fake_vmcs_fail = 1;
    assert_int_equal(vm_reset(vm, &why), -1);
    assert_int_equal(vm->state, VM_STOPPED);
    assert_int_equal(fake_chunks_held, 0);
    fake_vmcs_fail = 0;
    assert_int_equal(vm_start(vm, &why), 0);
    fake_vmcs_fail = 1;
    strcpy(vm->vcpu.crash_reason, "triple fault");
    vm_after_run(vm, EXIT_CRASH);
    steps_to_run(vm);
    assert_int_equal(vm->state, VM_CRASHED);
    assert_int_equal(count_lines("guest looper: restart failed: out of memory for its VMCS"), 1);
    assert_int_equal(fake_chunks_held, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_boot_in_one_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reboot_sliced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_guest_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_queue_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reboot_loop_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_reboots_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crashes_and_reboots_share_the_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shell_on_loading_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

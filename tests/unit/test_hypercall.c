/* Unit tests of anfitrion's hypercalls (kernel/vm/hypercall.c, docs/hypercalls.md): the guest's
 * and the host's copies of the ABI agree; every call checks its arguments (CPL, numbers,
 * lengths, alignment, RAM, peers) and does nothing when it refuses; events, the virtual
 * interrupt flag, block and the timer behave as documented. hypercall.c and pvclock.c are
 * included whole; what they call in the rest of the VM layer is faked below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The guest's header, its types renamed so that the host's can sit beside them; its macros
 * must be token for token the host's (a redefinition that differs is an error under -Werror). */
#define anf_shared guest_anf_shared
#define anf_time guest_anf_time
#define anf_guest_info guest_anf_guest_info
#define anf_hypercall guest_anf_hypercall
#define anf_time_ns guest_anf_time_ns
#define anf_time_read guest_anf_time_read
#define anf_take_event guest_anf_take_event
#define anf_set_timer guest_anf_set_timer
#include "guest/lib/hypercall.h"
#undef anf_shared
#undef anf_time
#undef anf_guest_info

#include "kernel/vm/hypercall.c"
#include "kernel/vm/pvclock.c"
#include "tests/unit/fake_guest_ram.h"

/* ---- fakes ------------------------------------------------------------------------------- */

#define RAM_SIZE (4ull << 20)
static struct vm vm_a, vm_b;
static char console[8192];
static size_t console_len;
static int injected = -1;
static uint64_t fake_hz = 2000000000ull;

struct vm *vm_find(const char *name)
{
    if (strcmp(name, vm_a.cfg.name) == 0)
        return &vm_a;
    if (strcmp(name, vm_b.cfg.name) == 0)
        return &vm_b;
    return NULL;
}

void vm_console_out(struct vm *vm, uint8_t byte)
{
    (void)vm;
    if (console_len < sizeof console)
        console[console_len++] = (char)byte;
}

bool vuart_receive(struct vuart *u, uint8_t byte) { (void)u, (void)byte; return true; }
bool vuart_can_receive(const struct vuart *u) { (void)u; return true; }
uint64_t time_tsc_hz(void) { return fake_hz; }
uint64_t time_ns(void) { return 1000; }
uint64_t time_tsc_to_ns(uint64_t tsc) { return tsc / 2; }
void vcpu_inject_interrupt(struct vcpu *vcpu, uint8_t vector) { (void)vcpu; injected = vector; }
static bool fake_wide = true;                   /* vcpu_in_64bit_mode() */
bool vcpu_in_64bit_mode(struct vcpu *vcpu) { (void)vcpu; return fake_wide; }
static int kvm_calls;
bool kvm_pv_hypercall(struct vm *vm, uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t *ret,
                      enum exit_action *after)
{
    (void)vm, (void)a1, (void)a2, (void)a3;
    kvm_calls++;
    if (nr != 11)
        return false;
    *ret = 0;
    *after = EXIT_YIELD;
    return true;
}


static void make_vm(struct vm *vm, const char *name, int id)
{
    memset(vm, 0, sizeof *vm);
    strcpy(vm->cfg.name, name);
    vm->cfg.mem = RAM_SIZE;
    vm->id = id;
    vm->state = VM_RUNNING;
    vm->machine_event = -1;
    fake_guest_ram_alloc(&vm->ram, RAM_SIZE);
    vm_pv_reset(vm);
}

static void free_vm(struct vm *vm)
{
    fake_guest_ram_free(&vm->ram);
}

static int setup(void **state)
{
    (void)state;
    make_vm(&vm_a, "alpha", 0);
    make_vm(&vm_b, "beta", 1);
    console_len = 0;
    injected = -1;
    kvm_calls = 0;
    fake_wide = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free_vm(&vm_a);
    free_vm(&vm_b);
    return 0;
}

static void *gptr(struct vm *vm, uint64_t gpa) { return fake_gptr(&vm->ram, gpa); }

static enum exit_action last_after;

/* One hypercall from vm at CPL 0 in 64-bit mode (or as given): its RAX. */
static int64_t call_as(struct vm *vm, uint8_t cpl, bool wide, uint64_t nr, uint64_t a1, uint64_t a2,
                       uint64_t a3)
{
    struct vcpu_req *q = &vm->vcpu.req;
    memset(q, 0, sizeof *q);
    q->kind = VCPU_REQ_HYPERCALL;
    q->hypercall.nr = nr, q->hypercall.a1 = a1, q->hypercall.a2 = a2, q->hypercall.a3 = a3;
    q->hypercall.cpl = cpl;
    fake_wide = wide;
    last_after = vm_hypercall(vm);
    return (int64_t)q->hypercall.ret;
}

static int64_t hcall(struct vm *vm, uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
    return call_as(vm, 0, true, nr, a1, a2, a3);
}

/* ---- the ABI's two copies ---------------------------------------------------------------- */

static void test_guest_and_host_headers_agree(void **state)
{
    (void)state;
    /* The macros: both headers are included, so a differing one did not compile. The types: */
    assert_int_equal(sizeof(struct guest_anf_shared), sizeof(struct anf_shared));
    assert_int_equal(offsetof(struct guest_anf_shared, pending), offsetof(struct anf_shared, pending));
    assert_int_equal(offsetof(struct guest_anf_shared, mask), offsetof(struct anf_shared, mask));
    assert_int_equal(offsetof(struct guest_anf_shared, upcalls), offsetof(struct anf_shared, upcalls));
    assert_int_equal(sizeof(struct guest_anf_time), sizeof(struct pvclock_time));
    assert_int_equal(offsetof(struct guest_anf_time, tsc_timestamp), offsetof(struct pvclock_time, tsc_timestamp));
    assert_int_equal(offsetof(struct guest_anf_time, system_time), offsetof(struct pvclock_time, system_time));
    assert_int_equal(offsetof(struct guest_anf_time, tsc_to_system_mul),
                     offsetof(struct pvclock_time, tsc_to_system_mul));
    assert_int_equal(offsetof(struct guest_anf_time, tsc_shift), offsetof(struct pvclock_time, tsc_shift));
    assert_int_equal(offsetof(struct guest_anf_time, flags), offsetof(struct pvclock_time, flags));
    assert_int_equal(ANF_TIME_STABLE, PVCLOCK_TSC_STABLE);
    assert_int_equal(sizeof(struct guest_anf_guest_info), sizeof(struct anf_guest_info));
    assert_int_equal(offsetof(struct guest_anf_guest_info, mem), offsetof(struct anf_guest_info, mem));
    assert_int_equal(offsetof(struct guest_anf_guest_info, id), offsetof(struct anf_guest_info, id));
    /* And what the guest computes from the page is what the host means by it. */
    struct pvclock_time t = { 0 };
    pvclock_write(&t, 1000, 5000, 0x80000000u, 1, PVCLOCK_TSC_STABLE);
    struct guest_anf_time g;
    memcpy(&g, &t, sizeof g);
    assert_int_equal(guest_anf_time_read(&g, 1000 + 12345), pvclock_read(&t, 1000 + 12345));
}

/* ---- refusals ----------------------------------------------------------------------------- */

/* CPL > 0: every number refused with -1 and nothing done (no output, no machine event, no
 * page registered, no timer). */
static void test_user_mode_refused(void **state)
{
    (void)state;
    memcpy(gptr(&vm_a, 0x1000), "hello", 5);
    for (uint64_t nr = 0; nr < 1024; nr++) {
        for (uint8_t cpl = 1; cpl <= 3; cpl++)
            assert_int_equal(call_as(&vm_a, cpl, false, nr, nr == ANF_HC_SHUTDOWN ? 0 : 0x1000, 5, 9), ANF_EPERM);
    }
    assert_int_equal(console_len, 0);
    assert_int_equal(vm_a.machine_event, -1);
    assert_null(vm_a.pv.shared);
    assert_null(vm_a.pv.time);
    assert_int_equal(vm_a.pv.timer_tsc, 0);
    assert_false(vm_a.pv.blocked);
    assert_int_equal(vm_a.pv.failed, 3072);
}

static void test_unknown_numbers(void **state)
{
    (void)state;
    static const uint64_t none[] = { 1, 11, 0xff, 0x10d, 0x1ef, 0x1f1, 0x200, 1023, 0xffffffff, ~0ull };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        assert_int_equal(hcall(&vm_a, none[i], 1, 2, 3), ANF_ENOSYS);
    assert_int_equal(hcall(&vm_a, ANF_HC_NOP, 1, 2, 3), 0);
    assert_int_equal(kvm_calls, 0);             /* pv=off: KVM's numbers are not asked */
}

/* KVM's numbers (below 0x100) go to kvm_pv.c with pv=on from 64-bit code only: 11 yields,
 * the rest stay unknown; 0 is always anfitrion's no-op. */
static void test_kvm_numbers(void **state)
{
    (void)state;
    vm_a.kvm.on = true;
    assert_int_equal(hcall(&vm_a, 11, 0, 0, 0), 0);
    assert_int_equal(last_after, EXIT_YIELD);
    assert_int_equal(hcall(&vm_a, 5, 0, 0, 0), ANF_ENOSYS);
    assert_int_equal(kvm_calls, 2);
    assert_int_equal(call_as(&vm_a, 0, false, 11, 0, 0, 0), ANF_ENOSYS);   /* 32-bit caller */
    assert_int_equal(call_as(&vm_a, 3, true, 11, 0, 0, 0), ANF_EPERM);     /* user mode */
    assert_int_equal(hcall(&vm_a, 0, 0, 0, 0), 0);
    assert_int_equal(kvm_calls, 2);
}

static void test_console_write(void **state)
{
    (void)state;
    memcpy(gptr(&vm_a, 0x1000), "hi there", 8);
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_WRITE, 0x1000, 8, 0), 8);
    assert_memory_equal(console, "hi there", 8);
    /* Across a chunk boundary (not contiguous on the host): still every byte, in order. */
    uint64_t edge = GUEST_RAM_CHUNK - 3;
    memcpy(gptr(&vm_a, edge), "abc", 3);
    memcpy(gptr(&vm_a, GUEST_RAM_CHUNK), "def", 3);
    console_len = 0;
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_WRITE, edge, 6, 0), 6);
    assert_memory_equal(console, "abcdef", 6);
    console_len = 0;
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_WRITE, 0x1000, ANF_IO_MAX + 1, 0), ANF_EINVAL);
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_WRITE, RAM_SIZE - 4, 8, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_WRITE, RAM_SIZE, 1, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_WRITE, ~0ull - 2, 8, 0), ANF_EFAULT);    /* wraps */
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_WRITE, 0xFEE00000, 4, 0), ANF_EFAULT);
    assert_int_equal(console_len, 0);                   /* a refused write prints nothing */
}

static void test_console_read(void **state)
{
    (void)state;
    /* Before the guest reads by hypercall, keystrokes go to its UART. */
    assert_true(vm_console_receive(&vm_a, 'x'));
    assert_int_equal(vm_a.pv.ring_len, 0);
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_READ, 0x2000, 16, 0), 0);
    assert_true(vm_console_receive(&vm_a, 'o'));
    assert_true(vm_console_receive(&vm_a, 'k'));
    assert_true(vm_a.pv.raised & (1ull << ANF_EV_CONSOLE));
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_READ, 0x2000, 1, 0), 1);
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_READ, 0x2001, 16, 0), 1);
    assert_memory_equal(gptr(&vm_a, 0x2000), "ok", 2);
    for (unsigned i = 0; i < PV_CONSOLE_RING; i++)
        assert_true(vm_console_receive(&vm_a, 'z'));
    assert_false(vm_console_can_receive(&vm_a));
    assert_false(vm_console_receive(&vm_a, '!'));       /* full: refused, not overwritten */
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_READ, RAM_SIZE - 1, 2, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_CONSOLE_READ, 0x2000, ANF_IO_MAX + 1, 0), ANF_EINVAL);
    assert_int_equal(vm_a.pv.ring_len, PV_CONSOLE_RING);     /* nothing taken by a refusal */
}

/* ---- pages, events, upcalls ---------------------------------------------------------------- */

static void test_pages_checked(void **state)
{
    (void)state;
    assert_int_equal(hcall(&vm_a, ANF_HC_TIME_PAGE, 0x3008, 0, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_TIME_PAGE, RAM_SIZE - 16, 0, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_TIME_PAGE, RAM_SIZE, 0, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_SHARED_PAGE, 0x3020, 0, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_SHARED_PAGE, RAM_SIZE - 32, 0, 0), ANF_EFAULT);
    assert_null(vm_a.pv.time);
    assert_null(vm_a.pv.shared);
    assert_int_equal(hcall(&vm_a, ANF_HC_TIME_PAGE, 0x3000, 0, 0), 0);
    struct pvclock_time *t = gptr(&vm_a, 0x3000);
    assert_int_equal(t->version, 2);
    assert_int_equal(t->flags, PVCLOCK_TSC_STABLE);
    assert_int_equal(t->tsc_timestamp, vm_a.pv.tsc0);
    assert_int_equal(t->system_time, 0);
}

static void test_shared_page_and_upcalls(void **state)
{
    (void)state;
    vm_pv_raise(&vm_a, 9);                      /* before registration: kept */
    struct anf_shared *s = gptr(&vm_a, 0x4000);
    s->pending = 0xFFFF, s->mask = 0;
    assert_int_equal(hcall(&vm_a, ANF_HC_SHARED_PAGE, 0x4000, 0, 0), 0);
    assert_int_equal(s->mask, 1);
    assert_int_equal(s->pending, 1ull << 9);
    assert_false(vm_pv_upcall_due(&vm_a));      /* masked, and nothing bound */
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_BIND, 64, 0x80, 0), ANF_EINVAL);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_BIND, 9, 31, 0), ANF_EINVAL);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_BIND, 9, 256, 0), ANF_EINVAL);
    assert_int_equal(vm_a.pv.bound, 0);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_BIND, 9, 0x81, 0), 0);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_BIND, 12, 0x82, 0), 0);
    assert_false(vm_pv_upcall_due(&vm_a));      /* still masked */
    s->mask = 0;
    assert_true(vm_pv_upcall_due(&vm_a));
    vm_pv_raise(&vm_a, 12);
    vm_pv_update(&vm_a);
    assert_int_equal(s->pending, (1ull << 9) | (1ull << 12));
    vm_pv_upcall(&vm_a);                        /* the lowest bound pending event's vector */
    assert_int_equal(injected, 0x81);
    assert_int_equal(s->mask, 1);
    assert_int_equal(s->upcalls, 1);
    assert_false(vm_pv_upcall_due(&vm_a));
    s->pending &= ~(1ull << 9);                 /* the handler takes its event, unmasks */
    s->mask = 0;
    assert_true(vm_pv_upcall_due(&vm_a));
    vm_pv_upcall(&vm_a);
    assert_int_equal(injected, 0x82);
    s->pending = 0;
    s->mask = 0;
    assert_false(vm_pv_upcall_due(&vm_a));
    assert_false(vm_a.pv.check);                /* nothing to look at until the next raise */
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_BIND, 12, 0, 0), 0);   /* unbind */
    vm_pv_raise(&vm_a, 12);
    vm_pv_update(&vm_a);
    assert_false(vm_pv_upcall_due(&vm_a));      /* pending, but bound to nothing */
    /* Unregistering keeps pending events for the next page. */
    assert_int_equal(hcall(&vm_a, ANF_HC_SHARED_PAGE, 0, 0, 0), 0);
    assert_true(vm_a.pv.raised & (1ull << 12));
}

static void test_event_send_and_peers(void **state)
{
    (void)state;
    memcpy(gptr(&vm_a, 0x5000), "beta", 4);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 4, 8), ANF_EPERM);    /* beta allows no one */
    strcpy(vm_b.cfg.peers[0], "gamma");
    strcpy(vm_b.cfg.peers[1], "alpha");
    vm_b.cfg.n_peers = 2;
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 4, 7), ANF_EINVAL);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 4, 64), ANF_EINVAL);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 0, 8), ANF_EINVAL);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 17, 8), ANF_EINVAL);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, RAM_SIZE - 2, 4, 8), ANF_EFAULT);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 3, 8), ANF_ENOENT);     /* "bet" */
    assert_int_equal(vm_b.pv.raised, 0);
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 4, 63), 0);
    assert_int_equal(vm_b.pv.raised, 1ull << 63);
    vm_b.state = VM_STOPPED;
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 4, 8), ANF_ENOENT);
    vm_b.state = VM_PAUSED;                     /* paused: kept for when it resumes */
    assert_int_equal(hcall(&vm_a, ANF_HC_EVENT_SEND, 0x5000, 4, 8), 0);
    assert_int_equal(vm_b.pv.raised, (1ull << 63) | (1ull << 8));
}

static void test_block(void **state)
{
    (void)state;
    vm_pv_raise(&vm_a, 3);
    assert_int_equal(hcall(&vm_a, ANF_HC_BLOCK, 0, 0, 0), 0);
    assert_int_equal(last_after, EXIT_CONTINUE);    /* an event pending (even unbound): at once */
    vm_a.pv.raised = 0;
    assert_int_equal(hcall(&vm_a, ANF_HC_BLOCK, 0, 0, 0), 0);
    assert_int_equal(last_after, EXIT_YIELD);
    assert_true(vm_a.pv.blocked);
    vm_a.vcpu.halted = true;                    /* what request() does next (vcpu_halt) */
    memcpy(gptr(&vm_b, 0x5000), "alpha", 5);
    strcpy(vm_a.cfg.peers[0], "beta");
    vm_a.cfg.n_peers = 1;
    assert_int_equal(hcall(&vm_b, ANF_HC_EVENT_SEND, 0x5000, 5, 20), 0);
    assert_false(vm_a.pv.blocked);              /* another guest's event wakes it */
    assert_false(vm_a.vcpu.halted);
}

static void test_timer(void **state)
{
    (void)state;
    assert_int_equal(hcall(&vm_a, ANF_HC_SET_TIMER, 1, 0, 0), 0);    /* 1 ns: past, fires at once */
    assert_int_equal(vm_a.pv.raised, 1ull << ANF_EV_TIMER);
    assert_int_equal(vm_a.pv.timer_tsc, 0);
    vm_a.pv.raised = 0;
    /* 100 s from now: armed, not fired; the scheduler is told when. */
    uint64_t now = guest_ns(&vm_a);
    uint64_t d = now + 100000000000ull;
    assert_int_equal(hcall(&vm_a, ANF_HC_SET_TIMER, d & 0xFFFFFFFF, d >> 32, 0), 0);
    assert_int_equal(vm_a.pv.raised, 0);
    assert_true(vm_a.pv.timer_tsc > 0);
    assert_true(pvclock_scale_delta(vm_a.pv.timer_tsc - vm_a.pv.tsc0, vm_a.pv.mul, vm_a.pv.shift) >= d);
    assert_true(pvclock_scale_delta(vm_a.pv.timer_tsc - 1 - vm_a.pv.tsc0, vm_a.pv.mul, vm_a.pv.shift) < d);
    assert_true(vm_pv_next_event_ns(&vm_a) > 1000);
    vm_pv_update(&vm_a);
    assert_int_equal(vm_a.pv.raised, 0);
    /* The high halves of RBX and RCX are ignored, even from 64-bit code. */
    assert_int_equal(hcall(&vm_a, ANF_HC_SET_TIMER, 0xFFFFFFFF00000000ull, 0xFFFFFFFF00000000ull, 0), 0);
    assert_int_equal(vm_a.pv.timer_tsc, 0);     /* = deadline 0: cancelled */
    assert_int_equal(vm_pv_next_event_ns(&vm_a), UINT64_MAX);
    /* The farthest deadline does not overflow into the past. */
    assert_int_equal(hcall(&vm_a, ANF_HC_SET_TIMER, 0xFFFFFFFF, 0xFFFFFFFF, 0), 0);
    assert_int_equal(vm_a.pv.raised, 0);
    assert_int_equal(vm_a.pv.timer_tsc, UINT64_MAX);
}

/* The guest writes its TSC: guest time and the armed timer go on from where they were, and the
 * time page is rewritten (version +2). */
static void test_tsc_moves(void **state)
{
    (void)state;
    assert_int_equal(hcall(&vm_a, ANF_HC_TIME_PAGE, 0x3000, 0, 0), 0);
    struct pvclock_time *t = gptr(&vm_a, 0x3000);
    uint64_t d = guest_ns(&vm_a) + 50000000000ull;
    hcall(&vm_a, ANF_HC_SET_TIMER, d & 0xFFFFFFFF, d >> 32, 0);
    uint64_t timer = vm_a.pv.timer_tsc, tsc0 = vm_a.pv.tsc0;
    uint32_t version = t->version;
    vm_a.vcpu.tsc_offset += 1000000000000ull;
    vm_pv_update(&vm_a);
    assert_int_equal(t->version, version + 2);
    assert_int_equal(vm_a.pv.tsc0, tsc0 + 1000000000000ull);
    assert_int_equal(vm_a.pv.timer_tsc, timer + 1000000000000ull);
    assert_int_equal(t->tsc_timestamp, vm_a.pv.tsc0);
    assert_int_equal(vm_a.pv.raised, 0);        /* the jump did not fire the timer */
}

static void test_time_for_32bit_callers(void **state)
{
    (void)state;
    vm_a.pv.tsc0 -= 10ull * fake_hz;            /* 10 s of guest time: above 2^32 ns */
    int64_t lo = call_as(&vm_a, 0, false, ANF_HC_TIME, 0, 0, 0);
    struct vcpu_req *q = &vm_a.vcpu.req;
    assert_true(q->hypercall.set_rdx);
    uint64_t ns = q->hypercall.rdx << 32 | (uint64_t)lo;
    assert_true(ns >= 10000000000ull && ns < 11000000000ull);
    int64_t wide = hcall(&vm_a, ANF_HC_TIME, 0, 0, 0);
    assert_false(vm_a.vcpu.req.hypercall.set_rdx);
    assert_true((uint64_t)wide >= ns);
}

static void test_guest_info_and_machine(void **state)
{
    (void)state;
    assert_int_equal(hcall(&vm_b, ANF_HC_GUEST_INFO, 0x6000, 47, 0), ANF_EINVAL);
    assert_int_equal(hcall(&vm_b, ANF_HC_GUEST_INFO, RAM_SIZE - 40, 48, 0), ANF_EFAULT);
    assert_int_equal(hcall(&vm_b, ANF_HC_GUEST_INFO, 0x6000, 64, 0), 48);
    struct anf_guest_info *info = gptr(&vm_b, 0x6000);
    assert_string_equal(info->name, "beta");
    assert_int_equal(info->mem, RAM_SIZE);
    assert_int_equal(info->vcpus, 1);
    assert_int_equal(info->id, 1);
    assert_int_equal(hcall(&vm_b, ANF_HC_SHUTDOWN, 256, 0, 0), ANF_EINVAL);
    assert_int_equal(vm_b.machine_event, -1);
    assert_int_equal(hcall(&vm_b, ANF_HC_SHUTDOWN, 7, 0, 0), 0);
    assert_int_equal(vm_b.machine_event, VDEV_EXIT);
    assert_int_equal(vm_b.exit_status, 7);
    assert_int_equal(hcall(&vm_a, ANF_HC_REBOOT, 0, 0, 0), 0);
    assert_int_equal(vm_a.machine_event, VDEV_RESET);
    assert_int_equal(hcall(&vm_a, ANF_HC_YIELD, 0, 0, 0), 0);
    assert_int_equal(last_after, EXIT_YIELD);
}

/* ---- pvclock ------------------------------------------------------------------------------ */

static void test_pvclock_scale(void **state)
{
    (void)state;
    static const uint64_t rates[] = { 1000000ull, 200003000ull, 999999999ull, 1000000000ull,
                                      2400000000ull, 3999999999ull, 5000000000ull };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        uint32_t mul;
        int8_t shift;
        pvclock_scale(rates[i], &mul, &shift);
        /* One second of ticks is one second, to 1 ppm; an hour to 1 ppm too (no overflow). */
        uint64_t s = pvclock_scale_delta(rates[i], mul, shift);
        assert_true(s > 999999000ull && s <= 1000000000ull);
        uint64_t h = pvclock_scale_delta(rates[i] * 3600, mul, shift);
        assert_true(h > 3599996400000ull && h <= 3600000000000ull);
    }
}

static void test_pvclock_version(void **state)
{
    (void)state;
    struct pvclock_time t = { 0 };
    pvclock_write(&t, 1, 2, 3, 4, 0);
    assert_int_equal(t.version, 2);
    pvclock_write(&t, 1, 2, 3, 4, 0);
    assert_int_equal(t.version, 4);
    t.version = 7;                              /* a guest scribbled on it: still even, and new */
    pvclock_write(&t, 1, 2, 3, 4, 0);
    assert_true(!(t.version & 1) && t.version != 7 && t.version > 7);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_guest_and_host_headers_agree),
        T(test_user_mode_refused),
        T(test_unknown_numbers),
        T(test_kvm_numbers),
        T(test_console_write),
        T(test_console_read),
        T(test_pages_checked),
        T(test_shared_page_and_upcalls),
        T(test_event_send_and_peers),
        T(test_block),
        T(test_timer),
        T(test_tsc_moves),
        T(test_time_for_32bit_callers),
        T(test_guest_info_and_machine),
        T(test_pvclock_scale),
        T(test_pvclock_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

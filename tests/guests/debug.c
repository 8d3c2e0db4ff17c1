/* Guest test debug: the guest's debug registers work as on hardware (issue 10, item 4). Its
 * DR0-DR3 and DR6 are in the CPU while it runs, so a data watchpoint and an instruction
 * breakpoint fire and DR6 tells which (SDM Vol. 3B 18.2-18.3); a single step (RFLAGS.TF) over
 * an instruction the hypervisor emulates (CPUID exits) traps right after it with DR6.BS, as the
 * CPU would (18.3.1.4). */
#include "guest.h"

#define VEC_DB   1
#define DR6_B0   (1u << 0)
#define DR6_B1   (1u << 1)
#define DR6_BS   (1u << 14)

static volatile uint32_t watched;
extern char after_cpuid[];

static void write_dr(unsigned n, uint32_t v)
{
    switch (n) {
    case 0: __asm__ volatile("mov %0, %%dr0" : : "r"(v)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" : : "r"(v)); break;
    case 6: __asm__ volatile("mov %0, %%dr6" : : "r"(v)); break;
    default: __asm__ volatile("mov %0, %%dr7" : : "r"(v)); break;
    }
}

static uint32_t read_dr6(void)
{
    uint32_t v;
    __asm__ volatile("mov %%dr6, %0" : "=r"(v));
    return v;
}

static void do_write_watched(void *arg) { (void)arg; watched = 42; }
static __attribute__((noinline)) void breakpoint_target(void) { __asm__ volatile("nop"); }
static void do_call_target(void *arg) { (void)arg; breakpoint_target(); }
static void do_step_cpuid(void *arg)
{
    (void)arg;
    __asm__ volatile("pushfl\n\t"
                     "orl $0x100, (%%esp)\n\t"
                     "popfl\n\t"
                     "cpuid\n"
                     "after_cpuid:\n\t"
                     "nop\n\t"
                     "nop" : : "a"(0), "c"(0) : "ebx", "edx", "memory");
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("debug: watchpoints, breakpoints and single steps reach the guest (SDM 18.2-18.3)");

    write_dr(6, 0);
    write_dr(0, (uint32_t)&watched);
    write_dr(7, 0x1 | (1u << 16) | (3u << 18));         /* L0, write, 4 bytes */
    int vec = guest_try(do_write_watched, NULL);
    uint32_t dr6 = read_dr6();
    test_check(vec == VEC_DB && (dr6 & DR6_B0) && watched == 42,
               "a write to a DR0 watchpoint traps with #DB, DR6.B0 set (vector %d, DR6 0x%08x)", vec, dr6);

    write_dr(6, 0);
    write_dr(1, (uint32_t)breakpoint_target);
    write_dr(7, 0x4);                                  /* L1, execute */
    vec = guest_try(do_call_target, NULL);
    dr6 = read_dr6();
    test_check(vec == VEC_DB && (dr6 & DR6_B1) && guest_try_eip() == (uint32_t)breakpoint_target,
               "executing at a DR1 breakpoint faults with #DB at it, DR6.B1 set (vector %d, EIP 0x%08x, "
               "DR6 0x%08x)", vec, guest_try_eip(), dr6);
    write_dr(7, 0x400);

    write_dr(6, 0);
    vec = guest_try(do_step_cpuid, NULL);
    dr6 = read_dr6();
    test_check(vec == VEC_DB && guest_try_eip() == (uint32_t)after_cpuid && (dr6 & DR6_BS),
               "TF over CPUID (emulated after an exit): #DB right after it with DR6.BS (vector %d, "
               "EIP 0x%08x, want 0x%08x, DR6 0x%08x)", vec, guest_try_eip(), (uint32_t)after_cpuid, dr6);
    test_end();
}

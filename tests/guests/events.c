/* Guest test events: exceptions the hypervisor injects look like the CPU's own (issue 10,
 * item 4). A fault pushes EFLAGS.RF=1 (SDM Vol. 3A 18.3.1.1 and Table 6-1), whether the CPU
 * raised it natively or the hypervisor injected it after an exit; DR4/DR5 alias DR6/DR7 only
 * while CR4.DE=0 and #UD with DE=1 (18.2.2). */
#include "guest.h"

#define EFLAGS_RF (1u << 16)
#define CR4_DE    (1u << 3)

static void do_rdmsr_unknown(void *arg) { (void)arg; (void)rdmsr(0x00001234); }
static void do_vmxon(void *arg)
{
    static uint64_t region;
    (void)arg;
    __asm__ volatile("vmxon %0" : : "m"(region) : "memory");
}
static void do_div0(void *arg)
{
    (void)arg;
    __asm__ volatile("xorl %%ecx, %%ecx; movl $1, %%eax; xorl %%edx, %%edx; divl %%ecx"
                     : : : "eax", "ecx", "edx");
}
static void do_read_dr4(void *arg) { uint32_t v; __asm__ volatile("mov %%dr4, %0" : "=r"(v)); *(uint32_t *)arg = v; }
static void do_write_dr5(void *arg) { __asm__ volatile("mov %0, %%dr5" : : "r"(*(uint32_t *)arg)); }

static void check_rf(const char *what, void (*fn)(void *), int want)
{
    int vec = guest_try(fn, NULL);
    uint32_t fl = guest_try_eflags();
    test_check(vec == want && (fl & EFLAGS_RF), "%s: %s with RF=1 in the pushed EFLAGS "
               "(vector %d, EFLAGS 0x%08x)", what, exception_name((unsigned)want), vec, fl);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("events: injected faults push RF=1; DR4/DR5 follow CR4.DE");

    check_rf("divide by zero (the CPU's own #DE, the control)", do_div0, VEC_DE);
    check_rf("RDMSR of an unknown MSR (#GP injected after the exit)", do_rdmsr_unknown, VEC_GP);
    check_rf("VMXON (#UD injected: VMX is hidden)", do_vmxon, VEC_UD);

    uint32_t dr6 = 0, dr4 = 0;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    int vec = guest_try(do_read_dr4, &dr4);
    test_check(vec < 0 && dr4 == dr6, "CR4.DE=0: MOV from DR4 reads DR6 (0x%08x, DR6 0x%08x, vector %d)",
               dr4, dr6, vec);
    write_cr4(read_cr4() | CR4_DE);
    vec = guest_try(do_read_dr4, &dr4);
    test_check(vec == VEC_UD, "CR4.DE=1: MOV from DR4 is #UD (vector %d)", vec);
    uint32_t v = 0x400;
    vec = guest_try(do_write_dr5, &v);
    test_check(vec == VEC_UD, "CR4.DE=1: MOV to DR5 is #UD (vector %d)", vec);
    write_cr4(read_cr4() & ~CR4_DE);
    test_end();
}

/* Guest test debug: the guest's debug registers work as on hardware (issue 10, item 4). Its
 * DR0-DR3 and DR6 are in the CPU while it runs, so a data watchpoint and an instruction
 * breakpoint fire and DR6 tells which (SDM Vol. 3B 18.2-18.3); a single step (RFLAGS.TF) over
 * an instruction the hypervisor emulates (CPUID exits) traps right after it with DR6.BS, as the
 * CPU would (18.3.1.4). After MOV SS the CPU holds debug exceptions until the next instruction
 * is done (Vol. 3A 6.8.3): when that one exits and is emulated (CPUID, an OUT, an RDMSR), the
 * single step and a watchpoint hit by the MOV SS come as one #DB after it, before an interrupt
 * that is due then; a fault of it drops them (what the CPUs do: Linux's mov_ss_trap selftest). */
#include "guest.h"

#define VEC_DB   1
#define DR6_B0   (1u << 0)
#define DR6_B1   (1u << 1)
#define DR6_BS   (1u << 14)
#define IPI_VEC  0xe0

static volatile uint32_t watched;
static volatile uint16_t ss_word;      /* the SS selector, loaded by MOV SS under a watchpoint */
static volatile uint32_t irqs;
extern char after_cpuid[], after_ss_cpuid[], after_ss_out[], after_watch_out[], after_watch_cpuid[];
extern char ss_rdmsr[];

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

/* TF set by POPF, then MOV SS (its step held), then an instruction that exits: the #DB comes after
 * that one. The SS selector stays what it was. */
#define STEP_MOV_SS(insn, label, ...)                                                      \
    __asm__ volatile("mov %%ss, %%dx\n\t"                                                 \
                     "pushfl\n\t"                                                         \
                     "orl $0x100, (%%esp)\n\t"                                            \
                     "popfl\n\t"                                                          \
                     "mov %%dx, %%ss\n\t"                                                 \
                     insn "\n"                                                             \
                     label ":\n\t"                                                        \
                     "nop" : __VA_ARGS__)

static void do_step_mov_ss_cpuid(void *arg)
{
    (void)arg;
    STEP_MOV_SS("cpuid", "after_ss_cpuid", : "a"(0), "c"(0) : "ebx", "edx", "memory");
}

static void do_step_mov_ss_out(void *arg)
{
    (void)arg;
    STEP_MOV_SS("out %%al, $0x80", "after_ss_out", : "a"(0) : "edx", "memory");
}

static void do_step_mov_ss_rdmsr(void *arg)
{
    (void)arg;
    STEP_MOV_SS("ss_rdmsr: rdmsr", "after_ss_rdmsr", : "c"(0xdeadbeef) : "eax", "edx", "memory");
}

/* MOV SS from a watched word with interrupts enabled just before (STI's shadow covers the MOV
 * SS), then an OUT that exits: its watchpoint #DB, held by the MOV SS, is due at the same
 * boundary as the self-IPI pending since before the STI. */
static void do_watch_mov_ss_out(void *arg)
{
    (void)arg;
    __asm__ volatile("sti\n\t"
                     "mov %0, %%ss\n\t"
                     "out %%al, $0x80\n"
                     "after_watch_out:\n\t"
                     "nop" : : "m"(ss_word), "a"(0) : "memory");
}

/* The same watched MOV SS under TF, then CPUID: one #DB after CPUID reports both. */
static void do_watch_step_cpuid(void *arg)
{
    (void)arg;
    __asm__ volatile("pushfl\n\t"
                     "orl $0x100, (%%esp)\n\t"
                     "popfl\n\t"
                     "mov %0, %%ss\n\t"
                     "cpuid\n"
                     "after_watch_cpuid:\n\t"
                     "nop" : : "m"(ss_word), "a"(0), "c"(0) : "ebx", "edx", "memory");
}

static struct int_frame *count_irq(struct int_frame *f)
{
    irqs++;
    lapic_eoi();
    return f;
}

/* fn under guest_try, DR6 cleared first: one #DB, at label, with the DR6 bits want. */
static void check_db_after(void (*fn)(void *), const char *label, uint32_t want, const char *what)
{
    write_dr(6, 0);
    int vec = guest_try(fn, NULL);
    uint32_t dr6 = read_dr6(), eip = guest_try_eip();
    test_check(vec == VEC_DB && eip == (uint32_t)label && (dr6 & want) == want,
               "%s: one #DB, after the last instruction (vector %d, EIP 0x%08x, want 0x%08x, DR6 0x%08x)", what, vec, eip,
               (uint32_t)label, dr6);
}

static void check_mov_ss(void)
{
    check_db_after(do_step_mov_ss_cpuid, after_ss_cpuid, DR6_BS, "TF, MOV SS, CPUID (DR6.BS)");
    check_db_after(do_step_mov_ss_out, after_ss_out, DR6_BS, "TF, MOV SS, OUT 0x80, a request (DR6.BS)");
    int vec = guest_try(do_step_mov_ss_rdmsr, NULL);
    test_check(vec == VEC_GP && guest_try_eip() == (uint32_t)ss_rdmsr,
               "TF, MOV SS, RDMSR of no MSR: #GP at it, no #DB (a fault drops the held trap) (vector %d, EIP 0x%08x)",
               vec, guest_try_eip());

    __asm__ volatile("mov %%ss, %0" : "=r"(ss_word));
    lapic_sw_enable(0xff);
    int_set_handler(IPI_VEC, count_irq);
    write_dr(6, 0);
    write_dr(0, (uint32_t)&ss_word);
    write_dr(7, 0x1 | (3u << 16) | (1u << 18));         /* L0, read or write, 2 bytes */
    irqs = 0;
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, IPI_VEC | LAPIC_ICR_SELF);    /* pending: IF is 0 */
    vec = guest_try(do_watch_mov_ss_out, NULL);
    uint32_t before = irqs, dr6 = read_dr6();
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    test_check(vec == VEC_DB && guest_try_eip() == (uint32_t)after_watch_out && (dr6 & DR6_B0) &&
               !(dr6 & DR6_BS) && before == 0 && irqs == 1,
               "STI, MOV SS of a watched word, OUT, an IPI due: #DB first (vector %d, EIP 0x%08x, want 0x%08x, "
               "DR6 0x%08x, interrupts %u then %u)", vec, guest_try_eip(), (uint32_t)after_watch_out, dr6, before, irqs);
    check_db_after(do_watch_step_cpuid, after_watch_cpuid, DR6_B0 | DR6_BS,
                   "TF, MOV SS of a watched word, CPUID (DR6.B0 and BS)");
    write_dr(7, 0x400);
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
    check_mov_ss();
    test_end();
}

/* Guest test chaos: an adversarial guest (issue 10, "A PC as faithful as the hardware"). For a
 * fixed seed and a bounded number of steps it throws at the hypervisor what a buggy or hostile
 * kernel could: MSRs, ports, control registers, device memory and random code. The host must
 * not panic or hang, the guest must not be stopped, and every answer must be the hardware's.
 *
 * Command line (all optional):
 *   seed=N steps=N   the seed (1) and the steps of each randomized phase (DEFAULT_STEPS)
 *   phases=DIGITS    which phases run (123456)
 *   from=N trace=1   skip the steps before N; print each step before it runs. Every step draws
 *                    from its own stream (seed, phase, step), so a FAIL line's seed and step
 *                    replay it alone: seed=S phases=P from=N steps=N+1 trace=1
 *   forms=all        phase 4 also runs the forms anfitrion's decoder refuses (see forms[])
 *   bugs=1           the known-bug probes (they FAIL while the bugs are open); bugs=hlt:
 *                    the probe that hung the guest, last
 *   ring3io=1        phase 5's CPL 3 code may use the ports phase 2 may (off: see code_begin)
 *
 * 1 msr   RDMSR/WRMSR of 0-0x1FFF, 0xC0000000-0xC0001FFF, 0x40000000-0x400000FF, a list of
 *         known ones and random numbers, with structured random values: the answer is "no
 *         fault" or #GP, and only EDX:EAX may change. Writes to msr_write_deny[] are skipped
 *         (the reasons are there). Before: every MSR a CPUID bit announces is readable
 *         (cpuid_msrs[]); after: x2APIC on purpose, the same over 0x800-0x8FF, and back.
 * 2 io    IN/OUT of widths 1, 2 and 4, imm8 and DX forms: no fault, only AL/AX/EAX changes,
 *         nothing there reads all-ones. INS/OUTS with and without REP, both directions, 16-
 *         and 32-bit addresses, segment overrides and counts past the hypervisor's batch of
 *         256, into a 64 KiB scratch area checked byte by byte, ESI/EDI/ECX checked exactly.
 *         Ports in io_deny[] are skipped. String I/O stays inside RAM; into memory of nothing
 *         it reads all-ones and writes nowhere, past its segment it must #GP (fixed_bugs()).
 * 3 cr    MOV to CR0 and CR4 with each bit flipped alone (CR4: #GP exactly for the bits the
 *         guest's CPUID does not offer; CR0: reserved bits ignored, NW without CD #GP), never
 *         PG or PE (paging stays off, CR3 is never loaded), MOV CR1/CR5-7 #UD; then random
 *         LMSW, SMSW, CR0 and CR4 values and XSETBV/XGETBV (XCR0's rules from CPUID 0DH).
 * 4 mmio  Every form of forms[] with every 32-bit and 16-bit addressing form, on the xAPIC
 *         (TPR, version), the IOAPIC (IOREGSEL, version) and on nothing (0xFED90000,
 *         0xFF000000, past RAM): exact results, other registers and flags untouched; and
 *         random offsets and values in those pages. ICR writes are made fixed-delivery (an
 *         INIT, NMI, SMI or SIPI to self is not for a test to send) and the xAPIC and IOAPIC
 *         are restored after the phase.
 * 5 code  Random bytes ending in RET run at CPL 3 in a 16 KiB segment sandbox (code, data
 *         and stack inside its limit) with every GPR random or pointing into it, under our
 *         own IDT (all 256 vectors, DPL 3, on a TSS stack) with a periodic xAPIC timer as
 *         watchdog (CPL 3 cannot clear IF). Any vector is an answer; the canaries around the
 *         sandbox must survive. CPL 3, not CPL 0: at CPL 0 a random write to ESP and the next
 *         exception triple-fault, as on hardware, and LGDT/LIDT/MOV CR/HLT/CLI/WRMSR with
 *         random operands wreck the guest; at CPL 3 the CPU refuses those itself (#GP), a
 *         segment load can pick only our DPL 3 sandbox segments or null, the TSS is DPL 0
 *         (no task switch), and SYSENTER is #GP (SYSENTER_CS 0). So no opcode is filtered.
 * 6 step  Single steps (EFLAGS.TF) over instructions the hypervisor emulates: #DB after each.
 */
#include <stdarg.h>

#include "guest.h"

#define DEFAULT_SEED    1
#define DEFAULT_STEPS   15000   /* ~25 s of Bochs from start to verdict, all phases */
#define MAX_FAIL_LINES  12      /* per phase; the rest are counted */

#define KCODE_SEL   0x08
#define KDATA_SEL   0x10
#define WINDOW_SEL  0x18        /* a data segment whose base the phases move */
#define UCODE_SEL   0x23        /* CPL 3 sandbox code, RPL 3 */
#define UDATA_SEL   0x2B
#define TSS_SEL     0x30

#define EFL_CF  (1u << 0)
#define EFL_PF  (1u << 2)
#define EFL_AF  (1u << 4)
#define EFL_ZF  (1u << 6)
#define EFL_SF  (1u << 7)
#define EFL_TF  (1u << 8)
#define EFL_IF  (1u << 9)
#define EFL_DF  (1u << 10)
#define EFL_OF  (1u << 11)
#define EFL_AC  (1u << 18)
#define EFL_STATUS (EFL_CF | EFL_PF | EFL_AF | EFL_ZF | EFL_SF | EFL_OF)
#define EFL_CHECKED (EFL_STATUS | EFL_DF)

enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };
static const char *const reg_names[8] = { "EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI" };
#define M_FLAGS (1u << 8)       /* in a mask of registers an instruction may change */

/* ---- options, statistics, failures ------------------------------------------------------ */

enum { PH_MSR, PH_IO, PH_CR, PH_MMIO, PH_CODE, PH_STEP, PH_COUNT };
static const char *const phase_names[PH_COUNT] = { "msr", "io", "cr", "mmio", "code", "step" };

static struct {
    uint32_t seed, steps, from;
    bool trace, ring3io;
    char bugs[8];                   /* "1": the probes that FAIL; hlt: the one that hung */
    unsigned forms;                 /* FORMS_BASE (default) or FORMS_ALL */
    char phases[12];
} opt;

struct phase_stats {
    uint32_t steps, skipped, checks, fails;
    uint32_t none;                  /* no exception */
    uint32_t vec[256];              /* exceptions and interrupts, by vector */
};
static struct phase_stats stats[PH_COUNT];
static unsigned cur_phase;
static uint32_t cur_step;
static char what[160];              /* the current step, for trace and failure lines */

static void __attribute__((format(printf, 1, 2))) describe(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (opt.trace)
        printf("trace: %s %u: %s\n", phase_names[cur_phase], cur_step, what);
}

/* A FAIL line naming seed, phase and step, so that one run reproduces it. */
static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
    struct phase_stats *s = &stats[cur_phase];
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* The console's lines are 160 characters: the step on a line of its own. */
    if (++s->fails <= MAX_FAIL_LINES) {
        test_fail("seed=%u %s step %u: %s", opt.seed, phase_names[cur_phase], cur_step, msg);
        printf("  step: %s\n", what);
    } else if (s->fails == MAX_FAIL_LINES + 1)
        test_note("phase %s: further failures only counted", phase_names[cur_phase]);
}

static void outcome(int vec)
{
    if (vec < 0)
        stats[cur_phase].none++;
    else
        stats[cur_phase].vec[vec & 0xFF]++;
}

/* ---- xorshift32, one stream per step ------------------------------------------------------ */

static uint32_t rng;

static uint32_t rnd(void)
{
    uint32_t x = rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng = x;
}

static uint32_t below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

static void step_seed(unsigned phase, uint32_t step)
{
    uint32_t x = opt.seed * 0x9E3779B1u ^ (phase + 1) * 0x85EBCA77u ^ step * 0xC2B2AE3Du;
    rng = x ? x : 0x6D2B79F5u;
    for (int i = 0; i < 4; i++)
        rnd();
}

/* Values with structure: zero, all ones, single bits, small, 32-bit, canonical 48-bit, any. */
static uint64_t rnd_value(void)
{
    switch (below(8)) {
    case 0: return 0;
    case 1: return ~0ull;
    case 2: return 1ull << below(64);
    case 3: return below(256);
    case 4: return rnd();
    case 5: return (uint64_t)(int64_t)(int32_t)rnd();
    case 6: return (uint64_t)((int64_t)(((uint64_t)rnd() << 32 | rnd()) << 16) >> 16);
    default: return (uint64_t)rnd() << 32 | rnd();
    }
}

/* ---- descriptor tables: ours replace the runtime's GDT (same code/data selectors) --------- */

struct table_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

struct idt_gate {
    uint16_t offset_lo, selector;
    uint8_t zero, type_attr;
    uint16_t offset_hi;
} __attribute__((packed));

static uint64_t gdt[7] __attribute__((aligned(8)));
/* The TSS and its I/O permission bitmap: all ones (every port #GP at CPL 3) unless ring3io=1. */
static struct {
    struct tss32 t;
    uint8_t iomap[8192 + 1];
} tss __attribute__((aligned(128)));
static struct idt_gate chaos_idt[256] __attribute__((aligned(8)));

/* base, byte-granular limit (up to 1 MiB) or 4 KiB pages (G), access byte (accessed bits set:
 * the CPU never has to write the table). */
static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access, bool pages)
{
    return gdt_seg_desc(base, limit, access, pages ? 0xC : 0x4);
}

static void window_set(uint32_t base, uint32_t limit)
{
    gdt[WINDOW_SEL >> 3] = seg_desc(base, limit, 0x93, false);
}

/* ---- one instruction built at run time ----------------------------------------------------
 * chaos_exec loads the register file, calls the bytes in chaos_insn (which end in RET) and
 * stores the registers back; guest_try catches a fault (the registers are then not stored). */

struct cpu_regs {
    uint32_t r[8];                  /* EAX ECX EDX EBX (ESP: unused) EBP ESI EDI: ModRM order */
    uint32_t eflags;                /* IF must be 0 */
    uint32_t es, fs, gs;            /* selectors for the instruction */
};
_Static_assert(__builtin_offsetof(struct cpu_regs, eflags) == 32 &&
               __builtin_offsetof(struct cpu_regs, gs) == 44, "chaos_exec's offsets");

uint8_t chaos_insn[64] __attribute__((aligned(16)));
struct cpu_regs *chaos_exec_regs;
void chaos_exec(struct cpu_regs *r);

__asm__(
    "    .text\n"
    "    .globl chaos_exec\n"
    "chaos_exec:\n"
    "    push %ebp\n    push %ebx\n    push %esi\n    push %edi\n"
    "    mov 20(%esp), %eax\n"
    "    mov %eax, chaos_exec_regs\n"
    "    mov 36(%eax), %ecx\n    mov %cx, %es\n"
    "    mov 40(%eax), %ecx\n    mov %cx, %fs\n"
    "    mov 44(%eax), %ecx\n    mov %cx, %gs\n"
    "    pushl 32(%eax)\n"
    "    mov 4(%eax), %ecx\n    mov 8(%eax), %edx\n    mov 12(%eax), %ebx\n"
    "    mov 20(%eax), %ebp\n    mov 24(%eax), %esi\n    mov 28(%eax), %edi\n"
    "    mov 0(%eax), %eax\n"
    "    popf\n"
    "    call chaos_insn\n"
    "    pushf\n"
    "    push %eax\n"
    "    mov chaos_exec_regs, %eax\n"
    "    popl 0(%eax)\n"
    "    mov %ecx, 4(%eax)\n    mov %edx, 8(%eax)\n    mov %ebx, 12(%eax)\n"
    "    mov %ebp, 20(%eax)\n    mov %esi, 24(%eax)\n    mov %edi, 28(%eax)\n"
    "    popl 32(%eax)\n"
    "    cld\n"
    "    mov $0x10, %ecx\n    mov %cx, %es\n    mov %cx, %fs\n    mov %cx, %gs\n"
    "    pop %edi\n    pop %esi\n    pop %ebx\n    pop %ebp\n"
    "    ret\n");

struct insn {
    uint8_t b[40];
    unsigned n;
};

static void put8(struct insn *in, uint32_t v)
{
    if (in->n < sizeof in->b)
        in->b[in->n++] = (uint8_t)v;
}

static void put16(struct insn *in, uint32_t v)
{
    put8(in, v);
    put8(in, v >> 8);
}

static void put32(struct insn *in, uint32_t v)
{
    put16(in, v);
    put16(in, v >> 16);
}

static void flat_segments(void)
{
    __asm__ volatile("mov %0, %%es; mov %0, %%fs; mov %0, %%gs" : : "r"(KDATA_SEL));
}

static void exec_fn(void *arg)
{
    chaos_exec(arg);
}

static int exec(const struct insn *in, struct cpu_regs *r)
{
    memcpy(chaos_insn, in->b, in->n);
    chaos_insn[in->n] = 0xC3;
    int vec = guest_try(exec_fn, r);
    if (vec >= 0)
        flat_segments();
    return vec;
}

static void regs_random(struct cpu_regs *r)
{
    for (int i = 0; i < 8; i++)
        r->r[i] = rnd();
    r->eflags = 0x2 | (rnd() & EFL_STATUS);
    r->es = r->fs = r->gs = KDATA_SEL;
}

/* Everything but the registers in mask (bit n: register n; M_FLAGS: the status flags and DF)
 * must be as before. */
static bool regs_kept(const struct cpu_regs *before, const struct cpu_regs *after, uint32_t mask)
{
    for (int n = 0; n < 8; n++) {
        if (n == R_ESP || (mask >> n & 1) || before->r[n] == after->r[n])
            continue;
        fail("%s changed: 0x%08x -> 0x%08x", reg_names[n], before->r[n], after->r[n]);
        return false;
    }
    if (!(mask & M_FLAGS) && ((before->eflags ^ after->eflags) & EFL_CHECKED)) {
        fail("EFLAGS changed: 0x%08x -> 0x%08x", before->eflags, after->eflags);
        return false;
    }
    return true;
}

static bool expect_reg(const struct cpu_regs *r, int n, uint32_t want)
{
    if (r->r[n] == want)
        return true;
    fail("%s is 0x%08x, want 0x%08x", reg_names[n], r->r[n], want);
    return false;
}

/* ---- phase 1: MSRs --------------------------------------------------------------------- */

/* Every WRMSR that succeeds is followed by a write of the value read before it (which must
 * not fault either), so the guest runs on in the state it had: EFER, PAT, SYSENTER, the FS/GS
 * bases, TSC and the rest are fair game. Only these are skipped: */
static const struct {
    uint32_t first, last;
    const char *why;
} msr_write_deny[] = {
    { 0x0000001B, 0x0000001B, "IA32_APIC_BASE: one random write can enter x2APIC, which no "
                              "write back leaves (x2APIC to xAPIC is #GP); msr_x2apic() does "
                              "the transitions on purpose" },
};

static const char *msr_denied(uint32_t msr)
{
    for (size_t i = 0; i < sizeof msr_write_deny / sizeof msr_write_deny[0]; i++)
        if (msr >= msr_write_deny[i].first && msr <= msr_write_deny[i].last)
            return msr_write_deny[i].why;
    return NULL;
}

static const uint32_t msr_known[] = {
    0x10, 0x1B, 0x3A, 0x3B, 0x48, 0x8B, 0xFE, 0x10A, 0x174, 0x179, 0x17A, 0x1A0, 0x1D9, 0x277,
    0x2FF, 0x345, 0x6E0, 0x802, 0x808, 0x80F, 0x830, 0x838, 0xDA0, 0xC0000080, 0xC0000081,
    0xC0000082, 0xC0000083, 0xC0000084, 0xC0000100, 0xC0000101, 0xC0000102, 0xC0000103,
    0x40000000, 0x40000001, 0x40000020, 0x4B564D00,
};

static uint32_t pick_msr(void)
{
    uint32_t k = below(10);
    if (k < 4)
        return below(0x2000);
    if (k < 6)
        return 0xC0000000u + below(0x2000);
    if (k < 7)
        return 0x40000000u + below(0x100);
    if (k < 9)
        return msr_known[below(sizeof msr_known / sizeof msr_known[0])];
    return rnd();
}

static int msr_access(uint32_t msr, bool write, uint64_t *value, struct cpu_regs *r)
{
    struct insn in = { .n = 0 };
    regs_random(r);
    r->r[R_ECX] = msr;
    r->r[R_EAX] = (uint32_t)*value;
    r->r[R_EDX] = (uint32_t)(*value >> 32);
    put8(&in, 0x0F);
    put8(&in, write ? 0x30 : 0x32);
    struct cpu_regs before = *r;
    int vec = exec(&in, r);
    if (vec < 0) {
        regs_kept(&before, r, write ? 0 : (1u << R_EAX | 1u << R_EDX));
        *value = (uint64_t)r->r[R_EDX] << 32 | r->r[R_EAX];
    }
    return vec;
}

static void msr_step(uint32_t step)
{
    (void)step;
    struct cpu_regs r;
    uint32_t msr = pick_msr();
    bool write = rnd() & 1;
    uint64_t v = rnd_value();
    if (write)
        describe("wrmsr 0x%08x <- 0x%llx", msr, v);
    else
        describe("rdmsr 0x%08x", msr);
    if (write && msr_denied(msr)) {
        stats[PH_MSR].skipped++;
        return;
    }
    uint64_t old = 0;
    int rvec = write ? msr_access(msr, false, &old, &r) : -1;
    int vec = msr_access(msr, write, &v, &r);
    outcome(vec);
    if (vec >= 0 && vec != VEC_GP)
        fail("raised %s (vector %d): only no fault or #GP are answers", exception_name((unsigned)vec), vec);
    if (write && vec < 0 && rvec < 0 && msr_access(msr, true, &old, &r) >= 0)
        fail("writing back the value read before it (0x%llx) faulted", old);
    if (!write) {                   /* the same MSR answers the same way twice */
        uint64_t again = 0;
        int vec2 = msr_access(msr, false, &again, &r);
        if ((vec < 0) != (vec2 < 0))
            fail("a second RDMSR answered differently (vectors %d, %d)", vec, vec2);
    }
}

/* MSRs a CPUID bit announces: a kernel that sees the bit reads the MSR without a fixup. */
static const struct {
    uint32_t leaf, subleaf;
    uint8_t reg, bit;               /* reg: 0 EAX, 1 EBX, 2 ECX, 3 EDX */
    uint32_t msr;
    const char *name;
} cpuid_msrs[] = {
    { 1, 0, 3, 4, 0x10, "CPUID.1:EDX.TSC -> IA32_TSC" },
    { 1, 0, 3, 9, 0x1B, "CPUID.1:EDX.APIC -> IA32_APIC_BASE" },
    { 1, 0, 3, 11, 0x174, "CPUID.1:EDX.SEP -> IA32_SYSENTER_CS" },
    { 1, 0, 3, 12, 0xFE, "CPUID.1:EDX.MTRR -> IA32_MTRRCAP" },
    { 1, 0, 3, 14, 0x179, "CPUID.1:EDX.MCA -> IA32_MCG_CAP" },
    { 1, 0, 3, 16, 0x277, "CPUID.1:EDX.PAT -> IA32_PAT" },
    { 1, 0, 3, 21, 0x600, "CPUID.1:EDX.DS -> IA32_DS_AREA" },
    { 1, 0, 2, 7, 0x198, "CPUID.1:ECX.EST -> IA32_PERF_STATUS" },
    { 1, 0, 2, 15, 0x345, "CPUID.1:ECX.PDCM -> IA32_PERF_CAPABILITIES" },
    { 1, 0, 2, 24, 0x6E0, "CPUID.1:ECX.TSC-Deadline -> IA32_TSC_DEADLINE" },
    { 7, 0, 1, 1, 0x3B, "CPUID.7:EBX.TSC_ADJUST -> IA32_TSC_ADJUST" },
    { 7, 0, 1, 14, 0xD90, "CPUID.7:EBX.MPX -> IA32_BNDCFGS" },
    { 7, 0, 3, 26, 0x48, "CPUID.7:EDX.IBRS -> IA32_SPEC_CTRL" },
    { 7, 0, 3, 29, 0x10A, "CPUID.7:EDX.ARCH_CAPABILITIES -> IA32_ARCH_CAPABILITIES" },
    { 7, 0, 3, 30, 0xCF, "CPUID.7:EDX.CORE_CAPABILITIES -> IA32_CORE_CAPABILITIES" },
    { 0xD, 1, 0, 3, 0xDA0, "CPUID.(0DH,1):EAX.XSAVES -> IA32_XSS" },
    { 0x80000001, 0, 3, 29, 0xC0000080, "CPUID.80000001H:EDX.LM -> IA32_EFER" },
    { 0x80000001, 0, 3, 27, 0xC0000103, "CPUID.80000001H:EDX.RDTSCP -> IA32_TSC_AUX" },
};

static bool cpuid_bit(uint32_t leaf, uint32_t subleaf, unsigned reg, unsigned bit)
{
    uint32_t v[4], max;
    cpuid(leaf & 0x80000000u, 0, &max, &v[1], &v[2], &v[3]);
    if (leaf > max)
        return false;
    cpuid(leaf, subleaf, &v[0], &v[1], &v[2], &v[3]);
    return v[reg] >> bit & 1;
}

static void msr_announced(void)
{
    describe("MSRs announced by CPUID");
    for (size_t i = 0; i < sizeof cpuid_msrs / sizeof cpuid_msrs[0]; i++) {
        if (!cpuid_bit(cpuid_msrs[i].leaf, cpuid_msrs[i].subleaf, cpuid_msrs[i].reg, cpuid_msrs[i].bit))
            continue;
        struct cpu_regs r;
        uint64_t v = 0;
        int vec = msr_access(cpuid_msrs[i].msr, false, &v, &r);
        stats[PH_MSR].checks++;
        if (vec >= 0)
            fail("%s: RDMSR 0x%x raised vector %d", cpuid_msrs[i].name, cpuid_msrs[i].msr, vec);
    }
}

/* x2APIC on purpose (the random steps never write IA32_APIC_BASE): random RDMSR/WRMSR of
 * 0x800-0x8FF answer "no fault" or #GP, then back to xAPIC through disabled (SDM Vol. 3A
 * 11.12.5; x2APIC to xAPIC directly is #GP). ICR writes stay fixed delivery, as in phase 4. */
static void msr_x2apic(uint32_t n)
{
    if (!cpuid_bit(1, 0, 2, 21))
        return;
    uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
    wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_EXTD);
    for (uint32_t i = 0; i < n; i++) {
        cur_step = 0x80000000u | i;
        step_seed(PH_MSR, cur_step);
        stats[PH_MSR].steps++;
        struct cpu_regs r;
        uint32_t msr = 0x800 + below(0x100);
        bool write = rnd() & 1;
        uint64_t v = below(4) ? rnd() : rnd_value();
        if (msr == 0x830)
            v &= ~0x700ull;         /* ICR: fixed delivery */
        describe("x2APIC %s 0x%03x%s", write ? "wrmsr" : "rdmsr", msr, write ? " (value random)" : "");
        int vec = msr_access(msr, write, &v, &r);
        outcome(vec);
        if (vec >= 0 && vec != VEC_GP)
            fail("raised %s (vector %d)", exception_name((unsigned)vec), vec);
    }
    cur_step = 0x80000000u | n;
    describe("IA32_APIC_BASE: x2APIC -> xAPIC directly (#GP), then through disabled");
    uint64_t v = base;
    struct cpu_regs r;
    int vec = msr_access(MSR_IA32_APIC_BASE, true, &v, &r);
    stats[PH_MSR].checks++;
    if (vec != VEC_GP)
        fail("x2APIC -> xAPIC without disabling: vector %d, want #GP", vec);
    wrmsr(MSR_IA32_APIC_BASE, base & ~(APIC_BASE_EN | APIC_BASE_EXTD));
    wrmsr(MSR_IA32_APIC_BASE, base);
}

/* ---- phase 2: ports ---------------------------------------------------------------------- */

static const struct {
    uint16_t first, last;
    bool reads;                     /* reads are skipped too */
    const char *why;
} io_deny[] = {
    { 0x3F8, 0x3FF, true, "COM1: the guest's console" },
    { 0x0F4, 0x0F7, false, "QEMU's debug-exit: a write ends the guest" },
    { 0x604, 0x605, false, "ACPI PM1a_CNT: SLP_EN powers the guest off" },
    { 0xCF9, 0xCF9, false, "the reset control register: RST_CPU resets the guest" },
    { 0x092, 0x092, false, "port 92h: bit 0 resets a PC (anfitrion does not emulate it today)" },
    { 0x064, 0x064, false, "the 8042 command port: 0xFE resets a PC (not emulated today)" },
};
/* The PIC, PIT, RTC, ELCR and ACPI event ports are fair game: chaos uses none of them (its
 * watchdog is the xAPIC timer) and re-initializes them after the phase. */

static const char *io_denied(uint16_t port, unsigned size, bool in)
{
    uint32_t last = (uint32_t)port + size - 1;
    if (!in && port == 0xCF8 && size == 4)
        return NULL;                /* CONFIG_ADDRESS: a dword at 0xCF8 is not a write of 0xCF9 */
    for (size_t i = 0; i < sizeof io_deny / sizeof io_deny[0]; i++)
        if (port <= io_deny[i].last && io_deny[i].first <= last && (!in || io_deny[i].reads))
            return io_deny[i].why;
    return NULL;
}

/* Ports where anfitrion's PC has nothing: reads float high. */
static bool io_unclaimed(uint16_t port, unsigned size)
{
    uint32_t last = (uint32_t)port + size - 1;
    return port >= 0x1000 && !(port <= 0x2017 && 0x2000 <= last);   /* 0x2000: testdev=on only */
}

static const struct {
    uint16_t first, count;
} port_hot[] = {
    { 0x20, 2 }, { 0x40, 4 }, { 0x60, 5 }, { 0x70, 2 }, { 0x80, 1 }, { 0x92, 1 }, { 0xA0, 2 },
    { 0xE0, 16 }, { 0xF0, 8 }, { 0x2F8, 8 }, { 0x3F8, 8 }, { 0x4D0, 2 }, { 0x510, 2 },
    { 0x600, 12 }, { 0xCF8, 8 }, { 0x1000, 4 }, { 0x2000, 24 }, { 0xFFF8, 8 },
};

static uint16_t pick_port(void)
{
    if (rnd() & 1) {
        unsigned i = below(sizeof port_hot / sizeof port_hot[0]);
        return (uint16_t)(port_hot[i].first + below(port_hot[i].count));
    }
    return (uint16_t)rnd();
}

static void io_plain(void)
{
    struct cpu_regs r, before;
    unsigned size = 1u << below(3);
    bool in = rnd() & 1;
    uint16_t port = pick_port();
    bool imm = port < 0x100 && (rnd() & 1);
    describe("%s%c port 0x%04x (%s form)", in ? "in" : "out", size == 1 ? 'b' : size == 2 ? 'w' : 'l',
             port, imm ? "imm8" : "DX");
    if (io_denied(port, size, in)) {
        stats[PH_IO].skipped++;
        return;
    }
    regs_random(&r);
    r.r[R_EDX] = (r.r[R_EDX] & 0xFFFF0000u) | port;
    struct insn ins = { .n = 0 };
    if (size == 2)
        put8(&ins, 0x66);
    put8(&ins, (imm ? 0xE4 : 0xEC) | (in ? 0 : 2) | (size > 1));
    if (imm)
        put8(&ins, port);
    before = r;
    int vec = exec(&ins, &r);
    outcome(vec);
    if (vec >= 0) {
        fail("raised %s (vector %d)", exception_name((unsigned)vec), vec);
        return;
    }
    stats[PH_IO].checks++;
    regs_kept(&before, &r, in ? 1u << R_EAX : 0);
    if (!in)
        return;
    uint32_t keep = size == 4 ? 0 : size == 2 ? 0xFFFF0000u : 0xFFFFFF00u;
    if ((r.r[R_EAX] ^ before.r[R_EAX]) & keep)
        fail("EAX bits above the port width changed: 0x%08x -> 0x%08x", before.r[R_EAX], r.r[R_EAX]);
    if (io_unclaimed(port, size) && (r.r[R_EAX] | keep) != 0xFFFFFFFFu)
        fail("nothing there, yet it read 0x%08x", r.r[R_EAX] & ~keep);
}

/* String I/O works in a 64 KiB scratch area, also reached through WINDOW_SEL (base = the area):
 * 16-bit addresses wrap inside it. Canaries around it catch stray writes. */
#define SCRATCH_SIZE 0x10010u
#define CANARY_SIZE 256
static uint8_t scratch_area[CANARY_SIZE + SCRATCH_SIZE + CANARY_SIZE] __attribute__((aligned(16)));
#define scratch (scratch_area + CANARY_SIZE)

static uint8_t pattern(uint32_t off)
{
    return (uint8_t)(0x5A ^ (off & 0x3F));    /* never 0xFF, which INS from nothing writes */
}

static void scratch_fill(uint32_t from, uint32_t to)
{
    for (uint32_t o = from; o < to && o < SCRATCH_SIZE; o++)
        scratch[o] = pattern(o);
}

static bool canaries_ok(const uint8_t *lo, const uint8_t *hi, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (lo[i] != 0xC5 || hi[i] != 0xC5)
            return false;
    return true;
}

static uint32_t pick_count(void)
{
    switch (below(8)) {
    case 0: return 0;
    case 1: case 2: case 3: return 1 + below(8);
    case 4: case 5: return below(256);
    case 6: return 250 + below(16);           /* around VCPU_IO_BATCH (256) */
    default: return below(600);
    }
}

static const uint8_t seg_prefix[6] = { 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65 };   /* ES CS SS DS FS GS */

static void io_string(void)
{
    struct cpu_regs r, before;
    unsigned size = 1u << below(3);
    bool in = rnd() & 1, rep = below(4) != 0, a16 = below(4) == 0, df = rnd() & 1;
    uint16_t port = pick_port();
    regs_random(&r);
    /* Which segment the memory operand uses: INS always ES (an override is ignored); OUTS DS
     * or the override. Flat segments have base 0; ES may be the window; FS and GS are. */
    int ovr = (rnd() & 1) ? (int)below(6) : -1;
    bool es_window = a16 || (rnd() & 1);
    r.es = es_window ? WINDOW_SEL : KDATA_SEL;
    r.fs = r.gs = WINDOW_SEL;
    if (!in && a16 && (ovr < 0 || (ovr >= 1 && ovr <= 3)))
        ovr = 4 + (int)below(2);              /* 16-bit addresses only through the window */
    int seg = in ? 0 : ovr < 0 ? 3 : ovr;
    bool windowed = seg == 4 || seg == 5 || (seg == 0 && es_window);
    uint32_t count = rep ? pick_count() : 1;
    uint32_t mask = a16 ? 0xFFFFu : 0xFFFFFFFFu;
    uint32_t start = a16 ? (uint16_t)rnd() : 0x1000 + below(0xE000);
    uint32_t index = (rnd() & ~mask) | ((windowed ? start : (uint32_t)scratch + start) & mask);
    describe("%s%s%c port 0x%04x count %u %s DF=%d seg %d%s at +0x%x", rep ? "rep " : "",
             in ? "ins" : "outs", size == 1 ? 'b' : size == 2 ? 'w' : 'd', port, count,
             a16 ? "a16" : "a32", df, seg, windowed ? " (window)" : "", start);
    if (io_denied(port, size, in)) {
        stats[PH_IO].skipped++;
        return;
    }
    window_set((uint32_t)scratch, 0x1FFFF);
    r.r[R_ECX] = rep ? (r.r[R_ECX] & ~mask) | count : r.r[R_ECX];
    r.r[R_EDX] = (r.r[R_EDX] & 0xFFFF0000u) | port;
    r.r[in ? R_EDI : R_ESI] = index;
    r.eflags = (r.eflags & ~EFL_DF) | (df ? EFL_DF : 0);
    struct insn ins = { .n = 0 };
    if (rep)
        put8(&ins, 0xF3);
    if (a16)
        put8(&ins, 0x67);
    if (ovr >= 0)
        put8(&ins, seg_prefix[ovr]);
    if (size == 2)
        put8(&ins, 0x66);
    put8(&ins, (in ? 0x6C : 0x6E) | (size > 1));
    before = r;
    int vec = exec(&ins, &r);
    outcome(vec);
    if (vec >= 0) {
        fail("raised %s (vector %d)", exception_name((unsigned)vec), vec);
        scratch_fill(0, SCRATCH_SIZE);
        return;
    }
    stats[PH_IO].checks++;
    int32_t stride = df ? -(int32_t)size : (int32_t)size;
    uint32_t n = rep ? (before.r[R_ECX] & mask) : 1;
    int ireg = in ? R_EDI : R_ESI;
    uint32_t want = (index & ~mask) | ((index + n * (uint32_t)stride) & mask);
    if (regs_kept(&before, &r, 1u << ireg | (rep ? 1u << R_ECX : 0)) && expect_reg(&r, ireg, want) && rep)
        expect_reg(&r, R_ECX, before.r[R_ECX] & ~mask);
    /* Memory: the elements INS wrote (all-ones from nothing), the pattern everywhere else,
     * checked over the elements and one element either side (n * size < 64 KiB: no overlap). */
    bool bad = false;
    for (int64_t i = -1; i <= (int64_t)n; i++) {
        uint32_t off = (start + (uint32_t)(i * stride)) & mask;
        bool written = in && i >= 0 && i < (int64_t)n;
        for (unsigned b = 0; b < size && off + b < SCRATCH_SIZE; b++) {
            uint8_t v = scratch[off + b];
            if (written ? io_unclaimed(port, size) && v != 0xFF : v != pattern(off + b))
                bad = true;
        }
    }
    if (bad)
        fail("scratch memory is not what %s leaves (n=%u)", in ? "INS" : "OUTS", n);
    if (!canaries_ok(scratch_area, scratch + SCRATCH_SIZE, CANARY_SIZE))
        fail("a write landed outside the scratch area");
    if (in && n) {
        for (int64_t i = 0; i < (int64_t)n; i++) {
            uint32_t off = (start + (uint32_t)(i * stride)) & mask;
            scratch_fill(off, off + size);
        }
    }
}

static void io_step(uint32_t step)
{
    (void)step;
    if (below(5) < 3)
        io_plain();
    else
        io_string();
}

/* Chaos may have programmed the 8259s, the PIT, the RTC and the ACPI events: mask them all. */
static void io_restore(void)
{
    pic_init();
    pic_set_mask(0xFFFF);
    outb(0x4D0, 0);
    outb(0x4D1, 0);
    outw(0x602, 0);                 /* PM1_EN */
    outb(0x70, 0x0B);
    outb(0x71, 0x02);               /* RTC register B: 24-hour, no interrupts */
}

/* ---- phase 3: control registers -------------------------------------------------------- */

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_NW (1u << 29)
#define CR0_CD (1u << 30)
#define CR0_DEFINED 0xE005003Fu
#define CR4_PCIDE (1u << 17)
#define CR4_CET (1u << 23)

/* CR4 bits this CPU (as CPUID shows it to the guest) lets software set (SDM Vol. 3A 2.5;
 * Vol. 2B MOV CR: #GP for a reserved bit). Bits 0-10 are architectural since the P6. */
static uint32_t cr4_settable(void)
{
    uint32_t a, b, c, d, b7 = 0, c7 = 0, d7 = 0, a71 = 0, max;
    cpuid(0, 0, &max, &b, &c, &d);
    cpuid(1, 0, &a, &b, &c, &d);
    uint32_t ok = 0x7FF & ~(1u << 6);
    ok |= (d >> 7 & 1) << 6;                /* MCE: MCE */
    ok |= (c >> 17 & 1) << 17;              /* PCIDE (more rules below) */
    ok |= (c >> 26 & 1) << 18;              /* OSXSAVE: XSAVE */
    ok |= (c >> 5 & 1) << 13;               /* VMXE: VMX (hidden) */
    ok |= (c >> 6 & 1) << 14;               /* SMXE: SMX (hidden) */
    if (max >= 7) {
        cpuid(7, 0, &a, &b7, &c7, &d7);
        if (a >= 1)
            cpuid(7, 1, &a71, &b, &c, &d);
    }
    ok |= (c7 >> 2 & 1) << 11;              /* UMIP */
    ok |= (c7 >> 16 & 1) << 12;             /* LA57 */
    ok |= (b7 & 1) << 16;                   /* FSGSBASE */
    ok |= (c7 >> 23 & 1) << 19;             /* KL */
    ok |= (b7 >> 7 & 1) << 20;              /* SMEP */
    ok |= (b7 >> 20 & 1) << 21;             /* SMAP */
    ok |= (c7 >> 3 & 1) << 22;              /* PKE: PKU */
    ok |= ((c7 >> 7 | d7 >> 20) & 1) << 23; /* CET: CET_SS or CET_IBT */
    ok |= (c7 >> 31 & 1) << 24;             /* PKS */
    ok |= (d7 >> 5 & 1) << 25;              /* UINTR */
    ok |= (a71 >> 26 & 1) << 28;            /* LAM_SUP */
    return ok;
}

static int mov_cr(unsigned cr, bool to, uint32_t value, uint32_t *read_back, bool lock)
{
    struct cpu_regs r;
    struct insn in = { .n = 0 };
    regs_random(&r);
    r.r[R_EAX] = value;
    if (lock)
        put8(&in, 0xF0);
    put8(&in, 0x0F);
    put8(&in, to ? 0x22 : 0x20);
    put8(&in, 0xC0 | cr << 3 | R_EAX);
    struct cpu_regs before = r;
    int vec = exec(&in, &r);
    if (vec < 0) {
        regs_kept(&before, &r, to ? 0 : 1u << R_EAX);
        if (read_back)
            *read_back = r.r[R_EAX];
    }
    return vec;
}

static void check_cr_write(unsigned cr, uint32_t orig, uint32_t v, int want, uint32_t want_back)
{
    describe("MOV to CR%u 0x%08x (was 0x%08x)", cr, v, orig);
    int vec = mov_cr(cr, true, v, NULL, false);
    uint32_t back = cr == 0 ? read_cr0() : read_cr4();
    outcome(vec);
    stats[PH_CR].checks++;
    if (vec != want)
        fail("vector %d, want %d (%s)", vec, want, want < 0 ? "no fault" : exception_name((unsigned)want));
    else if (want < 0 && back != want_back)
        fail("reads back 0x%08x, want 0x%08x", back, want_back);
    else if (want >= 0 && back != orig)
        fail("a refused write changed CR%u to 0x%08x", cr, back);
    if (cr == 0)
        write_cr0(orig);
    else
        write_cr4(orig);
}

static void cr_sweep(void)
{
    uint32_t cr0 = read_cr0(), cr4 = read_cr4(), ok4 = cr4_settable();
    for (unsigned bit = 0; bit < 32; bit++) {
        uint32_t m = 1u << bit;
        cur_step = bit;
        if (m == CR0_PE || bit == 31)
            continue;               /* clearing PE leaves protected mode; PG needs page tables */
        uint32_t v = cr0 ^ m;
        int want = (v & CR0_NW) && !(v & CR0_CD) ? VEC_GP : -1;
        uint32_t back = (v & CR0_DEFINED) | CR0_ET;
        check_cr_write(0, cr0, v, want, back);
    }
    check_cr_write(0, cr0, cr0 | CR0_CD | CR0_NW, -1, (cr0 | CR0_CD | CR0_NW) & CR0_DEFINED);
    for (unsigned bit = 0; bit < 32; bit++) {
        uint32_t m = 1u << bit, v = cr4 ^ m;
        cur_step = 32 + bit;
        bool gp = (v & ~ok4) || (v & CR4_PCIDE) || ((v & CR4_CET) && !(cr0 & CR0_WP));
        check_cr_write(4, cr4, v, gp ? VEC_GP : -1, v);
    }
    /* CR1, CR5-CR7 do not exist: #UD, both directions; LOCK MOV CR0 is CR8 only on AMD's
     * AltMovCr8 (CPUID.80000001H:ECX[4]), else #UD. */
    static const uint8_t absent[] = { 1, 5, 6, 7 };
    for (unsigned i = 0; i < sizeof absent * 2; i++) {
        cur_step = 64 + i;
        describe("MOV %s CR%u", i & 1 ? "from" : "to", absent[i / 2]);
        int vec = mov_cr(absent[i / 2], !(i & 1), read_cr0(), NULL, false);
        outcome(vec);
        stats[PH_CR].checks++;
        if (vec != VEC_UD)
            fail("vector %d, want #UD", vec);
    }
    cur_step = 72;
    describe("LOCK MOV from CR0 (AMD's CR8 alias)");
    int vec = mov_cr(0, false, 0, NULL, true);
    outcome(vec);
    stats[PH_CR].checks++;
    if (vec != (cpuid_bit(0x80000001, 0, 2, 4) ? -1 : VEC_UD))
        fail("vector %d", vec);
}

/* XCR0 values XSETBV takes (SDM Vol. 1 13.3, Vol. 2C XSETBV): x87 always, only components
 * CPUID.(0DH,0) lists, AVX with SSE, MPX's pair together, AVX-512's three together and with
 * AVX, AMX's pair together. */
static bool xcr0_valid(uint64_t v, uint64_t supported)
{
    uint64_t k = v & 0xE0;
    return (v & 1) && !(v & ~supported) && (!(v & 4) || (v & 2)) && ((v >> 3 & 1) == (v >> 4 & 1)) &&
           (!k || (k == 0xE0 && (v & 4))) && ((v >> 17 & 1) == (v >> 18 & 1));
}

static int xcr_access(bool set, uint32_t xcr, uint64_t *v)
{
    struct cpu_regs r, before;
    struct insn in = { .n = 0 };
    regs_random(&r);
    r.r[R_ECX] = xcr;
    r.r[R_EAX] = (uint32_t)*v;
    r.r[R_EDX] = (uint32_t)(*v >> 32);
    put8(&in, 0x0F);
    put8(&in, 0x01);
    put8(&in, set ? 0xD1 : 0xD0);
    before = r;
    int vec = exec(&in, &r);
    if (vec < 0) {
        regs_kept(&before, &r, set ? 0 : (1u << R_EAX | 1u << R_EDX));
        *v = (uint64_t)r.r[R_EDX] << 32 | r.r[R_EAX];
    }
    return vec;
}

static void xsetbv_step(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 26))) {
        describe("XSETBV: no XSAVE in CPUID");
        return;
    }
    uint32_t cr4 = read_cr4();
    uint64_t old = 1, v;
    write_cr4(cr4 | (1u << 18));            /* OSXSAVE */
    xcr_access(false, 0, &old);
    cpuid(0xD, 0, &a, &b, &c, &d);
    uint64_t supported = (uint64_t)d << 32 | a;
    v = below(8) ? (((uint64_t)rnd() << 32 | rnd()) & supported) | (rnd() & 1) : rnd_value();
    uint32_t xcr = below(8) ? 0 : below(4) ? 1 : rnd();
    describe("XSETBV XCR%u <- 0x%llx (CPUID.(0DH,0) 0x%llx)", xcr, v, supported);
    int want = xcr == 0 && xcr0_valid(v, supported) ? -1 : VEC_GP;
    uint64_t set = v;
    int vec = xcr_access(true, xcr, &set);
    outcome(vec);
    stats[PH_CR].checks++;
    uint64_t now = 0;
    xcr_access(false, 0, &now);
    if (vec != want)
        fail("vector %d, want %d", vec, want);
    else if (now != (want < 0 ? v : old))
        fail("XCR0 reads 0x%llx, want 0x%llx", now, want < 0 ? v : old);
    xcr_access(true, 0, &old);
    write_cr4(cr4);
}

static void cr_step(uint32_t step)
{
    (void)step;
    uint32_t cr0 = read_cr0(), cr4 = read_cr4(), ok4 = cr4_settable();
    struct cpu_regs r, before;
    struct insn in = { .n = 0 };
    regs_random(&r);
    switch (below(5)) {
    case 4:
        xsetbv_step();
        break;
    case 0: {                       /* LMSW: bits 3:0 only, PE can be set but not cleared */
        uint16_t msw = (uint16_t)rnd();
        describe("LMSW 0x%04x (CR0 0x%08x)", msw, cr0);
        r.r[R_EAX] = msw;
        put8(&in, 0x0F);
        put8(&in, 0x01);
        put8(&in, 0xF0);
        before = r;
        int vec = exec(&in, &r);
        outcome(vec);
        uint32_t want = (cr0 & ~0xEu) | (msw & 0xF) | (cr0 & CR0_PE);
        if (vec >= 0)
            fail("vector %d", vec);
        else if (regs_kept(&before, &r, 0) && read_cr0() != want)
            fail("CR0 is 0x%08x, want 0x%08x", read_cr0(), want);
        write_cr0(cr0);
        break;
    }
    case 1: {                       /* SMSW r32: CR0[15:0] */
        describe("SMSW (CR0 0x%08x)", cr0);
        put8(&in, 0x0F);
        put8(&in, 0x01);
        put8(&in, 0xE0);
        int vec = exec(&in, &r);
        outcome(vec);
        if (vec >= 0)
            fail("vector %d", vec);
        else if ((r.r[R_EAX] & 0xFFFF) != (cr0 & 0xFFFF))
            fail("SMSW gave 0x%04x, CR0 is 0x%08x", r.r[R_EAX] & 0xFFFF, cr0);
        break;
    }
    case 2: {                       /* CR4: settable bits at random, sometimes one that is not */
        uint32_t v = rnd() & ok4 & ~CR4_PCIDE;
        if (below(4) == 0)
            v |= 1u << below(32);
        bool gp = (v & ~ok4) || (v & CR4_PCIDE) || ((v & CR4_CET) && !(cr0 & CR0_WP));
        check_cr_write(4, cr4, v, gp ? VEC_GP : -1, v);
        break;
    }
    default: {                      /* CR0: defined bits at random (never PG, PE kept) */
        uint32_t v = (rnd() & CR0_DEFINED & ~(1u << 31)) | CR0_PE | (rnd() & 0x1FFFFFC0u & ~CR0_DEFINED);
        int want = (v & CR0_NW) && !(v & CR0_CD) ? VEC_GP : -1;
        check_cr_write(0, cr0, v, want, (v & CR0_DEFINED) | CR0_ET);
        break;
    }
    }
}

/* ---- phase 4: device memory ------------------------------------------------------------- */

enum form_kind { F_LOAD, F_STORE, F_IMM, F_XCHG, F_UD, F_RMW };
enum { FORMS_BASE, FORMS_ALL };

struct form {
    const char *name;
    uint8_t pfx;                    /* 0x66, 0xF0 or 0 */
    uint8_t op[3], oplen;
    uint8_t kind, size, dsize;      /* memory bytes; register bytes a load writes */
    char ext;                       /* 'z' MOVZX, 's' MOVSX */
    int8_t digit;                   /* ModRM /digit; -1: the reg field names a register */
    uint8_t imm;                    /* immediate bytes */
    bool moffs, rep_ok;             /* A0-A3 (no ModRM); F2/F3 are ignored on it */
    uint8_t level;                  /* FORMS_BASE or FORMS_ALL: see forms[] */
    uint32_t clobbers;              /* F_RMW: registers (and M_FLAGS) it may change */
    char special;                   /* 'P' push m then pop eax, 'Q' push imm then pop m; string
                                     * forms (no ModRM): 'S' stos, 'L' lods, 'I' movs from the
                                     * device to RAM, 'O' movs from RAM to the device */
};

#define MOVF(n, p, o, k, s, d, x, dg, im, mo) \
    { n, p, { o & 0xFF, (o >> 8) & 0xFF, 0 }, (o > 0xFF) + 1, k, s, d, x, dg, im, mo, !((o) >> 8), FORMS_BASE, 0, 0 }
#define RMW(n, p, o, len, s, dg, im, clob, lv) \
    { n, p, { (o) & 0xFF, ((o) >> 8) & 0xFF, ((o) >> 16) & 0xFF }, len, F_RMW, s, 0, 0, dg, im, false, false, lv, clob, 0 }
#define SPECIAL(n, p, o, len, s, dg, clob, sp) \
    { n, p, { (o) & 0xFF, ((o) >> 8) & 0xFF, 0 }, len, F_RMW, s, 0, 0, dg, 0, false, false, FORMS_BASE, clob, sp }

/* MOVF: one- or two-byte (0x0F first: 0xB60F is 0F B6) opcodes of the MOV family. */
static const struct form forms[] = {
    MOVF("mov m8, r8", 0, 0x88, F_STORE, 1, 0, 0, -1, 0, false),
    MOVF("mov m16, r16", 0x66, 0x89, F_STORE, 2, 0, 0, -1, 0, false),
    MOVF("mov m32, r32", 0, 0x89, F_STORE, 4, 0, 0, -1, 0, false),
    MOVF("mov r8, m8", 0, 0x8A, F_LOAD, 1, 1, 0, -1, 0, false),
    MOVF("mov r16, m16", 0x66, 0x8B, F_LOAD, 2, 2, 0, -1, 0, false),
    MOVF("mov r32, m32", 0, 0x8B, F_LOAD, 4, 4, 0, -1, 0, false),
    MOVF("mov m8, imm8", 0, 0xC6, F_IMM, 1, 0, 0, 0, 1, false),
    MOVF("mov m16, imm16", 0x66, 0xC7, F_IMM, 2, 0, 0, 0, 2, false),
    MOVF("mov m32, imm32", 0, 0xC7, F_IMM, 4, 0, 0, 0, 4, false),
    MOVF("mov al, moffs8", 0, 0xA0, F_LOAD, 1, 1, 0, -1, 0, true),
    MOVF("mov ax, moffs16", 0x66, 0xA1, F_LOAD, 2, 2, 0, -1, 0, true),
    MOVF("mov eax, moffs32", 0, 0xA1, F_LOAD, 4, 4, 0, -1, 0, true),
    MOVF("mov moffs8, al", 0, 0xA2, F_STORE, 1, 0, 0, -1, 0, true),
    MOVF("mov moffs16, ax", 0x66, 0xA3, F_STORE, 2, 0, 0, -1, 0, true),
    MOVF("mov moffs32, eax", 0, 0xA3, F_STORE, 4, 0, 0, -1, 0, true),
    MOVF("movzx r32, m8", 0, 0xB60F, F_LOAD, 1, 4, 'z', -1, 0, false),
    MOVF("movzx r16, m8", 0x66, 0xB60F, F_LOAD, 1, 2, 'z', -1, 0, false),
    MOVF("movzx r32, m16", 0, 0xB70F, F_LOAD, 2, 4, 'z', -1, 0, false),
    MOVF("movsx r32, m8", 0, 0xBE0F, F_LOAD, 1, 4, 's', -1, 0, false),
    MOVF("movsx r16, m8", 0x66, 0xBE0F, F_LOAD, 1, 2, 's', -1, 0, false),
    MOVF("movsx r32, m16", 0, 0xBF0F, F_LOAD, 2, 4, 's', -1, 0, false),
    MOVF("xchg m8, r8", 0, 0x86, F_XCHG, 1, 1, 0, -1, 0, false),
    MOVF("xchg m16, r16", 0x66, 0x87, F_XCHG, 2, 2, 0, -1, 0, false),
    MOVF("xchg m32, r32", 0, 0x87, F_XCHG, 4, 4, 0, -1, 0, false),
    MOVF("lock xchg m32, r32", 0xF0, 0x87, F_XCHG, 4, 4, 0, -1, 0, false),
    MOVF("lock mov m32, r32 (#UD before any access)", 0xF0, 0x89, F_UD, 4, 0, 0, -1, 0, false),
    /* Read-modify-write, string, PUSH/POP and the rest (vmx/decode.c, vmx/emulate.c since
     * 9c1d3a9; before it, every form below stopped the guest). Only no fault and the
     * registers they leave alone are checked. FORMS_ALL: what hardware does on device memory
     * and anfitrion still refuses ("crashed: device access ... by an instruction anfitrion
     * does not emulate"); only with forms=all, which stops the guest at the first of them.
     * None today: SETcc, the shifts, CMOVcc, IMUL, BSF and CMPXCHG8B were FORMS_ALL until
     * anfitrion emulated them (issue 10 item 2). */
    RMW("add m32, r32", 0, 0x01, 1, 4, -1, 0, M_FLAGS, FORMS_BASE),
    RMW("or r32, m32", 0, 0x0B, 1, 4, -1, 0, 0x7 | M_FLAGS, FORMS_BASE),
    RMW("and m8, imm8", 0, 0x80, 1, 1, 4, 1, M_FLAGS, FORMS_BASE),
    RMW("cmp m32, imm8", 0, 0x83, 1, 4, 7, 1, M_FLAGS, FORMS_BASE),
    RMW("test m32, r32", 0, 0x85, 1, 4, -1, 0, M_FLAGS, FORMS_BASE),
    RMW("inc m32", 0, 0xFF, 1, 4, 0, 0, M_FLAGS, FORMS_BASE),
    RMW("not m32", 0, 0xF7, 1, 4, 2, 0, 0, FORMS_BASE),
    RMW("neg m16", 0x66, 0xF7, 1, 2, 3, 0, M_FLAGS, FORMS_BASE),
    RMW("bt m32, r32", 0, 0xA30F, 2, 4, -1, 0, M_FLAGS, FORMS_BASE),
    RMW("bts m32, imm8", 0, 0xBA0F, 2, 4, 5, 1, M_FLAGS, FORMS_BASE),
    RMW("cmpxchg m32, r32", 0, 0xB10F, 2, 4, -1, 0, 1u << R_EAX | M_FLAGS, FORMS_BASE),
    RMW("lock xadd m32, r32", 0xF0, 0xC10F, 2, 4, -1, 0, 0x7 | M_FLAGS, FORMS_BASE),
    RMW("movnti m32, r32", 0, 0xC30F, 2, 4, -1, 0, 0, FORMS_BASE),
    RMW("setnz m8", 0, 0x950F, 2, 1, 0, 0, 0, FORMS_BASE),
    RMW("shl m32, 1", 0, 0xD1, 1, 4, 4, 0, M_FLAGS, FORMS_BASE),
    RMW("cmovz r32, m32", 0, 0x440F, 2, 4, -1, 0, 0x7, FORMS_BASE),
    RMW("imul r32, m32", 0, 0xAF0F, 2, 4, -1, 0, 0x7 | M_FLAGS, FORMS_BASE),
    RMW("bsf r32, m32", 0, 0xBC0F, 2, 4, -1, 0, 0x7 | M_FLAGS, FORMS_BASE),
    SPECIAL("push m32 (then pop eax)", 0, 0xFF, 1, 4, 6, 1u << R_EAX, 'P'),
    RMW("cmpxchg8b m64", 0, 0xC70F, 2, 8, 1, 0, 1u << R_EAX | 1u << R_EDX | M_FLAGS, FORMS_BASE),
    SPECIAL("pop m32 (after push imm32)", 0, 0x8F, 1, 4, 0, 0, 'Q'),
    SPECIAL("rep stosd to the device", 0xF3, 0xAB, 1, 4, -1, 1u << R_ECX | 1u << R_EDI, 'S'),
    SPECIAL("lodsb from the device", 0, 0xAC, 1, 1, -1, 1u << R_EAX | 1u << R_ESI, 'L'),
    SPECIAL("rep movsd device to RAM", 0xF3, 0xA5, 1, 4, -1, 1u << R_ECX | 1u << R_ESI | 1u << R_EDI, 'I'),
    SPECIAL("movsw RAM to device", 0x66, 0xA5, 1, 2, -1, 1u << R_ESI | 1u << R_EDI, 'O'),
};
#define N_FORMS (sizeof forms / sizeof forms[0])

enum amode { AM_ABS, AM_BASE, AM_DISP8, AM_DISP32, AM_SIB, AM_SIB_NOBASE, AM_16, AM_COUNT };
static const char *const amode_names[AM_COUNT] = {
    "[disp32]", "[base]", "[base+disp8]", "[base+disp32]", "[base+index*s(+disp)]",
    "[index*s+disp32]", "fs:[16-bit]",
};

/* Address registers; the data registers are EAX, ECX, EDX (and AH, CH, DH). */
static const uint8_t addr_regs[4] = { R_EBX, R_EBP, R_ESI, R_EDI };

static unsigned pick_base(bool ebp_ok)
{
    for (;;) {
        unsigned b = addr_regs[below(4)];
        if (b != R_EBP || ebp_ok)
            return b;
    }
}

static void put_modrm32(struct insn *in, unsigned regf, uint32_t addr, enum amode m, struct cpu_regs *r)
{
    unsigned b = pick_base(m == AM_DISP8 || m == AM_DISP32), x, s = below(4), mod;
    uint32_t k = below(0x100), d;
    switch (m) {
    case AM_ABS:
        put8(in, regf << 3 | 5);
        put32(in, addr);
        break;
    case AM_BASE:
        put8(in, regf << 3 | b);
        r->r[b] = addr;
        break;
    case AM_DISP8:
        d = (uint32_t)(int32_t)(int8_t)rnd();
        put8(in, 0x40 | regf << 3 | b);
        put8(in, d);
        r->r[b] = addr - d;
        break;
    case AM_DISP32:
        d = rnd();
        put8(in, 0x80 | regf << 3 | b);
        put32(in, d);
        r->r[b] = addr - d;
        break;
    case AM_SIB:
        do
            x = addr_regs[below(4)];
        while (x == b);
        mod = below(3);
        d = mod == 1 ? (uint32_t)(int32_t)(int8_t)rnd() : mod == 2 ? rnd() : 0;
        put8(in, mod << 6 | regf << 3 | 4);
        put8(in, s << 6 | x << 3 | b);
        if (mod == 1)
            put8(in, d);
        else if (mod == 2)
            put32(in, d);
        r->r[x] = k;
        r->r[b] = addr - (k << s) - d;
        break;
    default:                        /* AM_SIB_NOBASE */
        x = addr_regs[below(4)];
        put8(in, regf << 3 | 4);
        put8(in, s << 6 | x << 3 | 5);
        put32(in, addr - (k << s));
        r->r[x] = k;
        break;
    }
}

/* 16-bit addressing (SDM Vol. 2 Table 2-1): BX+SI BX+DI BP+SI BP+DI SI DI BP(disp16) BX. The
 * registers' upper halves are random: 16-bit addressing ignores them. */
static void put_modrm16(struct insn *in, unsigned regf, uint16_t off, struct cpu_regs *r)
{
    static const int8_t first[8] = { R_EBX, R_EBX, R_EBP, R_EBP, R_ESI, R_EDI, R_EBP, R_EBX };
    static const int8_t second[8] = { R_ESI, R_EDI, R_ESI, R_EDI, -1, -1, -1, -1 };
    unsigned rm = below(8), mod = below(3);
    if (rm == 6 && mod == 0) {
        put8(in, regf << 3 | 6);
        put16(in, off);
        return;
    }
    uint16_t d = mod == 1 ? (uint16_t)(int16_t)(int8_t)rnd() : mod == 2 ? (uint16_t)rnd() : 0;
    uint16_t part2 = second[rm] >= 0 ? (uint16_t)rnd() : 0;
    uint16_t part1 = (uint16_t)(off - part2 - d);
    r->r[first[rm]] = (r->r[first[rm]] & 0xFFFF0000u) | part1;
    if (second[rm] >= 0)
        r->r[second[rm]] = (r->r[second[rm]] & 0xFFFF0000u) | part2;
    put8(in, mod << 6 | regf << 3 | rm);
    if (mod == 1)
        put8(in, d);
    else if (mod == 2)
        put16(in, d);
}

/* The instruction for form f on addr; the data register's ModRM code is regc (byte forms:
 * 4-6 are AH CH DH). AM_16 goes through FS = WINDOW_SEL with base win. */
static void put_form(struct insn *in, const struct form *f, enum amode m, unsigned regc, uint32_t addr,
                     uint32_t imm, struct cpu_regs *r, uint32_t win)
{
    if (f->special && f->digit < 0) {   /* a string form: ESI/EDI/ECX say where, DF=0 */
        uint32_t ram = (uint32_t)scratch + 0x100;
        r->r[R_ECX] = 1 + below(4);
        r->r[R_ESI] = f->special == 'O' ? ram : addr;
        r->r[R_EDI] = f->special == 'I' ? ram : addr;
        r->eflags &= ~EFL_DF;
        if (f->pfx)
            put8(in, f->pfx);
        put8(in, f->op[0]);
        return;
    }
    if (f->special == 'Q') {        /* pop m32: balanced by a push before it */
        put8(in, 0x68);
        put32(in, imm);
    }
    if (m == AM_16) {
        put8(in, 0x67);
        put8(in, 0x64);
    } else if (rnd() & 1) {
        unsigned k = below(6);      /* not CS for a write: a code segment is not writable (#GP) */
        put8(in, seg_prefix[k == 1 && f->kind != F_LOAD ? 3 : k]);
    }
    if (f->rep_ok && below(4) == 0)
        put8(in, (rnd() & 1) ? 0xF3 : 0xF2);
    if (f->pfx)
        put8(in, f->pfx);
    for (unsigned i = 0; i < f->oplen; i++)
        put8(in, f->op[i]);
    if (f->moffs) {
        if (m == AM_16)
            put16(in, addr - win);
        else
            put32(in, addr);
    } else {
        unsigned regf = f->digit >= 0 ? (unsigned)f->digit : regc;
        if (m == AM_16)
            put_modrm16(in, regf, (uint16_t)(addr - win), r);
        else
            put_modrm32(in, regf, addr, m, r);
    }
    for (unsigned i = 0; i < f->imm; i++)
        put8(in, imm >> (8 * i));
    if (f->special == 'P')
        put8(in, 0x58);             /* pop eax */
}

static uint32_t width_mask(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

/* Register n after writing size bytes of v (byte forms: high = AH..DH). */
static uint32_t reg_merge(uint32_t old, uint32_t v, unsigned size, bool high)
{
    if (size == 4)
        return v;
    if (high)
        return (old & ~0xFF00u) | (v & 0xFF) << 8;
    return (old & ~width_mask(size)) | (v & width_mask(size));
}

/* What the data register holds after a load of mem (the device's bytes, little-endian). */
static uint32_t load_result(const struct form *f, uint32_t old, uint32_t mem, bool high)
{
    uint32_t v = mem & width_mask(f->size);
    if (f->ext == 's' && (v >> (8 * f->size - 1) & 1))
        v |= ~width_mask(f->size);
    return reg_merge(old, v, f->dsize, high);
}

enum target_id { T_TPR, T_LVER, T_REGSEL, T_IOVER, T_NOTHING1, T_NOTHING2, T_PASTRAM, T_STRUCTURED,
                 T_LAPIC = T_STRUCTURED, T_IOAPIC, T_RAND_NOTHING, T_COUNT };
static const char *const target_names[T_COUNT] = {
    "xAPIC TPR", "xAPIC version", "IOAPIC IOREGSEL", "IOAPIC IOWIN (version)", "nothing at 0xFED90000",
    "nothing at 0xFF000000", "nothing past RAM", "xAPIC page", "IOAPIC page", "nothing",
};
static uint32_t ram_end;

/* Before the instruction: the target's known value (its 32 bits at addr), set up where it
 * is a register we can write. */
static uint32_t target_prepare(enum target_id t, uint32_t addr)
{
    switch (t) {
    case T_TPR: {
        uint32_t v = rnd() & 0xFF;
        mmio_write32(addr, v);
        return v;
    }
    case T_REGSEL: {
        uint32_t v = rnd() & 0xFF;
        mmio_write32(addr, v);
        return v;
    }
    case T_IOVER:
        mmio_write32(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, IOAPIC_REG_VERSION);
        return mmio_read32(addr);
    case T_LVER:
        return mmio_read32(addr);
    default:
        return 0xFFFFFFFFu;
    }
}

static uint32_t target_addr(enum target_id t, unsigned size)
{
    switch (t) {
    case T_TPR: return LAPIC_DEFAULT_BASE + LAPIC_TPR;
    case T_LVER: return LAPIC_DEFAULT_BASE + LAPIC_VERSION;
    case T_REGSEL: return IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL;
    case T_IOVER: return IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN;
    case T_NOTHING1: return 0xFED90000u + below(0x1000 - size + 1);
    case T_NOTHING2: return 0xFF000000u + below(0x1000 - size + 1);
    case T_PASTRAM: return ram_end + below(0x1000 - size + 1);
    case T_LAPIC: return LAPIC_DEFAULT_BASE + (below(4) ? below(0x40) * 16 : below(0x1000 - size + 1));
    case T_IOAPIC: return IOAPIC_DEFAULT_BASE + (below(4) ? below(5) * 16 : below(0x1000 - size + 1));
    default: return (rnd() & 1 ? 0xFED90000u : 0xFF000000u) + below(0x1000 - size + 1);
    }
}

static bool target_nothing(enum target_id t)
{
    return t == T_NOTHING1 || t == T_NOTHING2 || t == T_PASTRAM || t == T_RAND_NOTHING;
}

static void mmio_check(const struct form *f, enum target_id t, uint32_t addr, uint32_t mem,
                       const struct cpu_regs *before, const struct cpu_regs *after, int dreg,
                       bool high, uint32_t stored)
{
    bool exact = target_nothing(t) || t < T_NOTHING1;
    uint32_t mask = 0;
    if (f->kind == F_LOAD || f->kind == F_XCHG)
        mask = 1u << dreg;
    if (f->kind == F_RMW)
        mask = f->clobbers;
    stats[PH_MMIO].checks++;
    if (!regs_kept(before, after, mask) || f->kind == F_RMW || !exact)
        return;
    if (f->kind == F_LOAD || f->kind == F_XCHG) {
        if (!expect_reg(after, dreg, load_result(f, before->r[dreg], mem, high)))
            return;
    }
    if (f->kind == F_LOAD)
        return;
    uint32_t now = mmio_read32(addr & ~0u);
    uint32_t want = now;
    if (target_nothing(t))
        want = 0xFFFFFFFFu;
    else if ((t == T_TPR || t == T_REGSEL) && f->size == 4)
        want = stored & 0xFF;
    else if (t == T_LVER || t == T_IOVER)
        want = mem;
    if (now != want)
        fail("after the store the target reads 0x%08x, want 0x%08x", now, want);
}

static struct {
    uint32_t lvt[7], svr, tpr, dcr, ldr, dfr, id;
    uint32_t ioapic_id, rte_lo[24], rte_hi[24];
} apic_saved;
static const uint16_t lvt_regs[7] = { 0x2F0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370 };

static void apic_save(void)
{
    for (int i = 0; i < 7; i++)
        apic_saved.lvt[i] = lapic_read(lvt_regs[i]);
    apic_saved.svr = lapic_read(LAPIC_SVR);
    apic_saved.tpr = lapic_read(LAPIC_TPR);
    apic_saved.dcr = lapic_read(LAPIC_TIMER_DCR);
    apic_saved.ldr = lapic_read(0xD0);
    apic_saved.dfr = lapic_read(0xE0);
    apic_saved.id = lapic_read(LAPIC_ID);
    apic_saved.ioapic_id = ioapic_read(IOAPIC_REG_ID);
    for (unsigned p = 0; p < 24; p++) {
        apic_saved.rte_lo[p] = ioapic_read((uint8_t)(IOAPIC_REG_REDTBL + 2 * p));
        apic_saved.rte_hi[p] = ioapic_read((uint8_t)(IOAPIC_REG_REDTBL + 2 * p + 1));
    }
}

static void apic_restore(void)
{
    lapic_write(LAPIC_TIMER_ICR, 0);
    lapic_write(LAPIC_SVR, apic_saved.svr | LAPIC_SVR_ENABLE);
    for (int i = 0; i < 7; i++)
        lapic_write(lvt_regs[i], apic_saved.lvt[i]);
    lapic_write(LAPIC_TPR, apic_saved.tpr);
    lapic_write(LAPIC_TIMER_DCR, apic_saved.dcr);
    lapic_write(0xD0, apic_saved.ldr);
    lapic_write(0xE0, apic_saved.dfr);
    lapic_write(LAPIC_ID, apic_saved.id);
    lapic_write(LAPIC_ESR, 0);
    ioapic_write(IOAPIC_REG_ID, apic_saved.ioapic_id);
    for (unsigned p = 0; p < 24; p++) {
        ioapic_write((uint8_t)(IOAPIC_REG_REDTBL + 2 * p), apic_saved.rte_lo[p] | (1u << 16));
        ioapic_write((uint8_t)(IOAPIC_REG_REDTBL + 2 * p + 1), apic_saved.rte_hi[p]);
        ioapic_write((uint8_t)(IOAPIC_REG_REDTBL + 2 * p), apic_saved.rte_lo[p]);
    }
}

static unsigned n_forms_run(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < N_FORMS; i++)
        n += forms[i].level <= opt.forms;
    return n;
}

static const struct form *form_nth(unsigned k)
{
    for (unsigned i = 0; i < N_FORMS; i++)
        if (forms[i].level <= opt.forms && k-- == 0)
            return &forms[i];
    return &forms[0];
}

static void mmio_step(uint32_t step)
{
    unsigned nf = n_forms_run();
    const struct form *f = form_nth(step % nf);
    enum amode m = (enum amode)((step / nf) % AM_COUNT);
    enum target_id t = (step & 3) == 3 ? (enum target_id)(T_STRUCTURED + below(T_COUNT - T_STRUCTURED))
                                       : (enum target_id)below(T_STRUCTURED);
    uint32_t addr = target_addr(t, f->special && f->digit < 0 ? 16 : f->size);
    struct cpu_regs r, before;
    regs_random(&r);
    /* The reg field names a byte register (4-6: AH CH DH) only where the operand is 8-bit;
     * for MOVZX/MOVSX it is a 16- or 32-bit register and 4 would be ESP. */
    bool byte_reg = f->size == 1 && (f->kind == F_STORE || f->kind == F_XCHG || f->dsize == 1);
    static const uint8_t byte_codes[6] = { 0, 1, 2, 4, 5, 6 };
    unsigned regc = f->moffs ? 0 : byte_reg ? byte_codes[below(6)] : below(3);
    int dreg = (int)(regc & 3);
    bool high = f->size == 1 && regc >= 4;
    uint32_t imm = rnd();
    /* Keep an IPI through a random ICR write fixed (INIT, NMI, SMI or SIPI to self is not for
     * a test to send), and the xAPIC software-enabled (our watchdog needs it later); a
     * read-modify-write computes its value, so it goes to the TPR instead. */
    bool icr_svr = t == T_LAPIC && ((addr & 0xFF0) == 0x300 || (addr & 0xFF0) == 0xF0);
    if (icr_svr && f->kind == F_RMW)
        addr = LAPIC_DEFAULT_BASE + LAPIC_TPR;
    else if (icr_svr) {
        uint32_t keep = (addr & 0xFF0) == 0x300 ? ~0x700u : ~0u;
        uint32_t set = (addr & 0xFF0) == 0xF0 ? LAPIC_SVR_ENABLE : 0;
        imm = (imm & keep) | set;
        r.r[dreg] = (r.r[dreg] & keep) | set;
    }
    uint32_t win = addr & ~0xFFFu;
    if (m == AM_16) {
        window_set(win, 0xFFFF);
        r.fs = WINDOW_SEL;
    }
    struct insn in = { .n = 0 };
    put_form(&in, f, m, regc, addr, imm, &r, win);
    describe("%s %s on %s 0x%08x (reg %u)", f->name, f->moffs ? (m == AM_16 ? "fs:moffs16" : "moffs32")
             : amode_names[m], target_names[t], addr, regc);
    uint32_t mem = target_prepare(t, addr);
    before = r;
    uint32_t stored = f->kind == F_IMM ? imm : high ? before.r[dreg] >> 8 : before.r[dreg];
    int vec = exec(&in, &r);
    outcome(vec);
    if (f->kind == F_UD) {
        if (vec != VEC_UD)
            fail("vector %d, want #UD", vec);
        return;
    }
    if (vec >= 0) {
        fail("raised %s (vector %d): device memory answers, it does not fault",
             exception_name((unsigned)vec), vec);
        return;
    }
    mmio_check(f, t, addr, mem, &before, &r, dreg, high, stored);
}

/* ---- phase 5: random code at CPL 3 ------------------------------------------------------ */

#define SANDBOX_SIZE    0x4000u
#define CODE_MAX        32
#define END_STUB        0x40            /* INT EXIT_VEC: where the code's RET returns */
#define DATA_START      0x80
#define STACK_TOP       0x3FF0
#define EXIT_VEC        0x81
#define WATCHDOG_VEC    0xF0
#define SPURIOUS_VEC    0xFF
#define WATCHDOG_COUNT  2000            /* ~2 ms at anfitrion's 1 MHz APIC clock, divide by 1 */

static struct {
    uint8_t lo[64];
    uint8_t box[SANDBOX_SIZE];
    uint8_t hi[64];
} sandbox __attribute__((aligned(4096)));
static uint8_t trap_stack[8192] __attribute__((aligned(16)));
#define TRAP_STACK_TOP ((uint32_t)trap_stack + sizeof trap_stack)

/* What chaos_user_run loads (r[] in ModRM order; r[4] unused) and what the trap recorded. */
struct user_ctx {
    uint32_t r[8];
    uint32_t esp, eflags, eip;
};
_Static_assert(__builtin_offsetof(struct user_ctx, eip) == 40, "chaos_user_run's offsets");

struct trap_frame {                     /* pushed by chaos_trap: pusha, then the stub's vector */
    uint32_t edi, esi, ebp, esp0, ebx, edx, ecx, eax, vector;
};

uint32_t chaos_kernel_esp;
uint32_t chaos_trap_c(struct trap_frame *t);
int chaos_user_run(struct user_ctx *u);
extern const uint8_t chaos_stubs[];

__asm__(
    "    .text\n"
    "    .globl chaos_user_run\n"
    "chaos_user_run:\n"
    "    push %ebp\n    push %ebx\n    push %esi\n    push %edi\n"
    "    mov %esp, chaos_kernel_esp\n"
    "    mov 20(%esp), %eax\n"
    "    pushl $0x2b\n"                 /* SS */
    "    pushl 32(%eax)\n"              /* ESP */
    "    pushl 36(%eax)\n"              /* EFLAGS */
    "    pushl $0x23\n"                 /* CS */
    "    pushl 40(%eax)\n"              /* EIP */
    "    pushl 0(%eax)\n"               /* EAX, loaded last */
    "    mov 4(%eax), %ecx\n    mov 8(%eax), %edx\n    mov 12(%eax), %ebx\n"
    "    mov 20(%eax), %ebp\n    mov 24(%eax), %esi\n    mov 28(%eax), %edi\n"
    "    mov $0x2b, %eax\n"
    "    mov %ax, %ds\n    mov %ax, %es\n    mov %ax, %fs\n    mov %ax, %gs\n"
    "    pop %eax\n"
    "    iret\n"
    "chaos_trap:\n"                     /* on the TSS stack, DS..GS still the sandbox's */
    "    push %eax\n"
    "    mov $0x10, %eax\n"
    "    mov %ax, %ds\n    mov %ax, %es\n    mov %ax, %fs\n    mov %ax, %gs\n"
    "    pop %eax\n"
    "    pusha\n"
    "    pushl $2\n    popf\n"          /* IF, DF, AC, TF clear for C */
    "    push %esp\n"
    "    call chaos_trap_c\n"
    "    mov chaos_kernel_esp, %esp\n"
    "    pop %edi\n    pop %esi\n    pop %ebx\n    pop %ebp\n"
    "    ret\n"
    "    .balign 16\n"
    "    .globl chaos_stubs\n"
    "chaos_stubs:\n"
    "    .set chaos_vec, 0\n"
    "    .rept 256\n"
    "    .balign 16\n"
    "    pushl $chaos_vec\n"
    "    jmp chaos_trap\n"
    "    .set chaos_vec, chaos_vec + 1\n"
    "    .endr\n");

static struct {
    uint32_t vector, eip, cs, eflags, esp, ss;
    bool bad;
} trap;
static uint32_t code_returned, code_watchdog, code_interrupts;

/* Called with the sandbox's registers in t. The CPU's frame sits at the top of the TSS stack:
 * EIP CS EFLAGS ESP SS, an error code below it for some vectors. Returns the vector. */
uint32_t chaos_trap_c(struct trap_frame *t)
{
    const uint32_t *top = (const uint32_t *)TRAP_STACK_TOP;
    uint32_t at = (uint32_t)t;
    trap.vector = t->vector;
    trap.eip = top[-5];
    trap.cs = top[-4];
    trap.eflags = top[-3];
    trap.esp = top[-2];
    trap.ss = top[-1];
    /* pusha (32) + vector (4) + frame (20) [+ error code (4)] below the top */
    trap.bad = at != TRAP_STACK_TOP - 56 && at != TRAP_STACK_TOP - 60;
    return t->vector;
}

static void idt_chaos_load(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint32_t at = (uint32_t)chaos_stubs + 16 * v;
        chaos_idt[v] = (struct idt_gate){ (uint16_t)at, KCODE_SEL, 0, 0xEE, (uint16_t)(at >> 16) };
    }
    struct table_ptr p = { sizeof chaos_idt - 1, (uint32_t)chaos_idt };
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

static void gdt_chaos_load(void)
{
    gdt[0] = 0;
    gdt[KCODE_SEL >> 3] = seg_desc(0, 0xFFFFF, 0x9B, true);
    gdt[KDATA_SEL >> 3] = seg_desc(0, 0xFFFFF, 0x93, true);
    window_set((uint32_t)scratch, 0x1FFFF);
    gdt[UCODE_SEL >> 3] = seg_desc((uint32_t)sandbox.box, SANDBOX_SIZE - 1, 0xFB, false);
    gdt[UDATA_SEL >> 3] = seg_desc((uint32_t)sandbox.box, SANDBOX_SIZE - 1, 0xF3, false);
    tss.t.ss0 = KDATA_SEL;
    tss.t.esp0 = TRAP_STACK_TOP;
    tss.t.iomap_base = sizeof tss.t;
    memset(tss.iomap, 0xFF, sizeof tss.iomap);
    gdt[TSS_SEL >> 3] = seg_desc((uint32_t)&tss, sizeof tss - 1, 0x89, false);
    struct table_ptr p = { sizeof gdt - 1, (uint32_t)gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp %1, $1f\n"
                     "1:\n\t"
                     "mov %2, %%ds; mov %2, %%es; mov %2, %%fs; mov %2, %%gs; mov %2, %%ss\n\t"
                     "ltr %w3"
                     : : "m"(p), "i"(KCODE_SEL), "r"(KDATA_SEL), "r"(TSS_SEL) : "memory");
}

static bool sandbox_canaries_ok(void)
{
    return canaries_ok(sandbox.lo, sandbox.hi, sizeof sandbox.lo);
}

static void code_step(uint32_t step)
{
    uint8_t *box = sandbox.box;
    unsigned len = 1 + below(CODE_MAX);
    for (unsigned i = 0; i < len; i++)
        box[i] = (uint8_t)rnd();
    box[len] = 0xC3;
    box[END_STUB] = 0xCD;
    box[END_STUB + 1] = EXIT_VEC;
    if (step % 64 == 0)
        for (unsigned i = DATA_START; i < SANDBOX_SIZE; i++)
            box[i] = (uint8_t)rnd();
    struct user_ctx u;
    for (int i = 0; i < 8; i++)
        u.r[i] = (rnd() & 1) ? rnd() : below(SANDBOX_SIZE);
    u.esp = STACK_TOP - 4;
    *(uint32_t *)(box + u.esp) = END_STUB;
    u.eflags = 0x2 | EFL_IF | (rnd() & (EFL_STATUS | EFL_DF));
    if (below(16) == 0)
        u.eflags |= EFL_TF;
    if (below(16) == 0)
        u.eflags |= EFL_AC;
    u.eip = 0;
    if (opt.trace) {
        char hex[3 * CODE_MAX + 1];
        for (unsigned i = 0; i < len; i++)
            snprintf(hex + 3 * i, 4, "%02x ", box[i]);
        describe("%u bytes: %s", len, hex);
    } else {
        snprintf(what, sizeof what, "%u random bytes (trace=1 prints them)", len);
    }
    int vec = chaos_user_run(&u);
    if (trap.bad || trap.cs != UCODE_SEL || trap.ss != UDATA_SEL) {
        fail("vector %d arrived with CS 0x%x SS 0x%x, frame %s: not from the sandbox at CPL 3",
             vec, trap.cs, trap.ss, trap.bad ? "misplaced" : "in place");
        test_end();                 /* our own state is gone: stop here */
    }
    if (vec >= 16 && lapic_vector_set(LAPIC_ISR, (uint8_t)vec)) {
        lapic_eoi();                /* an interrupt, not INT n */
        if (vec == WATCHDOG_VEC)
            code_watchdog++;
        else
            code_interrupts++;
        stats[PH_CODE].none++;
    } else if (vec == EXIT_VEC && trap.eip == END_STUB + 2) {
        code_returned++;
        stats[PH_CODE].none++;
    } else {
        outcome(vec);
    }
    if (!sandbox_canaries_ok()) {
        fail("the memory around the sandbox changed (vector %d at EIP 0x%x)", vec, trap.eip);
        memset(sandbox.lo, 0xC5, sizeof sandbox.lo);
        memset(sandbox.hi, 0xC5, sizeof sandbox.hi);
    }
}

static void code_begin(void)
{
    memset(sandbox.lo, 0xC5, sizeof sandbox.lo);
    memset(sandbox.hi, 0xC5, sizeof sandbox.hi);
    wrmsr(0x174, 0);                /* SYSENTER_CS 0: SYSENTER is #GP */
    /* ring3io=1 opens the ports phase 2 may use to CPL 3. Off by default: INS/OUTS there reach
     * memory past the sandbox's segment limit (known bug, bugs=1 io steps 0-1), so random
     * code would write the guest's own memory where hardware raises #GP. */
    for (uint32_t port = 0; port < 0x10000 && opt.ring3io; port++)
        if (!io_denied((uint16_t)port, 1, false) && !io_denied((uint16_t)port, 1, true))
            tss.iomap[port / 8] &= (uint8_t)~(1u << (port % 8));
    write_cr0(read_cr0() | CR0_AM); /* EFLAGS.AC then checks alignment at CPL 3 */
    idt_chaos_load();
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | SPURIOUS_VEC);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_TIMER_DCR, LAPIC_DCR_DIV1);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | WATCHDOG_VEC);
    lapic_write(LAPIC_TIMER_ICR, WATCHDOG_COUNT);
}

static void code_end(void)
{
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | WATCHDOG_VEC);
    lapic_write(LAPIC_TIMER_ICR, 0);
    while (lapic_read(LAPIC_ISR + (WATCHDOG_VEC / 32) * 0x10) & (1u << (WATCHDOG_VEC % 32)))
        lapic_eoi();
    write_cr0(read_cr0() & ~CR0_AM);
    idt_init();                     /* the runtime's IDT again */
}

/* ---- phase 6: single steps over exits -------------------------------------------------- */

static void step_check(const char *name, const uint8_t *bytes, unsigned len, struct cpu_regs *r)
{
    /* pushf; orl $TF,(%esp); popf; INSN; nop; nop: the trap comes after INSN, or (lost) later */
    static const uint8_t set_tf[] = { 0x9C, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9D };
    struct insn in = { .n = 0 };
    for (unsigned i = 0; i < sizeof set_tf; i++)
        put8(&in, set_tf[i]);
    for (unsigned i = 0; i < len; i++)
        put8(&in, bytes[i]);
    uint32_t after = (uint32_t)chaos_insn + in.n;
    put8(&in, 0x90);
    put8(&in, 0x90);
    describe("TF over %s", name);
    stats[PH_STEP].checks++;
    uint32_t dr6 = 0xFFFF0FF0u;
    __asm__ volatile("mov %0, %%dr6" : : "r"(dr6));
    int vec = exec(&in, r);
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    outcome(vec);
    if (vec != 1 || guest_try_eip() != after || !(dr6 & (1u << 14)))
        fail("vector %d at EIP 0x%x with DR6 0x%08x; want #DB at 0x%x with DR6.BS", vec,
             vec >= 0 ? guest_try_eip() : 0, dr6, after);
}

static void step_phase(void)
{
    struct cpu_regs r;
    static const uint8_t cpuid_b[] = { 0x0F, 0xA2 }, rdmsr_b[] = { 0x0F, 0x32 };
    static const uint8_t in_b[] = { 0xE4, 0x80 }, out_b[] = { 0xE6, 0x80 };
    static const uint8_t outs_b[] = { 0x6E }, ins_b[] = { 0x6C };
    static const uint8_t cr4_b[] = { 0x0F, 0x22, 0xE0 }, wbinvd_b[] = { 0x0F, 0x09 };
    static const uint8_t vmcall_b[] = { 0x0F, 0x01, 0xC1 };
    static const uint8_t mmio_b[] = { 0x8B, 0x05, 0x80, 0x00, 0xE0, 0xFE };  /* mov eax, [TPR] */
    static const uint8_t nothing_b[] = { 0x8B, 0x05, 0x00, 0x00, 0xD9, 0xFE };
    static const struct {
        const char *name;
        const uint8_t *b;
        unsigned len;
    } cases[] = {
        { "CPUID", cpuid_b, 2 }, { "RDMSR IA32_TSC", rdmsr_b, 2 }, { "IN from port 0x80", in_b, 2 },
        { "OUT to port 0x80", out_b, 2 }, { "OUTSB to port 0x80", outs_b, 1 },
        { "INSB from port 0x80", ins_b, 1 }, { "MOV to CR4 (unchanged)", cr4_b, 3 },
        { "WBINVD", wbinvd_b, 2 }, { "VMCALL 0 (no-op hypercall)", vmcall_b, 3 },
        { "MOV from the xAPIC TPR", mmio_b, 6 }, { "MOV from nothing", nothing_b, 6 },
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cur_step = i;
        regs_random(&r);
        r.r[R_EAX] = cases[i].b == cr4_b ? read_cr4() : 0;
        r.r[R_ECX] = 0x10;
        r.r[R_EDX] = 0x80;
        r.r[R_ESI] = r.r[R_EDI] = (uint32_t)scratch + 0x100;
        step_check(cases[i].name, cases[i].b, cases[i].len, &r);
    }
}

/* ---- known bugs (bugs=1): each FAILs while the bug is there ----------------------------- */

static void ins_probe(const char *name, uint8_t access, uint32_t limit, uint32_t edi)
{
    struct cpu_regs r;
    struct insn in = { .n = 0 };
    describe("rep insb x4 from port 0x80 into ES:0x%x, %s", edi, name);
    gdt[WINDOW_SEL >> 3] = seg_desc((uint32_t)scratch, limit, access, false);
    regs_random(&r);
    r.es = WINDOW_SEL;
    r.r[R_EDI] = edi;
    r.r[R_ECX] = 4;
    r.r[R_EDX] = 0x80;
    r.eflags &= ~EFL_DF;
    put8(&in, 0xF3);
    put8(&in, 0x6C);
    int vec = exec(&in, &r);
    bool touched = false;
    for (uint32_t o = edi; o < edi + 4; o++)
        touched |= scratch[o] != pattern(o);
    if (vec != VEC_GP || touched)
        fail("vector %d, %s: want #GP and no write", vec, touched ? "memory written" : "memory kept");
    scratch_fill(edi, edi + 4);
    window_set((uint32_t)scratch, 0x1FFFF);
}

static volatile uint32_t wakeups;

static struct int_frame *wake_irq(struct int_frame *f)
{
    wakeups++;
    lapic_eoi();
    return f;
}

/* A probe that hung the guest while its bug was there (bugs=hlt): last, after the report. */
static void hlt_tf_probe(void)
{
    /* HLT under TF with interrupts on: the CPU leaves HLT at the next interrupt and the single
     * step #DB comes; a hypervisor that queues the #DB and then sleeps the vCPU never wakes it. */
    describe("TF and IF set, HLT, an xAPIC timer interrupt 1 ms later");
    int_set_handler(0xE0, wake_irq);
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | SPURIOUS_VEC);
    lapic_write(LAPIC_TIMER_DCR, LAPIC_DCR_DIV1);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_ONESHOT | 0xE0);
    test_note("bugs=hlt: HLT under TF next; if nothing follows, the guest sleeps for good");
    static const uint8_t hlt_tf[] = { 0x9C, 0x81, 0x0C, 0x24, 0x00, 0x03, 0x00, 0x00, 0x9D, 0xF4,
                                      0x90, 0x90, 0xFA };
    struct insn in = { .n = 0 };
    struct cpu_regs r;
    for (unsigned i = 0; i < sizeof hlt_tf; i++)
        put8(&in, hlt_tf[i]);
    regs_random(&r);
    lapic_write(LAPIC_TIMER_ICR, 1000);
    int vec = exec(&in, &r);
    cli();
    lapic_write(LAPIC_TIMER_ICR, 0);
    test_check(vec == 1, "HLT under TF: #DB (vector %d, EIP 0x%x, %u timer interrupts)", vec,
               guest_try_eip(), wakeups);
}

/* INS into (OUTS from) memory of nothing: on a PC the bytes go nowhere (read all-ones), as
 * MOV there does under on_bad_access=ignore; a hypervisor that stops the guest is wrong. */
static void string_nothing_probe(bool ins)
{
    describe("rep %s x4 port 0x80, memory of nothing at 0xFED90000", ins ? "insb" : "outsb");
    struct insn in = { .n = 0 };
    struct cpu_regs r;
    put8(&in, 0xF3);
    put8(&in, ins ? 0x6C : 0x6E);
    regs_random(&r);
    r.r[ins ? R_EDI : R_ESI] = 0xFED90000u;
    r.r[R_ECX] = 4;
    r.r[R_EDX] = 0x80;
    r.eflags &= ~EFL_DF;
    int vec = exec(&in, &r);
    if (vec >= 0 || r.r[ins ? R_EDI : R_ESI] != 0xFED90004u)
        fail("%s and memory of nothing: want no fault and the index moved by 4, got index 0x%08x "
             "(vector %d)", ins ? "INS" : "OUTS", r.r[ins ? R_EDI : R_ESI], vec);
}

static void known_bugs_fatal(void)
{
    cur_phase = PH_STEP;
    cur_step = 100;
    if (strcmp(opt.bugs, "hlt") == 0)
        hlt_tf_probe();
}

/* A load that starts in the last bytes of RAM and ends in nothing: the RAM bytes are RAM's,
 * the rest all-ones; a store writes the RAM bytes (the EPT violation names the first byte past
 * RAM, not the operand's start). */
static void ram_end_probe(void)
{
    volatile uint8_t *end = (volatile uint8_t *)ram_end;
    end[-2] = 0x34;
    end[-1] = 0x12;
    cur_step = 0;
    describe("mov eax, [RAM end - 2] (split RAM/nothing)");
    uint32_t v = mmio_read32(ram_end - 2);
    if (v != 0xFFFF1234u)
        fail("read 0x%08x, want 0xFFFF1234 (2 bytes of RAM, 2 of nothing)", v);
    cur_step = 1;
    describe("mov [RAM end - 2], eax (split RAM/nothing)");
    mmio_write32(ram_end - 2, 0xABCD5678u);
    if (end[-2] != 0x78 || end[-1] != 0x56)
        fail("RAM bytes are 0x%02x 0x%02x, want 0x78 0x56", end[-2], end[-1]);
}

static void known_bugs(void)
{
    test_note("bugs=1: no known-bug probe is open (the fixed ones run in fixed_bugs)");
}

/* Bugs the probes above found and that are fixed: these run in every run. */
static void fixed_bugs(void)
{
    /* IA32_DEBUGCTL is architectural since the P6 (SDM Vol. 4 Table 2-2), no CPUID bit: a
     * kernel reads it without a fixup (Linux for block stepping). */
    cur_phase = PH_MSR;
    cur_step = 0;
    describe("rdmsr IA32_DEBUGCTL (0x1D9)");
    struct cpu_regs r;
    uint64_t dbg = 0;
    int vec = msr_access(0x1D9, false, &dbg, &r);
    if (vec >= 0)
        fail("vector %d: an architectural MSR must read (0 is a fine value)", vec);
    /* String I/O checks its memory operand's segment as any access does (SDM Vol. 2B INS:
     * #GP(0) past the ES limit or for a segment that is not writable). */
    cur_phase = PH_IO;
    cur_step = 0;
    ins_probe("ES limit 0xFFF (past it)", 0x93, 0xFFF, 0x2000);
    cur_step = 1;
    ins_probe("ES read-only", 0x91, 0x1FFFF, 0x2000);
    /* INS/OUTS with memory of nothing: all-ones read, writes dropped, as MOV there. */
    cur_step = 2;
    string_nothing_probe(true);
    cur_step = 3;
    string_nothing_probe(false);
    cur_phase = PH_MMIO;
    ram_end_probe();
}

/* ---- main ------------------------------------------------------------------------------ */

static bool phase_on(unsigned ph)
{
    for (const char *p = opt.phases; *p; p++)
        if (*p == (char)('1' + ph))
            return true;
    return false;
}

static void run_steps(unsigned ph, uint32_t n, void (*step)(uint32_t))
{
    cur_phase = ph;
    for (uint32_t i = opt.from; i < n; i++) {
        cur_step = i;
        step_seed(ph, i);
        stats[ph].steps++;
        step(i);
    }
}

static void report(unsigned ph)
{
    const struct phase_stats *s = &stats[ph];
    test_note("phase %u %s: %u steps, %u checks, %u skipped; no fault %u", ph + 1, phase_names[ph],
              s->steps, s->checks, s->skipped, s->none);
    if (ph == PH_CODE)
        test_note("phase %u %s: returned %u, watchdog %u, interrupts %u", ph + 1, phase_names[ph],
                  code_returned, code_watchdog, code_interrupts);
    char line[160];
    int n = 0;
    uint32_t high = 0, kinds = 0;
    for (unsigned v = 0; v < 256; v++) {
        high += v >= 32 ? s->vec[v] : 0;
        kinds += v >= 32 && s->vec[v];
        if (v < 32 && s->vec[v])
            n += snprintf(line + n, sizeof line - (size_t)n, " %s %u", exception_name(v), s->vec[v]);
        if (n > 100) {              /* the console's lines are 160 characters */
            test_note("phase %u %s:%s", ph + 1, phase_names[ph], line);
            n = 0;
        }
    }
    if (high)
        snprintf(line + n, sizeof line - (size_t)n, "; INT n to %u vectors of 32-255: %u", kinds, high);
    if (n || high)
        test_note("phase %u %s:%s", ph + 1, phase_names[ph], line);
    test_check(s->fails == 0, "phase %u %s: every answer was the hardware's (%u failures)",
               ph + 1, phase_names[ph], s->fails);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    const char *cmdline = mb_cmdline(mbi);
    opt.seed = cmdline_u32(cmdline, "seed", DEFAULT_SEED);
    opt.steps = cmdline_u32(cmdline, "steps", DEFAULT_STEPS);
    opt.from = cmdline_u32(cmdline, "from", 0);
    opt.trace = cmdline_u32(cmdline, "trace", 0) != 0;
    cmdline_str(cmdline, "bugs", opt.bugs, sizeof opt.bugs);
    opt.ring3io = cmdline_u32(cmdline, "ring3io", 0) != 0;
    char forms_opt[8] = "";
    cmdline_str(cmdline, "forms", forms_opt, sizeof forms_opt);
    opt.forms = strcmp(forms_opt, "all") == 0 ? FORMS_ALL : FORMS_BASE;
    if (!cmdline_str(cmdline, "phases", opt.phases, sizeof opt.phases))
        memcpy(opt.phases, "123456", 7);
    ram_end = (uint32_t)mb_ram_end(mbi);
    test_title("chaos: MSRs, ports, control registers, device memory and random code at the hypervisor");
    test_note("seed=%u steps=%u phases=%s forms=%s%s%s", opt.seed, opt.steps, opt.phases,
              opt.forms == FORMS_ALL ? "all" : "base", opt.bugs[0] ? " bugs=" : "", opt.bugs);

    memset(scratch_area, 0xC5, sizeof scratch_area);
    scratch_fill(0, SCRATCH_SIZE);
    pic_init();                     /* a known 8259 state, all lines masked */
    pic_set_mask(0xFFFF);
    gdt_chaos_load();
    apic_save();

    if (phase_on(PH_MSR)) {
        cur_phase = PH_MSR;
        msr_announced();
        run_steps(PH_MSR, opt.steps, msr_step);
        msr_x2apic(opt.steps / 4);
        apic_restore();             /* disabling the APIC reset its registers */
    }
    if (phase_on(PH_IO)) {
        run_steps(PH_IO, opt.steps, io_step);
        io_restore();
    }
    if (phase_on(PH_CR)) {
        cur_phase = PH_CR;
        cr_sweep();
        run_steps(PH_CR, opt.steps / 4, cr_step);
    }
    if (phase_on(PH_MMIO)) {
        run_steps(PH_MMIO, opt.steps, mmio_step);
        apic_restore();
    }
    if (phase_on(PH_CODE)) {
        code_begin();
        run_steps(PH_CODE, opt.steps, code_step);
        code_end();
        apic_restore();
    }
    if (phase_on(PH_STEP)) {
        cur_phase = PH_STEP;
        step_phase();
    }
    if (phase_on(PH_MSR) && phase_on(PH_IO))
        fixed_bugs();
    if (opt.bugs[0])
        known_bugs();
    for (unsigned ph = 0; ph < PH_COUNT; ph++)
        if (phase_on(ph))
            report(ph);
    if (opt.bugs[0])
        known_bugs_fatal();
    test_end();
}

/* Guest test xsave: XSETBV and XCR0 as the CPU defines them (SDM Vol. 2C XSETBV, Vol. 1 13.3),
 * and extended state that survives the host's switches between guests.
 *
 * Issue 10, item 0: two guest actions used to panic the host. XCR0 = 0x23 (the AVX-512 opmask
 * bit alone) was accepted and then refused by the host's own XSETBV; and XCR0 7 -> 3 with the
 * upper YMM halves in use made the host's XRSTOR fault at the next switch between guests.
 * Both are checked here: the first by the table, the second by spinning across several
 * scheduler slices with YMM state dirty (tests/iso/xsave_pair.cfg runs two of these side by
 * side, so that the host really switches between them). */
#include "guest.h"

#define CR0_MP          (1u << 1)
#define CR0_EM          (1u << 2)
#define CR0_TS          (1u << 3)
#define CR4_OSFXSR      (1u << 9)
#define CR4_OSXSAVE     (1u << 18)
#define CPUID1_ECX_XSAVE    (1u << 26)
#define CPUID1_ECX_OSXSAVE  (1u << 27)
#define CPUID1_ECX_AVX      (1u << 28)
#define VEC_UD 6

struct xsetbv_op {
    uint32_t xcr;
    uint64_t value;
};

static void do_xsetbv(void *arg)
{
    struct xsetbv_op *op = arg;
    __asm__ volatile("xsetbv" : : "c"(op->xcr), "a"((uint32_t)op->value),
                     "d"((uint32_t)(op->value >> 32)) : "memory");
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int try_xsetbv(uint32_t xcr, uint64_t value)
{
    struct xsetbv_op op = { xcr, value };
    return guest_try(do_xsetbv, &op);
}

/* Values XSETBV must refuse with #GP(0) on any CPU: each breaks one rule of the SDM's list. */
static const struct {
    uint64_t value;
    const char *rule;
} refused[] = {
    { 0x0, "x87 (bit 0) clear" },
    { 0x2, "SSE without x87" },
    { 0x5, "AVX (bit 2) without SSE (bit 1)" },
    { 0x23, "AVX-512 opmask (bit 5) without ZMM_Hi256 and Hi16_ZMM" },
    { 0x43, "ZMM_Hi256 (bit 6) alone" },
    { 0x83, "Hi16_ZMM (bit 7) alone" },
    { 0x67, "two of AVX-512's three bits" },
    { 0xE3, "AVX-512 without AVX" },
    { 0xB, "MPX BNDREGS (bit 3) without BNDCSR (bit 4)" },
    { 0x13, "MPX BNDCSR without BNDREGS" },
    { 0x103, "bit 8 (PT: a supervisor state, never in XCR0)" },
    { 0x8000000000000003ull, "bit 63 (reserved)" },
    { 0x20003, "AMX XTILECFG (bit 17) without XTILEDATA" },
};

static void check_refused(uint64_t before)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int vec = try_xsetbv(0, refused[i].value);
        uint64_t after = xgetbv0();
        test_check(vec == VEC_GP && guest_try_error() == 0 && after == before,
                   "XSETBV 0x%llx (%s): #GP(0), XCR0 stays 0x%llx (got vector %d, XCR0 0x%llx)",
                   refused[i].value, refused[i].rule, before, vec, after);
    }
    int vec = try_xsetbv(1, 1);
    test_check(vec == VEC_GP, "XSETBV of XCR1: #GP (got vector %d)", vec);
}

/* Values that must load when the CPU supports every bit: XGETBV reads them back. */
static void check_accepted(uint64_t supported)
{
    const uint64_t candidates[] = { 0x1, 0x3, 0x7, 0x1F, 0xE7, supported };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        uint64_t v = candidates[i];
        if (v & ~supported)
            continue;
        int vec = try_xsetbv(0, v);
        uint64_t got = xgetbv0();
        test_check(vec < 0 && got == v, "XSETBV 0x%llx (supported 0x%llx): loaded, XGETBV 0x%llx%s",
                   v, supported, got, vec < 0 ? "" : " (faulted)");
    }
}

/* Waits about n scheduler slices (10 ms each by default) of TSC time. */
static void spin_slices(unsigned n)
{
    uint32_t mhz, b, c, d;
    cpuid(0x16, 0, &mhz, &b, &c, &d);
    if (!mhz)
        mhz = 1000;
    uint64_t end = rdtsc() + (uint64_t)mhz * 10000 * n;
    while (rdtsc() < end)
        cpu_relax();
}

/* XCR0 7 -> 3 with the upper YMM halves in use, then time for the host to switch guests:
 * the SSE state (XMM1) must come back as it was. */
static void check_state_kept_across_switches(void)
{
    static const uint32_t pattern[4] = { 0x01234567, 0x89abcdef, 0xdeadbeef, 0x5a5aa5a5 };
    uint32_t back[4] = { 0 };
    if (try_xsetbv(0, 7) >= 0) {
        test_fail("XSETBV 7 faulted");
        return;
    }
    __asm__ volatile("vpcmpeqb %%ymm0, %%ymm0, %%ymm0\n\t"   /* all ones, upper half too */
                     "movdqu %0, %%xmm1" : : "m"(pattern) : "memory");
    int vec = try_xsetbv(0, 3);
    test_check(vec < 0, "XSETBV 3 with the upper YMM halves in use: loaded (vector %d)", vec);
    spin_slices(5);
    __asm__ volatile("movdqu %%xmm1, %0" : "=m"(back) : : "memory");
    test_check(memcmp(back, pattern, sizeof back) == 0,
               "XMM1 kept across 5 slices: %08x %08x %08x %08x", back[0], back[1], back[2], back[3]);
    vec = try_xsetbv(0, 7);
    test_check(vec < 0 && xgetbv0() == 7, "XSETBV 7 again: loaded");
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    uint32_t a, b, c, d;
    test_title("xsave: XSETBV's rules (SDM Vol. 2C XSETBV) and XSAVE state across guest switches");

    cpuid(1, 0, &a, &b, &c, &d);
    if (!test_check(c & CPUID1_ECX_XSAVE, "CPUID.1:ECX.XSAVE set (ecx=0x%08x)", c))
        test_end();
    test_check(!(c & CPUID1_ECX_OSXSAVE), "CPUID.1:ECX.OSXSAVE clear before CR4.OSXSAVE");
    int vec = try_xsetbv(0, 1);
    test_check(vec == VEC_UD, "XSETBV with CR4.OSXSAVE=0: #UD (got vector %d)", vec);

    write_cr0((read_cr0() | CR0_MP) & ~(CR0_EM | CR0_TS));
    write_cr4(read_cr4() | CR4_OSXSAVE | CR4_OSFXSR);
    cpuid(1, 0, &a, &b, &c, &d);
    test_check(c & CPUID1_ECX_OSXSAVE, "CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE (ecx=0x%08x)", c);
    bool avx = c & CPUID1_ECX_AVX;
    test_check(xgetbv0() == 1, "XCR0 is 1 after reset (0x%llx)", xgetbv0());

    cpuid(0xD, 0, &a, &b, &c, &d);
    uint64_t supported = ((uint64_t)d << 32) | a;
    test_check((supported & 3) == 3 && c <= 4096 && b <= c,
               "CPUID.0DH.0: XCR0 bits 0x%llx, area %u of at most %u bytes", supported, b, c);

    check_refused(1);
    check_accepted(supported);
    if (avx && (supported & 7) == 7)
        check_state_kept_across_switches();
    else
        test_note("no AVX: the YMM part is skipped");
    test_end();
}

/* Guest test msr: known MSRs read without fault, unknown ones raise #GP, VMX stays locked out. */
#include "guest.h"

#define MSR_IA32_TSC_ADJUST 0x0000003b
#define MSR_IA32_MCG_CAP    0x00000179
#define MSR_IA32_MCG_STATUS 0x0000017a
#define MSR_IA32_MISC_ENABLE 0x000001a0
#define MSR_TSC_AUX         0xc0000103
#define MSR_UNKNOWN_LOW     0x00001234
#define MSR_UNKNOWN_HIGH    0xc0001234
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1ull << 2)
#define EFER_LMA            (1ull << 10)

static void check_readable(uint32_t msr, const char *name, uint64_t *value)
{
    int vec = rdmsr_safe(msr, value);
    if (vec < 0)
        test_pass("rdmsr %s (0x%x) = 0x%llx", name, msr, *value);
    else
        test_fail("rdmsr %s (0x%x) raised %s (vector %d)", name, msr, exception_name(vec), vec);
}

static void check_unknown(uint32_t msr)
{
    uint64_t value;
    int vec = rdmsr_safe(msr, &value);
    test_check(vec == VEC_GP, "rdmsr 0x%x (unknown) raises #GP (got %s%d)",
               msr, vec < 0 ? "no fault, vector " : "vector ", vec);

    vec = wrmsr_safe(msr, 0x1122334455667788ull);
    test_check(vec == VEC_GP, "wrmsr 0x%x (unknown) raises #GP (got %s%d)",
               msr, vec < 0 ? "no fault, vector " : "vector ", vec);
}

/* One write: whether it faults as the SDM says, and what a read gives back after it. */
static void check_write(uint32_t msr, const char *name, uint64_t value, bool gp, uint64_t mask,
                        uint64_t want)
{
    int vec = wrmsr_safe(msr, value);
    if (gp) {
        test_check(vec == VEC_GP, "wrmsr %s 0x%llx: #GP (got vector %d)", name, value, vec);
        return;
    }
    uint64_t got = 0;
    int rvec = rdmsr_safe(msr, &got);
    test_check(vec < 0 && rvec < 0 && (got & mask) == want, "wrmsr %s 0x%llx, then rdmsr: "
               "0x%llx (mask 0x%llx, want 0x%llx; vectors %d %d)", name, value, got, mask, want,
               vec, rvec);
}

static void check_emulated(void)
{
    uint64_t v = 0;
    check_readable(MSR_IA32_MISC_ENABLE, "IA32_MISC_ENABLE", &v);
    test_check(v == 0x1801, "IA32_MISC_ENABLE: fast strings, BTS and PEBS unavailable (0x%llx)", v);
    check_write(MSR_IA32_MISC_ENABLE, "IA32_MISC_ENABLE", 0x1800, false, ~0ull, 0x1800);
    check_write(MSR_IA32_MISC_ENABLE, "IA32_MISC_ENABLE", 0x1801, false, ~0ull, 0x1801);
    check_write(MSR_IA32_MISC_ENABLE, "IA32_MISC_ENABLE", 0x1801 | (1ull << 34), true, 0, 0);

    check_readable(MSR_IA32_MCG_CAP, "IA32_MCG_CAP", &v);
    test_check((v & 0xff) == 0, "IA32_MCG_CAP: no banks (0x%llx)", v);
    check_write(MSR_IA32_MCG_CAP, "IA32_MCG_CAP", 0, true, 0, 0);
    check_write(MSR_IA32_MCG_STATUS, "IA32_MCG_STATUS", 0, false, ~0ull, 0);
    check_write(MSR_IA32_MCG_STATUS, "IA32_MCG_STATUS", 1, true, 0, 0);

    uint32_t a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (d & (1u << 27)) {
        check_write(MSR_TSC_AUX, "IA32_TSC_AUX", 0x1234, false, ~0ull, 0x1234);
        uint32_t lo, hi, aux;
        __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
        test_check(aux == 0x1234, "RDTSCP returns IA32_TSC_AUX in ECX (0x%x)", aux);
    } else {
        test_note("no RDTSCP: TSC_AUX not checked");
    }

    /* A write to the TSC moves RDTSC and IA32_TSC_ADJUST by the same amount. */
    const uint64_t target = 1ull << 44;
    check_readable(MSR_IA32_TSC_ADJUST, "IA32_TSC_ADJUST", &v);
    test_check(v == 0, "IA32_TSC_ADJUST is 0 at reset (0x%llx)", v);
    uint64_t before = rdtsc();
    int vec = wrmsr_safe(MSR_IA32_TSC, target);
    uint64_t now = rdtsc();
    test_check(vec < 0 && now >= target && now - target < 1000000000ull,
               "wrmsr IA32_TSC 0x%llx: RDTSC continues from it (0x%llx)", target, now);
    rdmsr_safe(MSR_IA32_TSC_ADJUST, &v);
    /* delta = target - (the TSC at the write), and that TSC was a little after `before` */
    test_check(v <= target - before && v > target - before - 1000000000ull,
               "IA32_TSC_ADJUST moved with it (0x%llx, the TSC was 0x%llx)", v, before);
    vec = wrmsr_safe(MSR_IA32_TSC_ADJUST, 0);
    now = rdtsc();
    test_check(vec < 0 && now < target, "wrmsr IA32_TSC_ADJUST 0: RDTSC back near 0x%llx (0x%llx)",
               before, now);
    cpuid(7, 0, &a, &b, &c, &d);
    test_check(b & (1u << 1), "CPUID.7:EBX.TSC_ADJUST set (ebx=0x%08x)", b);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    uint64_t tsc1, tsc2, efer, fc;
    test_title("msr: known MSRs readable, unknown MSRs #GP, VMX locked out");

    check_readable(MSR_IA32_TSC, "IA32_TSC", &tsc1);
    check_readable(MSR_IA32_TSC, "IA32_TSC", &tsc2);
    test_check(tsc2 > tsc1, "IA32_TSC advances (0x%llx -> 0x%llx)", tsc1, tsc2);

    check_readable(MSR_IA32_EFER, "IA32_EFER", &efer);
    test_check(!(efer & EFER_LMA), "IA32_EFER.LMA clear in a 32-bit guest (0x%llx)", efer);

    check_emulated();
    check_unknown(MSR_UNKNOWN_LOW);
    check_unknown(MSR_UNKNOWN_HIGH);

    int vec = rdmsr_safe(MSR_IA32_FEATURE_CONTROL, &fc);
    if (vec >= 0)
        test_fail("rdmsr IA32_FEATURE_CONTROL (0x3a) raised %s (vector %d)", exception_name(vec), vec);
    else
        test_check(!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX),
                   "IA32_FEATURE_CONTROL = 0x%llx: VMXON outside SMX (bit 2) clear", fc);
    test_end();
}

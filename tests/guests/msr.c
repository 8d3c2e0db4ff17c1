/* Guest test msr: known MSRs read without fault, unknown ones raise #GP, VMX stays locked out. */
#include "guest.h"

#define MSR_UNKNOWN_LOW     0x00001234
#define MSR_UNKNOWN_HIGH    0xc0001234
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1ull << 2)
#define EFER_LMA            (1ull << 10)

struct msr_op {
    uint32_t msr;
    uint64_t value;
};

static void do_rdmsr(void *arg)
{
    struct msr_op *op = arg;
    op->value = rdmsr(op->msr);
}

static void do_wrmsr(void *arg)
{
    struct msr_op *op = arg;
    wrmsr(op->msr, op->value);
}

/* Read msr; returns the vector it raised, or -1 with the value in *value. */
static int try_rdmsr(uint32_t msr, uint64_t *value)
{
    struct msr_op op = { msr, 0 };
    int vec = guest_try(do_rdmsr, &op);
    *value = op.value;
    return vec;
}

static void check_readable(uint32_t msr, const char *name, uint64_t *value)
{
    int vec = try_rdmsr(msr, value);
    if (vec < 0)
        test_pass("rdmsr %s (0x%x) = 0x%llx", name, msr, *value);
    else
        test_fail("rdmsr %s (0x%x) raised %s (vector %d)", name, msr, exception_name(vec), vec);
}

static void check_unknown(uint32_t msr)
{
    uint64_t value;
    int vec = try_rdmsr(msr, &value);
    test_check(vec == VEC_GP, "rdmsr 0x%x (unknown) raises #GP (got %s%d)",
               msr, vec < 0 ? "no fault, vector " : "vector ", vec);

    struct msr_op op = { msr, 0x1122334455667788ull };
    vec = guest_try(do_wrmsr, &op);
    test_check(vec == VEC_GP, "wrmsr 0x%x (unknown) raises #GP (got %s%d)",
               msr, vec < 0 ? "no fault, vector " : "vector ", vec);
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

    check_unknown(MSR_UNKNOWN_LOW);
    check_unknown(MSR_UNKNOWN_HIGH);

    int vec = try_rdmsr(MSR_IA32_FEATURE_CONTROL, &fc);
    if (vec >= 0)
        test_fail("rdmsr IA32_FEATURE_CONTROL (0x3a) raised %s (vector %d)", exception_name(vec), vec);
    else
        test_check(!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX),
                   "IA32_FEATURE_CONTROL = 0x%llx: VMXON outside SMX (bit 2) clear", fc);
    test_end();
}

/* Host unit tests for XSETBV's value check (vmx/xsave.c, xcr0_valid): the rules of XSETBV in
 * SDM Vol. 2C and Vol. 1 13.3. A value accepted here is loaded into the host's real XCR0, so
 * every value the CPU would refuse must be refused (a miss is a host #GP, not a guest one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vmx/xsave.c"

#define SKYLAKE_X 0x2FFull      /* x87 SSE AVX MPX AVX-512 PKRU */
#define AVX_ONLY  0x7ull

struct xcr0_case {
    uint64_t allowed, value;
    bool valid;
    const char *why;
};

static const struct xcr0_case cases[] = {
    { SKYLAKE_X, 0x1, true, "x87 alone" },
    { SKYLAKE_X, 0x3, true, "x87 SSE" },
    { SKYLAKE_X, 0x7, true, "x87 SSE AVX" },
    { SKYLAKE_X, 0xE7, true, "AVX-512 with AVX" },
    { SKYLAKE_X, 0x1F, true, "MPX pair" },
    { SKYLAKE_X, 0x2FF, true, "everything allowed" },
    { SKYLAKE_X, 0x203, true, "PKRU alone" },
    { SKYLAKE_X, 0x0, false, "x87 clear" },
    { SKYLAKE_X, 0x2, false, "SSE without x87" },
    { SKYLAKE_X, 0x5, false, "AVX without SSE" },
    { SKYLAKE_X, 0x23, false, "opmask without the ZMM bits (the host panic of issue 10)" },
    { SKYLAKE_X, 0x43, false, "ZMM_Hi256 alone" },
    { SKYLAKE_X, 0x83, false, "Hi16_ZMM alone" },
    { SKYLAKE_X, 0x67, false, "two of AVX-512's three" },
    { SKYLAKE_X, 0xE3, false, "AVX-512 without AVX" },
    { SKYLAKE_X, 0xE1, false, "AVX-512 without SSE and AVX" },
    { SKYLAKE_X, 0xB, false, "BNDREGS without BNDCSR" },
    { SKYLAKE_X, 0x13, false, "BNDCSR without BNDREGS" },
    { SKYLAKE_X, 0x103, false, "bit 8 (PT, a supervisor state)" },
    { SKYLAKE_X, 0x8000000000000003ull, false, "bit 63" },
    { SKYLAKE_X, 0x60003, false, "AMX, not allowed" },
    { AVX_ONLY, 0xE7, false, "AVX-512 where the host offers none" },
    { AVX_ONLY, 0xB, false, "MPX where the host offers none" },
    { AVX_ONLY | XFEATURE_AMX, 0x60003, true, "AMX pair" },
    { AVX_ONLY | XFEATURE_AMX, 0x20003, false, "XTILECFG alone" },
    { AVX_ONLY | XFEATURE_AMX, 0x40003, false, "XTILEDATA alone" },
    { 0, 0x1, false, "nothing allowed (no XSAVE)" },
};

static void test_xcr0_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct xcr0_case *c = &cases[i];
        if (xcr0_valid(c->value, c->allowed) != c->valid)
            fail_msg("XCR0 0x%llx with allowed 0x%llx: %s should be %s", (unsigned long long)c->value,
                     (unsigned long long)c->allowed, c->why, c->valid ? "accepted" : "refused");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xcr0_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

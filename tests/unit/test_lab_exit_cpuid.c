/* Host unit tests of lab 1 (docs/labs/lab1-exit-cpuid.md): anfitrion's CPUID leaves, asked
 * the way a guest asks them, through a CPUID exit (SDM Vol. 3C, exit reason 10) into
 * vmx/exit_cpuid.c, over the fake VMCS of fake_vmcs.h. What the leaves answer is
 * docs/hypercalls.md, "Discovery"; CPUID itself is SDM Vol. 2A. tests/grade.py gives each case
 * its points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

struct answer { uint32_t eax, ebx, ecx, edx; };

/* One CPUID exit with RAX = rax and RCX = rcx; the handler must continue the guest past the
 * 2-byte instruction (fake_setup's exit instruction length). */
static struct answer guest_cpuid(uint64_t rax, uint64_t rcx)
{
    v.regs.rax = rax, v.regs.rcx = rcx;
    v.regs.rbx = v.regs.rdx = 0xDEADBEEFDEADBEEFull;    /* CPUID writes all four */
    v.exit_reason = EXIT_REASON_CPUID;
    fake_vmcs_set(GUEST_RIP, START_RIP);
    fake_vmcs.f[fake_vmcs_slot(GUEST_RIP.enc)].writes = 0;
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    assert_rip_advanced(2);
    /* In 64-bit mode CPUID clears bits 63:32 of the four registers (SDM Vol. 2A CPUID). */
    assert_int_equal(v.regs.rax >> 32, 0);
    assert_int_equal(v.regs.rbx >> 32, 0);
    assert_int_equal(v.regs.rcx >> 32, 0);
    assert_int_equal(v.regs.rdx >> 32, 0);
    return (struct answer){ (uint32_t)v.regs.rax, (uint32_t)v.regs.rbx,
                            (uint32_t)v.regs.rcx, (uint32_t)v.regs.rdx };
}

/* 0x40000000: the highest anfitrion leaf and "anfitrion" in EBX, ECX, EDX, whatever ECX and
 * the upper half of RAX hold (CPUID reads EAX and ECX only). */
static void test_signature_leaf(void **state)
{
    (void)state;
    static const uint64_t rax[] = { 0x40000000ull, 0xFFFFFFFF40000000ull };
    static const uint64_t rcx[] = { 0, 1, 0xFFFFFFFFull };
    for (size_t i = 0; i < sizeof rax / sizeof rax[0]; i++) {
        for (size_t j = 0; j < sizeof rcx / sizeof rcx[0]; j++) {
            struct answer a = guest_cpuid(rax[i], rcx[j]);
            char sig[13] = { 0 };
            memcpy(sig, &a.ebx, 4), memcpy(sig + 4, &a.ecx, 4), memcpy(sig + 8, &a.edx, 4);
            assert_int_equal(a.eax, 0x40000001);
            assert_memory_equal(sig, "anfitrion\0\0\0", 12);
        }
    }
}

/* 0x40000001: the version and features the VM layer chose (vcpu->pv_cpuid), not constants. */
static void test_version_leaf(void **state)
{
    (void)state;
    static const struct { uint32_t version, features; } cases[] = {
        { 1, 0x3F },                /* what kernel/vm/hypercall.c sets today */
        { 1, 0x05 },
        { 7, 0 },
        { 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v.pv_cpuid.version = cases[i].version;
        v.pv_cpuid.features = cases[i].features;
        struct answer a = guest_cpuid(0x40000001, 3);
        assert_int_equal(a.eax, cases[i].version);
        assert_int_equal(a.ebx, cases[i].features);
        assert_int_equal(a.ecx, 0);
        assert_int_equal(a.edx, 0);
    }
}

/* The rest of 0x40000000-0x4000FFFF reads zeros, and KVM's leaves (pv=on) stay as they were:
 * the new code must not swallow its neighbours. */
static void test_neighbour_leaves(void **state)
{
    (void)state;
    static const uint32_t empty[] = { 0x40000002, 0x400000FF, 0x40000102, 0x4000FF00, 0x4000FFFF };
    v.pv_cpuid.version = 1, v.pv_cpuid.features = 0x3F;
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        struct answer a = guest_cpuid(empty[i], 0);
        assert_int_equal(a.eax | a.ebx | a.ecx | a.edx, 0);
    }
    struct answer a = guest_cpuid(0x40000100, 0);             /* pv=off: nothing */
    assert_int_equal(a.eax | a.ebx | a.ecx | a.edx, 0);
    v.pv_cpuid.kvm = true, v.pv_cpuid.kvm_features = 0x01002068;
    a = guest_cpuid(0x40000100, 0);
    assert_int_equal(a.eax, 0x40000101);
    assert_memory_equal(&a.ebx, "KVMK", 4);
    a = guest_cpuid(0x40000101, 0);
    assert_int_equal(a.eax, 0x01002068);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_signature_leaf),
        FAKE_TEST(test_version_leaf),
        FAKE_TEST(test_neighbour_leaves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

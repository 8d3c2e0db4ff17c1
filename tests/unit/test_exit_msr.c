/* Host unit tests for RDMSR/WRMSR exits (vmx/exit_msr.c): the CPU's own MSRs emulated in
 * place, every other MSR handed to the VM layer and finished by msr_complete. Table-driven as
 * kvm-unit-tests' x86/msr.c. Rules: RDMSR/WRMSR in SDM Vol. 2, the MSRs in SDM Vol. 4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

#define PAT_DEFAULT 0x0007040600070406ull   /* the power-up value (SDM 13.12.4) */
#define R false
#define W true

/* One access: ECX, and EDX:EAX for a write; the guest's CR0 and EFER before it; then either
 * #GP, or what RDMSR returns and what PAT and EFER hold after a write. */
struct msr_case {
    const char *why;
    bool write;
    uint32_t msr;
    uint64_t value, cr0, efer;
    bool gp;
    uint64_t read, pat_after, efer_after;
};

#define PG (CR0_PE | CR0_PG)
/* In the table loop: fails with the case's name. */
#define EXPECT_EQ(got, want) do {                                                          \
        uint64_t got_ = (got), want_ = (want);                                             \
        if (got_ != want_)                                                                 \
            fail_msg("%s: %s = 0x%llx, want 0x%llx", c->why, #got, (unsigned long long)got_, \
                     (unsigned long long)want_);                                           \
    } while (0)
static const struct msr_case cases[] = {
    { "PAT: every valid type", W, MSR_IA32_PAT, 0x0700040501000607ull, CR0_PE, 0, false, 0, 0x0700040501000607ull, 0 },
    { "PAT: type 2 in entry 3", W, MSR_IA32_PAT, 0x0007040602070406ull, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "PAT: type 3 in entry 0", W, MSR_IA32_PAT, 0x0007040600070403ull, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "PAT: 8 in entry 7", W, MSR_IA32_PAT, 0x0807040600070406ull, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "PAT: 0x10 in entry 4", W, MSR_IA32_PAT, 0x0007041000070406ull, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "PAT: read", R, MSR_IA32_PAT, 0, CR0_PE, 0, false, PAT_DEFAULT, PAT_DEFAULT, 0 },
    { "EFER: SCE and NXE", W, MSR_IA32_EFER, EFER_SCE | EFER_NXE, CR0_PE, 0, false, 0, PAT_DEFAULT, EFER_SCE | EFER_NXE },
    { "EFER: reserved bit 1", W, MSR_IA32_EFER, 1u << 1, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "EFER: reserved bit 63", W, MSR_IA32_EFER, 1ull << 63, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "EFER: LME set with paging off", W, MSR_IA32_EFER, EFER_LME, CR0_PE, 0, false, 0, PAT_DEFAULT, EFER_LME },
    { "EFER: LMA is the CPU's, not the write's", W, MSR_IA32_EFER, EFER_LME | EFER_LMA, CR0_PE, 0, false, 0, PAT_DEFAULT, EFER_LME },
    { "EFER: LME set while CR0.PG", W, MSR_IA32_EFER, EFER_LME, PG, 0, true, 0, PAT_DEFAULT, 0 },
    { "EFER: LME cleared while CR0.PG", W, MSR_IA32_EFER, 0, PG, EFER_LME | EFER_LMA, true, 0, PAT_DEFAULT, EFER_LME | EFER_LMA },
    { "EFER: NXE in long mode keeps LMA", W, MSR_IA32_EFER, EFER_LME | EFER_NXE, PG, EFER_LME | EFER_LMA, false, 0, PAT_DEFAULT, EFER_LME | EFER_LMA | EFER_NXE },
    { "EFER: read", R, MSR_IA32_EFER, 0, PG, EFER_LME | EFER_LMA, false, EFER_LME | EFER_LMA, PAT_DEFAULT, EFER_LME | EFER_LMA },
    { "FEATURE_CONTROL: locked, VMX off", R, MSR_IA32_FEATURE_CONTROL, 0, CR0_PE, 0, false, 1, PAT_DEFAULT, 0 },
    { "FEATURE_CONTROL: write to a locked MSR", W, MSR_IA32_FEATURE_CONTROL, 5, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "MISC_ENABLE: fast strings, BTS and PEBS unavailable", R, 0x1A0, 0, CR0_PE, 0, false, 0x1801, PAT_DEFAULT, 0 },
    { "MISC_ENABLE: fast strings off", W, 0x1A0, 0x1800, CR0_PE, 0, false, 0, PAT_DEFAULT, 0 },
    { "MISC_ENABLE: XD disable (bit 34)", W, 0x1A0, 0x1801 | 1ull << 34, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "MISC_ENABLE: MONITOR (bit 18), hidden", W, 0x1A0, 0x1801 | 1u << 18, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "MCG_CAP: no banks", R, 0x179, 0, CR0_PE, 0, false, 0, PAT_DEFAULT, 0 },
    { "MCG_CAP: read-only", W, 0x179, 0, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "MCG_STATUS: read", R, 0x17A, 0, CR0_PE, 0, false, 0, PAT_DEFAULT, 0 },
    { "MCG_STATUS: write 0", W, 0x17A, 0, CR0_PE, 0, false, 0, PAT_DEFAULT, 0 },
    { "MCG_STATUS: write 1 (only 0 may be written)", W, 0x17A, 1, CR0_PE, 0, true, 0, PAT_DEFAULT, 0 },
    { "BIOS_SIGN_ID: write ignored", W, 0x8B, 0x1234ull << 32, CR0_PE, 0, false, 0, PAT_DEFAULT, 0 },
};

/* The CPU's MSRs: a refused write is #GP(0) on the WRMSR itself (RIP kept, nothing written);
 * RDMSR puts the value in EDX:EAX, zeroing RDX[63:32] and RAX[63:32] (SDM Vol. 2 RDMSR);
 * ECX selects the MSR, RCX[63:32] is ignored. */
static void test_cpu_msrs(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct msr_case *c = &cases[i];
        fake_setup(state);
        msr_reset(&v);
        v.cr0_shadow = c->cr0 | CR0_ET;
        fake_vmcs_set(GUEST_IA32_PAT, PAT_DEFAULT);
        fake_vmcs_set(GUEST_IA32_EFER, c->efer);
        v.regs.rcx = 0xFFFFFFFF00000000ull | c->msr;
        v.regs.rax = 0xFFFFFFFF00000000ull | (uint32_t)c->value;
        v.regs.rdx = 0xFFFFFFFF00000000ull | (c->value >> 32);
        enum exit_action a = c->write ? exit_wrmsr(&v) : exit_rdmsr(&v);
        EXPECT_EQ(a, EXIT_CONTINUE);
        EXPECT_EQ(fake_vmcs.unset_reads, 0);
        if (c->gp) {
            EXPECT_EQ(v.pending_event, GP_EVENT);
            EXPECT_EQ(v.pending_error_code, 0);
            EXPECT_EQ(fake_vmcs_writes(GUEST_RIP), 0);
            EXPECT_EQ(fake_vmcs_writes(GUEST_IA32_PAT), 0);
            EXPECT_EQ(fake_vmcs_writes(GUEST_IA32_EFER), 0);
            continue;
        }
        EXPECT_EQ(v.pending_event, 0);
        EXPECT_EQ(fake_vmcs_get(GUEST_RIP), START_RIP + 2);
        if (c->write) {
            EXPECT_EQ(fake_vmcs_get(GUEST_IA32_PAT), c->pat_after);
            EXPECT_EQ(fake_vmcs_get(GUEST_IA32_EFER), c->efer_after);
        } else {
            EXPECT_EQ(v.regs.rax, c->read & 0xFFFFFFFF);
            EXPECT_EQ(v.regs.rdx, c->read >> 32);
        }
    }
}

/* IA32_TSC reads the TSC plus the TSC offset, and a write moves the offset so that the guest's
 * TSC continues from the value written (SDM 25.6.5 TSC offsetting, 18.17 time-stamp counter). */
static void test_tsc(void **state)
{
    (void)state;
    v.tsc_offset = (uint64_t)-1000000;
    fake_vmcs_set(TSC_OFFSET, v.tsc_offset);
    v.regs.rcx = MSR_IA32_TSC;
    uint64_t before = rdtsc();
    assert_int_equal(exit_rdmsr(&v), EXIT_CONTINUE);
    uint64_t after = rdtsc(), got = v.regs.rdx << 32 | v.regs.rax;
    assert_in_range(got + 1000000, before, after);

    uint64_t want = 0x100000000000ull;
    v.regs.rdx = want >> 32, v.regs.rax = (uint32_t)want;
    before = rdtsc();
    assert_int_equal(exit_wrmsr(&v), EXIT_CONTINUE);
    after = rdtsc();
    assert_in_range(fake_vmcs_get(TSC_OFFSET), want - after, want - before);
    assert_int_equal(v.tsc_offset, fake_vmcs_get(TSC_OFFSET));
    /* The write moved IA32_TSC_ADJUST by as much as the TSC (SDM 18.17.3). */
    assert_int_equal(v.tsc_adjust, v.tsc_offset + 1000000);
}

/* IA32_TSC_ADJUST: reads what was written; a write moves the TSC by the difference. */
static void test_tsc_adjust(void **state)
{
    (void)state;
    v.regs.rcx = 0x3B;
    v.regs.rdx = 0, v.regs.rax = 5000;
    assert_int_equal(exit_wrmsr(&v), EXIT_CONTINUE);
    assert_int_equal(v.tsc_offset, 5000);
    assert_int_equal(fake_vmcs_get(TSC_OFFSET), 5000);
    v.regs.rdx = 0, v.regs.rax = 2000;
    assert_int_equal(exit_wrmsr(&v), EXIT_CONTINUE);
    assert_int_equal(fake_vmcs_get(TSC_OFFSET), 2000);
    v.regs.rax = v.regs.rdx = 0xdead;
    assert_int_equal(exit_rdmsr(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rax, 2000);
    assert_int_equal(v.regs.rdx, 0);
}

/* IA32_MISC_ENABLE keeps the fast-strings bit the guest wrote and its read-only bits. */
static void test_misc_enable_state(void **state)
{
    (void)state;
    msr_reset(&v);
    v.regs.rcx = 0x1A0;
    v.regs.rdx = 0, v.regs.rax = 0;             /* fast strings off; RO bits written as 0 */
    assert_int_equal(exit_wrmsr(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, 0);
    assert_int_equal(v.misc_enable, 0x1800);
}

/* An MSR that is not the CPU's: a request with ECX, the direction and EDX:EAX of a write;
 * the instruction is not finished until the VM layer answered (RIP kept, no event). */
static void test_other_msrs_go_to_the_vm_layer(void **state)
{
    static const struct { bool write; uint32_t msr; uint64_t value; } reqs[] = {
        { R, MSR_IA32_APIC_BASE, 0 },
        { W, 0x830, 0x0000000500000030ull },            /* x2APIC ICR */
        { W, 0x80B, 0 },                                /* x2APIC EOI */
        { R, 0x40000000, 0 },
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        fake_setup(state);
        v.regs.rcx = 0xABCD000000000000ull | reqs[i].msr;
        v.regs.rax = 0xFFFFFFFF00000000ull | (uint32_t)reqs[i].value;
        v.regs.rdx = reqs[i].value >> 32;
        enum exit_action a = reqs[i].write ? exit_wrmsr(&v) : exit_rdmsr(&v);
        assert_int_equal(a, EXIT_REQUEST);
        assert_int_equal(v.req.kind, VCPU_REQ_MSR);
        assert_int_equal(v.req.msr.index, reqs[i].msr);
        assert_int_equal(v.req.msr.write, reqs[i].write);
        if (reqs[i].write)
            assert_int_equal(v.req.msr.data, reqs[i].value);
        assert_false(v.req.msr.ok);     /* no device answered yet: #GP by default */
        assert_int_equal(v.pending_event, 0);
        assert_rip_kept();
    }
}

/* No device has the MSR: #GP(0) on the instruction (SDM Vol. 2 RDMSR/WRMSR), delivered at the
 * next entry as a hardware exception with error code 0 (SDM 26.6.1 event injection). */
static void test_complete_refused_is_gp(void **state)
{
    (void)state;
    v.regs.rcx = MSR_IA32_APIC_BASE;
    v.regs.rax = v.regs.rdx = 0x55;
    v.pending_error_code = 0xFFFF;
    assert_int_equal(exit_rdmsr(&v), EXIT_REQUEST);
    v.req.msr.data = 0x1234;
    assert_int_equal(msr_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, GP_EVENT);
    assert_rip_kept();
    assert_int_equal(v.regs.rax, 0x55);     /* a faulting RDMSR writes no register */
    assert_int_equal(v.regs.rdx, 0x55);
    prepare_events(&v);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_INTR_INFO_FIELD), 0x80000B0D);
    assert_int_equal(fake_vmcs_writes(VM_ENTRY_EXCEPTION_ERROR_CODE), 1);
    assert_int_equal(fake_vmcs_get(VM_ENTRY_EXCEPTION_ERROR_CODE), 0);
    assert_int_equal(v.pending_event, 0);
}

/* A device answered RDMSR: EDX:EAX take the value's halves, zero-extended (SDM Vol. 2 RDMSR). */
static void test_complete_rdmsr(void **state)
{
    (void)state;
    v.regs.rcx = MSR_IA32_APIC_BASE;
    v.regs.rax = v.regs.rdx = ~0ull;
    assert_int_equal(exit_rdmsr(&v), EXIT_REQUEST);
    v.req.msr.ok = true;
    v.req.msr.data = 0x11223344FEE00900ull;
    assert_int_equal(msr_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rax, 0xFEE00900);
    assert_int_equal(v.regs.rdx, 0x11223344);
    assert_int_equal(v.pending_event, 0);
    assert_rip_advanced(2);
}

/* A device took WRMSR: no register changes, the instruction ends. */
static void test_complete_wrmsr(void **state)
{
    (void)state;
    v.regs.rcx = 0x830;
    v.regs.rax = 0x30, v.regs.rdx = 5;
    assert_int_equal(exit_wrmsr(&v), EXIT_REQUEST);
    v.req.msr.ok = true;
    assert_int_equal(msr_complete(&v), EXIT_CONTINUE);
    assert_int_equal(v.regs.rax, 0x30);
    assert_int_equal(v.regs.rdx, 5);
    assert_int_equal(v.pending_event, 0);
    assert_rip_advanced(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_cpu_msrs),
        FAKE_TEST(test_tsc),
        FAKE_TEST(test_tsc_adjust),
        FAKE_TEST(test_misc_enable_state),
        FAKE_TEST(test_other_msrs_go_to_the_vm_layer),
        FAKE_TEST(test_complete_refused_is_gp),
        FAKE_TEST(test_complete_rdmsr),
        FAKE_TEST(test_complete_wrmsr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for EPT violations the CPU's own accesses cause (vmx/exit.c): during event
 * delivery (IDT-vectoring information valid, SDM Vol. 3C 27.2.4) and in the guest's page walk
 * (exit qualification bit 7 set, bit 8 clear: an access to a paging-structure entry, Table
 * 28-7). Neither is an access of the instruction at RIP, which must not be emulated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

#define QUAL_GLA_VALID  (1u << 7)
#define QUAL_TRANSLATED (1u << 8)

/* RIP points at `mov %eax,(%ebx)`: if the handler decoded it, a request would go out. */
static void ept_exit(uint64_t gpa, uint64_t qual, uint32_t vectoring)
{
    static const uint8_t mov[] = { 0x89, 0x03 };
    memcpy(ram + START_RIP, mov, sizeof mov);
    fake_vmcs_set(GUEST_CS_AR_BYTES, 0xC09B);
    fake_vmcs_set(GUEST_PHYSICAL_ADDRESS, gpa);
    fake_vmcs_set(GUEST_LINEAR_ADDRESS, 0x00403123);
    fake_vmcs_set(IDT_VECTORING_INFO_FIELD, vectoring);
    fake_vmcs_set(IDT_VECTORING_ERROR_CODE, 0);
    v.regs.rbx = 0xFEE00000;
    v.exit_reason = EXIT_REASON_EPT_VIOLATION;
    v.exit_qual = qual;
}

#define EVENT(type, vec) (INTR_INFO_VALID | (type) | (vec))
#define GP(err) EVENT(INTR_TYPE_HW_EXCEPTION, 13) | INTR_INFO_DELIVER_CODE, (err)

/* An IDT gate (or stack) in device memory during delivery: #GP with the IDT error code
 * (vector << 3 | IDT | EXT, SDM Vol. 3A 6.13), combined as Table 6-5 says: a contributory
 * exception or #PF being delivered makes it #DF; #DF being delivered, a triple fault. */
static void test_delivery(void **state)
{
    static const struct { uint32_t vectoring; uint32_t event, error; } cases[] = {
        { EVENT(INTR_TYPE_SW_INTR, 0x30), GP(0x30 << 3 | 2) },             /* INT 0x30: EXT=0 */
        { EVENT(INTR_TYPE_EXT_INTR, 0x41), GP(0x41 << 3 | 3) },            /* an interrupt: EXT=1 */
        { EVENT(INTR_TYPE_HW_EXCEPTION, 6), GP(6 << 3 | 3) },              /* #UD is benign */
        { EVENT(INTR_TYPE_HW_EXCEPTION, 13) | INTR_INFO_DELIVER_CODE,     /* #GP: contributory */
          EVENT(INTR_TYPE_HW_EXCEPTION, 8) | INTR_INFO_DELIVER_CODE, 0 },
        { EVENT(INTR_TYPE_HW_EXCEPTION, 14) | INTR_INFO_DELIVER_CODE,     /* #PF */
          EVENT(INTR_TYPE_HW_EXCEPTION, 8) | INTR_INFO_DELIVER_CODE, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        ept_exit(0xFEE00180, 1 | QUAL_GLA_VALID | QUAL_TRANSLATED, cases[i].vectoring);
        assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, cases[i].event);
        assert_int_equal(v.pending_error_code, cases[i].error);
        assert_rip_kept();
    }
    fake_setup(state);
    ept_exit(0xFEE00040, 1 | QUAL_GLA_VALID | QUAL_TRANSLATED,
             EVENT(INTR_TYPE_HW_EXCEPTION, 8) | INTR_INFO_DELIVER_CODE);
    assert_int_equal(exit_dispatch(&v), EXIT_CRASH);
    assert_string_equal(v.crash_reason, "triple fault (delivering #DF reached guest-physical 0xfee00040, which is not RAM)");
}

/* The guest's page walk read an entry outside RAM: #PF with P|RSVD, W when the instruction
 * writes (it is decoded for that, not carried out), U at CPL 3, CR2 the linear address being
 * translated; no request goes out. */
static void test_page_walk(void **state)
{
    static const struct { uint8_t insn[2]; uint32_t ss_ar; uint32_t error; } cases[] = {
        { { 0x8B, 0x03 }, 0xC093, 0x9 },        /* mov (%ebx),%eax */
        { { 0x89, 0x03 }, 0xC093, 0xB },        /* mov %eax,(%ebx) */
        { { 0x8B, 0x03 }, 0xC0F3, 0xD },
        { { 0x0F, 0x0B }, 0xC093, 0x9 },        /* ud2: not one we decode, taken as a read */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        ept_exit(0xFEE00C08, 1 | QUAL_GLA_VALID, 0);
        memcpy(ram + START_RIP, cases[i].insn, 2);
        fake_vmcs_set(GUEST_SS_AR_BYTES, cases[i].ss_ar);
        assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, EVENT(INTR_TYPE_HW_EXCEPTION, 14) | INTR_INFO_DELIVER_CODE);
        assert_int_equal(v.pending_error_code, cases[i].error);
        assert_int_equal(v.regs.cr2, 0x00403123);
        assert_rip_kept();
        assert_int_equal(ram[0xC08], 0);
    }
    /* Bit 8 set: the instruction's own access, decoded and sent to the device. */
    fake_setup(state);
    ept_exit(0xFEE00000, 2 | QUAL_GLA_VALID | QUAL_TRANSLATED, 0);
    assert_int_equal(exit_dispatch(&v), EXIT_REQUEST);
}

/* A crash reason longer than its buffer ends at a word boundary with "...". */
static void test_crash_reason_cut(void **state)
{
    (void)state;
    char word[] = "abcdefghi ";
    char longer[400] = "";
    for (int i = 0; i < 30; i++)
        strcat(longer, word);
    assert_int_equal(exit_crash(&v, "%s", longer), EXIT_CRASH);
    size_t len = strlen(v.crash_reason);
    assert_true(len < sizeof v.crash_reason);
    assert_string_equal(v.crash_reason + len - 3, "...");
    assert_int_equal(v.crash_reason[len - 4], 'i');     /* a whole word, then the ellipsis */
    exit_crash(&v, "short");
    assert_string_equal(v.crash_reason, "short");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_delivery),
        FAKE_TEST(test_page_walk),
        FAKE_TEST(test_crash_reason_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the checked path to guest memory (vmx/guest_mem.c), over the fake VMCS
 * and guest RAM of fake_vmcs.h: segmentation (SDM Vol. 3A 3.4.2.1, 5.3, 6.15), the guest's
 * paging with its permissions (4.6), page-fault error codes (4.7) and accessed/dirty flags
 * (4.8). Every emulated access goes through it, so these are the CPU's rules the string I/O,
 * MMIO and task-switch emulation obey. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

/* 4-level tables: PML4 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000 mapping the first
 * 2 MiB of linear addresses with 4 KiB pages; every upper entry P|RW|US. */
#define PML4 0x10000ull
#define PT   0x13000ull
#define UPPER (PG_P | PG_RW | PG_US)

static uint64_t *entry64(uint64_t gpa) { return (uint64_t *)(ram + gpa); }

static void long_mode(void)
{
    *entry64(PML4) = 0x11000 | UPPER;
    *entry64(0x11000) = 0x12000 | UPPER;
    *entry64(0x12000) = PT | UPPER;
    v.cr0_shadow = CR0_PE | CR0_PG | CR0_ET;
    v.cr4_shadow = CR4_PAE;
    fake_vmcs_set(GUEST_CR3, PML4);
    fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA | EFER_NXE);
    fake_vmcs_set(GUEST_CS_AR_BYTES, 0xA09B);   /* L=1: 64-bit mode */
}

/* The page at linear page * 4096 maps guest-physical frame * 4096 with flags. */
static void map(unsigned page, uint64_t frame, uint64_t flags)
{
    *entry64(PT + page * 8) = frame * 4096 | flags;
}

static void cpl(unsigned n)
{
    fake_vmcs_set(GUEST_SS_AR_BYTES, 0xC093 | n << 5);
}

/* The translation of gla for access: 0 and *gpa, or the #PF error code + 0x100. */
static unsigned walk(uint64_t gla, unsigned access, uint64_t *gpa)
{
    struct guest_fault f = { 0 };
    if (guest_translate(&v, gla, access, gpa, &f) == 0)
        return 0;
    assert_int_equal(f.vector, 14);
    assert_int_equal(f.cr2, gla);
    return 0x100 | f.error;
}

/* U/S and R/W (SDM 4.6.1): user accesses need U/S everywhere and R/W to write; supervisor
 * writes need R/W only with CR0.WP; implicit accesses are supervisor at any CPL. */
static void test_permissions(void **state)
{
    (void)state;
    uint64_t gpa;
    long_mode();
    map(0x40, 0x40, PG_P | PG_RW);              /* supervisor, writable */
    map(0x41, 0x41, PG_P | PG_US);              /* user, read-only */
    map(0x42, 0x42, PG_P | PG_RW | PG_US);      /* user, writable */
    cpl(3);
    assert_int_equal(walk(0x40123, GUEST_READ, &gpa), 0x100 | PF_P | PF_U);
    assert_int_equal(walk(0x40123, GUEST_WRITE, &gpa), 0x100 | PF_P | PF_W | PF_U);
    assert_int_equal(walk(0x41000, GUEST_READ, &gpa), 0);
    assert_int_equal(walk(0x41000, GUEST_WRITE, &gpa), 0x100 | PF_P | PF_W | PF_U);
    assert_int_equal(walk(0x42008, GUEST_WRITE, &gpa), 0);
    assert_int_equal(gpa, 0x42008);
    assert_int_equal(walk(0x40000, GUEST_READ | GUEST_IMPLICIT, &gpa), 0);
    assert_int_equal(walk(0x43000, GUEST_WRITE, &gpa), 0x100 | PF_W | PF_U);   /* not present */
    cpl(0);
    assert_int_equal(walk(0x41000, GUEST_WRITE, &gpa), 0);                  /* WP=0 */
    v.cr0_shadow |= CR0_WP;
    assert_int_equal(walk(0x41000, GUEST_WRITE, &gpa), 0x100 | PF_P | PF_W);
    /* U/S clear at an upper level makes every page under it supervisor. */
    *entry64(0x12000) = PT | PG_P | PG_RW;
    cpl(3);
    assert_int_equal(walk(0x42000, GUEST_READ, &gpa), 0x100 | PF_P | PF_U);
}

/* XD with EFER.NXE, SMEP and SMAP (SDM 4.6.1): the fetch bit in the error code. */
static void test_execute_and_smap(void **state)
{
    (void)state;
    uint64_t gpa;
    long_mode();
    map(0x40, 0x40, PG_P | PG_XD);
    map(0x41, 0x41, PG_P | PG_US);
    assert_int_equal(walk(0x40000, GUEST_FETCH, &gpa), 0x100 | PF_P | PF_I);
    assert_int_equal(walk(0x40000, GUEST_READ, &gpa), 0);
    v.cr4_shadow |= CR4_SMEP;
    assert_int_equal(walk(0x41000, GUEST_FETCH, &gpa), 0x100 | PF_P | PF_I);
    assert_int_equal(walk(0x41000, GUEST_READ, &gpa), 0);
    v.cr4_shadow |= CR4_SMAP;
    assert_int_equal(walk(0x41000, GUEST_READ, &gpa), 0x100 | PF_P);
    fake_vmcs_set(GUEST_RFLAGS, 0x2 | RFLAGS_AC);   /* explicit accesses allowed with AC */
    assert_int_equal(walk(0x41000, GUEST_READ, &gpa), 0);
    assert_int_equal(walk(0x41000, GUEST_READ | GUEST_IMPLICIT, &gpa), 0x100 | PF_P);
    /* Without NXE, bit 63 is reserved. */
    fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    assert_int_equal(walk(0x40000, GUEST_READ, &gpa), 0x100 | PF_P | PF_RSVD);
}

/* Reserved bits (SDM 4.5, Table 4-14..4-20): bit 51 (above any MAXPHYADDR under 52), PS in a
 * PML4E; a paging-structure entry outside RAM reads all-ones, so it has them too. */
static void test_reserved_bits(void **state)
{
    (void)state;
    uint64_t gpa;
    long_mode();
    map(0x40, 0x40, PG_P | (1ull << 51));
    assert_int_equal(walk(0x40000, GUEST_WRITE, &gpa), 0x100 | PF_P | PF_W | PF_RSVD);
    *entry64(0x12000) = 0x7FF000 | UPPER;       /* the page table is past RAM */
    assert_int_equal(walk(0x40000, GUEST_READ, &gpa), 0x100 | PF_P | PF_RSVD);
    *entry64(PML4) |= PG_PS;
    assert_int_equal(walk(0x40000, GUEST_READ, &gpa), 0x100 | PF_P | PF_RSVD);
}

/* Accessed in every entry used, dirty in the last one for a write, only when the access is
 * allowed (SDM 4.8). */
static void test_accessed_dirty(void **state)
{
    (void)state;
    uint64_t gpa;
    long_mode();
    map(0x40, 0x40, PG_P | PG_RW);
    assert_int_equal(walk(0x40000, GUEST_READ, &gpa), 0);
    assert_int_equal(*entry64(PT + 0x40 * 8) & (PG_A | PG_D), PG_A);
    assert_true(*entry64(PML4) & PG_A);
    assert_true(*entry64(0x12000) & PG_A);
    assert_int_equal(walk(0x40000, GUEST_WRITE, &gpa), 0);
    assert_int_equal(*entry64(PT + 0x40 * 8) & (PG_A | PG_D), PG_A | PG_D);
    assert_int_equal(*entry64(0x12000) & PG_D, 0);
    map(0x41, 0x41, PG_P);
    cpl(3);
    assert_int_not_equal(walk(0x41000, GUEST_WRITE, &gpa), 0);
    assert_int_equal(*entry64(PT + 0x41 * 8) & (PG_A | PG_D), 0);
}

/* 32-bit paging: 4 KiB pages, and 4 MiB pages with CR4.PSE (SDM 4.3). */
static void test_32bit_paging(void **state)
{
    (void)state;
    uint64_t gpa;
    uint32_t *pd = (uint32_t *)(ram + 0x20000), *pt = (uint32_t *)(ram + 0x21000);
    pd[0] = 0x21000 | PG_P | PG_RW | PG_US;
    pd[1] = 0x000000 | PG_P | PG_PS;            /* 4 MiB at 4 MiB -> 0 */
    pt[5] = 0x5000 | PG_P | PG_US;
    v.cr0_shadow = CR0_PE | CR0_PG | CR0_ET | CR0_WP;
    fake_vmcs_set(GUEST_CR3, 0x20000);
    assert_int_equal(walk(0x5123, GUEST_READ, &gpa), 0);
    assert_int_equal(gpa, 0x5123);
    assert_int_equal(walk(0x5123, GUEST_WRITE, &gpa), 0x100 | PF_P | PF_W);
    assert_int_equal(pt[5] & (PG_A | PG_D), PG_A);
    v.cr4_shadow = CR4_PSE;
    assert_int_equal(walk(0x401234, GUEST_READ, &gpa), 0);
    assert_int_equal(gpa, 0x1234);
    cpl(3);
    assert_int_equal(walk(0x401234, GUEST_READ, &gpa), 0x100 | PF_P | PF_U);
}

/* Segmentation in 64-bit mode (SDM Vol. 1 3.4.2.1, Vol. 3A 6.15): ES/CS/SS/DS bases are
 * ignored, FS/GS bases count; a non-canonical address is #GP(0), #SS(0) through SS. Outside
 * it the limit is checked and the address wraps at 4 GiB. */
static void test_segments(void **state)
{
    (void)state;
    struct guest_fault f;
    uint64_t gla;
    long_mode();
    fake_vmcs_set(GUEST_ES_BASE, 0x100000);
    fake_vmcs_set(GUEST_FS_BASE, 0x200000);
    assert_int_equal(guest_seg_linear(&v, 0, 0x1000, 1, GUEST_WRITE, &gla, &f), 0);
    assert_int_equal(gla, 0x1000);
    assert_int_equal(guest_seg_linear(&v, 4, 0x1000, 1, GUEST_READ, &gla, &f), 0);
    assert_int_equal(gla, 0x201000);
    assert_int_equal(guest_seg_linear(&v, 0, 0x8000000000000000ull, 1, GUEST_WRITE, &gla, &f),
                     GUEST_MEM_FAULT);
    assert_int_equal(f.vector, 13);
    assert_int_equal(guest_seg_linear(&v, 2, 0x00007FFFFFFFFFFFull, 2, GUEST_READ, &gla, &f),
                     GUEST_MEM_FAULT);                  /* its last byte is not canonical */
    assert_int_equal(f.vector, 12);
    /* Compatibility mode: the base counts, the limit is checked, the address wraps. */
    fake_vmcs_set(GUEST_CS_AR_BYTES, 0xC09B);
    fake_vmcs_set(GUEST_ES_BASE, 0xFFFFF000);
    assert_int_equal(guest_seg_linear(&v, 0, 0x2000, 1, GUEST_WRITE, &gla, &f), 0);
    assert_int_equal(gla, 0x1000);
    fake_vmcs_set(GUEST_ES_LIMIT, 0xFFF);
    assert_int_equal(guest_seg_linear(&v, 0, 0x1000, 1, GUEST_WRITE, &gla, &f), GUEST_MEM_FAULT);
    assert_int_equal(f.vector, 13);
}

/* A copy checks every page before a byte moves: a write whose second page faults changes
 * nothing; bytes at no RAM read all-ones with GUEST_NOTHING, else the copy says NOT_RAM. */
static void test_copies(void **state)
{
    (void)state;
    struct guest_fault f;
    uint8_t buf[4] = { 1, 2, 3, 4 };
    long_mode();
    map(0x40, 0x40, PG_P | PG_RW);
    map(0x41, 0x41, PG_P);
    v.cr0_shadow |= CR0_WP;
    assert_int_equal(guest_mem_write(&v, 0x40FFE, buf, 4, GUEST_WRITE, &f), GUEST_MEM_FAULT);
    assert_int_equal(f.cr2, 0x41000);
    assert_int_equal(f.error, PF_P | PF_W);
    assert_int_equal(ram[0x40FFE], 0);
    map(0x42, 0x7FF, PG_P | PG_RW);             /* past the end of RAM */
    assert_int_equal(guest_mem_read(&v, 0x42000, buf, 4, GUEST_READ, &f), GUEST_MEM_NOT_RAM);
    assert_int_equal(guest_mem_read(&v, 0x42000, buf, 4, GUEST_NOTHING, &f), 0);
    assert_int_equal(buf[0] & buf[3], 0xFF);
    assert_int_equal(guest_mem_write(&v, 0x42000, buf, 4, GUEST_NOTHING, &f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_permissions),
        FAKE_TEST(test_execute_and_smap),
        FAKE_TEST(test_reserved_bits),
        FAKE_TEST(test_accessed_dirty),
        FAKE_TEST(test_32bit_paging),
        FAKE_TEST(test_segments),
        FAKE_TEST(test_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the guests' ACPI tables (kernel/vm/loader/acpi_tables.c): the tables are read
 * back from a fake guest RAM at the byte offsets the ACPI 6.0 specification gives. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/vm/loader/util.c"
#include "kernel/vm/loader/acpi_tables.c"
#include "kernel/vm/loader/smbios.c"        /* its neighbour in the BIOS area */
#include "tests/unit/fake_ram.h"

static const struct acpi_config cfg = {
    .lapic_addr = 0xFEE00000u, .lapic_id = 0, .ioapic_addr = 0xFEC00000u, .ioapic_id = 1,
};

static uint32_t build(void)
{
    uint32_t rsdp = acpi_build_tables(&mem, &cfg);
    assert_int_equal(rsdp, ACPI_TABLES_GPA);
    return rsdp;
}

/* Checks a table's header (signature, checksum, OEM fields, lying in the region);
 * returns its length. */
static uint32_t check_table(uint64_t gpa, const char *sig, uint32_t want_len, uint8_t want_rev)
{
    assert_true(gpa >= ACPI_TABLES_GPA && gpa < ACPI_TABLES_END);
    assert_memory_equal(at(gpa), sig, 4);
    uint32_t len = rd32(gpa + 4);
    assert_int_equal(len, want_len);
    assert_true(gpa + len <= ACPI_TABLES_END);
    assert_int_equal(rd8(gpa + 8), want_rev);
    assert_int_equal(sum(gpa, len), 0);
    assert_memory_equal(at(gpa + 10), "ANFITR", 6);
    assert_memory_equal(at(gpa + 16), "ANFITRIO", 8);
    return len;
}

/* FADT and MADT addresses from the XSDT (entries 8 bytes, after the 36-byte header). */
static uint64_t xsdt_entry(unsigned i)
{
    uint64_t xsdt = rd64(ACPI_TABLES_GPA + 24);
    return rd64(xsdt + 36 + 8 * i);
}

#define FADT_LEN 276
#define MADT_LEN (44 + 8 + 12 + 2 * 10 + 6)

/* ---- RSDP (5.2.5.3). */

static void test_rsdp(void **state)
{
    (void)state;
    uint32_t rsdp = build();
    assert_int_equal(rsdp % 16, 0);
    assert_memory_equal(at(rsdp), "RSD PTR ", 8);
    assert_int_equal(sum(rsdp, 20), 0);
    assert_int_equal(sum(rsdp, 36), 0);
    assert_memory_equal(at(rsdp + 9), "ANFITR", 6);
    assert_int_equal(rd8(rsdp + 15), 2);            /* revision: ACPI 2.0+ */
    assert_int_equal(rd32(rsdp + 20), 36);          /* length */
    uint32_t rsdt = rd32(rsdp + 16);
    uint64_t xsdt = rd64(rsdp + 24);
    assert_memory_equal(at(rsdt), "RSDT", 4);
    assert_memory_equal(at(xsdt), "XSDT", 4);
    assert_int_equal(rd8(rsdp + 33) | rd8(rsdp + 34) | rd8(rsdp + 35), 0);
}

/* ---- Every table: checksum, length, header fields. */

static void test_every_table_checksums_and_lengths(void **state)
{
    (void)state;
    uint32_t rsdp = build();
    check_table(rd32(rsdp + 16), "RSDT", 36 + 2 * 4, 1);
    check_table(rd64(rsdp + 24), "XSDT", 36 + 2 * 8, 1);
    uint64_t fadt = xsdt_entry(0);
    check_table(fadt, "FACP", FADT_LEN, 6);
    check_table(xsdt_entry(1), "APIC", MADT_LEN, 3);
    uint32_t dsdt_len = rd32(rd32(fadt + 40) + 4);
    check_table(rd32(fadt + 40), "DSDT", dsdt_len, 2);
    assert_true(dsdt_len > 36);

    /* The FACS has no checksum: signature, length 64, version 2, 64-byte aligned. */
    uint32_t facs = rd32(fadt + 36);
    assert_int_equal(facs % 64, 0);
    assert_memory_equal(at(facs), "FACS", 4);
    assert_int_equal(rd32(facs + 4), 64);
    assert_int_equal(rd8(facs + 32), 2);
    assert_int_equal(rd32(facs + 16), 0);            /* global lock free */
    assert_true(facs >= ACPI_TABLES_GPA && facs + 64 <= ACPI_TABLES_END);
}

static void test_rsdt_and_xsdt_list_fadt_and_madt(void **state)
{
    (void)state;
    uint32_t rsdp = build();
    uint32_t rsdt = rd32(rsdp + 16);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(rd32(rsdt + 36 + 4 * i), xsdt_entry(i));
    assert_memory_equal(at(xsdt_entry(0)), "FACP", 4);
    assert_memory_equal(at(xsdt_entry(1)), "APIC", 4);
}

/* No table overlaps another. */
static void test_tables_do_not_overlap(void **state)
{
    (void)state;
    uint32_t rsdp = build();
    uint64_t fadt = xsdt_entry(0);
    uint64_t start[7] = {rsdp, rd32(rsdp + 16), rd64(rsdp + 24), fadt, xsdt_entry(1),
                         rd32(fadt + 40), rd32(fadt + 36)};
    uint64_t len[7] = {36};
    for (unsigned i = 1; i < 7; i++)
        len[i] = rd32(start[i] + 4);
    for (unsigned i = 0; i < 7; i++)
        for (unsigned j = i + 1; j < 7; j++)
            assert_true(start[i] + len[i] <= start[j] || start[j] + len[j] <= start[i]);
}

/* ---- MADT (5.2.12): walk the interrupt controller structures. */

static void test_madt_entries(void **state)
{
    (void)state;
    build();
    uint64_t madt = xsdt_entry(1);
    assert_int_equal(rd32(madt + 36), 0xFEE00000u);
    assert_int_equal(rd32(madt + 40), 1);           /* PCAT_COMPAT */
    unsigned n_lapic = 0, n_ioapic = 0, n_override = 0, n_nmi = 0;
    uint64_t p = madt + 44, end = madt + rd32(madt + 4);
    while (p < end) {
        uint8_t type = rd8(p), len = rd8(p + 1);
        assert_true(len >= 2 && p + len <= end);
        switch (type) {
        case 0:
            assert_int_equal(len, 8);
            assert_int_equal(rd8(p + 2), 0);       /* ACPI processor UID */
            assert_int_equal(rd8(p + 3), 0);       /* APIC ID */
            assert_int_equal(rd32(p + 4), 1);      /* enabled */
            n_lapic++;
            break;
        case 1:
            assert_int_equal(len, 12);
            assert_int_equal(rd8(p + 2), 1);
            assert_int_equal(rd32(p + 4), 0xFEC00000u);
            assert_int_equal(rd32(p + 8), 0);      /* GSI base */
            n_ioapic++;
            break;
        case 2:
            assert_int_equal(len, 10);
            assert_int_equal(rd8(p + 2), 0);       /* ISA */
            if (rd8(p + 3) == 0) {
                assert_int_equal(rd32(p + 4), 2);
                assert_int_equal(rd16(p + 8), 0x0000);
            } else {
                assert_int_equal(rd8(p + 3), 9);
                assert_int_equal(rd32(p + 4), 9);
                assert_int_equal(rd16(p + 8), 0x000D);
            }
            n_override++;
            break;
        case 4:
            assert_int_equal(len, 6);
            assert_int_equal(rd8(p + 2), 0xFF);
            assert_int_equal(rd16(p + 3), 0);
            assert_int_equal(rd8(p + 5), 1);       /* LINT1 */
            n_nmi++;
            break;
        default:
            fail_msg("unexpected MADT entry type %u", type);
        }
        p += len;
    }
    assert_int_equal(p, end);
    assert_int_equal(n_lapic, 1);
    assert_int_equal(n_ioapic, 1);
    assert_int_equal(n_override, 2);
    assert_int_equal(n_nmi, 1);
}

static void test_madt_follows_config(void **state)
{
    (void)state;
    const struct acpi_config c = {.lapic_addr = 0xFEE01000u, .lapic_id = 3,
                                  .ioapic_addr = 0xFEC10000u, .ioapic_id = 7};
    assert_int_equal(acpi_build_tables(&mem, &c), ACPI_TABLES_GPA);
    uint64_t madt = xsdt_entry(1);
    assert_int_equal(sum(madt, MADT_LEN), 0);
    assert_int_equal(rd32(madt + 36), 0xFEE01000u);
    assert_int_equal(rd8(madt + 44 + 3), 3);
    assert_int_equal(rd8(madt + 52 + 2), 7);
    assert_int_equal(rd32(madt + 52 + 4), 0xFEC10000u);
}

/* ---- FADT (5.2.9). */

static void check_io_gas(uint64_t gpa, uint8_t bit_width, uint8_t access, uint16_t port)
{
    assert_int_equal(rd8(gpa), 1);                  /* system I/O */
    assert_int_equal(rd8(gpa + 1), bit_width);
    assert_int_equal(rd8(gpa + 2), 0);
    assert_int_equal(rd8(gpa + 3), access);
    assert_int_equal(rd64(gpa + 4), port);
}

static void test_fadt_fields(void **state)
{
    (void)state;
    build();
    uint64_t f = xsdt_entry(0);
    uint32_t facs = rd32(f + 36), dsdt = rd32(f + 40);
    assert_memory_equal(at(dsdt), "DSDT", 4);
    assert_memory_equal(at(facs), "FACS", 4);
    assert_int_equal(rd16(f + 46), ACPI_SCI_IRQ);
    assert_int_equal(rd32(f + 48), 0);               /* SMI_CMD: already in ACPI mode */
    assert_int_equal(rd8(f + 52) | rd8(f + 53), 0);  /* ACPI_ENABLE, ACPI_DISABLE */
    assert_int_equal(rd32(f + 56), 0x600);           /* PM1a_EVT_BLK */
    assert_int_equal(rd32(f + 60), 0);
    assert_int_equal(rd32(f + 64), 0x604);           /* PM1a_CNT_BLK */
    assert_int_equal(rd32(f + 68), 0);
    assert_int_equal(rd32(f + 72), 0);               /* no PM2 */
    assert_int_equal(rd32(f + 76), 0x608);           /* PM_TMR_BLK */
    assert_int_equal(rd32(f + 80) | rd32(f + 84), 0);/* no GPE blocks */
    assert_int_equal(rd8(f + 88), 4);
    assert_int_equal(rd8(f + 89), 2);
    assert_int_equal(rd8(f + 90), 0);
    assert_int_equal(rd8(f + 91), 4);
    assert_int_equal(rd8(f + 92) | rd8(f + 93), 0);
    assert_true(rd16(f + 96) > 100 && rd16(f + 98) > 1000);  /* no C2, no C3 */
    assert_int_equal(rd8(f + 108), 0x32);            /* RTC century register */

    uint16_t boot = rd16(f + 109);
    assert_int_equal(boot & 0x0001, 0x0001);         /* LEGACY_DEVICES */
    assert_int_equal(boot & 0x0002, 0);              /* no 8042 */
    assert_int_equal(boot & 0x0020, 0);              /* the CMOS RTC is present */

    uint32_t flags = rd32(f + 112);
    assert_int_equal(flags & 0x1, 0x1);              /* WBINVD */
    assert_int_equal(flags & 0x4, 0x4);              /* PROC_C1 */
    assert_int_equal(flags & 0x10, 0);               /* fixed-feature power button */
    assert_int_equal(flags & 0x20, 0x20);            /* no sleep button */
    assert_int_equal(flags & 0x100, 0);              /* 24-bit PM timer */
    assert_int_equal(flags & 0x400, 0x400);          /* RESET_REG_SUP */
    assert_int_equal(flags & (1u << 20), 0);         /* not hardware-reduced */

    check_io_gas(f + 116, 8, 1, 0xCF9);              /* RESET_REG */
    assert_int_equal(rd8(f + 128), 0x06);            /* RESET_VALUE */

    /* The X_ fields repeat the 32-bit ones; the blocks' widths match the lengths. */
    assert_int_equal(rd64(f + 132), facs);
    assert_int_equal(rd64(f + 140), dsdt);
    check_io_gas(f + 148, 32, 2, 0x600);
    check_io_gas(f + 172, 16, 2, 0x604);
    check_io_gas(f + 208, 32, 3, 0x608);
    uint64_t unused[] = {160, 184, 196, 220, 232, 244, 256};
    for (unsigned i = 0; i < sizeof unused / sizeof unused[0]; i++)
        assert_int_equal(rd64(f + unused[i] + 4), 0);
}

/* ---- DSDT: the AML body is a list of Name (NameSeg, Package) objects. */

/* Decodes a PkgLength (20.2.4) at p: returns its value, sets *n to its size in bytes. */
static uint32_t pkg_length(const uint8_t *p, unsigned *n)
{
    unsigned follow = p[0] >> 6;
    uint32_t len = follow ? (p[0] & 0x0F) : (p[0] & 0x3F);
    for (unsigned i = 0; i < follow; i++)
        len |= (uint32_t)p[1 + i] << (4 + 8 * i);
    *n = follow + 1;
    return len;
}

/* An integer element (ZeroOp, OneOp, BytePrefix, WordPrefix) at p; sets *n to its size. */
static uint32_t aml_integer(const uint8_t *p, unsigned *n)
{
    switch (p[0]) {
    case 0x00: *n = 1; return 0;
    case 0x01: *n = 1; return 1;
    case 0x0A: *n = 2; return p[1];
    case 0x0B: *n = 3; return (uint32_t)(p[1] | p[2] << 8);
    default: fail_msg("unexpected package element opcode 0x%02x", p[0]);
    }
    return 0;
}

/* Walks the whole DSDT body; fills the 4 elements of the package named name. */
static bool find_sleep_package(const char *name, uint32_t out[4])
{
    build();
    uint64_t dsdt = rd32(xsdt_entry(0) + 40);
    const uint8_t *p = at(dsdt + 36), *end = at(dsdt) + rd32(dsdt + 4);
    bool found = false;
    while (p < end) {
        assert_int_equal(p[0], 0x08);                /* NameOp */
        const uint8_t *seg = p + 1;
        for (unsigned i = 0; i < 4; i++)             /* NameSeg: lead char A-Z or _ */
            assert_true((seg[i] >= 'A' && seg[i] <= 'Z') || seg[i] == '_' ||
                        (i > 0 && seg[i] >= '0' && seg[i] <= '9'));
        assert_int_equal(p[5], 0x12);                /* PackageOp */
        unsigned n;
        uint32_t pkglen = pkg_length(p + 6, &n);
        const uint8_t *pkg_end = p + 6 + pkglen;
        assert_true(pkg_end <= end);
        const uint8_t *q = p + 6 + n;
        unsigned count = *q++;
        assert_int_equal(count, 4);
        bool this_one = memcmp(seg, name, 4) == 0;
        for (unsigned i = 0; i < count; i++) {
            uint32_t v = aml_integer(q, &n);
            if (this_one)
                out[i] = v;
            q += n;
        }
        assert_ptr_equal(q, pkg_end);                /* PkgLength covers exactly this */
        found |= this_one;
        p = pkg_end;
    }
    assert_ptr_equal(p, end);
    return found;
}

static void test_dsdt_s5_package(void **state)
{
    (void)state;
    uint32_t v[4];
    assert_true(find_sleep_package("_S5_", v));
    assert_int_equal(v[0], ACPI_SLP_TYP_S5);
    assert_int_equal(v[1], ACPI_SLP_TYP_S5);
    assert_int_equal(v[2], 0);
    assert_int_equal(v[3], 0);
}

static void test_dsdt_s0_package(void **state)
{
    (void)state;
    uint32_t v[4] = {1, 1, 1, 1};
    assert_true(find_sleep_package("_S0_", v));
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(v[i], 0);
    assert_false(find_sleep_package("_S3_", v));     /* no sleep states */
}

/* ---- Where the tables go, and when they do not fit. */

static void test_writes_only_the_tables(void **state)
{
    (void)state;
    uint32_t rsdp = build();
    uint64_t last = rd64(rsdp + 24);                 /* the XSDT is laid out last */
    uint64_t end = last + rd32(last + 4);
    assert_true(end - ACPI_TABLES_GPA <= 4096);      /* well inside the region */
    for (uint64_t a = 0; a < ram.size; a++)
        if (a < ACPI_TABLES_GPA || a >= end)
            assert_int_equal(ram.bytes[a], RAM_FILL);
}

/* A second build over stale bytes (a guest reset) gives the same tables, padding included. */
static void test_rebuild_is_identical(void **state)
{
    (void)state;
    uint32_t rsdp = build();
    uint64_t last = rd64(rsdp + 24);
    uint32_t used = (uint32_t)(last + rd32(last + 4) - ACPI_TABLES_GPA);
    uint8_t *first = malloc(used);
    assert_non_null(first);
    memcpy(first, at(ACPI_TABLES_GPA), used);
    memset(ram.bytes + ACPI_TABLES_GPA, 0x55, used);
    build();
    assert_memory_equal(at(ACPI_TABLES_GPA), first, used);
    free(first);
}

static void test_fails_when_ram_is_too_small(void **state)
{
    (void)state;
    ram_alloc(0xF0000 - 1);
    assert_int_equal(acpi_build_tables(&mem, &cfg), 0);
    ram_alloc(640 * 1024);
    assert_int_equal(acpi_build_tables(&mem, &cfg), 0);
    for (uint64_t a = 0; a < ram.size; a++)
        assert_int_equal(rd8(a), RAM_FILL);
    ram_alloc(0xF0000);                              /* exactly enough: the SMBIOS area is not ours */
    assert_int_equal(acpi_build_tables(&mem, &cfg), ACPI_TABLES_GPA);
}

static void test_fails_when_bios_area_is_not_ram(void **state)
{
    (void)state;
    ram.hole_start = 0xEF000;
    ram.hole_end = 0xF0000;
    assert_int_equal(acpi_build_tables(&mem, &cfg), 0);
    assert_int_equal(acpi_build_tables(NULL, &cfg), 0);
    assert_int_equal(acpi_build_tables(&mem, NULL), 0);
    for (uint64_t a = ACPI_TABLES_GPA; a < ACPI_TABLES_END; a++)
        assert_int_equal(rd8(a), RAM_FILL);
}

/* The ACPI tables and the SMBIOS tables share the BIOS area 0xE0000-0xFFFFF: neither
 * builder touches the other's bytes, and both lie in what the memory maps reserve. */
static void test_acpi_and_smbios_share_the_bios_area(void **state)
{
    (void)state;
    assert_int_equal(ACPI_TABLES_GPA, 0xE0000);
    assert_true(ACPI_TABLES_END <= SMBIOS_GPA);
    assert_int_equal(SMBIOS_END, 0x100000);
    uint32_t rsdp = build();
    uint64_t last = rd64(rsdp + 24);
    uint32_t used = (uint32_t)(last + rd32(last + 4) - ACPI_TABLES_GPA);
    uint8_t *acpi = malloc(used);
    assert_non_null(acpi);
    memcpy(acpi, at(ACPI_TABLES_GPA), used);
    const struct smbios_config sc = {.vm_name = "firmware", .ram_size = 4 * MiB};
    assert_int_equal(smbios_build(&mem, &sc), SMBIOS_GPA);
    assert_memory_equal(at(ACPI_TABLES_GPA), acpi, used);
    assert_ram_is(ACPI_TABLES_GPA + used, SMBIOS_GPA - ACPI_TABLES_GPA - used, RAM_FILL);
    assert_memory_equal(at(SMBIOS_GPA), "_SM_", 4);
    free(acpi);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ram_setup, ram_teardown)
    const struct CMUnitTest tests[] = {
        T(test_rsdp),
        T(test_every_table_checksums_and_lengths),
        T(test_rsdt_and_xsdt_list_fadt_and_madt),
        T(test_tables_do_not_overlap),
        T(test_madt_entries),
        T(test_madt_follows_config),
        T(test_fadt_fields),
        T(test_dsdt_s5_package),
        T(test_dsdt_s0_package),
        T(test_writes_only_the_tables),
        T(test_rebuild_is_identical),
        T(test_fails_when_ram_is_too_small),
        T(test_fails_when_bios_area_is_not_ram),
        T(test_acpi_and_smbios_share_the_bios_area),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the MADT parser and the ACPI checksum (drivers/acpi.c); the table
 * discovery functions read physical memory and are not called here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/acpi.c"

/* A MADT under construction. */
static uint8_t table[1024];
static size_t table_len;
static struct madt_info info;

static void put(const void *p, size_t n)
{
    assert_true(table_len + n <= sizeof table);
    memcpy(table + table_len, p, n);
    table_len += n;
}

static void put8(uint8_t v) { put(&v, 1); }
static void put16(uint16_t v) { put(&v, 2); }
static void put32(uint32_t v) { put(&v, 4); }
static void put64(uint64_t v) { put(&v, 8); }

/* Writes the length and a correct checksum into the header. */
static void finish(void)
{
    uint32_t len = (uint32_t)table_len;
    memcpy(table + 4, &len, 4);
    table[9] = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < table_len; i++)
        sum += table[i];
    table[9] = (uint8_t)-sum;
}

static void begin(const char *sig)
{
    memset(table, 0, sizeof table);
    table_len = 0;
    put(sig, 4);
    put32(0);                       /* length, set by finish() */
    put8(4);                        /* revision */
    put8(0);                        /* checksum */
    put("OEMID ", 6);
    put("OEMTABLE", 8);
    put32(1);
    put32(0x5446534D);
    put32(1);
    put32(0xFEE00000);              /* local APIC address */
    put32(1);                       /* flags: PC-AT compatible */
}

static void local_apic(uint8_t uid, uint8_t apic_id, uint32_t flags)
{
    put8(0); put8(8); put8(uid); put8(apic_id); put32(flags);
}

static void ioapic(uint8_t id, uint32_t address, uint32_t gsi_base)
{
    put8(1); put8(12); put8(id); put8(0); put32(address); put32(gsi_base);
}

static void override(uint8_t bus, uint8_t source, uint32_t gsi, uint16_t flags)
{
    put8(2); put8(10); put8(bus); put8(source); put32(gsi); put16(flags);
}

static void x2apic(uint32_t id, uint32_t flags, uint32_t uid)
{
    put8(9); put8(16); put16(0); put32(id); put32(flags); put32(uid);
}

static void lapic_nmi(void)
{
    put8(4); put8(6); put8(0xFF); put16(5); put8(1);
}

/* The MADT of a small machine: two processors (the second disabled), one IOAPIC, the usual
 * IRQ0 -> GSI2 and SCI (IRQ9, level, active low) overrides, an NMI entry and an x2APIC. */
static void build_typical(void)
{
    begin("APIC");
    local_apic(0, 0, 1);
    local_apic(1, 1, 0);
    ioapic(2, 0xFEC00000, 0);
    override(0, 0, 2, 0);
    override(0, 9, 9, 0x000D);      /* active low (3), level (3 << 2) */
    lapic_nmi();
    x2apic(0x100, 1, 7);
    finish();
}

static void test_typical_madt(void **state)
{
    (void)state;
    build_typical();
    assert_true(acpi_checksum_ok(table, table_len));
    assert_int_equal(acpi_parse_madt(table, table_len, &info), 0);
    assert_true(info.found);
    assert_int_equal(info.lapic_address, 0xFEE00000);

    assert_int_equal(info.n_cpus, 2);               /* the disabled one is left out */
    assert_int_equal(info.apic_ids[0], 0);
    assert_int_equal(info.apic_ids[1], 0x100);

    assert_int_equal(info.n_ioapics, 1);
    assert_int_equal(info.ioapics[0].id, 2);
    assert_int_equal(info.ioapics[0].address, 0xFEC00000);
    assert_int_equal(info.ioapics[0].gsi_base, 0);

    assert_int_equal(info.isa_gsi[0], 2);
    assert_int_equal(info.isa_flags[0], 0);
    assert_int_equal(info.isa_gsi[9], 9);
    assert_int_equal(info.isa_flags[9], 0x000D);
    for (unsigned irq = 1; irq < 16; irq++) {
        if (irq == 9)
            continue;
        assert_int_equal(info.isa_gsi[irq], irq);   /* identity elsewhere */
        assert_int_equal(info.isa_flags[irq], 0);
    }
}

static void test_overrides_and_ioapics(void **state)
{
    (void)state;
    begin("APIC");
    ioapic(0, 0xFEC00000, 0);
    ioapic(1, 0xFEC01000, 24);
    override(0, 14, 30, 0x0005);
    override(1, 3, 40, 0x000F);     /* not ISA: ignored */
    override(0, 16, 50, 0x000F);    /* not an ISA IRQ: ignored */
    put8(5); put8(12); put16(0); put64(0xFED00000ull);  /* 64-bit LAPIC address override */
    put8(0x7F); put8(4); put16(0);  /* an unknown type is skipped by its length */
    local_apic(3, 9, 1);
    finish();
    assert_int_equal(acpi_parse_madt(table, table_len, &info), 0);
    assert_int_equal(info.lapic_address, 0xFED00000ull);
    assert_int_equal(info.n_ioapics, 2);
    assert_int_equal(info.ioapics[1].id, 1);
    assert_int_equal(info.ioapics[1].address, 0xFEC01000);
    assert_int_equal(info.ioapics[1].gsi_base, 24);
    assert_int_equal(info.isa_gsi[14], 30);
    assert_int_equal(info.isa_flags[14], 5);
    assert_int_equal(info.isa_gsi[3], 3);
    assert_int_equal(info.isa_flags[3], 0);
    assert_int_equal(info.n_cpus, 1);
    assert_int_equal(info.apic_ids[0], 9);
}

static void test_disabled_x2apic_and_limits(void **state)
{
    (void)state;
    begin("APIC");
    x2apic(5, 0, 0);                /* disabled */
    for (unsigned i = 0; i < MADT_MAX_IOAPICS + 2; i++)
        ioapic((uint8_t)i, 0xFEC00000 + i * 0x1000, i * 24);
    finish();
    assert_int_equal(acpi_parse_madt(table, table_len, &info), 0);
    assert_int_equal(info.n_cpus, 0);
    assert_int_equal(info.n_ioapics, MADT_MAX_IOAPICS);
    assert_int_equal(info.ioapics[MADT_MAX_IOAPICS - 1].gsi_base, (MADT_MAX_IOAPICS - 1) * 24);

    /* More enabled processors than the table holds. */
    begin("APIC");
    for (unsigned i = 0; i < MADT_MAX_CPUS + 4; i++)
        local_apic((uint8_t)i, (uint8_t)i, 1);
    finish();
    assert_int_equal(acpi_parse_madt(table, table_len, &info), 0);
    assert_int_equal(info.n_cpus, MADT_MAX_CPUS);
    assert_int_equal(info.apic_ids[MADT_MAX_CPUS - 1], MADT_MAX_CPUS - 1);
}

static void test_empty_madt(void **state)
{
    (void)state;
    begin("APIC");
    finish();
    assert_int_equal(acpi_parse_madt(table, table_len, &info), 0);
    assert_true(info.found);
    assert_int_equal(info.n_cpus, 0);
    assert_int_equal(info.n_ioapics, 0);
    assert_int_equal(info.isa_gsi[15], 15);
}

static void test_malformed_entry_length(void **state)
{
    (void)state;
    /* Length 0 would loop forever; length 1 cannot hold its own header. */
    for (uint8_t bad = 0; bad < 2; bad++) {
        begin("APIC");
        local_apic(0, 0, 1);
        put8(1); put8(bad); put16(0); put32(0); put32(0);
        finish();
        assert_int_equal(acpi_parse_madt(table, table_len, &info), -1);
        assert_false(info.found);
    }
    /* An entry running past the table's end. */
    begin("APIC");
    local_apic(0, 0, 1);
    put8(0); put8(8); put8(1); put8(1);
    finish();
    assert_int_equal(acpi_parse_madt(table, table_len, &info), -1);
    assert_false(info.found);
}

static void test_bad_header(void **state)
{
    (void)state;
    build_typical();
    memcpy(table, "FACP", 4);
    assert_int_equal(acpi_parse_madt(table, table_len, &info), -1);
    assert_false(info.found);
    assert_int_equal(info.isa_gsi[0], 0);           /* identity even on failure */
    assert_int_equal(info.isa_gsi[9], 9);

    /* The header's length longer than the buffer. */
    build_typical();
    assert_int_equal(acpi_parse_madt(table, table_len - 1, &info), -1);
    /* Shorter than header + LAPIC address + flags. */
    build_typical();
    uint32_t small = 40;
    memcpy(table + 4, &small, 4);
    assert_int_equal(acpi_parse_madt(table, table_len, &info), -1);
    assert_int_equal(acpi_parse_madt(table, 43, &info), -1);

    /* A header length shorter than the buffer: entries beyond it are not parsed. */
    build_typical();
    uint32_t cut = 44 + 8;                          /* just the first local APIC */
    memcpy(table + 4, &cut, 4);
    assert_int_equal(acpi_parse_madt(table, table_len, &info), 0);
    assert_int_equal(info.n_cpus, 1);
    assert_int_equal(info.n_ioapics, 0);
    assert_int_equal(info.isa_gsi[0], 0);
}

static void test_checksum(void **state)
{
    (void)state;
    build_typical();
    assert_true(acpi_checksum_ok(table, table_len));
    table[table_len - 1] ^= 0x01;
    assert_false(acpi_checksum_ok(table, table_len));
    table[table_len - 1] ^= 0x01;
    table[9]++;
    assert_false(acpi_checksum_ok(table, table_len));

    static const uint8_t zeros[4];
    assert_true(acpi_checksum_ok(zeros, sizeof zeros));
    assert_true(acpi_checksum_ok(zeros, 0));
    static const uint8_t wraps[3] = { 0x80, 0x7F, 0x01 };    /* 0x100 == 0 mod 256 */
    assert_true(acpi_checksum_ok(wraps, sizeof wraps));
    assert_false(acpi_checksum_ok(wraps, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typical_madt),
        cmocka_unit_test(test_overrides_and_ioapics),
        cmocka_unit_test(test_disabled_x2apic_and_limits),
        cmocka_unit_test(test_empty_madt),
        cmocka_unit_test(test_malformed_entry_length),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the guests' SMBIOS tables (kernel/vm/loader/smbios.c): the tables are read
 * back from a fake guest RAM at the byte offsets DSP0134 2.8 gives, and found as Linux's
 * dmi_scan finds them. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/vm/loader/util.c"
#include "kernel/vm/loader/smbios.c"
#include "tests/unit/fake_ram.h"

#define EP_LEN 0x1F

static const struct smbios_config cfg = {.vm_name = "linux", .ram_size = 256 * MiB};

static uint32_t build_with(const struct smbios_config *c)
{
    uint32_t ep = smbios_build(&mem, c);
    assert_int_equal(ep, SMBIOS_GPA);
    return ep;
}

static uint32_t build(void) { return build_with(&cfg); }

/* ---- Walking the structure table as dmidecode and Linux's dmi_walk_early do. */

struct smbios_walk {
    uint64_t start[32];            /* each structure's address */
    uint32_t size[32];             /* formatted area, strings and terminator */
    unsigned count;
    uint64_t end;                  /* just past the last structure */
};

/* Walks the table the entry point at ep describes, checking every structure's framing
 * and that the entry point's length, count and maximum size match what is there. */
static void walk(uint32_t ep, struct smbios_walk *w)
{
    uint64_t p = rd32(ep + 0x18), table_end = p + rd16(ep + 0x16);
    assert_true(table_end <= SMBIOS_END);
    uint16_t max = 0;
    w->count = 0;
    while (p < table_end) {
        assert_true(w->count < 32);
        uint8_t len = rd8(p + 1);
        assert_true(len >= 4);
        uint64_t s = p + len;
        assert_true(s + 2 <= table_end);
        if (rd8(s) == 0) {
            s++;                                     /* no strings: two NULs */
        } else {
            while (rd8(s) != 0) {                    /* each string: printable, NUL-ended */
                for (; rd8(s) != 0; s++)
                    assert_true(rd8(s) >= 32 && rd8(s) < 127 && s < table_end);
                s++;
            }
        }
        s++;
        assert_true(s <= table_end);
        for (unsigned i = 0; i < w->count; i++)      /* handles are unique */
            assert_int_not_equal(rd16(w->start[i] + 2), rd16(p + 2));
        w->start[w->count] = p;
        w->size[w->count] = (uint32_t)(s - p);
        if (s - p > max)
            max = (uint16_t)(s - p);
        w->count++;
        p = s;
        if (rd8(w->start[w->count - 1]) == 127)
            break;
    }
    w->end = p;
    assert_int_equal(p, table_end);
    assert_int_equal(w->count, rd16(ep + 0x1C));
    assert_int_equal(max, rd16(ep + 0x08));
}

/* The address of the first structure of type, or 0. */
static uint64_t find(const struct smbios_walk *w, uint8_t type)
{
    for (unsigned i = 0; i < w->count; i++)
        if (rd8(w->start[i]) == type)
            return w->start[i];
    return 0;
}

static unsigned count_type(const struct smbios_walk *w, uint8_t type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < w->count; i++)
        n += rd8(w->start[i]) == type;
    return n;
}

/* String number n of the structure at p, NULL for 0 or a number past its set. */
static const char *str(uint64_t p, uint8_t n)
{
    if (n == 0)
        return NULL;
    const char *s = (const char *)at(p + rd8(p + 1));
    while (--n) {
        if (!*s)
            return NULL;
        s += strlen(s) + 1;
    }
    return *s ? s : NULL;
}

/* The string a field at offset off refers to; fails if it names no string. */
static const char *field_str(uint64_t p, unsigned off)
{
    const char *s = str(p, rd8(p + off));
    assert_non_null(s);
    return s;
}

static struct smbios_walk built(void)
{
    struct smbios_walk w;
    walk(build(), &w);
    return w;
}

/* ---- The entry point (5.2.1). */

static void test_entry_point(void **state)
{
    (void)state;
    uint32_t ep = build();
    assert_int_equal(ep % 16, 0);
    assert_memory_equal(at(ep), "_SM_", 4);
    assert_int_equal(rd8(ep + 0x05), EP_LEN);
    assert_int_equal(sum(ep, EP_LEN), 0);
    assert_int_equal(rd8(ep + 0x06), 2);             /* SMBIOS 2.8 */
    assert_int_equal(rd8(ep + 0x07), 8);
    assert_int_equal(rd8(ep + 0x0A), 0);             /* entry point revision 0 */
    for (unsigned i = 0x0B; i < 0x10; i++)
        assert_int_equal(rd8(ep + i), 0);
    assert_memory_equal(at(ep + 0x10), "_DMI_", 5);
    assert_int_equal(sum(ep + 0x10, 15), 0);
    assert_int_equal(rd8(ep + 0x1E), 0x28);          /* BCD revision */
    uint32_t table = rd32(ep + 0x18);
    assert_true(table >= ep + EP_LEN && table < SMBIOS_END);
    assert_true(rd16(ep + 0x16) > 0 && table + rd16(ep + 0x16) <= SMBIOS_END);
    assert_true(rd16(ep + 0x1C) >= 4);               /* types 0, 1, 3, 32, 127 at least */
    assert_true(rd16(ep + 0x08) >= 0x18);            /* type 0 alone is that large */
}

/* Linux's dmi_scan_machine: 16-byte steps over 0xF0000-0xFFFFF; dmi_present() wants "_SM_"
 * with a length of 30 to 32 and a good checksum, "_DMI_" 16 bytes on with its own. */
static void test_linux_finds_exactly_one_entry_point(void **state)
{
    (void)state;
    build();
    unsigned found = 0;
    for (uint64_t q = 0xF0000; q + 32 <= 0x100000; q += 16) {
        if (memcmp(at(q), "_SM_", 4) != 0)
            continue;
        uint8_t len = rd8(q + 5);
        assert_true(len >= 30 && len <= 32);
        assert_int_equal(sum(q, len), 0);
        assert_memory_equal(at(q + 16), "_DMI_", 5);
        assert_int_equal(sum(q + 16, 15), 0);
        found++;
    }
    assert_int_equal(found, 1);
}

/* ---- The structure table (6.1). */

static void test_structures_and_counts(void **state)
{
    (void)state;
    struct smbios_walk w = built();
    assert_int_equal(w.count, 8);
    const uint8_t types[] = {0, 1, 3, 16, 17, 19, 32, 127};
    const uint8_t lengths[] = {0x18, 0x1B, 0x16, 0x17, 0x28, 0x1F, 0x0B, 4};
    for (unsigned i = 0; i < w.count; i++) {
        assert_int_equal(rd8(w.start[i]), types[i]);
        assert_int_equal(rd8(w.start[i] + 1), lengths[i]);
        assert_true(rd16(w.start[i] + 2) < 0xFEFF);  /* 0xFF00 and up are reserved */
    }
    assert_int_equal(rd8(w.start[w.count - 1]), 127);
    assert_int_equal(w.size[w.count - 1], 4 + 2);    /* end of table: no strings */
}

static void test_bios_information(void **state)
{
    (void)state;
    struct smbios_walk w = built();
    uint64_t b = find(&w, 0);
    assert_int_equal(count_type(&w, 0), 1);
    assert_string_equal(field_str(b, 0x04), "anfitrion");
    assert_string_equal(field_str(b, 0x05), "0.1");
    assert_int_equal(rd16(b + 0x06), 0xF000);        /* starting segment */
    assert_string_equal(field_str(b, 0x08), "11/24/2026");
    assert_int_equal(rd8(b + 0x09), 0);              /* ROM size: 64 KiB */
    assert_int_equal(rd64(b + 0x0A), 1u << 3);       /* characteristics not supported */
    assert_int_equal(rd8(b + 0x12) & 0x01, 0x01);    /* ACPI supported */
    assert_int_equal(rd8(b + 0x13) & 0x10, 0x10);    /* a virtual machine */
    assert_int_equal(rd8(b + 0x14), 0);              /* BIOS release 0.1 */
    assert_int_equal(rd8(b + 0x15), 1);
    assert_int_equal(rd16(b + 0x16), 0xFFFF);        /* no EC firmware */
}

/* dmi_get_date() as in Linux 6.1 drivers/firmware/dmi_scan.c: the year after the last '/',
 * month and day before it. direct.c's pci_sanity_check() wants the year >= 2001. */
static void test_bios_date_as_linux_parses_it(void **state)
{
    (void)state;
    struct smbios_walk w = built();
    const char *s = field_str(find(&w, 0), 0x08);
    const char *y = strrchr(s, '/');
    assert_non_null(y);
    char *e;
    unsigned long year = strtoul(y + 1, &e, 10);
    assert_int_equal(*e, 0);
    unsigned long month = strtoul(s, &e, 10);
    assert_int_equal(*e, '/');
    unsigned long day = strtoul(e + 1, &e, 10);
    assert_ptr_equal(e, y);
    assert_int_equal(year, 2026);
    assert_int_equal(month, 11);
    assert_int_equal(day, 24);
    assert_true(year >= 2001);
}

static void test_system_information(void **state)
{
    (void)state;
    struct smbios_walk w = built();
    uint64_t s = find(&w, 1);
    assert_int_equal(count_type(&w, 1), 1);
    assert_string_equal(field_str(s, 0x04), "anfitrion");
    assert_string_equal(field_str(s, 0x05), "anfitrion guest");
    assert_string_equal(field_str(s, 0x06), "0.1");
    assert_string_equal(field_str(s, 0x07), "linux");
    assert_int_equal(rd8(s + 0x18), 6);              /* wake-up: power switch */
    assert_int_equal(rd8(s + 0x19), 0);              /* no SKU */
    assert_string_equal(field_str(s, 0x1A), "anfitrion");
    /* UUID: neither all 0x00 nor all 0xFF; RFC 9562 version 8, variant 10 (7.2.1: the
     * first three fields little-endian, so time_hi's high byte is byte 7). */
    bool zero = true, ones = true;
    for (unsigned i = 0; i < 16; i++) {
        zero &= rd8(s + 8 + i) == 0x00;
        ones &= rd8(s + 8 + i) == 0xFF;
    }
    assert_false(zero || ones);
    assert_int_equal(rd8(s + 8 + 7) >> 4, 8);
    assert_int_equal(rd8(s + 8 + 8) >> 6, 2);
}

static void copy_uuid(const char *name, uint8_t out[16])
{
    const struct smbios_config c = {.vm_name = name, .ram_size = 16 * MiB};
    struct smbios_walk w;
    walk(build_with(&c), &w);
    memcpy(out, at(find(&w, 1) + 8), 16);
}

static void test_uuid_follows_the_name(void **state)
{
    (void)state;
    uint8_t a[16], a2[16], b[16];
    copy_uuid("alpha", a);
    copy_uuid("beta", b);
    copy_uuid("alpha", a2);
    assert_memory_equal(a, a2, 16);
    assert_memory_not_equal(a, b, 16);
}

static void test_no_name(void **state)
{
    (void)state;
    const char *names[] = {NULL, ""};
    for (unsigned i = 0; i < 2; i++) {
        const struct smbios_config c = {.vm_name = names[i], .ram_size = 16 * MiB};
        struct smbios_walk w;
        walk(build_with(&c), &w);
        uint64_t s = find(&w, 1);
        assert_int_equal(rd8(s + 0x07), 0);          /* serial: not specified */
        for (unsigned j = 0; j < 16; j++)            /* UUID: not settable */
            assert_int_equal(rd8(s + 8 + j), 0);
        assert_string_equal(field_str(s, 0x1A), "anfitrion");
    }
}

static void test_long_name_is_cut(void **state)
{
    (void)state;
    char name[200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    const struct smbios_config c = {.vm_name = name, .ram_size = 16 * MiB};
    struct smbios_walk w;
    walk(build_with(&c), &w);
    const char *serial = field_str(find(&w, 1), 0x07);
    assert_int_equal(strlen(serial), SMBIOS_STRING_MAX);
    assert_memory_equal(serial, name, SMBIOS_STRING_MAX);
}

static void test_chassis_and_boot(void **state)
{
    (void)state;
    struct smbios_walk w = built();
    uint64_t c = find(&w, 3);
    assert_string_equal(field_str(c, 0x04), "anfitrion");
    assert_int_equal(rd8(c + 0x05), 0x01);           /* other, no lock */
    assert_int_equal(rd8(c + 0x09), 3);              /* boot-up, power, thermal: safe */
    assert_int_equal(rd8(c + 0x0A), 3);
    assert_int_equal(rd8(c + 0x0B), 3);
    assert_int_equal(rd8(c + 0x0C), 3);              /* security: none */
    assert_int_equal(rd8(c + 0x13), 0);              /* no contained elements */
    assert_int_equal(rd8(c + 0x15), 0);              /* SKU right after them: none */

    uint64_t b = find(&w, 32);
    for (unsigned i = 4; i < 0x0B; i++)              /* reserved, then status 0: no errors */
        assert_int_equal(rd8(b + i), 0);
}

/* ---- Memory (7.17, 7.18, 7.20): one array, one device, one mapping, of ram_size. */

struct memory_view { uint64_t array, device, mapped; };

static struct memory_view memory_for(uint64_t ram_size)
{
    const struct smbios_config c = {.vm_name = "m", .ram_size = ram_size};
    struct smbios_walk w;
    walk(build_with(&c), &w);
    assert_int_equal(count_type(&w, 16), 1);
    assert_int_equal(count_type(&w, 17), 1);
    assert_int_equal(count_type(&w, 19), 1);
    struct memory_view v = {find(&w, 16), find(&w, 17), find(&w, 19)};
    uint16_t array = rd16(v.array + 2);
    assert_int_equal(rd8(v.array + 0x04), 3);        /* system board */
    assert_int_equal(rd8(v.array + 0x05), 3);        /* system memory */
    assert_int_equal(rd16(v.array + 0x0D), 1);       /* one device */
    assert_int_equal(rd16(v.device + 0x04), array);
    assert_string_equal(field_str(v.device, 0x10), "DIMM 0");
    assert_int_equal(rd8(v.device + 0x12), 0x07);    /* RAM */
    assert_int_equal(rd16(v.mapped + 0x0C), array);
    assert_int_equal(rd8(v.mapped + 0x0E), 1);
    return v;
}

static void test_memory_256m(void **state)
{
    (void)state;
    struct memory_view v = memory_for(256 * MiB);
    assert_int_equal(rd32(v.array + 0x07), 256 * 1024);     /* KiB */
    assert_int_equal(rd16(v.device + 0x0C), 256);           /* MiB */
    assert_int_equal(rd32(v.device + 0x1C), 0);
    assert_int_equal(rd32(v.mapped + 0x04), 0);             /* KiB, end inclusive */
    assert_int_equal(rd32(v.mapped + 0x08), 256 * 1024 - 1);
    assert_int_equal(rd64(v.mapped + 0x0F) | rd64(v.mapped + 0x17), 0);
}

static void test_memory_64g_uses_extended_size(void **state)
{
    (void)state;
    struct memory_view v = memory_for(64ull << 30);
    assert_int_equal(rd32(v.array + 0x07), 64u << 20);
    assert_int_equal(rd16(v.device + 0x0C), 0x7FFF);
    assert_int_equal(rd32(v.device + 0x1C), 64 * 1024);
    assert_int_equal(rd32(v.mapped + 0x08), (64u << 20) - 1);
}

static void test_memory_8t_uses_extended_addresses(void **state)
{
    (void)state;
    uint64_t ram_size = 8ull << 40;
    struct memory_view v = memory_for(ram_size);
    assert_int_equal(rd32(v.array + 0x07), 0x80000000u);
    assert_int_equal(rd64(v.array + 0x0F), ram_size);
    assert_int_equal(rd32(v.device + 0x1C), 8u << 20);
    assert_int_equal(rd32(v.mapped + 0x04), 0xFFFFFFFFu);
    assert_int_equal(rd32(v.mapped + 0x08), 0xFFFFFFFFu);
    assert_int_equal(rd64(v.mapped + 0x0F), 0);
    assert_int_equal(rd64(v.mapped + 0x17), ram_size - 1);
}

static void test_memory_not_a_mib_multiple(void **state)
{
    (void)state;
    struct memory_view v = memory_for(2560 * KiB);
    assert_int_equal(rd16(v.device + 0x0C), 0x8000 | 2560);  /* KiB granularity */
    assert_int_equal(rd32(v.mapped + 0x08), 2560 - 1);
}

static void test_no_memory_structures_without_size(void **state)
{
    (void)state;
    const struct smbios_config c = {.vm_name = "m", .ram_size = 0};
    struct smbios_walk w;
    walk(build_with(&c), &w);
    assert_int_equal(w.count, 5);
    assert_int_equal(count_type(&w, 16) + count_type(&w, 17) + count_type(&w, 19), 0);
}

/* ---- Where the tables go, and when they do not fit. */

static void test_writes_only_the_tables(void **state)
{
    (void)state;
    struct smbios_walk w = built();
    assert_true(w.end - SMBIOS_GPA <= 1024);          /* well inside the region */
    for (uint64_t a = 0; a < ram.size; a++)
        if (a < SMBIOS_GPA || a >= w.end)
            assert_int_equal(ram.bytes[a], RAM_FILL);
}

/* A second build over stale bytes (a guest reset) gives the same tables, padding included. */
static void test_rebuild_is_identical(void **state)
{
    (void)state;
    struct smbios_walk w = built();
    uint32_t used = (uint32_t)(w.end - SMBIOS_GPA);
    uint8_t *first = malloc(used);
    assert_non_null(first);
    memcpy(first, at(SMBIOS_GPA), used);
    memset(ram.bytes + SMBIOS_GPA, 0x55, used);
    build();
    assert_memory_equal(at(SMBIOS_GPA), first, used);
    free(first);
}

static void test_fails_when_ram_is_too_small(void **state)
{
    (void)state;
    ram_alloc(MiB - 1);
    assert_int_equal(smbios_build(&mem, &cfg), 0);
    ram_alloc(640 * 1024);
    assert_int_equal(smbios_build(&mem, &cfg), 0);
    for (uint64_t a = 0; a < ram.size; a++)
        assert_int_equal(rd8(a), RAM_FILL);
    ram_alloc(MiB);                                  /* exactly enough */
    assert_int_equal(smbios_build(&mem, &cfg), SMBIOS_GPA);
}

static void test_fails_when_bios_area_is_not_ram(void **state)
{
    (void)state;
    ram.hole_start = 0xFF000;
    ram.hole_end = 0x100000;
    assert_int_equal(smbios_build(&mem, &cfg), 0);
    assert_int_equal(smbios_build(NULL, &cfg), 0);
    assert_int_equal(smbios_build(&mem, NULL), 0);
    for (uint64_t a = 0xE0000; a < SMBIOS_END; a++)
        assert_int_equal(rd8(a), RAM_FILL);
}

/* The writer refuses what does not fit and leaves no anchor: a table squeezed into a
 * region too small for it. */
static void test_overflowing_table_is_refused(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct smbios_table t = {.base = buf, .size = sizeof buf};
    add_bios(&t);
    assert_false(t.full);                            /* 0x18 + 25 bytes of strings */
    add_system(&t, "linux");
    assert_true(t.full);
    assert_true(t.used <= sizeof buf);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ram_setup, ram_teardown)
    const struct CMUnitTest tests[] = {
        T(test_entry_point),
        T(test_linux_finds_exactly_one_entry_point),
        T(test_structures_and_counts),
        T(test_bios_information),
        T(test_bios_date_as_linux_parses_it),
        T(test_system_information),
        T(test_uuid_follows_the_name),
        T(test_no_name),
        T(test_long_name_is_cut),
        T(test_chassis_and_boot),
        T(test_memory_256m),
        T(test_memory_64g_uses_extended_size),
        T(test_memory_8t_uses_extended_addresses),
        T(test_memory_not_a_mib_multiple),
        T(test_no_memory_structures_without_size),
        T(test_writes_only_the_tables),
        T(test_rebuild_is_identical),
        T(test_fails_when_ram_is_too_small),
        T(test_fails_when_bios_area_is_not_ram),
        T(test_overflowing_table_is_refused),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

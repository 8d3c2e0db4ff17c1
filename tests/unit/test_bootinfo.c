/* Host unit tests for the Multiboot 1 and 2 parser (kernel/bootinfo.c), reading a fake
 * physical memory through the map callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/bootinfo.c"

/* Fake physical memory: [MEM_BASE, MEM_BASE + MEM_SIZE) is readable, the rest is not. The
 * buffer is heap-allocated so that the sanitizer catches a read past its end. */
#define MEM_BASE 0x10000ull
#define MEM_SIZE 0x40000ull

struct fake_mem {
    uint8_t *bytes;
    unsigned long map_calls;
};

static struct fake_mem mem;
static struct boot_info bi;

static const void *fake_map(uint64_t phys, size_t len, void *ctx)
{
    struct fake_mem *m = ctx;
    m->map_calls++;
    if (phys < MEM_BASE || len > MEM_SIZE || phys - MEM_BASE > MEM_SIZE - len)
        return NULL;
    return m->bytes + (phys - MEM_BASE);
}

static uint8_t *at(uint64_t phys) { return mem.bytes + (phys - MEM_BASE); }
static void put32(uint64_t phys, uint32_t v) { memcpy(at(phys), &v, 4); }
static void put64(uint64_t phys, uint64_t v) { memcpy(at(phys), &v, 8); }
static void putstr(uint64_t phys, const char *s) { memcpy(at(phys), s, strlen(s) + 1); }

static int setup(void **state)
{
    (void)state;
    mem.bytes = calloc(1, MEM_SIZE);
    mem.map_calls = 0;
    memset(&bi, 0x5A, sizeof bi);       /* the parser must clear what it does not set */
    return mem.bytes ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(mem.bytes);
    mem.bytes = NULL;
    return 0;
}

static void assert_region(unsigned i, uint64_t start, uint64_t end, uint32_t type)
{
    assert_true(i < bi.n_regions);
    assert_int_equal(bi.regions[i].start, start);
    assert_int_equal(bi.regions[i].end, end);
    assert_int_equal(bi.regions[i].type, type);
}

static void assert_reserved(unsigned i, uint64_t start, uint64_t end)
{
    assert_true(i < bi.n_reserved);
    assert_int_equal(bi.reserved[i].start, start);
    assert_int_equal(bi.reserved[i].end, end);
}

/* ---- Multiboot 1 ---- */

#define MB1_INFO    0x10000ull
#define MB1_CMDLINE 0x11000ull
#define MB1_LOADER  0x11100ull
#define MB1_MMAP    0x12000ull
#define MB1_MODS    0x13000ull
#define MB1_MODSTR  0x13800ull

/* Offsets in struct mb1_info. */
enum { I_FLAGS = 0, I_MEM_LOWER = 4, I_MEM_UPPER = 8, I_CMDLINE = 16, I_MODS_COUNT = 20,
       I_MODS_ADDR = 24, I_MMAP_LENGTH = 44, I_MMAP_ADDR = 48, I_LOADER = 64 };

static uint32_t mb1_mmap_used;

static void mb1_mmap_entry(uint32_t size, uint64_t addr, uint64_t len, uint32_t type)
{
    uint64_t p = MB1_MMAP + mb1_mmap_used;
    put32(p, size);
    put64(p + 4, addr);
    put64(p + 12, len);
    put32(p + 20, type);
    mb1_mmap_used += 24;
}

static void mb1_module(unsigned i, uint32_t start, uint32_t end, uint32_t string)
{
    uint64_t p = MB1_MODS + i * 16ull;
    put32(p, start);
    put32(p + 4, end);
    put32(p + 8, string);
    put32(p + 12, 0);
}

/* A GRUB/QEMU-like Multiboot 1 info: path-prefixed command line, loader name, an e820 map
 * of four entries (one with a type Multiboot does not define) and two modules. */
static void build_mb1(const char *cmdline)
{
    mb1_mmap_used = 0;
    mb1_mmap_entry(20, 0, 0x9FC00, MEM_USABLE);
    mb1_mmap_entry(20, 0x9FC00, 0x400, MEM_RESERVED);
    mb1_mmap_entry(20, 0x100000, 0x7EE0000, MEM_USABLE);
    mb1_mmap_entry(20, 0xFFFC0000, 0x40000, 7);
    putstr(MB1_CMDLINE, cmdline);
    putstr(MB1_LOADER, "qemu");
    mb1_module(0, 0x200000, 0x280000, (uint32_t)MB1_MODSTR);
    mb1_module(1, 0x300000, 0x300800, 0);
    putstr(MB1_MODSTR, "guest.elf mem=16M");

    put32(MB1_INFO + I_FLAGS, MB1_FLAG_MEM | MB1_FLAG_CMDLINE | MB1_FLAG_MODS | MB1_FLAG_MMAP |
                              MB1_FLAG_LOADER);
    put32(MB1_INFO + I_MEM_LOWER, 639);
    put32(MB1_INFO + I_MEM_UPPER, 130048);
    put32(MB1_INFO + I_CMDLINE, (uint32_t)MB1_CMDLINE);
    put32(MB1_INFO + I_MODS_COUNT, 2);
    put32(MB1_INFO + I_MODS_ADDR, (uint32_t)MB1_MODS);
    put32(MB1_INFO + I_MMAP_LENGTH, mb1_mmap_used);
    put32(MB1_INFO + I_MMAP_ADDR, (uint32_t)MB1_MMAP);
    put32(MB1_INFO + I_LOADER, (uint32_t)MB1_LOADER);
}

static int parse_mb1_info(void)
{
    return bootinfo_parse(&bi, MB1_BOOTLOADER_MAGIC, MB1_INFO, fake_map, &mem);
}

static void test_mb1_full(void **state)
{
    (void)state;
    const char *cmdline = "build/anfitrion.elf loglevel=debug";
    build_mb1(cmdline);
    assert_int_equal(parse_mb1_info(), 0);

    assert_int_equal(bi.protocol, 1);
    assert_string_equal(bi.loader, "qemu");
    assert_string_equal(bi.cmdline, "loglevel=debug");

    /* The e820 map wins over mem_lower/upper; an undefined type becomes reserved. */
    assert_int_equal(bi.n_regions, 4);
    assert_region(0, 0, 0x9FC00, MEM_USABLE);
    assert_region(1, 0x9FC00, 0xA0000, MEM_RESERVED);
    assert_region(2, 0x100000, 0x7FE0000, MEM_USABLE);
    assert_region(3, 0xFFFC0000, 0x100000000ull, MEM_RESERVED);

    assert_int_equal(bi.n_modules, 2);
    assert_int_equal(bi.modules_dropped, 0);
    assert_int_equal(bi.modules[0].start, 0x200000);
    assert_int_equal(bi.modules[0].end, 0x280000);
    assert_string_equal(bi.modules[0].cmdline, "guest.elf mem=16M");
    assert_int_equal(bi.modules[1].start, 0x300000);
    assert_int_equal(bi.modules[1].end, 0x300800);
    assert_string_equal(bi.modules[1].cmdline, "");

    /* Everything the loader handed over stays reserved: the info, its strings, the map,
     * the module array, the images and the module strings (each with its NUL). */
    assert_int_equal(bi.n_reserved, 8);
    assert_reserved(0, MB1_INFO, MB1_INFO + 68);
    assert_reserved(1, MB1_CMDLINE, MB1_CMDLINE + strlen(cmdline) + 1);
    assert_reserved(2, MB1_LOADER, MB1_LOADER + 5);
    assert_reserved(3, MB1_MMAP, MB1_MMAP + 4 * 24);
    assert_reserved(4, MB1_MODS, MB1_MODS + 2 * 16);
    assert_reserved(5, 0x200000, 0x280000);
    assert_reserved(6, MB1_MODSTR, MB1_MODSTR + strlen("guest.elf mem=16M") + 1);
    assert_reserved(7, 0x300000, 0x300800);

    assert_int_equal(bi.rsdp, 0);
    assert_false(bi.has_rsdp_copy);
    assert_int_equal(bi.ebda, 0);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0x9FC00 + 0x7EE0000);
}

static void test_mb1_cmdline_forms(void **state)
{
    (void)state;
    static const struct { const char *given, *expect; } cases[] = {
        { "build/anfitrion.elf loglevel=debug", "loglevel=debug" },
        { "loglevel=debug hz=1000", "loglevel=debug hz=1000" },     /* no path: kept */
        { "/boot/anfitrion.elf", "" },
        { "  /boot/anfitrion.elf   slice=5ms  hz=50", "slice=5ms  hz=50" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        build_mb1(cases[i].given);
        assert_int_equal(parse_mb1_info(), 0);
        assert_string_equal(bi.cmdline, cases[i].expect);
    }
}

static void test_mb1_meminfo_only(void **state)
{
    (void)state;
    build_mb1("x");
    put32(MB1_INFO + I_FLAGS, MB1_FLAG_MEM);
    assert_int_equal(parse_mb1_info(), 0);
    assert_int_equal(bi.n_regions, 2);
    assert_region(0, 0, 639 * 1024, MEM_USABLE);
    assert_region(1, 0x100000, 0x100000 + 130048ull * 1024, MEM_USABLE);
    assert_int_equal(bi.n_modules, 0);
    assert_string_equal(bi.cmdline, "");
    assert_string_equal(bi.loader, "");
    assert_int_equal(bi.n_reserved, 1);
    assert_reserved(0, MB1_INFO, MB1_INFO + 68);
    assert_int_equal(bootinfo_usable_bytes(&bi), (639 + 130048) * 1024ull);
}

static void test_mb1_modules_beyond_limit_dropped(void **state)
{
    (void)state;
    build_mb1("x");
    const unsigned count = BOOT_MAX_MODULES + 5;
    for (unsigned i = 0; i < count; i++)
        mb1_module(i, 0x1000000 + i * 0x10000, 0x1000000 + i * 0x10000 + 0x1000,
                   i == BOOT_MAX_MODULES - 1 || i == BOOT_MAX_MODULES ? (uint32_t)MB1_MODSTR : 0);
    put32(MB1_INFO + I_FLAGS, MB1_FLAG_MODS);
    put32(MB1_INFO + I_MODS_COUNT, count);
    assert_int_equal(parse_mb1_info(), 0);

    assert_int_equal(bi.n_modules, BOOT_MAX_MODULES);
    assert_int_equal(bi.modules_dropped, 5);
    const struct boot_module *last = &bi.modules[BOOT_MAX_MODULES - 1];
    assert_int_equal(last->start, 0x1000000 + (BOOT_MAX_MODULES - 1) * 0x10000ull);
    assert_int_equal(last->end, last->start + 0x1000);
    assert_string_equal(last->cmdline, "guest.elf mem=16M");
    /* info + module array + the kept images + one string; nothing of the dropped ones. */
    assert_int_equal(bi.n_reserved, 2 + BOOT_MAX_MODULES + 1);
    assert_reserved(1, MB1_MODS, MB1_MODS + count * 16ull);
    for (unsigned i = 0; i < bi.n_reserved; i++)
        assert_true(bi.reserved[i].start < 0x1000000 + BOOT_MAX_MODULES * 0x10000ull);
}

static void test_mb1_module_end_before_start(void **state)
{
    (void)state;
    build_mb1("x");
    mb1_module(0, 0x300000, 0x200000, 0);
    put32(MB1_INFO + I_FLAGS, MB1_FLAG_MODS);
    put32(MB1_INFO + I_MODS_COUNT, 1);
    assert_int_equal(parse_mb1_info(), 0);
    assert_int_equal(bi.n_modules, 1);
    assert_int_equal(bi.modules[0].start, 0x300000);
    assert_int_equal(bi.modules[0].end, 0x300000);
}

static void test_mb1_malformed_mmap_stops(void **state)
{
    (void)state;
    build_mb1("x");
    mb1_mmap_used = 0;
    mb1_mmap_entry(20, 0x100000, 0x100000, MEM_USABLE);
    mb1_mmap_entry(0, 0x40000000, 0x40000000, MEM_USABLE);    /* size 0: garbage */
    mb1_mmap_entry(20, 0x200000, 0x100000, MEM_USABLE);
    put32(MB1_INFO + I_FLAGS, MB1_FLAG_MMAP);
    put32(MB1_INFO + I_MMAP_LENGTH, mb1_mmap_used);
    assert_int_equal(parse_mb1_info(), 0);
    assert_true(mem.map_calls < 100);
    assert_int_equal(bi.n_regions, 1);              /* nothing from the garbage entry on */
    assert_region(0, 0x100000, 0x200000, MEM_USABLE);

    /* A map length that ends inside an entry: the partial entry is not read. */
    mb1_mmap_used = 0;
    mb1_mmap_entry(20, 0x100000, 0x100000, MEM_USABLE);
    mb1_mmap_entry(20, 0x200000, 0x100000, MEM_USABLE);
    put32(MB1_INFO + I_MMAP_LENGTH, 24 + 10);
    assert_int_equal(parse_mb1_info(), 0);
    assert_int_equal(bi.n_regions, 1);
    assert_reserved(1, MB1_MMAP, MB1_MMAP + 34);

    /* An entry that wraps the address space is clipped at the top. */
    mb1_mmap_used = 0;
    mb1_mmap_entry(20, 0xFFFFFFFFFFFF0000ull, 0x100000, MEM_RESERVED);
    mb1_mmap_entry(20, 0x100000, 0, MEM_USABLE);        /* empty: skipped */
    put32(MB1_INFO + I_MMAP_LENGTH, mb1_mmap_used);
    assert_int_equal(parse_mb1_info(), 0);
    assert_int_equal(bi.n_regions, 1);
    assert_region(0, 0xFFFFFFFFFFFF0000ull, ~0ull, MEM_RESERVED);
}

static void test_mb1_larger_mmap_entries(void **state)
{
    (void)state;
    build_mb1("x");
    /* size 28: each entry carries 8 extra bytes the parser must step over. */
    for (unsigned i = 0; i < 3; i++) {
        uint64_t p = MB1_MMAP + i * 32ull;
        put32(p, 28);
        put64(p + 4, 0x100000ull * (i + 1));
        put64(p + 12, 0x1000);
        put32(p + 20, MEM_USABLE + i);
        put64(p + 24, ~0ull);
    }
    put32(MB1_INFO + I_FLAGS, MB1_FLAG_MMAP);
    put32(MB1_INFO + I_MMAP_LENGTH, 3 * 32);
    assert_int_equal(parse_mb1_info(), 0);
    assert_int_equal(bi.n_regions, 3);
    assert_region(0, 0x100000, 0x101000, MEM_USABLE);
    assert_region(1, 0x200000, 0x201000, MEM_RESERVED);
    assert_region(2, 0x300000, 0x301000, MEM_ACPI);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0x1000);
}

static void test_mb1_region_table_full(void **state)
{
    (void)state;
    build_mb1("x");
    mb1_mmap_used = 0;
    for (unsigned i = 0; i < BOOT_MAX_REGIONS + 3; i++)
        mb1_mmap_entry(20, 0x100000ull * (i + 1), 0x1000, MEM_USABLE);
    put32(MB1_INFO + I_FLAGS, MB1_FLAG_MMAP);
    put32(MB1_INFO + I_MMAP_LENGTH, mb1_mmap_used);
    assert_int_equal(parse_mb1_info(), 0);
    assert_int_equal(bi.n_regions, BOOT_MAX_REGIONS);
    assert_region(BOOT_MAX_REGIONS - 1, 0x100000ull * BOOT_MAX_REGIONS,
                  0x100000ull * BOOT_MAX_REGIONS + 0x1000, MEM_USABLE);
}

static void test_mb1_unreadable(void **state)
{
    (void)state;
    /* The info itself. */
    assert_int_equal(bootinfo_parse(&bi, MB1_BOOTLOADER_MAGIC, 0x1000, fake_map, &mem), -1);
    assert_true(bi.loader[0] != '\0');
    assert_int_equal(bootinfo_parse(&bi, MB1_BOOTLOADER_MAGIC, MEM_BASE + MEM_SIZE - 4, fake_map, &mem), -1);

    /* The module array. */
    build_mb1("x");
    put32(MB1_INFO + I_MODS_ADDR, 0x8000000);
    assert_int_equal(parse_mb1_info(), -1);
    assert_true(bi.loader[0] != '\0');

    /* The memory map. */
    build_mb1("x");
    put32(MB1_INFO + I_MMAP_ADDR, 0x8000000);
    assert_int_equal(parse_mb1_info(), -1);

    /* An unreadable string ends the string; it is not an error. */
    build_mb1("x");
    put32(MB1_INFO + I_CMDLINE, 0x8000000);
    assert_int_equal(parse_mb1_info(), 0);
    assert_string_equal(bi.cmdline, "");
}

static void test_mb1_long_strings_truncated(void **state)
{
    (void)state;
    build_mb1("x");
    char longname[200];
    memset(longname, 'L', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    putstr(MB1_LOADER, longname);
    char longcmd[BOOT_CMDLINE_MAX + 100];
    memset(longcmd, 'c', sizeof longcmd - 1);
    longcmd[0] = 'a';
    longcmd[1] = '=';
    longcmd[sizeof longcmd - 1] = '\0';
    putstr(MB1_CMDLINE, longcmd);
    assert_int_equal(parse_mb1_info(), 0);
    assert_int_equal(strlen(bi.loader), sizeof bi.loader - 1);
    assert_int_equal(strlen(bi.cmdline), BOOT_CMDLINE_MAX - 1);
    assert_memory_equal(bi.cmdline, longcmd, BOOT_CMDLINE_MAX - 1);
}

static void test_bad_magic(void **state)
{
    (void)state;
    build_mb1("x");
    assert_int_equal(bootinfo_parse(&bi, 0x12345678, MB1_INFO, fake_map, &mem), -1);
    assert_int_equal(bi.protocol, 0);
    assert_int_equal(bi.n_regions, 0);
    assert_int_equal(bi.n_reserved, 0);
    assert_true(bi.loader[0] != '\0');      /* the reason */
    assert_int_equal(bootinfo_parse(&bi, MB1_HEADER_MAGIC, MB1_INFO, fake_map, &mem), -1);
    assert_int_equal(bootinfo_parse(&bi, MB2_HEADER_MAGIC, MB1_INFO, fake_map, &mem), -1);
}

/* ---- Multiboot 2 ---- */

#define MB2_INFO 0x20000ull

static uint32_t mb2_off;

static void mb2_begin(void)
{
    mb2_off = 8;
}

/* Appends a tag with `body` and pads to 8 bytes; returns the tag's offset. */
static uint32_t mb2_tag(uint32_t type, const void *body, uint32_t body_len)
{
    uint32_t off = mb2_off;
    put32(MB2_INFO + off, type);
    put32(MB2_INFO + off + 4, 8 + body_len);
    if (body_len)
        memcpy(at(MB2_INFO + off + 8), body, body_len);
    mb2_off += (8 + body_len + 7) & ~7u;
    return off;
}

static void mb2_string_tag(uint32_t type, const char *s)
{
    mb2_tag(type, s, (uint32_t)strlen(s) + 1);
}

static void mb2_module_tag(uint32_t start, uint32_t end, const char *s)
{
    uint8_t body[64];
    memcpy(body, &start, 4);
    memcpy(body + 4, &end, 4);
    memcpy(body + 8, s, strlen(s) + 1);
    mb2_tag(MB2_TAG_MODULE, body, 8 + (uint32_t)strlen(s) + 1);
}

static void mb2_meminfo_tag(uint32_t lower, uint32_t upper)
{
    uint32_t body[2] = { lower, upper };
    mb2_tag(MB2_TAG_MEMINFO, body, 8);
}

struct mb2_entry { uint64_t addr, len; uint32_t type; };

static void mb2_mmap_tag(const struct mb2_entry *e, unsigned n, uint32_t entry_size)
{
    uint8_t body[1024] = { 0 };
    memcpy(body, &entry_size, 4);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = body + 8 + i * entry_size;
        memcpy(p, &e[i].addr, 8);
        memcpy(p + 8, &e[i].len, 8);
        memcpy(p + 16, &e[i].type, 4);
        memset(p + 20, 0xEE, entry_size - 20);
    }
    mb2_tag(MB2_TAG_MMAP, body, 8 + n * entry_size);
}

static void mb2_end(void)
{
    mb2_tag(MB2_TAG_END, NULL, 0);
    put32(MB2_INFO, mb2_off);
    put32(MB2_INFO + 4, 0);
}

static int parse_mb2_info(void)
{
    return bootinfo_parse(&bi, MB2_BOOTLOADER_MAGIC, MB2_INFO, fake_map, &mem);
}

static const struct mb2_entry e820[] = {
    { 0, 0x9FC00, MEM_USABLE },
    { 0x9FC00, 0x400, MEM_RESERVED },
    { 0xF0000, 0x10000, MEM_RESERVED },
    { 0x100000, 0x7EE0000, MEM_USABLE },
    { 0x7FE0000, 0x20000, MEM_ACPI },
    { 0xFFFC0000, 0x40000, MEM_RESERVED },
};

static uint8_t rsdp_v2[36], rsdp_v1[20];

static void make_rsdps(void)
{
    memcpy(rsdp_v2, "RSD PTR ", 8);
    for (unsigned i = 8; i < sizeof rsdp_v2; i++)
        rsdp_v2[i] = (uint8_t)(i * 7);
    rsdp_v2[15] = 2;
    memcpy(rsdp_v1, "RSD PTR ", 8);
    for (unsigned i = 8; i < sizeof rsdp_v1; i++)
        rsdp_v1[i] = (uint8_t)(0xA0 + i);
    rsdp_v1[15] = 0;
}

/* GRUB's order: cmdline, loader, modules, basic meminfo before the mmap, ACPI, end. */
static void build_mb2(void)
{
    make_rsdps();
    mb2_begin();
    mb2_string_tag(MB2_TAG_CMDLINE, "loglevel=debug slice=5ms");
    mb2_string_tag(MB2_TAG_LOADER, "GRUB 2.06");
    mb2_module_tag(0x400000, 0x480000, "guest.elf mem=16M");
    mb2_module_tag(0x500000, 0x500100, "");
    mb2_meminfo_tag(639, 130048);
    mb2_mmap_tag(e820, 6, 24);
    mb2_tag(MB2_TAG_ACPI_NEW, rsdp_v2, sizeof rsdp_v2);
    mb2_end();
}

static void test_mb2_full(void **state)
{
    (void)state;
    build_mb2();
    assert_int_equal(parse_mb2_info(), 0);

    assert_int_equal(bi.protocol, 2);
    assert_string_equal(bi.loader, "GRUB 2.06");
    assert_string_equal(bi.cmdline, "loglevel=debug slice=5ms");

    /* The mmap alone: basic meminfo before it adds no duplicate regions. */
    assert_int_equal(bi.n_regions, 6);
    for (unsigned i = 0; i < 6; i++)
        assert_region(i, e820[i].addr, e820[i].addr + e820[i].len, e820[i].type);

    assert_int_equal(bi.n_modules, 2);
    assert_int_equal(bi.modules_dropped, 0);
    assert_int_equal(bi.modules[0].start, 0x400000);
    assert_int_equal(bi.modules[0].end, 0x480000);
    assert_string_equal(bi.modules[0].cmdline, "guest.elf mem=16M");
    assert_int_equal(bi.modules[1].start, 0x500000);
    assert_int_equal(bi.modules[1].end, 0x500100);
    assert_string_equal(bi.modules[1].cmdline, "");

    /* The strings and the map live inside the info structure. */
    assert_int_equal(bi.n_reserved, 3);
    assert_reserved(0, MB2_INFO, MB2_INFO + mb2_off);
    assert_reserved(1, 0x400000, 0x480000);
    assert_reserved(2, 0x500000, 0x500100);

    assert_true(bi.has_rsdp_copy);
    assert_memory_equal(bi.rsdp_copy, rsdp_v2, sizeof rsdp_v2);
    assert_int_equal(bi.ebda, 0);
    assert_int_equal(bootinfo_usable_bytes(&bi), 0x9FC00 + 0x7EE0000);
}

static void test_mb2_tags_are_8_byte_aligned(void **state)
{
    (void)state;
    /* Odd-length strings make the padding matter: "ab" is an 11-byte tag, padded to 16. */
    mb2_begin();
    mb2_string_tag(MB2_TAG_LOADER, "ab");
    mb2_string_tag(MB2_TAG_CMDLINE, "x=1");
    mb2_module_tag(0x600000, 0x601000, "m");
    mb2_end();
    assert_int_equal(mb2_off, 8 + 16 + 16 + 24 + 8);
    assert_int_equal(parse_mb2_info(), 0);
    assert_string_equal(bi.loader, "ab");
    assert_string_equal(bi.cmdline, "x=1");
    assert_int_equal(bi.n_modules, 1);
    assert_string_equal(bi.modules[0].cmdline, "m");
    assert_int_equal(bi.n_regions, 0);
    assert_false(bi.has_rsdp_copy);
}

static void test_mb2_cmdline_not_stripped(void **state)
{
    (void)state;
    /* GRUB's multiboot2 leaves the image path out; a first word without '=' is kept. */
    mb2_begin();
    mb2_string_tag(MB2_TAG_CMDLINE, "quiet loglevel=warn");
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_string_equal(bi.cmdline, "quiet loglevel=warn");
}

static void test_mb2_meminfo_without_mmap(void **state)
{
    (void)state;
    mb2_begin();
    mb2_meminfo_tag(639, 130048);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_int_equal(bi.n_regions, 2);
    assert_region(0, 0, 639 * 1024, MEM_USABLE);
    assert_region(1, 0x100000, 0x100000 + 130048ull * 1024, MEM_USABLE);

    /* mmap before meminfo: still no duplicates. */
    mb2_begin();
    mb2_mmap_tag(e820, 2, 24);
    mb2_meminfo_tag(639, 130048);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_int_equal(bi.n_regions, 2);
    assert_region(1, 0x9FC00, 0xA0000, MEM_RESERVED);
}

static void test_mb2_mmap_entry_sizes(void **state)
{
    (void)state;
    /* A larger entry_size (a later version): entries are strided by it. */
    mb2_begin();
    mb2_mmap_tag(e820, 4, 32);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_int_equal(bi.n_regions, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_region(i, e820[i].addr, e820[i].addr + e820[i].len, e820[i].type);

    /* An entry_size below 24 is malformed: no regions from it, meminfo is the fallback. */
    mb2_begin();
    uint32_t bad[8] = { 16, 0, 0, 0, 0x1000, 0, MEM_USABLE, 0 };
    mb2_tag(MB2_TAG_MMAP, bad, sizeof bad);
    mb2_meminfo_tag(1, 2);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_int_equal(bi.n_regions, 2);
    assert_region(1, 0x100000, 0x100800, MEM_USABLE);

    /* A trailing partial entry is ignored. */
    mb2_begin();
    uint32_t off = mb2_off;
    mb2_mmap_tag(e820, 3, 24);
    put32(MB2_INFO + off + 4, 8 + 8 + 2 * 24 + 20);
    mb2_off = off + ((8 + 8 + 2 * 24 + 20 + 7) & ~7u);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_int_equal(bi.n_regions, 2);
}

static void test_mb2_huge_entry_size_stays_in_tag(void **state)
{
    (void)state;
    /* entry_size near 4 GiB must not wrap the bounds check and read past the tag; the
     * info sits at the very end of readable memory so that a stray read is caught. */
    uint64_t info = MEM_BASE + MEM_SIZE - 48;
    uint32_t words[12] = { 48, 0, MB2_TAG_MMAP, 32, 0xFFFFFFF8u, 0, 0x100000, 0, 0x1000, 0, MEM_USABLE, 0 };
    memcpy(at(info), words, sizeof words);
    assert_int_equal(bootinfo_parse(&bi, MB2_BOOTLOADER_MAGIC, info, fake_map, &mem), 0);
    assert_int_equal(bi.n_regions, 0);
}

static void test_mb2_acpi_tags(void **state)
{
    (void)state;
    make_rsdps();
    /* Old only: a 20-byte ACPI 1.0 RSDP, the rest of the copy zero. */
    mb2_begin();
    mb2_tag(MB2_TAG_ACPI_OLD, rsdp_v1, sizeof rsdp_v1);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_true(bi.has_rsdp_copy);
    assert_memory_equal(bi.rsdp_copy, rsdp_v1, sizeof rsdp_v1);
    for (unsigned i = sizeof rsdp_v1; i < sizeof bi.rsdp_copy; i++)
        assert_int_equal(bi.rsdp_copy[i], 0);

    /* New wins over old, in either order. */
    mb2_begin();
    mb2_tag(MB2_TAG_ACPI_OLD, rsdp_v1, sizeof rsdp_v1);
    mb2_tag(MB2_TAG_ACPI_NEW, rsdp_v2, sizeof rsdp_v2);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_memory_equal(bi.rsdp_copy, rsdp_v2, sizeof rsdp_v2);

    mb2_begin();
    mb2_tag(MB2_TAG_ACPI_NEW, rsdp_v2, sizeof rsdp_v2);
    mb2_tag(MB2_TAG_ACPI_OLD, rsdp_v1, sizeof rsdp_v1);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_memory_equal(bi.rsdp_copy, rsdp_v2, sizeof rsdp_v2);

    /* A tag too short for an RSDP gives no copy. */
    mb2_begin();
    mb2_tag(MB2_TAG_ACPI_OLD, rsdp_v1, 12);
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_false(bi.has_rsdp_copy);
}

static void test_mb2_modules_beyond_limit_dropped(void **state)
{
    (void)state;
    mb2_begin();
    for (unsigned i = 0; i < BOOT_MAX_MODULES + 3; i++) {
        char name[16] = "mod";
        name[3] = (char)('A' + i % 26);
        name[4] = (char)('0' + i / 26);
        name[5] = '\0';
        mb2_module_tag(0x1000000 + i * 0x10000, 0x1000000 + i * 0x10000 + 0x2000, name);
    }
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_int_equal(bi.n_modules, BOOT_MAX_MODULES);
    assert_int_equal(bi.modules_dropped, 3);
    assert_string_equal(bi.modules[0].cmdline, "modA0");
    /* The last kept module keeps its own name: the dropped ones overwrite nothing. */
    assert_string_equal(bi.modules[BOOT_MAX_MODULES - 1].cmdline, "modF1");
    assert_int_equal(bi.modules[BOOT_MAX_MODULES - 1].start, 0x1000000 + (BOOT_MAX_MODULES - 1) * 0x10000ull);
    assert_int_equal(bi.n_reserved, 1 + BOOT_MAX_MODULES);
}

static void test_mb2_malformed_tags_stop(void **state)
{
    (void)state;
    /* A tag of size < 8 stops the walk: the later cmdline is not seen. */
    mb2_begin();
    mb2_string_tag(MB2_TAG_LOADER, "L");
    uint32_t off = mb2_tag(MB2_TAG_MEMINFO, "\0\0\0\0\0\0\0\0", 8);
    put32(MB2_INFO + off + 4, 4);
    mb2_string_tag(MB2_TAG_CMDLINE, "a=1");
    mb2_end();
    assert_int_equal(parse_mb2_info(), 0);
    assert_string_equal(bi.loader, "L");
    assert_string_equal(bi.cmdline, "");
    assert_true(mem.map_calls < 10);

    /* A tag running past total_size stops it too. */
    mb2_begin();
    off = mb2_tag(MB2_TAG_CMDLINE, "a=1", 4);
    mb2_end();
    put32(MB2_INFO + off + 4, mb2_off);
    assert_int_equal(parse_mb2_info(), 0);
    assert_string_equal(bi.cmdline, "");

    /* No end tag: the walk ends at total_size. */
    mb2_begin();
    mb2_string_tag(MB2_TAG_CMDLINE, "b=2");
    put32(MB2_INFO, mb2_off);
    assert_int_equal(parse_mb2_info(), 0);
    assert_string_equal(bi.cmdline, "b=2");
}

static void test_mb2_tag_size_cannot_wrap(void **state)
{
    (void)state;
    /* size 0xFFFFFFF8 at offset 8: off + size wraps to 0 in 32 bits. The info sits at the
     * end of readable memory, so reading the "body" would run off it. */
    uint64_t info = MEM_BASE + MEM_SIZE - 24;
    uint32_t words[6] = { 24, 0x11, MB2_TAG_CMDLINE, 0xFFFFFFF8u, 0x3D61, 0 };
    memcpy(at(info), words, sizeof words);
    assert_int_equal(bootinfo_parse(&bi, MB2_BOOTLOADER_MAGIC, info, fake_map, &mem), 0);
    assert_string_equal(bi.cmdline, "");
}

static void test_mb2_unreadable(void **state)
{
    (void)state;
    assert_int_equal(bootinfo_parse(&bi, MB2_BOOTLOADER_MAGIC, 0x1000, fake_map, &mem), -1);
    assert_int_equal(bi.protocol, 2);
    assert_true(bi.loader[0] != '\0');
    /* total_size below the header. */
    put32(MB2_INFO, 4);
    assert_int_equal(parse_mb2_info(), -1);
    /* total_size running past readable memory. */
    put32(MB2_INFO, (uint32_t)MEM_SIZE);
    assert_int_equal(parse_mb2_info(), -1);
}

static void test_mem_type_names(void **state)
{
    (void)state;
    assert_string_equal(mem_type_name(MEM_USABLE), "usable");
    assert_string_equal(mem_type_name(MEM_ACPI), "acpi");
    assert_string_equal(mem_type_name(MEM_NVS), "acpi-nvs");
    assert_string_equal(mem_type_name(MEM_BAD), "bad");
    assert_string_equal(mem_type_name(99), "reserved");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mb1_full),
        T(test_mb1_cmdline_forms),
        T(test_mb1_meminfo_only),
        T(test_mb1_modules_beyond_limit_dropped),
        T(test_mb1_module_end_before_start),
        T(test_mb1_malformed_mmap_stops),
        T(test_mb1_larger_mmap_entries),
        T(test_mb1_region_table_full),
        T(test_mb1_unreadable),
        T(test_mb1_long_strings_truncated),
        T(test_bad_magic),
        T(test_mb2_full),
        T(test_mb2_tags_are_8_byte_aligned),
        T(test_mb2_cmdline_not_stripped),
        T(test_mb2_meminfo_without_mmap),
        T(test_mb2_mmap_entry_sizes),
        T(test_mb2_huge_entry_size_stays_in_tag),
        T(test_mb2_acpi_tags),
        T(test_mb2_modules_beyond_limit_dropped),
        T(test_mb2_malformed_tags_stop),
        T(test_mb2_tag_size_cannot_wrap),
        T(test_mb2_unreadable),
        T(test_mem_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the guests' Multiboot 1 loader (kernel/vm/loader/multiboot.c): images
 * built here byte by byte, loaded into a fake guest RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The kernel's formatter under its own name, so libc's (which cmocka uses) stays intact. */
#define vsnprintf kvsnprintf
#define snprintf ksnprintf
#include "kernel/printf.c"
/* The loader's static fail() helper shares its name with cmocka's fail() macro. */
#pragma push_macro("fail")
#undef fail
#include "kernel/vm/loader/util.c"
#include "kernel/vm/loader/multiboot.c"
#pragma pop_macro("fail")
#undef vsnprintf
#undef snprintf
#include "tests/unit/fake_ram.h"

static struct mb_image out;
static char why[200];

static int setup(void **state)
{
    (void)state;
    ram_alloc(4 * MiB);
    memset(&out, 0x5A, sizeof out);
    memset(why, 0, sizeof why);
    return 0;
}

/* ---- Image building: little-endian fields at explicit offsets (ELF32 and Multiboot specs). */

#define IMG_MAX 0x6000
static uint8_t img[IMG_MAX];

static void put16(size_t off, uint16_t v) { memcpy(img + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(img + off, &v, 4); }

/* A Multiboot header at off; with the a.out kludge when addrs is non-NULL (5 addresses). */
static void put_mb_header(size_t off, uint32_t flags, const uint32_t *addrs)
{
    put32(off, 0x1BADB002u);
    put32(off + 4, flags);
    put32(off + 8, -(0x1BADB002u + flags));
    for (unsigned i = 0; addrs && i < 5; i++)
        put32(off + 12 + 4 * i, addrs[i]);
}

#define ELF_PHOFF 52
#define PT_NOTE 4

static void put_ehdr(uint16_t type, uint16_t machine, uint32_t entry, uint16_t phnum)
{
    memcpy(img, "\177ELF", 4);
    img[4] = 1;                         /* ELFCLASS32 */
    img[5] = 1;                         /* ELFDATA2LSB */
    img[6] = 1;                         /* EV_CURRENT */
    put16(16, type);
    put16(18, machine);
    put32(20, 1);
    put32(24, entry);
    put32(28, ELF_PHOFF);
    put16(40, 52);
    put16(42, 32);
    put16(44, phnum);
}

static void put_phdr(unsigned i, uint32_t type, uint32_t offset, uint32_t paddr,
                     uint32_t filesz, uint32_t memsz)
{
    size_t o = ELF_PHOFF + 32 * i;
    put32(o, type);
    put32(o + 4, offset);
    put32(o + 8, paddr + 0xC0000000u);  /* a higher-half vaddr: the loader must use paddr */
    put32(o + 12, paddr);
    put32(o + 16, filesz);
    put32(o + 20, memsz);
    put32(o + 24, 5);
    put32(o + 28, 0x1000);
}

static void fill_pattern(size_t off, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        img[off + i] = (uint8_t)(seed + i * 7);
}

/* The reference ELF: text at 1 MiB, a note, data with bss at 1 MiB + 8 KiB. */
#define TEXT_OFF   0x1000u
#define TEXT_PA    0x100000u
#define TEXT_SZ    0x200u
#define DATA_OFF   0x2000u
#define DATA_PA    0x102000u
#define DATA_FILE  0x100u
#define DATA_MEM   0x1800u
#define ELF_ENTRY  0x10000Cu
#define ELF_LEN    (DATA_OFF + DATA_FILE)
#define MB_OFF     0x100u

static size_t build_elf(void)
{
    memset(img, 0, sizeof img);
    put_ehdr(2, 3, ELF_ENTRY, 3);
    put_phdr(0, PT_LOAD, TEXT_OFF, TEXT_PA, TEXT_SZ, TEXT_SZ);
    put_phdr(1, PT_NOTE, 0x180, 0x40, 0x20, 0x20);   /* not loaded, though below 1 MiB */
    put_phdr(2, PT_LOAD, DATA_OFF, DATA_PA, DATA_FILE, DATA_MEM);
    put_mb_header(MB_OFF, 0x3, NULL);
    fill_pattern(TEXT_OFF, TEXT_SZ, 1);
    fill_pattern(DATA_OFF, DATA_FILE, 99);
    return ELF_LEN;
}

static int load(size_t len) { return mb_load(img, len, &mem, &out, why, sizeof why); }

/* Asserts mb_load refuses the image with a reason that mentions frag. */
#define assert_refused(len, frag) check_refused(len, frag, __LINE__)
static void check_refused(size_t len, const char *frag, int line)
{
    if (load(len) != -1)
        fail_msg("line %d: image loaded, expected a refusal mentioning \"%s\"", line, frag);
    if (!strstr(why, frag))
        fail_msg("line %d: reason \"%s\" does not mention \"%s\"", line, why, frag);
}

/* ---- ELF loading. */

static void test_elf_loads_segments_and_zeroes_bss(void **state)
{
    (void)state;
    size_t len = build_elf();
    assert_int_equal(load(len), 0);
    assert_memory_equal(ram.bytes + TEXT_PA, img + TEXT_OFF, TEXT_SZ);
    assert_memory_equal(ram.bytes + DATA_PA, img + DATA_OFF, DATA_FILE);
    assert_ram_is(DATA_PA + DATA_FILE, DATA_MEM - DATA_FILE, 0);         /* bss */
    /* Nothing else written: the gap between segments, below and above the image, the note. */
    assert_ram_is(TEXT_PA + TEXT_SZ, DATA_PA - TEXT_PA - TEXT_SZ, RAM_FILL);
    assert_ram_is(0, TEXT_PA, RAM_FILL);
    assert_ram_is(DATA_PA + DATA_MEM, 0x1000, RAM_FILL);
    assert_int_equal(out.entry, ELF_ENTRY);
    assert_int_equal(out.load_start, TEXT_PA);
    assert_int_equal(out.load_end, DATA_PA + DATA_MEM);
    assert_int_equal(out.aout_kludge, 0);
}

static void test_elf_segments_in_any_order(void **state)
{
    (void)state;
    size_t len = build_elf();
    put_phdr(0, PT_LOAD, DATA_OFF, DATA_PA, DATA_FILE, DATA_MEM);
    put_phdr(2, PT_LOAD, TEXT_OFF, TEXT_PA, TEXT_SZ, TEXT_SZ);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.load_start, TEXT_PA);
    assert_int_equal(out.load_end, DATA_PA + DATA_MEM);
    assert_memory_equal(ram.bytes + TEXT_PA, img + TEXT_OFF, TEXT_SZ);
}

static void test_elf_segment_up_to_end_of_ram(void **state)
{
    (void)state;
    size_t len = build_elf();
    put_phdr(2, PT_LOAD, DATA_OFF, 4 * MiB - DATA_MEM, DATA_FILE, DATA_MEM);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.load_end, 4 * MiB);
    assert_ram_is(4 * MiB - DATA_MEM + DATA_FILE, DATA_MEM - DATA_FILE, 0);
}

static void test_header_search_window(void **state)
{
    (void)state;
    /* The header is found anywhere 4-byte aligned, as long as it lies in the first 8 KiB. */
    size_t len = build_elf();
    memset(img + MB_OFF, 0, 12);
    put_mb_header(8192 - 12, 0x3, NULL);
    assert_int_equal(load(len), 0);

    build_elf();
    memset(img + MB_OFF, 0, 12);
    put_mb_header(8192 - 8, 0x3, NULL);                 /* straddles the 8 KiB limit */
    assert_refused(len, "no header in its first 8 KiB");

    build_elf();
    memset(img + MB_OFF, 0, 12);
    put_mb_header(8192, 0x3, NULL);
    assert_refused(len, "no header in its first 8 KiB");

    build_elf();
    memset(img + MB_OFF, 0, 12);
    put_mb_header(MB_OFF + 2, 0x3, NULL);               /* misaligned */
    assert_refused(len, "no header");
}

static void test_refuses_no_header_or_bad_checksum(void **state)
{
    (void)state;
    size_t len = build_elf();
    memset(img + MB_OFF, 0, 12);
    assert_refused(len, "not a Multiboot image");

    build_elf();
    put32(MB_OFF + 8, -(0x1BADB002u + 0x3) + 1);
    assert_refused(len, "not a Multiboot image");

    assert_refused(0, "not a Multiboot image");
    build_elf();
    assert_refused(MB_OFF + 8, "not a Multiboot image");   /* header cut short by the file */
}

static void test_refuses_required_unsupported_flags(void **state)
{
    (void)state;
    size_t len = build_elf();
    put_mb_header(MB_OFF, 0x3 | (1u << 2), NULL);          /* video mode */
    assert_refused(len, "0x4");
    assert_non_null(strstr(why, "features"));

    /* Optional bits (16 and up, other than the kludge) are fine. */
    build_elf();
    put_mb_header(MB_OFF, 0x3 | (1u << 20), NULL);
    assert_int_equal(load(len), 0);
}

static void test_refuses_non_i386_elf(void **state)
{
    (void)state;
    size_t len = build_elf();
    img[4] = 2;                                             /* ELFCLASS64 */
    put16(18, 62);                                          /* EM_X86_64 */
    assert_refused(len, "32-bit");

    build_elf();
    img[4] = 2;                                             /* ELFCLASS64 alone */
    assert_refused(len, "32-bit");

    build_elf();
    put16(18, 62);
    assert_refused(len, "i386");

    build_elf();
    img[5] = 2;                                             /* big-endian */
    assert_refused(len, "little-endian");

    build_elf();
    put16(16, 3);                                           /* ET_DYN */
    assert_refused(len, "not an executable");
}

static void test_refuses_not_elf_without_kludge(void **state)
{
    (void)state;
    size_t len = build_elf();
    img[1] = 'X';
    assert_refused(len, "not an ELF file and no a.out kludge");

    /* Too short to hold an ELF header at all. */
    memset(img, 0, sizeof img);
    put_mb_header(0, 0x3, NULL);
    assert_refused(32, "not an ELF file");
}

static void test_refuses_segment_outside_ram(void **state)
{
    (void)state;
    size_t len = build_elf();
    put_phdr(2, PT_LOAD, DATA_OFF, 4 * MiB - 0x1000, DATA_FILE, 0x2000);
    assert_refused(len, "outside its RAM");

    build_elf();
    put_phdr(0, PT_LOAD, TEXT_OFF, 0xFFFFF000u, TEXT_SZ, 0x2000); /* would wrap in 32 bits */
    assert_refused(len, "outside its RAM");
}

/* ---- Conventional memory is RAM; the firmware's 0x9FC00-0x100000 is not the image's. */

static void test_elf_loads_in_conventional_memory(void **state)
{
    (void)state;
    size_t len = build_elf();
    put_ehdr(2, 3, 0x800C, 3);
    put_phdr(0, PT_LOAD, TEXT_OFF, 0x8000, TEXT_SZ, TEXT_SZ);
    put_phdr(2, PT_LOAD, DATA_OFF, 0x9FC00 - DATA_MEM, DATA_FILE, DATA_MEM);   /* up to the EBDA */
    assert_int_equal(load(len), 0);
    assert_memory_equal(ram.bytes + 0x8000, img + TEXT_OFF, TEXT_SZ);
    assert_memory_equal(ram.bytes + 0x9FC00 - DATA_MEM, img + DATA_OFF, DATA_FILE);
    assert_int_equal(out.load_start, 0x8000);
    assert_int_equal(out.load_end, 0x9FC00);
    assert_int_equal(out.entry, 0x800C);
    assert_ram_is(0x9FC00, MiB - 0x9FC00, RAM_FILL);

    build_elf();
    put_ehdr(2, 3, 0xC, 3);
    put_phdr(0, PT_LOAD, TEXT_OFF, 0, TEXT_SZ, TEXT_SZ);                 /* even at 0 */
    assert_int_equal(load(len), 0);
    assert_int_equal(out.load_start, 0);
}

/* A segment over any part of the firmware's area is refused, naming both ranges. */
static void test_refuses_segment_over_firmware(void **state)
{
    (void)state;
    static const struct { uint32_t start, end; const char *what; } cases[] = {
        { 0x9F000, 0x9FC01, "over the EBDA at 0x9fc00-0xa0000" },
        { 0xB8000, 0xB9000, "over the legacy VGA and option-ROM hole at 0xa0000-0xe0000" },
        { 0xE0000, 0xE0200, "over the ACPI tables at 0xe0000-0xf0000" },
        { 0xFFFFF, 0x100200, "over the SMBIOS tables at 0xf0000-0x100000" },
        { 0x80000, 0x180000, "over the EBDA" },                    /* across it all */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = build_elf();
        uint32_t size = cases[i].end - cases[i].start;
        put_phdr(2, PT_LOAD, DATA_OFF, cases[i].start, DATA_FILE < size ? DATA_FILE : size, size);
        char range[64];
        snprintf(range, sizeof range, "image loads at 0x%x-0x%x, ", cases[i].start, cases[i].end);
        assert_refused(len, range);
        assert_refused(len, cases[i].what);
        assert_ram_is(0x9FC00, MiB - 0x9FC00, RAM_FILL);
    }
}

static void test_refuses_truncated_elf(void **state)
{
    (void)state;
    size_t len = build_elf();
    assert_refused(len - 1, "truncated");                  /* data's filesz runs past the end */

    build_elf();
    put_phdr(2, PT_LOAD, 0xFFFFFF80u, DATA_PA, DATA_FILE, DATA_MEM);   /* offset+filesz wraps */
    assert_refused(len, "truncated");

    build_elf();
    put_phdr(2, PT_LOAD, DATA_OFF, DATA_PA, DATA_MEM, DATA_FILE);      /* filesz > memsz */
    assert_refused(len, "segment 2");

    build_elf();
    put16(44, 300);                                         /* program headers past the end */
    assert_refused(len, "program headers");

    build_elf();
    put16(42, 40);                                          /* wrong phentsize */
    assert_refused(len, "program headers");
}

static void test_refuses_entry_outside_image(void **state)
{
    (void)state;
    size_t len = build_elf();
    put32(24, TEXT_PA - 4);
    assert_refused(len, "entry point 0xffffc");

    build_elf();
    put32(24, DATA_PA + DATA_MEM);                          /* one past the end */
    assert_refused(len, "entry point");

    build_elf();
    put32(24, DATA_PA + DATA_MEM - 1);
    assert_int_equal(load(len), 0);
}

static void test_refuses_no_loadable_segment(void **state)
{
    (void)state;
    size_t len = build_elf();
    put_phdr(0, PT_NOTE, TEXT_OFF, TEXT_PA, TEXT_SZ, TEXT_SZ);
    put_phdr(2, PT_LOAD, DATA_OFF, DATA_PA, 0, 0);          /* empty PT_LOAD */
    assert_refused(len, "no loadable segment");

    build_elf();
    put16(44, 0);
    assert_refused(len, "program headers");
}

/* ---- The a.out kludge: the header's own addresses say where the file goes. */

#define AOUT_HDR_OFF   0x1040u      /* in the file */
#define AOUT_LOAD      0x200000u
#define AOUT_HDR_ADDR  (AOUT_LOAD + 0x40u)   /* so the file offset of load_addr is 0x1000 */
#define AOUT_LOAD_END  0x200800u
#define AOUT_BSS_END   0x201000u
#define AOUT_ENTRY     0x200100u
#define AOUT_LEN       0x2000u

static size_t build_aout(uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
    memset(img, 0, sizeof img);
    fill_pattern(0, AOUT_LEN, 3);       /* no ELF magic: only the kludge can load this */
    const uint32_t addrs[5] = { AOUT_HDR_ADDR, AOUT_LOAD, load_end, bss_end, entry };
    put_mb_header(AOUT_HDR_OFF, 0x3 | (1u << 16), addrs);
    return AOUT_LEN;
}

static void test_aout_kludge_loads_by_header_addresses(void **state)
{
    (void)state;
    size_t len = build_aout(AOUT_LOAD_END, AOUT_BSS_END, AOUT_ENTRY);
    assert_int_equal(load(len), 0);
    /* The file from offset header_off - (header_addr - load_addr) = 0x1000 lands at load_addr. */
    assert_memory_equal(ram.bytes + AOUT_LOAD, img + 0x1000, AOUT_LOAD_END - AOUT_LOAD);
    assert_memory_equal(ram.bytes + AOUT_HDR_ADDR, img + AOUT_HDR_OFF, 32);
    assert_ram_is(AOUT_LOAD_END, AOUT_BSS_END - AOUT_LOAD_END, 0);   /* bss, not the file's rest */
    assert_ram_is(AOUT_BSS_END, 0x1000, RAM_FILL);
    assert_ram_is(AOUT_LOAD - 0x1000, 0x1000, RAM_FILL);
    assert_int_equal(out.entry, AOUT_ENTRY);
    assert_int_equal(out.load_start, AOUT_LOAD);
    assert_int_equal(out.load_end, AOUT_BSS_END);
    assert_int_equal(out.aout_kludge, 1);
}

static void test_aout_kludge_defaults_to_whole_file(void **state)
{
    (void)state;
    /* load_end_addr 0: the rest of the file; bss_end_addr 0: no bss. */
    size_t len = build_aout(0, 0, AOUT_ENTRY);
    assert_int_equal(load(len), 0);
    assert_memory_equal(ram.bytes + AOUT_LOAD, img + 0x1000, len - 0x1000);
    assert_int_equal(out.load_end, AOUT_LOAD + (len - 0x1000));
    assert_ram_is(AOUT_LOAD + (len - 0x1000), 0x1000, RAM_FILL);
}

static void test_aout_kludge_wins_over_elf64(void **state)
{
    (void)state;
    /* A 64-bit ELF kernel is loadable only through the kludge, which takes precedence. */
    size_t len = build_aout(AOUT_LOAD_END, AOUT_BSS_END, AOUT_ENTRY);
    memcpy(img, "\177ELF\2\1\1", 7);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.aout_kludge, 1);
    assert_memory_equal(ram.bytes + AOUT_LOAD, img + 0x1000, 0x100);
}

static void test_aout_kludge_refusals(void **state)
{
    (void)state;
    size_t len = build_aout(AOUT_LOAD_END, AOUT_BSS_END, AOUT_ENTRY);
    const uint32_t above[5] = { AOUT_HDR_ADDR, AOUT_HDR_ADDR + 4, AOUT_LOAD_END, AOUT_BSS_END, AOUT_ENTRY };
    put_mb_header(AOUT_HDR_OFF, 0x3 | (1u << 16), above);
    assert_refused(len, "load_addr above header_addr");

    /* load_addr further before the header than the header is into the file. */
    const uint32_t before[5] = { AOUT_HDR_ADDR, AOUT_HDR_ADDR - AOUT_HDR_OFF - 4, AOUT_LOAD_END,
                                 AOUT_BSS_END, AOUT_ENTRY };
    put_mb_header(AOUT_HDR_OFF, 0x3 | (1u << 16), before);
    assert_refused(len, "a.out kludge");

    len = build_aout(AOUT_LOAD + 0x1001, 0, AOUT_ENTRY);   /* file is 0x1000 from load_addr */
    assert_refused(len, "shorter");

    len = build_aout(AOUT_LOAD_END, AOUT_LOAD_END - 4, AOUT_ENTRY);
    assert_refused(len, "end below start");

    len = build_aout(AOUT_LOAD - 4, 0, AOUT_ENTRY);
    assert_refused(len, "end below start");

    len = build_aout(AOUT_LOAD_END, 5 * MiB, AOUT_ENTRY);   /* bss past the 4 MiB of RAM */
    assert_refused(len, "outside its RAM");

    len = build_aout(AOUT_LOAD_END, AOUT_BSS_END, AOUT_BSS_END);
    assert_refused(len, "entry point");

    /* Header at the end of the file, too short for the kludge's addresses. */
    len = build_aout(AOUT_LOAD_END, AOUT_BSS_END, AOUT_ENTRY);
    assert_refused(AOUT_HDR_OFF + 16, "truncated Multiboot header");
}

static void test_aout_kludge_below_1mib_loads(void **state)
{
    (void)state;
    memset(img, 0, sizeof img);
    fill_pattern(0x20, 0x800 - 0x20, 5);
    const uint32_t addrs[5] = { 0x10000, 0x10000, 0x10800, 0x11000, 0x10010 };
    put_mb_header(0, 0x3 | (1u << 16), addrs);
    assert_int_equal(load(0x1000), 0);
    assert_memory_equal(ram.bytes + 0x10000, img, 0x800);
    assert_ram_is(0x10800, 0x800, 0);
    assert_int_equal(out.load_start, 0x10000);
    assert_int_equal(out.load_end, 0x11000);

    const uint32_t over[5] = { 0x9F800, 0x9F800, 0xA0000, 0, 0x9F810 };   /* into the VGA hole */
    put_mb_header(0, 0x3 | (1u << 16), over);
    assert_refused(0x1000, "image loads at 0x9f800-0xa0000, over the EBDA at 0x9fc00-0xa0000");
}

/* ---- The information structure (Multiboot spec 3.3), read back at its documented offsets. */

#define MBI_FLAGS        0
#define MBI_MEM_LOWER    4
#define MBI_MEM_UPPER    8
#define MBI_CMDLINE      16
#define MBI_MODS_COUNT   20
#define MBI_MODS_ADDR    24
#define MBI_MMAP_LENGTH  44
#define MBI_MMAP_ADDR    48
#define MBI_LOADER_NAME  64
#define MBI_SIZE         68

/* The image a 1 MiB kernel occupies in most tests. */
#define IMG_START 0x100000u
#define IMG_END   0x123456u

static struct mb_boot_args args;

/* mb_build_info with args, the image at [start, end). */
static uint32_t info_for(uint64_t start, uint64_t end)
{
    args.image_start = start;
    args.image_end = end;
    return mb_build_info(&mem, &args, why, sizeof why);
}

static uint32_t info(const char *cmdline, const char *loader_name, const struct mb_module *mods, unsigned n)
{
    args = (struct mb_boot_args){ .cmdline = cmdline, .loader_name = loader_name, .mods = mods, .n_mods = n };
    return info_for(IMG_START, IMG_END);
}

/* Asserts mb_build_info refuses with a reason that mentions frag. */
#define assert_info_refused(start, end, frag) check_info_refused(start, end, frag, __LINE__)
static void check_info_refused(uint64_t start, uint64_t end, const char *frag, int line)
{
    uint32_t at = info_for(start, end);
    if (at != 0)
        fail_msg("line %d: information placed at 0x%x, expected a refusal mentioning \"%s\"", line, at, frag);
    if (!strstr(why, frag))
        fail_msg("line %d: reason \"%s\" does not mention \"%s\"", line, why, frag);
}

static bool overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end) { return a < b_end && b < a_end; }

/* The map: entries whose size field (20) excludes itself, ordered, not overlapping, the PC's
 * ranges: conventional memory, the EBDA reserved, the BIOS area reserved, RAM from 1 MiB. */
static void check_mmap(uint32_t at, uint64_t ram_size)
{
    uint32_t ma = rd32(at + MBI_MMAP_ADDR), ml = rd32(at + MBI_MMAP_LENGTH);
    assert_true(ma >= at + MBI_SIZE && ma + ml <= at + MB_INFO_SIZE);
    assert_int_equal(ml, 4 * 24);
    static const struct { uint64_t base, len; uint32_t type; } want[] = {
        { 0, 0x9FC00, 1 }, { 0x9FC00, 0x400, 2 }, { 0xE0000, 0x20000, 2 }, { 0x100000, 0, 1 },
    };
    uint64_t prev_end = 0;
    unsigned i = 0;
    for (uint32_t e = ma; e < ma + ml; e += 4 + rd32(e), i++) {
        assert_int_equal(rd32(e), 20);
        uint64_t base = rd64(e + 4), len = rd64(e + 12);
        assert_true(base >= prev_end && len > 0);
        prev_end = base + len;
        assert_int_equal(base, want[i].base);
        assert_int_equal(len, want[i].len ? want[i].len : ram_size - MiB);
        assert_int_equal(rd32(e + 20), want[i].type);
        /* Nothing available in the firmware's area: the EBDA, the VGA hole, the tables. */
        if (rd32(e + 20) == 1)
            assert_false(overlaps(base, base + len, 0x9FC00, 0x100000));
    }
    assert_int_equal(prev_end, ram_size);
}

static void check_info(uint32_t at, uint64_t ram_size, const char *cmdline)
{
    assert_int_equal(at % 4096, 0);
    uint32_t flags = rd32(at + MBI_FLAGS);
    assert_true(flags & (1u << 0));
    assert_true(flags & (1u << 2));
    assert_true(flags & (1u << 6));
    assert_true(flags & (1u << 9));
    assert_false(flags & (1u << 1));                    /* no boot device */
    assert_false(flags & (1u << 11));                   /* no VBE */
    assert_int_equal(rd32(at + MBI_MEM_LOWER), 639);
    assert_int_equal(rd32(at + MBI_MEM_UPPER), (ram_size - MiB) / 1024);

    uint32_t c = rd32(at + MBI_CMDLINE);
    assert_true(c >= at + MBI_SIZE && c + strlen(cmdline) < at + MB_INFO_SIZE);
    assert_string_equal((char *)ram.bytes + c, cmdline);
    uint32_t ln = rd32(at + MBI_LOADER_NAME);
    assert_true(ln >= at + MBI_SIZE && ln < at + MB_INFO_SIZE);
    assert_string_equal((char *)ram.bytes + ln, "anfitrion");
    check_mmap(at, ram_size);
    uint32_t ma = rd32(at + MBI_MMAP_ADDR), ml = rd32(at + MBI_MMAP_LENGTH);
    assert_false(overlaps(c, c + strlen(cmdline) + 1, ma, ma + ml));
}

static void test_info_structure(void **state)
{
    (void)state;
    uint32_t at = info("hz=100 tasks=3", "anfitrion", NULL, 0);
    assert_int_equal(at, MB_INFO_GPA);                  /* where it always was */
    check_info(at, 4 * MiB, "hz=100 tasks=3");
    assert_ram_is(MB_INFO_GPA + MB_INFO_SIZE, 0x100, RAM_FILL);
    assert_ram_is(MB_INFO_GPA - 0x100, 0x100, RAM_FILL);
}

static void test_info_structure_16mib_empty_cmdline(void **state)
{
    (void)state;
    ram_alloc(16 * MiB);
    uint32_t at = info("", "anfitrion", NULL, 0);
    check_info(at, 16 * MiB, "");
    assert_int_equal(rd32(at + MBI_MEM_UPPER), 15360);
}

static void test_info_long_cmdline(void **state)
{
    (void)state;
    static char line[40000];
    memset(line, 'x', 4096);
    line[4096] = '\0';
    check_info(info(line, "anfitrion", NULL, 0), 4 * MiB, line);   /* a few KiB fit */

    ram_alloc(4 * MiB);
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    assert_int_equal(info(line, "anfitrion", NULL, 0), 0);
    assert_non_null(strstr(why, "more than the 32 KiB Multiboot information area"));
    assert_ram_is(0, 4 * MiB, RAM_FILL);                /* nothing written */

    memset(line, 'x', MB_INFO_SIZE);                    /* exactly the whole area: no room */
    line[MB_INFO_SIZE] = '\0';
    assert_int_equal(info(line, "anfitrion", NULL, 0), 0);
}

static void test_info_long_loader_name_is_cut(void **state)
{
    (void)state;
    char name[200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(info("a", name, NULL, 0), MB_INFO_GPA);
    uint32_t ln = rd32(MB_INFO_GPA + MBI_LOADER_NAME);
    size_t n = strnlen((char *)ram.bytes + ln, MB_INFO_GPA + MB_INFO_SIZE - ln);
    assert_true(n > 0 && n < 64);
    assert_ram_is(MB_INFO_GPA + MB_INFO_SIZE, 0x100, RAM_FILL);
}

static const uint8_t mod_a[5000] = { 1, 2, 3 };
static const uint8_t mod_b[3] = { 9, 8, 7 };
static const struct mb_module two_mods[] = {
    { mod_a, sizeof mod_a, "/boot/data.bin one" },
    { mod_b, sizeof mod_b, "second" },
};

static void test_info_modules(void **state)
{
    (void)state;
    uint32_t at = info("k", "anfitrion", two_mods, 2);
    assert_int_equal(at, MB_INFO_GPA);
    assert_true(rd32(at + MBI_FLAGS) & (1u << 3));
    assert_int_equal(rd32(at + MBI_MODS_COUNT), 2);
    uint32_t list = rd32(at + MBI_MODS_ADDR);
    assert_true(list >= at + MBI_SIZE && list + 32 <= at + MB_INFO_SIZE);
    /* Page-aligned, in order, above the image, bytes and strings intact. */
    assert_int_equal(rd32(list + 0), 0x124000);
    assert_int_equal(rd32(list + 4), 0x124000 + sizeof mod_a);
    assert_string_equal((char *)ram.bytes + rd32(list + 8), "/boot/data.bin one");
    assert_memory_equal(ram.bytes + 0x124000, mod_a, sizeof mod_a);
    assert_int_equal(rd32(list + 16), 0x126000);
    assert_int_equal(rd32(list + 20), 0x126000 + sizeof mod_b);
    assert_string_equal((char *)ram.bytes + rd32(list + 24), "second");
    assert_memory_equal(ram.bytes + 0x126000, mod_b, sizeof mod_b);
    /* The image is not touched. */
    assert_ram_is(IMG_START, IMG_END - IMG_START, RAM_FILL);

    /* A module that fits neither above the image nor below it is refused, naming the image. */
    assert_info_refused(MiB, 4 * MiB - 4096, "no room for module 1 (5 KiB) in its 4 MiB of RAM beside "
                        "the image at 0x100000-0x3ff000");
    args.n_mods = MB_MODULES_MAX + 1;
    assert_info_refused(IMG_START, IMG_END, "at most 8");
}

/* An image high in RAM: each module goes above it if it fits there, else in the room below
 * it from 1 MiB. */
static void test_info_modules_below_a_high_image(void **state)
{
    (void)state;
    args = (struct mb_boot_args){ .cmdline = "", .loader_name = "anfitrion", .mods = two_mods, .n_mods = 2 };
    uint32_t at = info_for(0x200000, 4 * MiB - 0x1000);
    assert_int_equal(at, MB_INFO_GPA);
    uint32_t list = rd32(at + MBI_MODS_ADDR);
    assert_int_equal(rd32(list + 0), 0x100000);         /* 5000 bytes: not in the last page */
    assert_int_equal(rd32(list + 16), 4 * MiB - 0x1000); /* 3 bytes: there */
    assert_memory_equal(ram.bytes + 0x100000, mod_a, sizeof mod_a);
    assert_memory_equal(ram.bytes + 4 * MiB - 0x1000, mod_b, sizeof mod_b);
}

/* ---- Placement beside an image in conventional memory (item 8): never over the image,
 * a module or the firmware's 0x9FC00-0x100000. */

/* Checks the information at at lies in RAM, off [start, end) and every module, and that
 * the modules are off the image and the firmware's area. */
static void check_placement(uint32_t at, uint64_t start, uint64_t end)
{
    assert_true(at != 0);
    assert_false(overlaps(at, at + MB_INFO_SIZE, start, end));
    assert_false(overlaps(at, at + MB_INFO_SIZE, 0x9FC00, 0x100000));
    assert_false(overlaps(at, at + MB_INFO_SIZE, 0, 0x1000));
    assert_true(at + MB_INFO_SIZE <= ram.size);
    uint32_t list = rd32(at + MBI_MODS_ADDR);
    for (uint32_t i = 0; i < rd32(at + MBI_MODS_COUNT); i++) {
        uint32_t ms = rd32(list + 16 * i), me = rd32(list + 16 * i + 4);
        assert_int_equal(ms % 4096, 0);
        assert_false(overlaps(ms, me + 1, start, end));
        assert_false(overlaps(ms, me + 1, at, at + MB_INFO_SIZE));
        assert_false(overlaps(ms, me + 1, 0x9FC00, 0x100000));
        for (uint32_t j = 0; j < i; j++)
            assert_false(overlaps(ms, me, rd32(list + 16 * j), rd32(list + 16 * j + 4)));
    }
    check_info(at, ram.size, args.cmdline);
}

static void test_info_beside_a_low_image(void **state)
{
    (void)state;
    static const struct { uint32_t start, end, want; } cases[] = {
        { 0x8000, 0x12345, 0x13000 },       /* at 0x8000: just above it */
        { 0x4000, 0x9000, 0x9000 },
        { 0x10000, 0x9F000, 0x8000 },       /* exactly the room below it */
        { 0x9000, 0x9F000, 0x1000 },        /* only below 0x8000 */
        { 0x1000, 0x9F000, 0x103000 },      /* no room low: above the modules from 1 MiB */
        { 0, 0x9FC00, 0x103000 },
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ram_alloc(4 * MiB);
        args = (struct mb_boot_args){ .cmdline = "low", .loader_name = "anfitrion", .mods = two_mods, .n_mods = 2 };
        uint32_t at = info_for(cases[i].start, cases[i].end);
        if (at != cases[i].want)
            fail_msg("image at 0x%x-0x%x: information at 0x%x, expected 0x%x (%s)", cases[i].start,
                     cases[i].end, at, cases[i].want, why);
        check_placement(at, cases[i].start, cases[i].end);
        /* The modules of a low image start at 1 MiB. */
        assert_int_equal(rd32(rd32(at + MBI_MODS_ADDR)), 0x100000);
        assert_ram_is(cases[i].start, cases[i].end - cases[i].start, RAM_FILL);
        assert_ram_is(0x9FC00, 0x100000 - 0x9FC00, RAM_FILL);
    }
}

/* An ELF loaded at 0x8000, where the information used to go, then its information. */
static void test_image_at_0x8000_and_its_information(void **state)
{
    (void)state;
    size_t len = build_elf();
    put_ehdr(2, 3, 0x800C, 3);
    put_phdr(0, PT_LOAD, TEXT_OFF, 0x8000, TEXT_SZ, TEXT_SZ);
    put_phdr(2, PT_LOAD, DATA_OFF, 0xA000, DATA_FILE, DATA_MEM);
    assert_int_equal(load(len), 0);
    args = (struct mb_boot_args){ .cmdline = "", .loader_name = "anfitrion" };
    uint32_t at = info_for(out.load_start, out.load_end);
    assert_int_equal(at, 0xC000);
    check_placement(at, out.load_start, out.load_end);
    assert_memory_equal(ram.bytes + 0x8000, img + TEXT_OFF, TEXT_SZ);
    assert_memory_equal(ram.bytes + 0xA000, img + DATA_OFF, DATA_FILE);
    assert_ram_is(0xA000 + DATA_FILE, DATA_MEM - DATA_FILE, 0);
}

/* No room anywhere: refused, naming the image's range; nothing written. */
static void test_info_refused_when_no_room(void **state)
{
    (void)state;
    ram_alloc(2 * MiB);
    args = (struct mb_boot_args){ .cmdline = "", .loader_name = "anfitrion" };
    assert_info_refused(0, 2 * MiB, "no room for the Multiboot information (32 KiB) in its 2 MiB of RAM "
                        "beside the image at 0x0-0x200000");
    assert_ram_is(0, 2 * MiB, RAM_FILL);
    args.mods = two_mods;
    args.n_mods = 1;
    assert_info_refused(0x1000, 2 * MiB - 0x1000, "no room for module 1 (5 KiB) in its 2 MiB of RAM "
                        "beside the image at 0x1000-0x1ff000");
    assert_info_refused(0x1000, 0x1F9000, "no room for the Multiboot information (32 KiB) in its 2 MiB "
                        "of RAM beside the image at 0x1000-0x1f9000 and its modules");
    assert_ram_is(0, 2 * MiB, RAM_FILL);
}

static void *no_ram(void *ctx, uint64_t gpa, uint64_t len) { (void)ctx; (void)gpa; (void)len; return NULL; }

static void test_info_without_ram_at_0x8000(void **state)
{
    (void)state;
    struct guest_mem none = {.ctx = NULL, .size = 4 * MiB, .ptr = no_ram};
    args = (struct mb_boot_args){ .cmdline = "", .loader_name = "anfitrion", .image_start = IMG_START,
                                  .image_end = IMG_END };
    assert_int_equal(mb_build_info(&none, &args, why, sizeof why), 0);
    assert_non_null(strstr(why, "not reachable"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, ram_teardown)
    const struct CMUnitTest tests[] = {
        T(test_elf_loads_segments_and_zeroes_bss),
        T(test_elf_segments_in_any_order),
        T(test_elf_segment_up_to_end_of_ram),
        T(test_header_search_window),
        T(test_refuses_no_header_or_bad_checksum),
        T(test_refuses_required_unsupported_flags),
        T(test_refuses_non_i386_elf),
        T(test_refuses_not_elf_without_kludge),
        T(test_refuses_segment_outside_ram),
        T(test_elf_loads_in_conventional_memory),
        T(test_refuses_segment_over_firmware),
        T(test_refuses_truncated_elf),
        T(test_refuses_entry_outside_image),
        T(test_refuses_no_loadable_segment),
        T(test_aout_kludge_loads_by_header_addresses),
        T(test_aout_kludge_defaults_to_whole_file),
        T(test_aout_kludge_wins_over_elf64),
        T(test_aout_kludge_refusals),
        T(test_aout_kludge_below_1mib_loads),
        T(test_info_structure),
        T(test_info_structure_16mib_empty_cmdline),
        T(test_info_long_cmdline),
        T(test_info_long_loader_name_is_cut),
        T(test_info_modules),
        T(test_info_modules_below_a_high_image),
        T(test_info_beside_a_low_image),
        T(test_image_at_0x8000_and_its_information),
        T(test_info_refused_when_no_room),
        T(test_info_without_ram_at_0x8000),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

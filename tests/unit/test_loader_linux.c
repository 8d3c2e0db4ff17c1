/* Host unit tests for the guests' Linux bzImage loader (kernel/vm/loader/linux.c): bzImages built
 * here byte by byte (setup header fields at the offsets of Documentation/arch/x86/boot.rst),
 * loaded into a fake guest RAM and read back at the zero page's documented offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
#include "kernel/vm/loader/linux.c"
#pragma pop_macro("fail")
#undef vsnprintf
#undef snprintf
#include "tests/unit/fake_ram.h"

static struct linux_image out;
static struct linux_boot_args args;
static char why[128];                   /* as large as the hypervisor's reason buffer */
static uint8_t *initrd_buf;             /* args.initrd's data, freed by teardown */

static int setup(void **state)
{
    (void)state;
    ram_alloc(32 * MiB);
    memset(&out, 0x5A, sizeof out);
    memset(&args, 0, sizeof args);
    memset(why, 0, sizeof why);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ram_free();
    free(initrd_buf);
    initrd_buf = NULL;
    return 0;
}

/* ---- Image building: a bzImage as arch/x86/boot/tools/build.c lays it out. */

#define SETUP_SECTS   2u
#define SETUP_SIZE    ((SETUP_SECTS + 1) * 512)
#define PAYLOAD       0x3000u
#define TRAILER       0x40u             /* a signature appended after syssize * 16 bytes */
#define IMG_LEN       (SETUP_SIZE + PAYLOAD + TRAILER)
#define HDR_END       0x26Cu            /* protocol 2.15: 0x202 + 0x6A */
#define INIT_SIZE     0x400000u
#define PREF_ADDRESS  0x1000000u
#define KERNEL_END    (PREF_ADDRESS + INIT_SIZE)          /* 20 MiB */
#define CMDLINE_SIZE  2047u

#define IMG_MAX 0x8000
static uint8_t img[IMG_MAX];

static void put8(size_t off, uint8_t v) { img[off] = v; }
static void put16(size_t off, uint16_t v) { memcpy(img + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(img + off, &v, 4); }
static void put64(size_t off, uint64_t v) { memcpy(img + off, &v, 8); }

static void fill_pattern(size_t off, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        img[off + i] = (uint8_t)(seed + i * 7);
}

/* A protocol 2.15 relocatable bzImage like Debian's 6.1 (smaller), with stale values in the
 * fields the loader must overwrite and a pattern around the header that must not be copied. */
static size_t build(void)
{
    memset(img, 0, sizeof img);
    fill_pattern(0, SETUP_SIZE, 11);                /* boot sector and real-mode setup code */
    put8(0x1F1, SETUP_SECTS);
    put16(0x1F2, 1);                                /* root_flags */
    put32(0x1F4, PAYLOAD / 16);                     /* syssize */
    put16(0x1F8, 0);
    put16(0x1FA, 0xFFFF);                           /* vid_mode */
    put16(0x1FC, 0);
    put16(0x1FE, 0xAA55);
    put8(0x200, 0xEB);                              /* jmp short */
    put8(0x201, HDR_END - 0x202);
    memcpy(img + 0x202, "HdrS", 4);
    put16(0x206, 0x020F);
    put32(0x208, 0);
    put16(0x20C, 0x1000);
    put16(0x20E, 0x3A0);                            /* kernel_version */
    put8(0x210, 0x00);                              /* type_of_loader */
    put8(0x211, 0x01);                              /* loadflags: LOADED_HIGH */
    put16(0x212, 0x8000);
    put32(0x214, 0x100000);                         /* code32_start */
    put32(0x218, 0xDEADBEEF);                       /* ramdisk_image: stale */
    put32(0x21C, 0xFEEDFACE);                       /* ramdisk_size: stale */
    put32(0x220, 0);
    put16(0x224, 0x1234);                           /* heap_end_ptr: stale */
    put32(0x228, 0xCAFE0000);                       /* cmd_line_ptr: stale */
    put32(0x22C, 0x7FFFFFFF);                       /* initrd_addr_max */
    put32(0x230, 0x200000);                         /* kernel_alignment */
    put8(0x234, 1);                                 /* relocatable_kernel */
    put8(0x235, 21);                                /* min_alignment */
    put16(0x236, 0x7F);                             /* xloadflags */
    put32(0x238, CMDLINE_SIZE);
    put32(0x23C, 3);                                /* hardware_subarch: stale */
    put64(0x240, 0x77);                             /* hardware_subarch_data: stale */
    put32(0x248, 0x2CC);                            /* payload_offset */
    put32(0x24C, 0x2000);                           /* payload_length */
    put64(0x250, 0x4444);                           /* setup_data: stale */
    put64(0x258, PREF_ADDRESS);
    put32(0x260, INIT_SIZE);
    put32(0x264, 0x190);                            /* handover_offset */
    put32(0x268, 0x2F00);                           /* kernel_info_offset */
    memset(img + 0x1E0, 0xCC, 0x11);                /* before the header: not to be copied */
    memset(img + HDR_END, 0xCC, 0x300 - HDR_END);   /* after it: not either */
    fill_pattern(SETUP_SIZE, PAYLOAD, 1);
    memset(img + SETUP_SIZE + PAYLOAD, 0xEE, TRAILER);
    return IMG_LEN;
}

static int load(size_t len) { return linux_load(img, len, &mem, &args, &out, why, sizeof why); }

/* Asserts linux_load refuses the image with a reason that mentions frag, writing nothing. */
#define assert_refused(len, frag) check_refused(len, frag, __LINE__)
static void check_refused(size_t len, const char *frag, int line)
{
    memset(ram.bytes, RAM_FILL, ram.size);
    if (load(len) != -1)
        fail_msg("line %d: image loaded, expected a refusal mentioning \"%s\"", line, frag);
    if (!strstr(why, frag))
        fail_msg("line %d: reason \"%s\" does not mention \"%s\"", line, why, frag);
    if (strlen(why) >= sizeof why - 1)
        fail_msg("line %d: reason \"%s\" was cut", line, why);
    for (uint64_t i = 0; i < ram.size; i++)
        if (ram.bytes[i] != RAM_FILL)
            fail_msg("line %d: RAM at 0x%llx written by a refused load", line, (unsigned long long)i);
}

#define BP LINUX_BOOT_PARAMS_GPA

/* ---- Detection. */

static void test_detects_bzimage(void **state)
{
    (void)state;
    size_t len = build();
    assert_true(linux_is_bzimage(img, len));
    assert_true(linux_is_bzimage(img, 0x208));
    assert_false(linux_is_bzimage(img, 0x207));
    assert_false(linux_is_bzimage(img, 0));
    img[0x205] = 'T';                                       /* "HdrT" */
    assert_false(linux_is_bzimage(img, len));
    build();
    put16(0x1FE, 0x55AA);                                   /* boot_flag byte-swapped */
    assert_false(linux_is_bzimage(img, len));

    /* A Multiboot ELF is not one. */
    memset(img, 0, sizeof img);
    memcpy(img, "\177ELF", 4);
    put32(0x100, 0x1BADB002u);
    assert_false(linux_is_bzimage(img, 0x1000));
}

/* ---- The kernel. */

static void test_loads_kernel_at_1mib(void **state)
{
    (void)state;
    size_t len = build();
    assert_int_equal(load(len), 0);
    assert_memory_equal(ram.bytes + 0x100000, img + SETUP_SIZE, PAYLOAD);
    assert_ram_is(0x100000 + PAYLOAD, 0x1000, RAM_FILL);   /* not the trailing signature */
    assert_ram_is(0x100000 - 0x1000, 0x1000, RAM_FILL);
    assert_ram_is(PREF_ADDRESS, 0x1000, RAM_FILL);          /* the decompressor's area: untouched */
    assert_int_equal(out.entry, 0x100000);
    assert_int_equal(out.load_addr, 0x100000);
    assert_int_equal(out.load_end, 0x100000 + PAYLOAD);
    assert_int_equal(out.run_addr, PREF_ADDRESS);
    assert_int_equal(out.run_end, KERNEL_END);
    assert_int_equal(out.boot_params, BP);
    assert_int_equal(out.gdt_base, LINUX_GDT_GPA);
    assert_int_equal(out.gdt_limit, 31);
    assert_int_equal(out.version, 0x020F);
    assert_int_equal(out.initrd_addr, 0);
    assert_int_equal(out.initrd_size, 0);
}

static void test_setup_sects_zero_means_four(void **state)
{
    (void)state;
    build();
    put8(0x1F1, 0);
    memmove(img + 5 * 512, img + SETUP_SIZE, PAYLOAD);      /* the kernel now starts at 0xA00 */
    assert_int_equal(load(5 * 512 + PAYLOAD), 0);
    assert_memory_equal(ram.bytes + 0x100000, img + 5 * 512, PAYLOAD);
    assert_refused(5 * 512 + PAYLOAD - 1, "truncated");
}

static void test_run_address(void **state)
{
    (void)state;
    /* A relocatable kernel preferring 1 MiB runs at 1 MiB rounded up to kernel_alignment. */
    size_t len = build();
    put64(0x258, 0x100000);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.run_addr, 0x200000);
    assert_int_equal(out.run_end, 0x200000 + INIT_SIZE);

    /* The same kernel, not relocatable: at pref_address. */
    put8(0x234, 0);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.run_addr, 0x100000);

    /* Not relocatable, linked for 16 MiB: loaded at 1 MiB still, run at 16 MiB. */
    build();
    put8(0x234, 0);
    put32(0x230, 0);                                        /* alignment unused then */
    assert_int_equal(load(len), 0);
    assert_int_equal(out.entry, 0x100000);
    assert_int_equal(out.run_addr, PREF_ADDRESS);

    /* A larger kernel_alignment moves it up. */
    build();
    put64(0x258, 0x100000);
    put32(0x230, 0x1000000);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.run_addr, 0x1000000);
}

/* New initrd data for args (the previous one is freed). */
static void make_initrd(size_t n)
{
    free(initrd_buf);
    uint8_t *p = initrd_buf = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 13 + 5);
    args.initrd = p;
    args.initrd_len = n;
}

static void test_protocol_206_header(void **state)
{
    (void)state;
    /* 2.06 ends at cmdline_size (0x23C) and has neither init_size nor pref_address. */
    size_t len = build();
    put16(0x206, 0x0206);
    put8(0x201, 0x23C - 0x202);
    memset(img + 0x23C, 0xCC, 0x300 - 0x23C);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.version, 0x0206);
    assert_int_equal(out.run_addr, 0x100000);
    assert_int_equal(out.run_end, 0x100000 + PAYLOAD);
    assert_memory_equal(ram.bytes + BP + 0x1F1, img + 0x1F1, 0x210 - 0x1F1);
    assert_ram_is(BP + 0x23C, 0x2D0 - 0x23C, 0);            /* nothing past the header */

    /* Such a kernel fits in 2 MiB, its initrd right above it. */
    ram_alloc(2 * MiB);
    make_initrd(2 * MiB - 0x100000 - PAYLOAD);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.initrd_addr, 0x100000 + PAYLOAD);
    make_initrd(2 * MiB - 0x100000 - PAYLOAD + 1);
    assert_refused(len, "need at least 3 MiB of RAM");
    args.initrd = NULL;
}

/* ---- The zero page. */

/* Is offset off of the zero page written by the loader rather than copied from the header? */
static int loader_field(unsigned off)
{
    static const unsigned fields[][2] = {
        { 0x210, 2 },   /* type_of_loader, loadflags */
        { 0x214, 12 },  /* code32_start, ramdisk_image, ramdisk_size */
        { 0x224, 2 },   /* heap_end_ptr */
        { 0x228, 4 },   /* cmd_line_ptr */
        { 0x23C, 12 },  /* hardware_subarch, hardware_subarch_data */
        { 0x250, 8 },   /* setup_data */
    };
    for (unsigned i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (off >= fields[i][0] && off < fields[i][0] + fields[i][1])
            return 1;
    return 0;
}

static void test_zero_page_header(void **state)
{
    (void)state;
    size_t len = build();
    assert_int_equal(load(len), 0);
    for (unsigned off = 0x1F1; off < HDR_END; off++)
        if (!loader_field(off) && ram.bytes[BP + off] != img[off])
            fail_msg("zero page 0x%x is 0x%02x, the image has 0x%02x", off, ram.bytes[BP + off], img[off]);
    assert_int_equal(ram.bytes[BP + 0x210], 0xFF);          /* type_of_loader: undefined */
    assert_int_equal(ram.bytes[BP + 0x211], 0x81);          /* LOADED_HIGH | CAN_USE_HEAP */
    assert_int_equal(rd32(BP + 0x214), 0x100000);           /* code32_start */
    assert_int_equal(rd32(BP + 0x218), 0);                  /* no initrd */
    assert_int_equal(rd32(BP + 0x21C), 0);
    assert_int_equal(rd16(BP + 0x224), 0xFE00);
    assert_int_equal(rd32(BP + 0x228), LINUX_CMDLINE_GPA);
    assert_int_equal(rd32(BP + 0x23C), 0);                  /* hardware_subarch: PC */
    assert_int_equal(rd64(BP + 0x240), 0);
    assert_int_equal(rd64(BP + 0x250), 0);                  /* no setup_data */
    /* Unchanged: what the kernel reads about itself. */
    assert_int_equal(rd16(BP + 0x206), 0x020F);
    assert_int_equal(rd32(BP + 0x230), 0x200000);
    assert_int_equal(rd64(BP + 0x258), PREF_ADDRESS);
    assert_int_equal(rd32(BP + 0x260), INIT_SIZE);
}

static void test_zero_page_rest(void **state)
{
    (void)state;
    size_t len = build();
    assert_int_equal(load(len), 0);
    /* Zero except alt_mem_k, e820_entries, the header and the e820 table. */
    assert_ram_is(BP, 0x1E0, 0);                            /* screen_info (isVGA 0), rsdp, ext_* */
    assert_int_equal(rd32(BP + 0x1E0), (32 * MiB - MiB) / 1024);
    assert_ram_is(BP + 0x1E4, 4, 0);                        /* scratch */
    assert_int_equal(ram.bytes[BP + 0x1E8], 4);
    assert_ram_is(BP + 0x1E9, 0x1F1 - 0x1E9, 0);            /* sentinel (0x1EF) included */
    assert_ram_is(BP + HDR_END, 0x2D0 - HDR_END, 0);
    assert_ram_is(BP + 0x2D0 + 4 * 20, 0x1000 - 0x2D0 - 4 * 20, 0);
    assert_ram_is(BP + 0x1000, 0x100, RAM_FILL);
    assert_ram_is(BP - 0x100, 0x100, RAM_FILL);
}

static void check_e820(unsigned i, uint64_t addr, uint64_t size, uint32_t type)
{
    uint64_t e = BP + 0x2D0 + 20 * i;
    assert_int_equal(rd64(e), addr);
    assert_int_equal(rd64(e + 8), size);
    assert_int_equal(rd32(e + 16), type);
}

static void test_e820_map(void **state)
{
    (void)state;
    size_t len = build();
    assert_int_equal(load(len), 0);
    assert_int_equal(ram.bytes[BP + 0x1E8], 4);
    check_e820(0, 0, 0x9FC00, 1);
    check_e820(1, 0x9FC00, 0x400, 2);
    check_e820(2, 0xE0000, 0x20000, 2);
    check_e820(3, 0x100000, 31 * MiB, 1);

    ram_alloc(128 * MiB);
    assert_int_equal(load(len), 0);
    check_e820(3, 0x100000, 127 * MiB, 1);
    assert_int_equal(rd32(BP + 0x1E0), 127 * 1024);
}

static void test_acpi_rsdp(void **state)
{
    (void)state;
    size_t len = build();
    args.acpi_rsdp = 0xE0010;
    assert_int_equal(load(len), 0);
    assert_int_equal(rd64(BP + 0x070), 0xE0010);

    put16(0x206, 0x020E);
    assert_int_equal(load(len), 0);
    assert_int_equal(rd64(BP + 0x070), 0xE0010);

    put16(0x206, 0x020D);                                   /* before acpi_rsdp_addr */
    assert_int_equal(load(len), 0);
    assert_int_equal(rd64(BP + 0x070), 0);

    put16(0x206, 0x020F);
    args.acpi_rsdp = 0;
    assert_int_equal(load(len), 0);
    assert_int_equal(rd64(BP + 0x070), 0);
}

static void test_gdt(void **state)
{
    (void)state;
    size_t len = build();
    assert_int_equal(load(len), 0);
    static const uint8_t gdt[32] = {
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0,     /* 0x10: code, base 0, limit 4 GiB, 32-bit */
        0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0,     /* 0x18: data */
    };
    assert_memory_equal(ram.bytes + LINUX_GDT_GPA, gdt, sizeof gdt);
    assert_ram_is(LINUX_GDT_GPA + 32, 0x100, RAM_FILL);
    /* The access rights the VMCS gets are the descriptors' bits 40-55. */
    assert_int_equal(rd16(LINUX_GDT_GPA + 0x10 + 5) & 0xF0FF, LINUX_BOOT_CS_AR);
    assert_int_equal(rd16(LINUX_GDT_GPA + 0x18 + 5) & 0xF0FF, LINUX_BOOT_DS_AR);
}

/* ---- The command line. */

static void test_cmdline(void **state)
{
    (void)state;
    size_t len = build();
    args.cmdline = "console=ttyS0 earlyprintk=serial root=/dev/ram0";
    assert_int_equal(load(len), 0);
    assert_string_equal((char *)ram.bytes + LINUX_CMDLINE_GPA, args.cmdline);
    assert_int_equal(rd32(BP + 0x228), LINUX_CMDLINE_GPA);
    assert_int_equal(rd32(BP + 0x0C8), 0);                  /* ext_cmd_line_ptr */
    assert_ram_is(LINUX_CMDLINE_GPA + strlen(args.cmdline) + 1, 0x100, RAM_FILL);

    memset(ram.bytes, RAM_FILL, ram.size);
    args.cmdline = NULL;
    assert_int_equal(load(len), 0);
    assert_int_equal(ram.bytes[LINUX_CMDLINE_GPA], 0);
    assert_int_equal(rd32(BP + 0x228), LINUX_CMDLINE_GPA);

    args.cmdline = "";
    assert_int_equal(load(len), 0);
    assert_int_equal(ram.bytes[LINUX_CMDLINE_GPA], 0);
}

static void test_cmdline_limits(void **state)
{
    (void)state;
    static char line[LINUX_CMDLINE_MAX + 10];
    size_t len = build();
    memset(line, 'x', CMDLINE_SIZE);
    line[CMDLINE_SIZE] = '\0';
    args.cmdline = line;
    assert_int_equal(load(len), 0);                         /* cmdline_size excludes the NUL */
    assert_string_equal((char *)ram.bytes + LINUX_CMDLINE_GPA, line);

    memset(line, 'x', CMDLINE_SIZE + 1);
    line[CMDLINE_SIZE + 1] = '\0';
    assert_refused(len, "command line is 2048 bytes, the kernel takes at most 2047 (cmdline_size)");

    /* A kernel taking more than the 4 KiB reserved for it. */
    put32(0x238, 0x10000);
    memset(line, 'x', LINUX_CMDLINE_MAX - 1);
    line[LINUX_CMDLINE_MAX - 1] = '\0';
    assert_int_equal(load(len), 0);
    assert_ram_is(LINUX_CMDLINE_GPA + LINUX_CMDLINE_MAX, 0x100, RAM_FILL);
    memset(line, 'x', LINUX_CMDLINE_MAX);
    line[LINUX_CMDLINE_MAX] = '\0';
    assert_refused(len, "room for 4095");
}

/* ---- The initrd. */

static void check_initrd(uint64_t limit)
{
    assert_int_equal(out.initrd_addr % 0x1000, 0);
    assert_true(out.initrd_addr >= KERNEL_END);
    assert_true((uint64_t)out.initrd_addr + args.initrd_len <= limit);
    assert_true((uint64_t)out.initrd_addr + 0x1000 + args.initrd_len > limit);   /* as high as it goes */
    assert_int_equal(out.initrd_size, args.initrd_len);
    assert_int_equal(rd32(BP + 0x218), out.initrd_addr);
    assert_int_equal(rd32(BP + 0x21C), args.initrd_len);
    assert_int_equal(rd32(BP + 0x0C0), 0);                  /* ext_ramdisk_image */
    assert_int_equal(rd32(BP + 0x0C4), 0);
    assert_memory_equal(ram.bytes + out.initrd_addr, args.initrd, args.initrd_len);
}

static void test_initrd_at_top_of_ram(void **state)
{
    (void)state;
    size_t len = build();
    make_initrd(0x180000);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.initrd_addr, 32 * MiB - 0x180000);
    check_initrd(32 * MiB);

    /* An odd size: the start is rounded down to a page, the end stays inside RAM. */
    memset(ram.bytes, RAM_FILL, ram.size);
    make_initrd(0x1801);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.initrd_addr, 32 * MiB - 0x2000);
    check_initrd(32 * MiB);
    assert_ram_is(out.initrd_addr + 0x1801, 0x2000 - 0x1801, RAM_FILL);
    args.initrd = NULL;
}

static void test_initrd_below_initrd_addr_max(void **state)
{
    (void)state;
    size_t len = build();
    put32(0x22C, 0x1BFFFFF);                                /* 28 MiB, below the end of RAM */
    make_initrd(0x123456);
    assert_int_equal(load(len), 0);
    check_initrd(0x1C00000);
    assert_ram_is(0x1C00000, 0x1000, RAM_FILL);

    /* Exactly between the kernel's footprint and initrd_addr_max. */
    make_initrd(0x1C00000 - KERNEL_END);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.initrd_addr, KERNEL_END);

    make_initrd(0x1C00000 - KERNEL_END + 1);
    assert_refused(len, "does not fit between the kernel (ends at 0x1400000) and initrd_addr_max 0x1bfffff");
    args.initrd = NULL;
}

static void test_initrd_needs_ram(void **state)
{
    (void)state;
    size_t len = build();
    make_initrd(12 * MiB);                    /* 20 + 12 = 32 MiB: fits exactly */
    assert_int_equal(load(len), 0);
    assert_int_equal(out.initrd_addr, KERNEL_END);

    make_initrd(12 * MiB + 1);
    assert_refused(len, "kernel and a 12289 KiB initrd need at least 33 MiB of RAM (mem=)");

    make_initrd(40 * MiB);                              /* larger than RAM */
    assert_refused(len, "need at least 60 MiB of RAM (mem=)");

    /* A length without data is no initrd. */
    args.initrd = NULL;
    args.initrd_len = 40 * MiB;
    assert_int_equal(load(len), 0);
    assert_int_equal(out.initrd_size, 0);
    assert_int_equal(rd32(BP + 0x21C), 0);
}

/* ---- Refusals. */

static void test_refuses_not_bzimage(void **state)
{
    (void)state;
    size_t len = build();
    memcpy(img + 0x202, "HdrX", 4);
    assert_refused(len, "not a Linux bzImage");
    build();
    put16(0x1FE, 0);
    assert_refused(len, "not a Linux bzImage");
    assert_refused(0x100, "not a Linux bzImage");
    assert_refused(0, "not a Linux bzImage");
}

static void test_refuses_old_protocol(void **state)
{
    (void)state;
    size_t len = build();
    put16(0x206, 0x0205);
    assert_refused(len, "boot protocol 2.05 is older than 2.06");
    put16(0x206, 0x0200);
    assert_refused(len, "2.00");
    put16(0x206, 0x0206);
    assert_int_equal(load(len), 0);
}

static void test_refuses_short_header(void **state)
{
    (void)state;
    size_t len = build();
    put8(0x201, 0x23C - 0x202 - 1);                         /* stops inside cmdline_size */
    assert_refused(len, "setup header ends at 0x23b, too short for boot protocol 2.15");
    build();
    assert_refused(0x260, "truncated");                     /* the file ends inside the header */
}

static void test_long_header_is_cut_at_0x290(void **state)
{
    (void)state;
    size_t len = build();
    put8(0x201, 0xFF);                                      /* would end at 0x301 */
    memset(img + HDR_END, 0x3C, 0x300 - HDR_END);
    assert_int_equal(load(len), 0);
    assert_memory_equal(ram.bytes + BP + HDR_END, img + HDR_END, 0x290 - HDR_END);
    assert_ram_is(BP + 0x290, 0x2D0 - 0x290, 0);
    check_e820(0, 0, 0x9FC00, 1);
}

static void test_refuses_not_loaded_high(void **state)
{
    (void)state;
    size_t len = build();
    put8(0x211, 0x80);
    assert_refused(len, "LOADED_HIGH");
}

static void test_refuses_truncated(void **state)
{
    (void)state;
    size_t len = build();
    assert_int_equal(load(SETUP_SIZE + PAYLOAD), 0);        /* without the trailer: fine */
    assert_refused(SETUP_SIZE + PAYLOAD - 1, "truncated: setup and kernel take 13824 bytes, the file has 13823");
    assert_refused(SETUP_SIZE, "truncated");
    put32(0x1F4, 0);
    assert_refused(len, "syssize 0");
    put32(0x1F4, 0xFFFFFFFF);                               /* syssize * 16 overflows 32 bits */
    assert_refused(len, "truncated");
}

static void test_refuses_too_little_ram(void **state)
{
    (void)state;
    size_t len = build();
    ram_alloc(KERNEL_END);                                  /* exactly enough */
    assert_int_equal(load(len), 0);
    ram_alloc(KERNEL_END - 0x1000);
    assert_refused(len, "needs at least 20 MiB of RAM (mem=): decompresses into 0x1000000-0x1400000");

    /* Debian's 6.1: 16 MiB + init_size 0x3F98000 needs 80 MiB. */
    put32(0x260, 0x3F98000);
    ram_alloc(64 * MiB);
    assert_refused(len, "needs at least 80 MiB of RAM (mem=)");
    ram_alloc(80 * MiB);
    assert_int_equal(load(len), 0);
    assert_int_equal(out.run_end, 0x4F98000);
}

static void test_refuses_bad_alignment_or_above_4gib(void **state)
{
    (void)state;
    size_t len = build();
    put32(0x230, 0x300000);
    assert_refused(len, "bad kernel_alignment 0x300000");
    put32(0x230, 0);
    assert_refused(len, "bad kernel_alignment 0x0");

    build();
    put64(0x258, 0x100000000ull);
    assert_refused(len, "above 4 GiB");
    build();
    put64(0x258, 0xFFF00000ull);                            /* starts below, ends above 4 GiB */
    assert_refused(len, "above 4 GiB");
}

static void *no_ram_below_1mib(void *ctx, uint64_t gpa, uint64_t len)
{
    return gpa < 0x100000 ? NULL : fake_ptr(ctx, gpa, len);
}

static void test_refuses_unreachable_ram(void **state)
{
    (void)state;
    size_t len = build();
    mem.ptr = no_ram_below_1mib;
    assert_refused(len, "guest RAM 0x7000-0x8000 is not reachable");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_detects_bzimage),
        T(test_loads_kernel_at_1mib),
        T(test_setup_sects_zero_means_four),
        T(test_run_address),
        T(test_protocol_206_header),
        T(test_zero_page_header),
        T(test_zero_page_rest),
        T(test_e820_map),
        T(test_acpi_rsdp),
        T(test_gdt),
        T(test_cmdline),
        T(test_cmdline_limits),
        T(test_initrd_at_top_of_ram),
        T(test_initrd_below_initrd_addr_max),
        T(test_initrd_needs_ram),
        T(test_refuses_not_bzimage),
        T(test_refuses_old_protocol),
        T(test_refuses_short_header),
        T(test_long_header_is_cut_at_0x290),
        T(test_refuses_not_loaded_high),
        T(test_refuses_truncated),
        T(test_refuses_too_little_ram),
        T(test_refuses_bad_alignment_or_above_4gib),
        T(test_refuses_unreachable_ram),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Guest test fwcfg: read QEMU fw_cfg over the I/O ports as a QEMU test kernel does, then exit via isa-debug-exit. */
#include "guest.h"

/*
 * Written as for "qemu-system-x86_64 -device isa-debug-exit,iobase=0xf4,iosize=0x04":
 * after the result line, it writes 0 (all passed: exit status 1) or 1 (something
 * failed: exit status 3) to port 0xF4. If that did not stop the machine it says so.
 */

#define FW_CFG_PORT_SEL     0x510
#define FW_CFG_PORT_DATA    0x511
#define FW_CFG_SIGNATURE    0x0000
#define FW_CFG_ID           0x0001
#define FW_CFG_RAM_SIZE     0x0003
#define FW_CFG_NOGRAPHIC    0x0004
#define FW_CFG_NB_CPUS      0x0005
#define FW_CFG_MAX_CPUS     0x000f
#define FW_CFG_FILE_DIR     0x0019
#define FW_CFG_FILE_FIRST   0x0020
#define FW_CFG_VERSION      0x01
#define FW_CFG_VERSION_DMA  0x02
#define FW_CFG_MAX_FILES    64      /* sanity bound on the directory's count */

#define DEBUG_EXIT_PORT     0xf4
#define MIB                 (1024u * 1024u)

/* test_end() halts, and we must exit through the debug port after the result line:
 * keep our own tally next to the library's. */
static unsigned passes, failures;

#define CHECK(ok, ...) \
    (test_check((ok), __VA_ARGS__) ? (passes++, true) : (failures++, false))
#define FAIL(...) (test_fail(__VA_ARGS__), failures++)

static void fw_select(uint16_t key) { outw(FW_CFG_PORT_SEL, key); }

static void fw_read(void *buf, uint32_t n)
{
    uint8_t *p = buf;
    while (n--)
        *p++ = inb(FW_CFG_PORT_DATA);
}

/* A little-endian item of n bytes (n <= 8) from the start of key. */
static uint64_t fw_read_le(uint16_t key, unsigned n)
{
    uint8_t b[8];
    uint64_t v = 0;
    fw_select(key);
    fw_read(b, n);
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | b[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A directory entry's name field: 56 bytes that must hold a NUL. */
static bool name_terminated(const char *name)
{
    for (int i = 0; i < 56; i++)
        if (name[i] == '\0')
            return true;
    return false;
}

static bool check_signature(void)
{
    char sig[5] = { 0 };
    fw_select(FW_CFG_SIGNATURE);
    fw_read(sig, 4);
    for (int i = 0; i < 4; i++)
        if (sig[i] < 0x20 || sig[i] > 0x7e)
            sig[i] = '?';
    if (!CHECK(memcmp(sig, "QEMU", 4) == 0, "fw_cfg signature (selector 0x0000) reads \"%s\"", sig))
        return false;
    uint8_t past[4];
    fw_read(past, sizeof(past));
    CHECK((past[0] | past[1] | past[2] | past[3]) == 0,
          "reads past the end of the signature return 0 (%02x %02x %02x %02x)",
          past[0], past[1], past[2], past[3]);
    fw_select(FW_CFG_SIGNATURE);
    uint8_t a = inb(FW_CFG_PORT_DATA), b = inb(FW_CFG_PORT_DATA);
    fw_select(FW_CFG_SIGNATURE);
    uint8_t again = inb(FW_CFG_PORT_DATA);
    CHECK(a == 'Q' && b == 'E' && again == 'Q', "selecting again rewinds the data offset");
    return true;
}

static void check_id(void)
{
    uint32_t id = (uint32_t)fw_read_le(FW_CFG_ID, 4);
    CHECK(id & FW_CFG_VERSION, "FW_CFG_ID 0x%x has bit 0 (traditional interface)", id);
    test_note("DMA interface %s", (id & FW_CFG_VERSION_DMA) ? "offered" : "not offered");
}

static void check_ram_size(const struct mb_info *mbi)
{
    uint64_t ram = fw_read_le(FW_CFG_RAM_SIZE, 8);
    if (!(mbi->flags & MB_INFO_MEMORY)) {
        FAIL("Multiboot info has no mem_upper to compare FW_CFG_RAM_SIZE %llu with",
             (unsigned long long)ram);
        return;
    }
    /* mem_upper runs from 1 MiB to the first hole: at most the RAM size, and within
     * 1 MiB of it below 4 GiB (QEMU's firmware reserves a little at the top). */
    uint64_t mb = (uint64_t)mbi->mem_upper * 1024 + MIB;
    CHECK(ram >= mb && ram - mb <= MIB,
          "FW_CFG_RAM_SIZE %llu bytes (%u MiB) matches Multiboot mem_upper %u KiB + 1 MiB",
          (unsigned long long)ram, (uint32_t)(ram >> 20), mbi->mem_upper);
}

static void check_cpus(void)
{
    uint16_t nb = (uint16_t)fw_read_le(FW_CFG_NB_CPUS, 2);
    uint16_t max = (uint16_t)fw_read_le(FW_CFG_MAX_CPUS, 2);
    CHECK(nb == 1, "FW_CFG_NB_CPUS is 1 (%u)", nb);
    CHECK(max >= nb, "FW_CFG_MAX_CPUS %u >= FW_CFG_NB_CPUS %u", max, nb);
    test_note("FW_CFG_NOGRAPHIC is %u", (unsigned)fw_read_le(FW_CFG_NOGRAPHIC, 2));
}

static void show_name_file(uint16_t select, uint32_t size)
{
    char name[56];
    uint32_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
    bool printable = size > 0 && size < sizeof(name);
    fw_select(select);
    fw_read(name, n);
    name[n] = '\0';
    for (uint32_t i = 0; i < n; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            printable = false;
    CHECK(printable, "etc/anfitrion/name holds a printable name: \"%s\"", printable ? name : "?");
}

static void check_file_dir(void)
{
    uint8_t raw[4];
    fw_select(FW_CFG_FILE_DIR);
    fw_read(raw, 4);
    uint32_t count = be32(raw);
    if (!CHECK(count <= FW_CFG_MAX_FILES, "FW_CFG_FILE_DIR count %u is sane", count))
        return;
    bool ok = true;
    uint16_t name_select = 0;
    uint32_t name_size = 0;
    /* The entries are read in one pass: selecting another item would rewind the directory. */
    for (uint32_t i = 0; i < count; i++) {
        uint8_t e[64];
        fw_read(e, sizeof(e));
        uint32_t size = be32(e);
        uint16_t select = (uint16_t)(e[4] << 8 | e[5]);
        char *name = (char *)e + 8;
        bool terminated = name_terminated(name);
        test_note("file 0x%04x %6u bytes %s", select, size, terminated ? name : "(unterminated)");
        ok &= terminated && select >= FW_CFG_FILE_FIRST && select < 0x4000;
        if (terminated && strcmp(name, "etc/anfitrion/name") == 0) {
            name_select = select;
            name_size = size;
        }
    }
    CHECK(ok, "%u directory entries have NUL-terminated names and file selectors >= 0x%04x",
          count, FW_CFG_FILE_FIRST);
    if (name_select)
        show_name_file(name_select, name_size);
    else
        test_note("no etc/anfitrion/name file (not running under anfitrion?)");
}

static void check_unknown_item(void)
{
    uint8_t b[8];
    fw_select(0x3fff);
    fw_read(b, sizeof(b));
    uint8_t any = 0;
    for (unsigned i = 0; i < sizeof(b); i++)
        any |= b[i];
    CHECK(any == 0, "an unknown selector (0x3fff) reads 0 bytes");
}

/* Print the result line as test_end() does, then ask for QEMU's exit status 1 or 3. */
static void __attribute__((noreturn)) finish(void)
{
    bool passed = failures == 0 && passes > 0;
    if (passes == 0 && failures == 0)
        printf("FAIL: no checks ran\n");
    printf("Test result: %s\n", passed ? "PASS" : "FAIL");
    outb(DEBUG_EXIT_PORT, passed ? 0 : 1);
    printf("FAIL: still running after debug exit\n");
    halt_forever();
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    test_title("fwcfg: QEMU fw_cfg items over the I/O ports, exit through isa-debug-exit");
    if (check_signature()) {
        check_id();
        check_ram_size(mbi);
        check_cpus();
        check_file_dir();
        check_unknown_item();
    }
    finish();
}

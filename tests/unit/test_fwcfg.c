/* Host unit tests for QEMU's fw_cfg device, legacy I/O interface (kernel/vm/vdev/fwcfg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "kernel/vm/vdev/vdev.c"
#include "kernel/vm/vdev/fwcfg.c"

static struct vdev_bus bus;
static struct fwcfg fw;

static const struct fwcfg_config default_cfg = {
    .ram_size = 16u << 20, .nb_cpus = 1, .max_cpus = 4, .name = "hello",
};

static void setup_with(const struct fwcfg_config *cfg)
{
    vdev_bus_init(&bus);
    fwcfg_init(&fw, cfg);
    assert_int_equal(fwcfg_attach(&fw, &bus), 0);
}

static int setup(void **state)
{
    (void)state;
    setup_with(&default_cfg);
    return 0;
}

static void select_item(uint16_t key) { vdev_io_out(&bus, FWCFG_PORT_SELECT, 2, key); }
static uint8_t data(void) { return (uint8_t)vdev_io_in(&bus, FWCFG_PORT_DATA, 1); }

static void read_bytes(uint8_t *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        buf[i] = data();
}

/* Little-endian integer of n bytes read from the data port. */
static uint64_t read_le(unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)data() << (8 * i);
    return v;
}

static uint64_t read_be(unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | data();
    return v;
}

static void assert_zeros(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(data(), 0);
}

static void test_signature_and_id(void **state)
{
    (void)state;
    uint8_t sig[4];
    select_item(FW_CFG_SIGNATURE);
    read_bytes(sig, 4);
    assert_memory_equal(sig, "QEMU", 4);
    assert_zeros(8); /* past the end */
    select_item(FW_CFG_ID);
    assert_int_equal(read_le(4), FW_CFG_VERSION); /* traditional only, no DMA bit */
    assert_zeros(2);
    /* The signature is selected after init, as QEMU's reset does. */
    fwcfg_init(&fw, &default_cfg);
    read_bytes(sig, 4);
    assert_memory_equal(sig, "QEMU", 4);
}

static void test_numeric_items(void **state)
{
    (void)state;
    select_item(FW_CFG_RAM_SIZE);
    assert_int_equal(read_le(8), 16u << 20);
    select_item(FW_CFG_NOGRAPHIC);
    assert_int_equal(read_le(2), 1);
    select_item(FW_CFG_NB_CPUS);
    assert_int_equal(read_le(2), 1);
    assert_zeros(1);
    select_item(FW_CFG_MAX_CPUS);
    assert_int_equal(read_le(2), 4);

    struct fwcfg_config big = {.ram_size = 0x123456789000ull, .nb_cpus = 2, .max_cpus = 300};
    setup_with(&big);
    select_item(FW_CFG_RAM_SIZE);
    assert_true(read_le(8) == 0x123456789000ull);
    select_item(FW_CFG_MAX_CPUS);
    assert_int_equal(read_le(2), 300);
}

static void test_select_rewinds(void **state)
{
    (void)state;
    select_item(FW_CFG_SIGNATURE);
    assert_int_equal(data(), 'Q');
    assert_int_equal(data(), 'E');
    select_item(FW_CFG_SIGNATURE);
    assert_int_equal(data(), 'Q');
    select_item(FW_CFG_NB_CPUS);
    select_item(FW_CFG_SIGNATURE);
    assert_int_equal(data(), 'Q');
}

static void test_file_directory(void **state)
{
    (void)state;
    select_item(FW_CFG_FILE_DIR);
    assert_int_equal(read_be(4), 1);
    assert_int_equal(read_be(4), 5);                 /* size of "hello", no NUL */
    assert_int_equal(read_be(2), FW_CFG_FILE_FIRST); /* select */
    assert_int_equal(read_be(2), 0);                 /* reserved */
    char name[FWCFG_FILE_NAME_SIZE];
    read_bytes((uint8_t *)name, sizeof(name));
    assert_string_equal(name, FWCFG_NAME_FILE);
    for (size_t i = strlen(FWCFG_NAME_FILE); i < sizeof(name); i++)
        assert_int_equal(name[i], 0);
    assert_zeros(4); /* the directory ends after one entry */

    uint8_t buf[5];
    select_item(FW_CFG_FILE_FIRST);
    read_bytes(buf, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_zeros(2);
    select_item(FW_CFG_FILE_FIRST + 1); /* no such file */
    assert_zeros(4);
}

static void test_empty_directory_without_name(void **state)
{
    (void)state;
    struct fwcfg_config cfg = default_cfg;
    cfg.name = NULL;
    setup_with(&cfg);
    select_item(FW_CFG_FILE_DIR);
    assert_int_equal(read_be(4), 0);
    assert_zeros(4);
    select_item(FW_CFG_FILE_FIRST);
    assert_zeros(4);
}

static void test_name_copied_and_truncated(void **state)
{
    (void)state;
    char longname[100];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct fwcfg_config cfg = default_cfg;
    cfg.name = longname;
    setup_with(&cfg);
    longname[0] = 'y'; /* the device kept its own copy */
    uint32_t size;
    const uint8_t *p = fwcfg_item(&fw, FW_CFG_FILE_FIRST, &size);
    assert_int_equal(size, FWCFG_NAME_MAX);
    assert_int_equal(p[0], 'x');
    select_item(FW_CFG_FILE_DIR);
    assert_int_equal(read_be(4), 1);
    assert_int_equal(read_be(4), FWCFG_NAME_MAX);
}

static void test_add_file(void **state)
{
    (void)state;
    static const char blob[] = "abc";
    char name55[56], name56[57];
    memset(name55, 'n', 55);
    name55[55] = '\0';
    memset(name56, 'n', 56);
    name56[56] = '\0';

    assert_int_equal(fwcfg_add_file(&fw, "opt/a", blob, 3), FW_CFG_FILE_FIRST + 1);
    assert_int_equal(fwcfg_add_file(&fw, "opt/a", blob, 3), -1);      /* duplicate */
    assert_int_equal(fwcfg_add_file(&fw, FWCFG_NAME_FILE, blob, 3), -1);
    assert_int_equal(fwcfg_add_file(&fw, "", blob, 3), -1);
    assert_int_equal(fwcfg_add_file(&fw, NULL, blob, 3), -1);
    assert_int_equal(fwcfg_add_file(&fw, name56, blob, 3), -1);       /* no room for NUL */
    assert_int_equal(fwcfg_add_file(&fw, name55, blob, 3), FW_CFG_FILE_FIRST + 2);
    for (unsigned i = 3; i < FWCFG_MAX_FILES; i++) {
        char n[16];
        snprintf(n, sizeof(n), "opt/f%u", i);
        assert_int_equal(fwcfg_add_file(&fw, n, blob, i), FW_CFG_FILE_FIRST + i);
    }
    assert_int_equal(fwcfg_add_file(&fw, "opt/full", blob, 3), -1);

    select_item(FW_CFG_FILE_FIRST + 1);
    assert_int_equal(data(), 'a');
    assert_int_equal(data(), 'b');
    assert_int_equal(data(), 'c');
    assert_int_equal(data(), 0);

    /* The last entry of a full directory. */
    select_item(FW_CFG_FILE_DIR);
    assert_int_equal(read_be(4), FWCFG_MAX_FILES);
    for (unsigned i = 0; i < (FWCFG_MAX_FILES - 1) * FWCFG_FILE_ENTRY_SIZE; i++)
        data();
    assert_int_equal(read_be(4), FWCFG_MAX_FILES - 1);
    assert_int_equal(read_be(2), FW_CFG_FILE_FIRST + FWCFG_MAX_FILES - 1);
    assert_int_equal(read_be(2), 0);
    char name[FWCFG_FILE_NAME_SIZE];
    read_bytes((uint8_t *)name, sizeof(name));
    assert_string_equal(name, "opt/f7");
    assert_zeros(1);
}

static void test_unknown_and_flag_bits(void **state)
{
    (void)state;
    static const uint16_t unknown[] = {
        FW_CFG_UUID, 0x0006, 0x0018, 0x0100, 0x3FFF, FW_CFG_ARCH_LOCAL, 0x8003, 0xFFFF,
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        select_item(unknown[i]);
        assert_zeros(16);
    }
    /* The write-channel bit selects the same (read-only) item. */
    uint8_t sig[4];
    select_item(FW_CFG_WRITE_CHANNEL | FW_CFG_SIGNATURE);
    read_bytes(sig, 4);
    assert_memory_equal(sig, "QEMU", 4);
}

/* QEMU decodes 0x510-0x511 by access width, not by port (see fwcfg.h for the one difference). */
static void test_access_widths(void **state)
{
    (void)state;
    select_item(FW_CFG_SIGNATURE);
    /* Byte writes are legacy data writes: ignored, and they neither select nor advance. */
    vdev_io_out(&bus, FWCFG_PORT_SELECT, 1, FW_CFG_ID);
    vdev_io_out(&bus, FWCFG_PORT_DATA, 1, 0x55);
    assert_int_equal(data(), 'Q');
    /* A byte read at the selector port reads data too. */
    assert_int_equal(vdev_io_in(&bus, FWCFG_PORT_SELECT, 1), 'E');
    /* A 16-bit read at 0x510 is rejected: 0, nothing consumed. */
    assert_int_equal(vdev_io_in(&bus, FWCFG_PORT_SELECT, 2), 0);
    assert_int_equal(data(), 'M');
    /* A 16-bit read at 0x511 is one data byte, then the unclaimed port 0x512 (QEMU/KVM too). */
    assert_int_equal(vdev_io_in(&bus, FWCFG_PORT_DATA, 2), 0xFF00 | 'U');
    /* A 32-bit write at 0x510 selects with its low half (QEMU ignores it). */
    vdev_io_out(&bus, FWCFG_PORT_SELECT, 4, 0xABCD0000u | FW_CFG_NB_CPUS);
    assert_int_equal(data(), 1);
    /* A 16-bit write at 0x511 is a byte write to the data port: no select. */
    vdev_io_out(&bus, FWCFG_PORT_DATA, 2, FW_CFG_SIGNATURE);
    assert_int_equal(data(), 0);
}

static void test_ports_claimed(void **state)
{
    (void)state;
    assert_string_equal(vdev_io_name(&bus, 0x510), "fw_cfg");
    assert_string_equal(vdev_io_name(&bus, 0x511), "fw_cfg");
    assert_null(vdev_io_name(&bus, 0x50F));
    assert_null(vdev_io_name(&bus, 0x512));
    /* No DMA interface: its address ports float and hold no "QEMU CFG" signature. */
    for (uint16_t p = 0x514; p <= 0x51B; p++)
        assert_null(vdev_io_name(&bus, p));
    assert_int_equal(vdev_io_in(&bus, 0x514, 4), 0xFFFFFFFFu);
    assert_int_equal(vdev_io_in(&bus, 0x518, 4), 0xFFFFFFFFu);
    assert_int_equal(fwcfg_attach(&fw, &bus), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_signature_and_id, setup),
        cmocka_unit_test_setup(test_numeric_items, setup),
        cmocka_unit_test_setup(test_select_rewinds, setup),
        cmocka_unit_test_setup(test_file_directory, setup),
        cmocka_unit_test_setup(test_empty_directory_without_name, setup),
        cmocka_unit_test_setup(test_name_copied_and_truncated, setup),
        cmocka_unit_test_setup(test_add_file, setup),
        cmocka_unit_test_setup(test_unknown_and_flag_bits, setup),
        cmocka_unit_test_setup(test_access_widths, setup),
        cmocka_unit_test_setup(test_ports_claimed, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

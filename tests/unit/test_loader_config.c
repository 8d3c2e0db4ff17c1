/* Host unit tests for the guest module line parser (kernel/vm/loader/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* The kernel's formatter under its own name, so libc's (which cmocka uses) stays intact. */
#define vsnprintf kvsnprintf
#define snprintf ksnprintf
#include "kernel/printf.c"
#include "kernel/options.c"
#include "kernel/vm/loader/config.c"
#undef vsnprintf
#undef snprintf

/* options.c's loglevel= needs the log's level names; nothing here parses loglevel=. */
int log_level_parse(const char *name) { (void)name; return -1; }

static struct guest_config cfg;
static char why[160];

static int parse(const char *line)
{
    memset(why, 0x55, sizeof why);
    return guest_config_parse(line, &cfg, why, sizeof why);
}

/* Asserts a refusal whose reason mentions each of the given fragments. */
static void assert_refused(const char *line, const char *frag1, const char *frag2)
{
    assert_int_equal(parse(line), -1);
    assert_non_null(memchr(why, '\0', sizeof why));
    assert_non_null(strstr(why, frag1));
    if (frag2)
        assert_non_null(strstr(why, frag2));
}

static void test_defaults_from_path(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/guests/tinyos.elf"), 0);
    assert_string_equal(cfg.name, "tinyos");
    assert_string_equal(cfg.path, "/boot/guests/tinyos.elf");
    assert_int_equal(cfg.mem, 16ull << 20);
    assert_int_equal(cfg.on_crash, ON_CRASH_STOP);
    assert_string_equal(cfg.cmdline, "");
    assert_string_equal(why, "");
}

static void test_default_name_without_path(void **state)
{
    (void)state;
    assert_int_equal(parse(""), 0);
    assert_string_equal(cfg.name, "module");
    assert_string_equal(cfg.path, "");
    assert_int_equal(parse("mem=4M"), 0);
    assert_string_equal(cfg.name, "module");
    assert_int_equal(cfg.mem, 4ull << 20);
    /* A file name that is no valid guest name falls back too. */
    assert_int_equal(parse("/boot/Big.ELF"), 0);
    assert_string_equal(cfg.name, "module");
    assert_int_equal(parse("/boot/guests/"), 0);
    assert_string_equal(cfg.name, "module");
    /* Only the last path component, up to its first dot. */
    assert_int_equal(parse("/a.b/c/kern-1.x.gz"), 0);
    assert_string_equal(cfg.name, "kern-1");
    assert_int_equal(parse("plain"), 0);
    assert_string_equal(cfg.name, "plain");
}

static void test_full_line(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/guests/tinyos.elf name=alpha mem=32M on_crash=restart -- hz=100 tasks=3"), 0);
    assert_string_equal(cfg.name, "alpha");
    assert_string_equal(cfg.path, "/boot/guests/tinyos.elf");
    assert_int_equal(cfg.mem, 32ull << 20);
    assert_int_equal(cfg.on_crash, ON_CRASH_RESTART);
    assert_string_equal(cfg.cmdline, "hz=100 tasks=3");
}

static void test_name_option(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/x.elf name=a"), 0);
    assert_string_equal(cfg.name, "a");
    assert_int_equal(parse("/boot/x.elf name=abcdefghijklmnop"), 0);      /* 16: the limit */
    assert_string_equal(cfg.name, "abcdefghijklmnop");
    assert_int_equal(parse("/boot/x.elf name=g_0-9"), 0);
    assert_string_equal(cfg.name, "g_0-9");
    assert_true(guest_name_valid("z"));
    assert_false(guest_name_valid(""));
    assert_false(guest_name_valid("Bad!"));
    assert_false(guest_name_valid("a.b"));
    assert_false(guest_name_valid("abcdefghijklmnopq"));
}

static void test_mem_sizes_and_bounds(void **state)
{
    (void)state;
    assert_int_equal(parse("mem=2M"), 0);
    assert_int_equal(cfg.mem, 2ull << 20);
    assert_int_equal(parse("mem=1G"), 0);
    assert_int_equal(cfg.mem, 1ull << 30);
    assert_int_equal(parse("mem=1g"), 0);
    assert_int_equal(cfg.mem, 1ull << 30);
    assert_int_equal(parse("mem=4100K"), 0);
    assert_int_equal(cfg.mem, 4100ull << 10);
    assert_int_equal(parse("mem=64m"), 0);
    assert_int_equal(cfg.mem, 64ull << 20);
    assert_int_equal(parse("mem=4194304"), 0);                           /* plain bytes */
    assert_int_equal(cfg.mem, 4ull << 20);

    assert_refused("mem=2047K", "mem", "2047K");                          /* below 2M */
    assert_refused("mem=1025M", "mem", "1025M");                          /* above 1G */
    assert_refused("mem=2G", "mem", "2G");
    assert_refused("mem=4194305", "mem", "4194305");                      /* not 4 KiB aligned */
    assert_refused("mem=2099K", "mem", "2099K");
    assert_refused("mem=", "mem", NULL);
    assert_refused("/boot/x.elf mem", "mem", NULL);
    assert_int_equal(cfg.mem, 16ull << 20);                               /* default kept */
}

static void test_on_crash(void **state)
{
    (void)state;
    assert_int_equal(parse("on_crash=restart"), 0);
    assert_int_equal(cfg.on_crash, ON_CRASH_RESTART);
    assert_int_equal(parse("on_crash=restart on_crash=stop"), 0);
    assert_int_equal(cfg.on_crash, ON_CRASH_STOP);
}

/* on_bad_access: the PC's answer by default, crash on request; for= modules take neither. */
static void test_on_bad_access(void **state)
{
    (void)state;
    assert_int_equal(parse("name=a"), 0);
    assert_int_equal(cfg.on_bad_access, BAD_ACCESS_IGNORE);
    assert_int_equal(parse("on_bad_access=crash"), 0);
    assert_int_equal(cfg.on_bad_access, BAD_ACCESS_CRASH);
    assert_int_equal(parse("on_bad_access=crash on_bad_access=ignore"), 0);
    assert_int_equal(cfg.on_bad_access, BAD_ACCESS_IGNORE);
    assert_refused("on_bad_access=panic", "on_bad_access", "panic");
    assert_int_equal(parse("for=web on_bad_access=crash"), -1);
}

/* testdev: QEMU's pc-testdev on request only; a for= module takes no testdev=on. */
static void test_testdev(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/guests/t.elf name=a mem=16M -- x"), 0);
    assert_false(cfg.testdev);
    assert_int_equal(parse("testdev=on"), 0);
    assert_true(cfg.testdev);
    assert_int_equal(parse("testdev=on testdev=off"), 0);
    assert_false(cfg.testdev);
    assert_int_equal(parse("name=t mem=16M testdev=on -- testdev=off"), 0);
    assert_true(cfg.testdev);
    assert_string_equal(cfg.cmdline, "testdev=off");
    assert_refused("testdev=yes", "bad testdev (on or off)", "\"testdev=yes\"");
    assert_refused("testdev=ON", "testdev", "ON");
    assert_refused("testdev=", "testdev", "on or off");
    assert_refused("/boot/x testdev", "testdev", "on or off");
    assert_refused("/boot/x for=web testdev=on", "for=web", "testdev=");
    assert_int_equal(parse("/boot/x for=web testdev=off"), 0);  /* the default, as on_crash=stop */
    assert_false(cfg.testdev);
}

/* pv: KVM's paravirtual interface on by default; peers: who may send this guest events. */
static void test_pv_and_peers(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/x.elf"), 0);
    assert_false(cfg.pv_off);
    assert_int_equal(cfg.n_peers, 0);
    assert_int_equal(parse("pv=off"), 0);
    assert_true(cfg.pv_off);
    assert_int_equal(parse("pv=off pv=on"), 0);
    assert_false(cfg.pv_off);
    assert_refused("pv=maybe", "bad pv (on or off)", "\"pv=maybe\"");
    assert_int_equal(parse("peers=ping"), 0);
    assert_int_equal(cfg.n_peers, 1);
    assert_string_equal(cfg.peers[0], "ping");
    assert_int_equal(parse("peers=a,b-2,c_3"), 0);
    assert_int_equal(cfg.n_peers, 3);
    assert_string_equal(cfg.peers[1], "b-2");
    assert_string_equal(cfg.peers[2], "c_3");
    assert_int_equal(parse("peers=a,b,c,d,e,f,g,h"), 0);
    assert_int_equal(cfg.n_peers, 8);
    assert_refused("peers=a,b,c,d,e,f,g,h,i", "bad peers", "peers=a,b");
    assert_refused("peers=", "bad peers", "peers");
    assert_refused("/boot/x peers", "bad peers", "peers");
    assert_refused("peers=a,,b", "bad peers", "a,,b");
    assert_refused("peers=a,", "bad peers", "a,");
    assert_refused("peers=a,A", "bad peers", "a,A");
    assert_refused("peers=a,a", "bad peers", "a,a");
    assert_refused("peers=abcdefghijklmnopq", "bad peers", "abcdefghijklmnopq");
    assert_refused("/boot/x for=web pv=off", "for=web", "pv=");
    assert_refused("/boot/x for=web peers=a", "for=web", "peers=");
}

static void test_guest_cmdline_verbatim(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/x.elf --   a  b\tc -- d=1  "), 0);
    assert_string_equal(cfg.cmdline, "a  b\tc -- d=1  ");
    /* After "--" nothing is an option of ours, however it looks. */
    assert_int_equal(parse("/boot/x.elf -- name=Bad! mem=16Q"), 0);
    assert_string_equal(cfg.name, "x");
    assert_int_equal(cfg.mem, 16ull << 20);
    assert_string_equal(cfg.cmdline, "name=Bad! mem=16Q");
    /* "--" with no path before it. */
    assert_int_equal(parse("-- hz=100"), 0);
    assert_string_equal(cfg.path, "");
    assert_string_equal(cfg.cmdline, "hz=100");
    assert_int_equal(parse("/boot/x.elf\t--\t \tx"), 0);                 /* tabs separate too */
    assert_string_equal(cfg.cmdline, "x");
    assert_int_equal(parse("/boot/x.elf --"), 0);
    assert_string_equal(cfg.cmdline, "");
    /* Only a token that is exactly "--" starts it. */
    assert_refused("/boot/x.elf --verbose", "unknown option", "--verbose");
}

static void test_kind_option(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/x name=a"), 0);
    assert_int_equal(cfg.kind, KIND_AUTO);
    assert_int_equal(parse("/boot/x kind=linux"), 0);
    assert_int_equal(cfg.kind, KIND_LINUX);
    assert_int_equal(parse("/boot/x kind=multiboot"), 0);
    assert_int_equal(cfg.kind, KIND_MULTIBOOT);
    assert_refused("/boot/x kind=windows", "kind", "windows");
}

static void test_for_option(void **state)
{
    (void)state;
    assert_int_equal(parse("/boot/rootfs.cpio.gz for=web"), 0);
    assert_string_equal(cfg.for_guest, "web");
    assert_string_equal(cfg.path, "/boot/rootfs.cpio.gz");
    assert_int_equal(parse("/boot/data for=web -- some words"), 0);
    assert_string_equal(cfg.cmdline, "some words");
    assert_int_equal(parse("/boot/x name=web"), 0);
    assert_string_equal(cfg.for_guest, "");
    assert_refused("/boot/x for=Web!", "for", "Web!");
    assert_refused("/boot/x for=", "for", NULL);
    /* A module that belongs to a guest is not a guest: no guest options with it. */
    assert_refused("/boot/x for=web mem=4M", "for=web", "no other option");
    assert_refused("/boot/x name=a for=web", "for=web", "no other option");
    assert_refused("/boot/x for=web kind=linux", "for=web", "no other option");
}

static void test_errors_name_the_option(void **state)
{
    (void)state;
    assert_refused("/boot/x.elf colour=red", "unknown option", "colour=red");
    assert_refused("/boot/x.elf verbose", "unknown option", "verbose");
    assert_refused("/boot/x.elf name=Bad!", "name", "Bad!");
    assert_refused("/boot/x.elf name=abcdefghijklmnopq", "name", "abcdefghijklmnopq");
    assert_refused("/boot/x.elf name=", "name", NULL);
    assert_refused("/boot/x.elf mem=16Q", "mem", "16Q");
    assert_refused("/boot/x.elf mem=1M", "mem", "1M");
    assert_refused("/boot/x.elf on_crash=maybe", "on_crash", "maybe");
    assert_refused("/boot/x.elf on_crash", "on_crash", NULL);
}

static void test_first_error_reported_and_name_kept(void **state)
{
    (void)state;
    /* The refusal still knows which guest it is about, wherever name= appears. */
    assert_refused("/boot/x.elf mem=16Q name=alpha", "mem", "16Q");
    assert_string_equal(cfg.name, "alpha");
    assert_refused("/boot/x.elf name=beta on_crash=maybe", "on_crash", "maybe");
    assert_string_equal(cfg.name, "beta");
    assert_refused("/boot/guests/tinyos.elf on_crash=maybe", "on_crash", NULL);
    assert_string_equal(cfg.name, "tinyos");
    assert_refused("bogus=1", "bogus", NULL);
    assert_string_equal(cfg.name, "module");
    /* Two problems: the first is the one reported. */
    assert_refused("/boot/x.elf mem=16Q on_crash=maybe", "mem", "16Q");
    assert_null(strstr(why, "on_crash"));
    /* A bad name leaves the one from the path. */
    assert_refused("/boot/guests/tinyos.elf name=Bad!", "name", NULL);
    assert_string_equal(cfg.name, "tinyos");
}

static void test_overlong_guest_cmdline(void **state)
{
    (void)state;
    char line[GUEST_CMDLINE_MAX + 32];
    strcpy(line, "/boot/x.elf name=big -- ");
    size_t head = strlen(line);
    /* The longest that fits: GUEST_CMDLINE_MAX - 1 bytes. */
    memset(line + head, 'c', GUEST_CMDLINE_MAX - 1);
    line[head + GUEST_CMDLINE_MAX - 1] = '\0';
    assert_int_equal(parse(line), 0);
    assert_int_equal(strlen(cfg.cmdline), GUEST_CMDLINE_MAX - 1);
    /* One more byte is refused, with the name kept and the line cut, not overrun. */
    line[head + GUEST_CMDLINE_MAX - 1] = 'c';
    line[head + GUEST_CMDLINE_MAX] = '\0';
    assert_refused(line, "guest command line", NULL);
    assert_string_equal(cfg.name, "big");
    assert_int_equal(strlen(cfg.cmdline), GUEST_CMDLINE_MAX - 1);
}

static void test_small_why_buffer(void **state)
{
    (void)state;
    char small[8];
    assert_int_equal(guest_config_parse("colour=red", &cfg, small, sizeof small), -1);
    assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_from_path),
        cmocka_unit_test(test_default_name_without_path),
        cmocka_unit_test(test_full_line),
        cmocka_unit_test(test_name_option),
        cmocka_unit_test(test_mem_sizes_and_bounds),
        cmocka_unit_test(test_on_crash),
        cmocka_unit_test(test_on_bad_access),
        cmocka_unit_test(test_testdev),
        cmocka_unit_test(test_pv_and_peers),
        cmocka_unit_test(test_guest_cmdline_verbatim),
        cmocka_unit_test(test_kind_option),
        cmocka_unit_test(test_for_option),
        cmocka_unit_test(test_errors_name_the_option),
        cmocka_unit_test(test_first_error_reported_and_name_kept),
        cmocka_unit_test(test_overlong_guest_cmdline),
        cmocka_unit_test(test_small_why_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the command-line options and their parsing helpers (kernel/options.c). */
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
#include "kernel/log.c"
#include "kernel/options.c"
#undef vsnprintf
#undef snprintf

/* log.c writes to the console; nothing here should log, so count any writes. */
static unsigned console_writes;
void console_write(const char *s, size_t n) { (void)s; (void)n; console_writes++; }
void console_write_line(const char *s, size_t n) { (void)s; (void)n; console_writes++; }

/* Captures the reports of options_parse. */
#define MAX_REPORTS 8
static char reports[MAX_REPORTS][OPT_TOKEN_MAX + 96];
static unsigned n_reports;

static void capture(const char *msg)
{
    if (n_reports < MAX_REPORTS)
        strncpy(reports[n_reports], msg, sizeof reports[0] - 1);
    n_reports++;
}

static struct hv_options opt;

static int setup(void **state)
{
    (void)state;
    memset(reports, 0, sizeof reports);
    n_reports = 0;
    console_writes = 0;
    memset(&opt, 0xA5, sizeof opt);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(console_writes, 0);
    return 0;
}

static void assert_defaults_except(int loglevel, enum debug_fault fault, uint64_t slice, uint32_t hz)
{
    assert_int_equal(opt.loglevel, loglevel);
    assert_int_equal(opt.debug_fault, fault);
    assert_int_equal(opt.slice_us, slice);
    assert_int_equal(opt.timer_hz, hz);
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(options_parse("", &opt, capture), 0);
    assert_defaults_except(LOG_INFO, FAULT_NONE, 10000, 1000);
    assert_int_equal(opt.bench_host_iters, 0);
    assert_int_equal(n_reports, 0);

    memset(&opt, 0xA5, sizeof opt);
    assert_int_equal(options_parse("  \t ", &opt, capture), 0);
    assert_defaults_except(LOG_INFO, FAULT_NONE, 10000, 1000);
}

static void test_loglevel(void **state)
{
    (void)state;
    static const struct { const char *cmdline; int level; } cases[] = {
        { "loglevel=error", LOG_ERROR }, { "loglevel=warn", LOG_WARN },
        { "loglevel=info", LOG_INFO }, { "loglevel=debug", LOG_DEBUG },
        { "loglevel=trace", LOG_TRACE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(options_parse(cases[i].cmdline, &opt, capture), 0);
        assert_int_equal(opt.loglevel, cases[i].level);
    }
    assert_int_equal(n_reports, 0);
    /* The last one wins. */
    assert_int_equal(options_parse("loglevel=trace loglevel=warn", &opt, capture), 0);
    assert_int_equal(opt.loglevel, LOG_WARN);
}

static void test_bad_loglevel_keeps_level(void **state)
{
    (void)state;
    assert_int_equal(options_parse("loglevel=debug loglevel=loud", &opt, capture), 1);
    assert_int_equal(opt.loglevel, LOG_DEBUG);
    assert_int_equal(n_reports, 1);
    assert_string_equal(reports[0], "option \"loglevel=loud\": bad value (error, warn, info, debug or trace), ignored");

    setup(NULL);
    assert_int_equal(options_parse("loglevel", &opt, capture), 1);
    assert_int_equal(opt.loglevel, LOG_INFO);
    assert_string_equal(reports[0], "option \"loglevel\": bad value (error, warn, info, debug or trace), ignored");

    setup(NULL);
    assert_int_equal(options_parse("loglevel=DEBUG", &opt, capture), 1);     /* case matters */
    assert_int_equal(opt.loglevel, LOG_INFO);
}

static void test_unknown_option(void **state)
{
    (void)state;
    assert_int_equal(options_parse("foo=bar", &opt, capture), 1);
    assert_int_equal(n_reports, 1);
    assert_string_equal(reports[0], "option \"foo=bar\": unknown, ignored");
    assert_defaults_except(LOG_INFO, FAULT_NONE, 10000, 1000);

    setup(NULL);
    assert_int_equal(options_parse("quiet", &opt, capture), 1);
    assert_string_equal(reports[0], "option \"quiet\": unknown, ignored");

    setup(NULL);
    assert_int_equal(options_parse("a=b=c", &opt, capture), 1);  /* the value keeps later '=' */
    assert_string_equal(reports[0], "option \"a=b=c\": unknown, ignored");
}

static void test_debug_fault(void **state)
{
    (void)state;
    static const struct { const char *cmdline; enum debug_fault f; } cases[] = {
        { "debug_fault=pf", FAULT_PF }, { "debug_fault=ud", FAULT_UD },
        { "debug_fault=gp", FAULT_GP }, { "debug_fault=de", FAULT_DE },
        { "debug_fault=panic", FAULT_PANIC },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(options_parse(cases[i].cmdline, &opt, capture), 0);
        assert_int_equal(opt.debug_fault, cases[i].f);
    }
    const char *bad[] = { "debug_fault=xx", "debug_fault=", "debug_fault", "debug_fault=PF" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        assert_int_equal(options_parse(bad[i], &opt, capture), 1);
        assert_int_equal(opt.debug_fault, FAULT_NONE);
    }
    assert_string_equal(reports[0], "option \"debug_fault=PF\": bad value (pf, ud, gp, de or panic), ignored");
}

static void test_slice(void **state)
{
    (void)state;
    static const struct { const char *cmdline; uint64_t us; } good[] = {
        { "slice=5ms", 5000 }, { "slice=250us", 250 }, { "slice=1s", 1000000 },
        { "slice=7", 7000 },                    /* ms without a suffix */
        { "slice=100us", 100 }, { "slice=1000ms", 1000000 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(options_parse(good[i].cmdline, &opt, capture), 0);
        assert_int_equal(opt.slice_us, good[i].us);
    }
    const char *bad[] = { "slice=99us", "slice=2s", "slice=1000001us", "slice=0", "slice=5min",
                          "slice=", "slice", "slice=ms" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        assert_int_equal(options_parse(bad[i], &opt, capture), 1);
        assert_int_equal(opt.slice_us, 10000);
    }
    setup(NULL);
    options_parse("slice=2s", &opt, capture);
    assert_string_equal(reports[0], "option \"slice=2s\": bad value (a duration from 100us to 1s, e.g. 10ms), ignored");
}

static void test_hz(void **state)
{
    (void)state;
    static const struct { const char *cmdline; uint32_t hz; } good[] = {
        { "hz=10", 10 }, { "hz=10000", 10000 }, { "hz=250", 250 }, { "hz=0x64", 100 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(options_parse(good[i].cmdline, &opt, capture), 0);
        assert_int_equal(opt.timer_hz, good[i].hz);
    }
    const char *bad[] = { "hz=9", "hz=10001", "hz=0", "hz=4294967396", "hz=1k", "hz=", "hz", "hz=-5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        assert_int_equal(options_parse(bad[i], &opt, capture), 1);
        assert_int_equal(opt.timer_hz, 1000);
    }
    assert_string_equal(reports[0], "option \"hz=-5\": bad value (10 to 10000), ignored");
}

static void test_bench_host(void **state)
{
    (void)state;
    static const struct { const char *cmdline; uint32_t iters; } good[] = {
        { "bench_host=1", 1 }, { "bench_host=10000000", 10000000 }, { "bench_host=0x100", 256 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(options_parse(good[i].cmdline, &opt, capture), 0);
        assert_int_equal(opt.bench_host_iters, good[i].iters);
    }
    const char *bad[] = { "bench_host=0", "bench_host=10000001", "bench_host=4294967297",
                          "bench_host=", "bench_host", "bench_host=1k" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        assert_int_equal(options_parse(bad[i], &opt, capture), 1);
        assert_int_equal(opt.bench_host_iters, 0);
    }
    assert_string_equal(reports[0], "option \"bench_host=1k\": bad value (an iteration count from 1 to 10000000), ignored");
}

static void test_problem_count_and_mixture(void **state)
{
    (void)state;
    int problems = options_parse(" loglevel=debug\tfoo=1  hz=50 slice=0 bar debug_fault=gp slice=20ms ",
                                 &opt, capture);
    assert_int_equal(problems, 3);
    assert_int_equal(n_reports, 3);
    assert_string_equal(reports[0], "option \"foo=1\": unknown, ignored");
    assert_string_equal(reports[1], "option \"slice=0\": bad value (a duration from 100us to 1s, e.g. 10ms), ignored");
    assert_string_equal(reports[2], "option \"bar\": unknown, ignored");
    assert_defaults_except(LOG_DEBUG, FAULT_GP, 20000, 50);
}

static void test_long_token_reported_truncated(void **state)
{
    (void)state;
    char cmdline[600];
    memset(cmdline, 'k', sizeof cmdline - 1);
    cmdline[sizeof cmdline - 1] = '\0';
    assert_int_equal(options_parse(cmdline, &opt, capture), 1);
    /* The token is cut at OPT_TOKEN_MAX - 1 characters; the message is complete. */
    char expect[OPT_TOKEN_MAX + 96];
    memcpy(expect, "option \"", 8);
    memset(expect + 8, 'k', OPT_TOKEN_MAX - 1);
    strcpy(expect + 8 + OPT_TOKEN_MAX - 1, "\": unknown, ignored");
    assert_string_equal(reports[0], expect);
}

static void test_parse_size(void **state)
{
    (void)state;
    static const struct { const char *s; uint64_t v; } good[] = {
        { "16M", 16ull << 20 }, { "16m", 16ull << 20 }, { "4K", 4096 }, { "4k", 4096 },
        { "1G", 1ull << 30 }, { "3g", 3ull << 30 }, { "123", 123 }, { "0", 0 },
        { "17179869183G", 17179869183ull << 30 },            /* the largest whole G */
        { "18446744073709551615", ~0ull },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(opt_parse_size(good[i].s, &v), 0);
        assert_int_equal(v, good[i].v);
    }
    const char *bad[] = { "", "16X", "M", "16MB", "16 M", "-1", "0x10", "17179869184G",
                          "18446744073709551616", "99999999999999999999999999999999999K" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 77;
        assert_int_equal(opt_parse_size(bad[i], &v), -1);
        assert_int_equal(v, 77);                /* untouched on error */
    }
}

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct { const char *s; uint64_t us; } good[] = {
        { "10", 10000 }, { "10ms", 10000 }, { "10us", 10 }, { "2s", 2000000 }, { "0us", 0 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(opt_parse_duration_us(good[i].s, &v), 0);
        assert_int_equal(v, good[i].us);
    }
    const char *bad[] = { "", "ms", "5m", "5 ms", "5MS", "5sec", "18446744073709551615s", "1.5s" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 77;
        assert_int_equal(opt_parse_duration_us(bad[i], &v), -1);
        assert_int_equal(v, 77);
    }
}

static void test_parse_uint(void **state)
{
    (void)state;
    static const struct { const char *s; uint64_t v; } good[] = {
        { "0", 0 }, { "42", 42 }, { "0x1f", 0x1f }, { "0XFF", 0xff }, { "0xDeadBeef", 0xdeadbeef },
        { "18446744073709551615", ~0ull }, { "0xffffffffffffffff", ~0ull }, { "007", 7 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 1;
        assert_int_equal(opt_parse_uint(good[i].s, &v), 0);
        assert_int_equal(v, good[i].v);
    }
    const char *bad[] = { "", "0x", "x10", "12a", "0x1g", "ff", "18446744073709551616",
                          "0x10000000000000000", "99999999999999999999", "-1", " 1", "+1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 77;
        assert_int_equal(opt_parse_uint(bad[i], &v), -1);
        assert_int_equal(v, 77);
    }
}

static void test_next_token(void **state)
{
    (void)state;
    const char *p = "  one\t\ttwo   three\t";
    char tok[16];
    assert_true(opt_next_token(&p, tok, sizeof tok));
    assert_string_equal(tok, "one");
    assert_true(opt_next_token(&p, tok, sizeof tok));
    assert_string_equal(tok, "two");
    assert_true(opt_next_token(&p, tok, sizeof tok));
    assert_string_equal(tok, "three");
    assert_false(opt_next_token(&p, tok, sizeof tok));
    assert_int_equal(*p, '\0');
    assert_false(opt_next_token(&p, tok, sizeof tok));      /* stays at the end */

    /* Truncated to the buffer, and the rest of the word is skipped, not returned next. */
    char small[5];
    memset(small, 'Z', sizeof small);
    p = "abcdefgh next";
    assert_true(opt_next_token(&p, small, sizeof small));
    assert_string_equal(small, "abcd");
    assert_true(opt_next_token(&p, small, sizeof small));
    assert_string_equal(small, "next");
    assert_false(opt_next_token(&p, small, sizeof small));

    char one[1] = { 'Z' };
    p = "xyz";
    assert_true(opt_next_token(&p, one, sizeof one));
    assert_int_equal(one[0], '\0');

    p = "";
    assert_false(opt_next_token(&p, tok, sizeof tok));
}

static void test_split(void **state)
{
    (void)state;
    char a[] = "key=value";
    char *v = (char *)1;
    opt_split(a, &v);
    assert_string_equal(a, "key");
    assert_non_null(v);
    assert_string_equal(v, "value");

    char b[] = "flag";
    v = (char *)1;
    opt_split(b, &v);
    assert_string_equal(b, "flag");
    assert_null(v);

    char c[] = "k=";
    opt_split(c, &v);
    assert_string_equal(c, "k");
    assert_string_equal(v, "");

    char d[] = "=v";
    opt_split(d, &v);
    assert_string_equal(d, "");
    assert_string_equal(v, "v");

    char e[] = "a=b=c";
    opt_split(e, &v);
    assert_string_equal(e, "a");
    assert_string_equal(v, "b=c");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_loglevel),
        T(test_bad_loglevel_keeps_level),
        T(test_unknown_option),
        T(test_debug_fault),
        T(test_slice),
        T(test_hz),
        T(test_bench_host),
        T(test_problem_count_and_mixture),
        T(test_long_token_reported_truncated),
        T(test_parse_size),
        T(test_parse_duration),
        T(test_parse_uint),
        T(test_next_token),
        T(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Host unit tests for the kernel's formatter (kernel/printf.c), checked against libc where C
 * defines the result and against the kernel's own contract where it differs (%p). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* The kernel's functions get their own names so that libc's stay callable (and so that the
 * compiler does not fold calls using what it knows of libc's snprintf). */
#define vsnprintf kvsnprintf
#define snprintf ksnprintf
#include "kernel/printf.c"
#undef vsnprintf
#undef snprintf

/* Formats with both the kernel and libc and requires the same text and return value. */
#define SAME(...)                                                           \
    do {                                                                    \
        char kbuf_[256], hbuf_[256];                                        \
        int kn_ = ksnprintf(kbuf_, sizeof kbuf_, __VA_ARGS__);              \
        int hn_ = snprintf(hbuf_, sizeof hbuf_, __VA_ARGS__);               \
        assert_string_equal(kbuf_, hbuf_);                                  \
        assert_int_equal(kn_, hn_);                                         \
    } while (0)

/* Formats with the kernel only and requires `expect` and its length as the return value. */
#define EXPECT(expect, ...)                                                 \
    do {                                                                    \
        char kbuf_[256];                                                    \
        int kn_ = ksnprintf(kbuf_, sizeof kbuf_, __VA_ARGS__);              \
        assert_string_equal(kbuf_, expect);                                 \
        assert_int_equal(kn_, (int)strlen(expect));                         \
    } while (0)

static void test_plain_text_and_percent(void **state)
{
    (void)state;
    EXPECT("hello", "hello");
    EXPECT("", "%s", "");
    EXPECT("100%", "100%%");
    SAME("a%%b%%%%c");
}

static void test_signed_decimal(void **state)
{
    (void)state;
    SAME("%d", 0);
    SAME("%d", 42);
    SAME("%d", -42);
    SAME("%i", -7);
    SAME("%d", INT32_MAX);
    SAME("%d", INT32_MIN);
    SAME("%ld", (long)INT64_MIN);
    SAME("%ld", (long)INT64_MAX);
    SAME("%lld", (long long)INT64_MIN);
    SAME("[%d|%i|%d]", 1, -2, 3);
}

static void test_unsigned_and_hex(void **state)
{
    (void)state;
    SAME("%u", 0u);
    SAME("%u", 4000000000u);
    SAME("%u", UINT32_MAX);
    SAME("%x", 0xdeadbeefu);
    SAME("%X", 0xdeadbeefu);
    SAME("%x", 0u);
    SAME("%lx", (unsigned long)UINT64_MAX);
    SAME("%lu", (unsigned long)UINT64_MAX);
    SAME("%llX", 0x0123456789ABCDEFull);
    /* An int passed to %x is taken as unsigned int: only 32 bits. */
    SAME("%x", -1);
}

static void test_length_modifiers(void **state)
{
    (void)state;
    SAME("%hhd", 200);          /* (signed char)200 == -56 */
    SAME("%hhd", -1);
    SAME("%hhu", 300);          /* (unsigned char)300 == 44 */
    SAME("%hhx", -1);
    SAME("%hd", 70000);         /* (short)70000 == 4464 */
    SAME("%hd", -32768);
    SAME("%hu", 70000);
    SAME("%hx", 0x12345678);
    SAME("%ld", -1234567890123L);
    SAME("%lu", 1234567890123UL);
    SAME("%lld", -9000000000000000000LL);
    SAME("%llu", 18000000000000000000ULL);
    SAME("%zu", (size_t)0xFFFFFFFFFFull);
    SAME("%zx", (size_t)SIZE_MAX);
    SAME("%zu %d", (size_t)5, 6);   /* z consumes exactly one 64-bit argument */
}

static void test_width_and_flags(void **state)
{
    (void)state;
    SAME("[%5d]", 42);
    SAME("[%-5d]", 42);
    SAME("[%05d]", 42);
    SAME("[%05d]", -42);
    SAME("[%5d]", -42);
    /* gcc warns about these redundant flags; the formatter must still handle them as C does. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    SAME("[%-05d]", -42);       /* '-' overrides '0' */
#pragma GCC diagnostic pop
    SAME("[%08x]", 0xbeefu);
    SAME("[%-8X]|", 0xbeefu);
    SAME("[%2d]", 12345);       /* width never truncates */
    SAME("[%1d]", 0);
    SAME("[%10s]", "abc");
    SAME("[%-10s]", "abc");
    SAME("[%3c]", 'x');
    SAME("[%-3c]", 'x');
    SAME("[%020ld]", (long)INT64_MIN);
}

static void test_precision(void **state)
{
    (void)state;
    SAME("[%.3s]", "abcdef");
    SAME("[%.10s]", "abc");
    SAME("[%.0s]", "abc");
    SAME("[%8.3s]", "abcdef");
    SAME("[%-8.3s]", "abcdef");
    SAME("[%.5d]", 42);
    SAME("[%.5d]", -42);
    SAME("[%8.5d]", -42);
    SAME("[%-8.5d]", 42);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    SAME("[%08.5d]", 42);       /* a precision disables the '0' flag */
#pragma GCC diagnostic pop
    SAME("[%.4x]", 0xau);
    SAME("[%.1d]", 123);
    SAME("[%.0d]", 0);          /* C: zero with precision 0 prints no digits */
    SAME("[%5.0d]", 0);
    SAME("[%.0x]", 0u);
    SAME("[%.0d]", 7);
}

static void test_star_width_and_precision(void **state)
{
    (void)state;
    SAME("[%*d]", 6, 42);
    SAME("[%*d]", -6, 42);      /* negative width: left-justify */
    SAME("[%-*d]", 6, 42);
    SAME("[%0*d]", 6, -42);
    SAME("[%.*s]", 2, "abcdef");
    SAME("[%.*d]", 4, 7);
    SAME("[%*.*s]", 6, 2, "abcdef");
    SAME("[%.*s]", -1, "abcdef");  /* negative precision: as if omitted */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    SAME("[%0.*d]", -1, 5);     /* ... and so is its '0' flag back */
    SAME("[%05.*d]", -1, 5);
#pragma GCC diagnostic pop
    SAME("[%*s|%s]", 4, "a", "b"); /* '*' consumes its argument in order */
}

/* Hidden from the compiler so that it does not reject a NULL %s at compile time. */
static const char *volatile null_string = NULL;

static void test_strings_and_chars(void **state)
{
    (void)state;
    SAME("%s", "");
    SAME("%s-%s", "ab", "cd");
    SAME("%c%c%c", 'a', 'b', 'c');
    EXPECT("(null)", "%s", null_string);
    EXPECT("[  (null)]", "[%8s]", null_string);
    EXPECT("[(nu]", "[%.3s]", null_string);

    /* A NUL character still counts in the returned length. */
    char buf[8];
    memset(buf, 'Z', sizeof buf);
    int n = ksnprintf(buf, sizeof buf, "a%cb", 0);
    assert_int_equal(n, 3);
    assert_int_equal(buf[0], 'a');
    assert_int_equal(buf[1], '\0');
    assert_int_equal(buf[2], 'b');
    assert_int_equal(buf[3], '\0');
}

static void test_pointer(void **state)
{
    (void)state;
    /* The kernel prints every pointer with 16 zero-padded hex digits. */
    EXPECT("0x00000000deadbeef", "%p", (void *)(uintptr_t)0xdeadbeef);
    EXPECT("0x0000000000000000", "%p", (void *)NULL);
    EXPECT("0xffff800000001000", "%p", (void *)(uintptr_t)0xffff800000001000ull);
    EXPECT("p=0x0000000000001000!", "p=%p!", (void *)(uintptr_t)0x1000);
    EXPECT("0x000000000000001000", "%20p", (void *)(uintptr_t)0x1000);
    EXPECT("0x1000    |", "%-10p|", (void *)(uintptr_t)0x1000);
}

static void test_truncation_returns_full_length(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'Z', sizeof buf);
    int n = ksnprintf(buf, 5, "%s-%d", "hello", 12345);
    assert_int_equal(n, 11);
    assert_string_equal(buf, "hell");
    assert_int_equal(buf[5], 'Z');  /* nothing written past size */

    memset(buf, 'Z', sizeof buf);
    n = ksnprintf(buf, 1, "abc");
    assert_int_equal(n, 3);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'Z');

    memset(buf, 'Z', sizeof buf);
    n = ksnprintf(buf, 6, "%10d", 1);
    assert_int_equal(n, 10);
    assert_string_equal(buf, "     ");

    /* Exactly fitting: size == length + 1. */
    n = ksnprintf(buf, 4, "abc");
    assert_int_equal(n, 3);
    assert_string_equal(buf, "abc");
    n = ksnprintf(buf, 3, "abc");
    assert_int_equal(n, 3);
    assert_string_equal(buf, "ab");
}

static void test_size_zero_writes_nothing(void **state)
{
    (void)state;
    char buf[4] = { 'Z', 'Z', 'Z', 'Z' };
    assert_int_equal(ksnprintf(buf, 0, "%d%s", 12345, "xyz"), 8);
    assert_int_equal(buf[0], 'Z');
    assert_int_equal(ksnprintf(NULL, 0, "%s", "abcdef"), 6);
}

static int via_va_list(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void test_vsnprintf_and_odd_formats(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(via_va_list(buf, sizeof buf, "%s=%u", "x", 9u), 3);
    assert_string_equal(buf, "x=9");
    /* A trailing lone '%' prints nothing and stops cleanly. */
    assert_int_equal(via_va_list(buf, sizeof buf, "ab%"), 2);
    assert_string_equal(buf, "ab");
    /* An unknown conversion is printed as written and consumes no argument. */
    assert_int_equal(via_va_list(buf, sizeof buf, "%q%d", 5), 3);
    assert_string_equal(buf, "%q5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_and_percent),
        cmocka_unit_test(test_signed_decimal),
        cmocka_unit_test(test_unsigned_and_hex),
        cmocka_unit_test(test_length_modifiers),
        cmocka_unit_test(test_width_and_flags),
        cmocka_unit_test(test_precision),
        cmocka_unit_test(test_star_width_and_precision),
        cmocka_unit_test(test_strings_and_chars),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_truncation_returns_full_length),
        cmocka_unit_test(test_size_zero_writes_nothing),
        cmocka_unit_test(test_vsnprintf_and_odd_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

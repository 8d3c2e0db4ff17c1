/* XTF-style reporting for guest test kernels. */
#include <stdarg.h>

#include "arch.h"
#include "desc.h"
#include "printf.h"
#include "test.h"

static unsigned passes, failures;

void test_title(const char *title)
{
    guest_is_test = true;
    printf("Test: %s\n", title);
}

static void report(const char *prefix, const char *fmt, va_list ap)
{
    printf("%s", prefix);
    vprintf(fmt, ap);
    printf("\n");
}

void test_pass(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("PASS: ", fmt, ap);
    va_end(ap);
    passes++;
}

void test_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("FAIL: ", fmt, ap);
    va_end(ap);
    failures++;
}

bool test_check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(ok ? "PASS: " : "FAIL: ", fmt, ap);
    va_end(ap);
    if (ok)
        passes++;
    else
        failures++;
    return ok;
}

void test_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report("note: ", fmt, ap);
    va_end(ap);
}

bool test_finish(void)
{
    if (passes == 0 && failures == 0)
        printf("FAIL: no checks ran\n");
    bool passed = failures == 0 && passes > 0;
    printf("Test result: %s\n", passed ? "PASS" : "FAIL");
    return passed;
}

void test_end(void)
{
    test_finish();
    halt_forever();
}

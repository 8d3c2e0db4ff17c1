/* XTF-style reporting for guest test kernels: a title, PASS/FAIL lines, one result line. */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include <stdbool.h>

/* "Test: TITLE"; also makes unexpected exceptions print "Test result: FAIL". */
void test_title(const char *title);
/* "PASS: ..." for one check that held. */
void test_pass(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "FAIL: ..." for one check that did not; the test's result becomes FAIL. */
void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* test_pass or test_fail depending on ok; returns ok. */
bool test_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Informational line, no effect on the result. */
void test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Test result: PASS" if something passed and nothing failed, else FAIL; returns which (for a
 * test that then ends itself, through debug-exit or a hypercall). */
bool test_finish(void);
/* test_finish(), then halt for good. */
void test_end(void) __attribute__((noreturn));

#endif

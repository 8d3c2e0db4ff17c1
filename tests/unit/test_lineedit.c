/* Host unit tests for the shell's line editor (kernel/shell/lineedit.c): keys, escape
 * sequences, history, Tab completion and the exact terminal output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/shell/lineedit.c"

/* Fake terminal: collects everything the editor writes. */
static char out[8192];
static size_t out_len;

static void fake_write(void *ctx, const char *s, size_t n)
{
    assert_ptr_equal(ctx, &out);
    assert_true(n > 0);
    assert_true(out_len + n < sizeof out);
    memcpy(out + out_len, s, n);
    out_len += n;
    out[out_len] = '\0';
}

/* Fake completion: returns the configured words (unfiltered, the editor filters)
 * and records what it was asked. */
static const char *words[8];
static int nwords;
static char asked_line[LE_LINE_MAX + 1];
static size_t asked_cursor;
static int asked;

static int fake_complete(void *ctx, const char *line, size_t cursor, const char **cand, int max)
{
    assert_ptr_equal(ctx, &out);
    strcpy(asked_line, line);
    asked_cursor = cursor;
    asked++;
    int n = 0;
    for (int i = 0; i < nwords && n < max; i++)
        cand[n++] = words[i];
    return n;
}

static struct lineedit le;

static void clear_out(void)
{
    out[0] = '\0';
    out_len = 0;
}

static int setup(void **state)
{
    (void)state;
    lineedit_init(&le, "hv> ", fake_write, fake_complete, &out);
    clear_out();
    nwords = 0;
    asked = 0;
    return 0;
}

/* Feeds every byte of s; returns the result of the last one. */
static enum le_result feed(const char *s)
{
    enum le_result r = LE_NONE;
    for (; *s; s++)
        r = lineedit_feed(&le, (uint8_t)*s);
    return r;
}

/* The line being edited, and the cursor within it. */
static void assert_line(const char *text, size_t cursor)
{
    assert_string_equal(le.buf, text);
    assert_int_equal(le.len, strlen(text));
    assert_int_equal(le.cursor, cursor);
}

#define LEFT   "\033[D"
#define RIGHT  "\033[C"
#define UP     "\033[A"
#define DOWN   "\033[B"
#define DELETE "\033[3~"

static void test_typing_echoes(void **state)
{
    (void)state;
    assert_int_equal(feed("list"), LE_NONE);
    assert_line("list", 4);
    assert_string_equal(out, "list");
    clear_out();
    assert_int_equal(feed("\r"), LE_LINE);
    assert_string_equal(lineedit_line(&le), "list");
    assert_string_equal(out, "\n");
    assert_line("", 0);                         /* a fresh line after Enter */
}

static void test_insert_in_middle(void **state)
{
    (void)state;
    feed("sart" LEFT LEFT LEFT);
    assert_line("sart", 1);
    clear_out();
    feed("t");
    assert_line("start", 2);
    /* The rest of the line is rewritten, then the cursor goes back over it. */
    assert_string_equal(out, "tart\033[K\033[3D");
}

static void test_backspace(void **state)
{
    (void)state;
    feed("abcd");
    clear_out();
    lineedit_feed(&le, 0x7F);
    assert_line("abc", 3);
    assert_string_equal(out, "\033[D\033[K");
    lineedit_feed(&le, 0x08);
    assert_line("ab", 2);
    feed(LEFT);
    clear_out();
    lineedit_feed(&le, 0x7F);                   /* before the cursor: 'a' */
    assert_line("b", 0);
    assert_string_equal(out, "\033[Db\033[K\033[D");
    clear_out();
    lineedit_feed(&le, 0x08);                   /* at the start: nothing */
    assert_line("b", 0);
    assert_string_equal(out, "");
}

static void test_delete_key(void **state)
{
    (void)state;
    feed("abc" LEFT LEFT);
    clear_out();
    feed(DELETE);
    assert_line("ac", 1);
    assert_string_equal(out, "c\033[K\033[D");
    feed(DELETE);
    assert_line("a", 1);
    clear_out();
    feed(DELETE);                               /* at the end: nothing */
    assert_line("a", 1);
    assert_string_equal(out, "");
}

static void test_left_right(void **state)
{
    (void)state;
    feed("ab");
    clear_out();
    feed(LEFT);
    assert_line("ab", 1);
    assert_string_equal(out, "\033[D");
    feed("\033OD");                             /* SS3 form, as in application cursor mode */
    assert_line("ab", 0);
    clear_out();
    feed(LEFT);                                 /* at the start: stays, prints nothing */
    assert_line("ab", 0);
    assert_string_equal(out, "");
    feed(RIGHT);
    assert_string_equal(out, "\033[C");
    feed("\033OC");
    assert_line("ab", 2);
    clear_out();
    feed(RIGHT);
    assert_line("ab", 2);
    assert_string_equal(out, "");
}

static void test_home_end(void **state)
{
    (void)state;
    static const char *const home[] = { "\033[H", "\033[1~", "\033[7~", "\033OH", "\x01" };
    static const char *const end[] = { "\033[F", "\033[4~", "\033[8~", "\033OF", "\x05" };
    feed("hello");
    for (size_t i = 0; i < sizeof home / sizeof home[0]; i++) {
        clear_out();
        feed(home[i]);
        assert_line("hello", 0);
        assert_string_equal(out, "\033[5D");
        clear_out();
        feed(end[i]);
        assert_line("hello", 5);
        assert_string_equal(out, "\033[5C");
    }
}

static void test_ctrl_u(void **state)
{
    (void)state;
    feed("stop alpha" LEFT LEFT);
    clear_out();
    feed("\x15");
    assert_line("", 0);
    assert_string_equal(out, "\033[8D\033[K");
}

static void test_ctrl_k(void **state)
{
    (void)state;
    feed("stop alpha" "\x01" RIGHT RIGHT RIGHT RIGHT);
    clear_out();
    feed("\x0b");
    assert_line("stop", 4);
    assert_string_equal(out, "\033[K");
}

static void test_ctrl_w(void **state)
{
    (void)state;
    feed("info  alpha  ");
    clear_out();
    feed("\x17");                               /* the trailing spaces and "alpha" */
    assert_line("info  ", 6);
    assert_string_equal(out, "\033[7D\033[K");
    feed("\x17");
    assert_line("", 0);
    feed("a b c" LEFT LEFT);                    /* in the middle: only before the cursor */
    feed("\x17");
    assert_line("a  c", 2);
    feed("\x17\x17");
    assert_line(" c", 0);
}

static void test_ctrl_l_and_redraw(void **state)
{
    (void)state;
    feed("start" LEFT LEFT);
    clear_out();
    lineedit_redraw(&le);
    assert_string_equal(out, "hv> start\033[2D");
    assert_line("start", 3);
    clear_out();
    feed("\x0c");
    assert_string_equal(out, "\r\033[Khv> start\033[2D");
    feed(RIGHT RIGHT);
    clear_out();
    lineedit_redraw(&le);                       /* cursor at the end: no move */
    assert_string_equal(out, "hv> start");
}

static void test_ctrl_c(void **state)
{
    (void)state;
    feed("help\r");
    feed("stop al");
    clear_out();
    assert_int_equal(feed("\x03"), LE_CANCEL);
    assert_string_equal(out, "^C\n");
    assert_line("", 0);
    assert_string_equal(lineedit_line(&le), "help");  /* the dropped line is not accepted */
    assert_int_equal(feed("x\n"), LE_LINE);
    assert_string_equal(lineedit_line(&le), "x");
}

static void test_enter_forms(void **state)
{
    (void)state;
    int lines = 0;
    const char *input = "a\rb\nc\r\nd\n\re\r\rf\n\n";
    for (const char *p = input; *p; p++) {
        if (lineedit_feed(&le, (uint8_t)*p) == LE_LINE) {
            lines++;
            if (lines == 1) assert_string_equal(lineedit_line(&le), "a");
            if (lines == 3) assert_string_equal(lineedit_line(&le), "c");
            if (lines == 5) assert_string_equal(lineedit_line(&le), "");  /* LF CR: two Enters */
        }
    }
    /* a CR, b LF, c CRLF (once), d LF, CR, e CR, CR, f LF, LF */
    assert_int_equal(lines, 9);
    assert_string_equal(lineedit_line(&le), "");
    /* An LF later, after other keys, is an Enter again. */
    feed("\rz");
    assert_int_equal(feed("\n"), LE_LINE);
    assert_string_equal(lineedit_line(&le), "z");
}

static void test_unknown_escapes_swallowed(void **state)
{
    (void)state;
    feed("ab" LEFT);
    clear_out();
    /* PgUp, F5, Insert, Shift-Tab, F1 (SS3), a private mode set, one with an
     * intermediate byte (cursor style), Alt-x. */
    feed("\033[5~" "\033[15~" "\033[2~" "\033[Z" "\033OP" "\033[?25h" "\033[2 q" "\033x");
    assert_line("ab", 1);
    assert_string_equal(out, "");
    /* Modifiers do not stop a known key: Ctrl-Right is still Right. */
    feed("\033[1;5C");
    assert_line("ab", 2);
    feed("q");
    assert_line("abq", 3);
}

static void test_escape_split_across_feeds(void **state)
{
    (void)state;
    feed("abc");
    clear_out();
    assert_int_equal(lineedit_feed(&le, 0x1B), LE_NONE);
    assert_int_equal(lineedit_feed(&le, '['), LE_NONE);
    assert_string_equal(out, "");               /* nothing until the sequence is complete */
    assert_line("abc", 3);
    lineedit_feed(&le, 'D');
    assert_line("abc", 2);
    assert_string_equal(out, "\033[D");
    feed("\033");
    feed("[");
    feed("3");
    assert_line("abc", 2);
    feed("~");
    assert_line("ab", 2);
}

static void test_control_byte_breaks_escape(void **state)
{
    (void)state;
    feed("ls");
    /* A sequence cut short by Enter: the Enter still counts; nothing is inserted. */
    assert_int_equal(feed("\033[\r"), LE_LINE);
    assert_string_equal(lineedit_line(&le), "ls");
    assert_int_equal(feed("x\033\r"), LE_LINE);
    assert_string_equal(lineedit_line(&le), "x");
    /* ESC ESC [ D: the second ESC starts the sequence. */
    feed("ab\033\033[D");
    assert_line("ab", 1);
}

static void test_overlong_line(void **state)
{
    (void)state;
    char many[301];
    memset(many, 'x', 300);
    many[300] = '\0';
    feed(many);
    assert_int_equal(le.len, LE_LINE_MAX);
    assert_int_equal(le.cursor, LE_LINE_MAX);
    /* 255 echoed characters, then one bell per refused one. */
    assert_int_equal(out_len, 300);
    assert_int_equal(strspn(out, "x"), 255);
    assert_int_equal(strspn(out + 255, "\a"), 45);
    feed("\x01");
    clear_out();
    feed("y");                                  /* full: not even in the middle */
    assert_int_equal(le.len, LE_LINE_MAX);
    assert_int_equal(le.buf[0], 'x');
    assert_string_equal(out, "\a");
    feed("\x7f\x05\x7f\x7f" "yz");              /* after deleting two, two fit again */
    assert_int_equal(le.len, LE_LINE_MAX);
    assert_memory_equal(le.buf + LE_LINE_MAX - 3, "xyz", 4);
    assert_int_equal(feed("\r"), LE_LINE);
    assert_int_equal(strlen(lineedit_line(&le)), LE_LINE_MAX);
}

static void test_other_bytes_ignored(void **state)
{
    (void)state;
    feed("a\x02\x0e\x10\x1f\x80\xc3\xa9\xff" "b");
    assert_line("ab", 2);
    assert_string_equal(out, "ab");
}

/* Enters lines and records them, as the shell does. */
static void enter_lines(const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        feed(lines[i]);
        assert_int_equal(feed("\r"), LE_LINE);
        lineedit_history_add(&le, lineedit_line(&le));
    }
}

static void test_history_walk(void **state)
{
    (void)state;
    static const char *const lines[] = { "list", "info alpha", "stop beta" };
    enter_lines(lines, 3);
    feed("sta");                                /* being typed */
    clear_out();
    feed(UP);
    assert_line("stop beta", 9);
    assert_string_equal(out, "\033[3Dstop beta\033[K");
    feed(UP);
    assert_line("info alpha", 10);
    feed(UP);
    assert_line("list", 4);
    clear_out();
    feed(UP);                                   /* past the oldest: bell, stays */
    assert_line("list", 4);
    assert_string_equal(out, "\a");
    feed(DOWN DOWN);
    assert_line("stop beta", 9);
    feed(DOWN);                                 /* past the newest: the typed line is back */
    assert_line("sta", 3);
    clear_out();
    feed(DOWN);
    assert_line("sta", 3);
    assert_string_equal(out, "\a");
    /* A recalled line runs like a typed one. */
    feed("\x15" UP UP);
    assert_int_equal(feed("\r"), LE_LINE);
    assert_string_equal(lineedit_line(&le), "info alpha");
}

static void test_history_empty(void **state)
{
    (void)state;
    feed("abc");
    clear_out();
    feed(UP);
    assert_line("abc", 3);
    assert_string_equal(out, "\a");
}

static void test_history_distinct_nonblank(void **state)
{
    (void)state;
    static const char *const lines[] = { "a", "b", "a", "", "   ", "c", "c" };
    enter_lines(lines, 7);
    assert_int_equal(le.history_len, 3);        /* b, a, c: duplicates moved to the newest */
    assert_string_equal(le.history[0], "b");
    assert_string_equal(le.history[1], "a");
    assert_string_equal(le.history[2], "c");
    feed(UP UP UP);
    assert_line("b", 1);
}

static void test_history_keeps_last_16(void **state)
{
    (void)state;
    char line[16];
    for (int i = 0; i < 20; i++) {
        snprintf(line, sizeof line, "cmd%d", i);
        lineedit_history_add(&le, line);
    }
    assert_int_equal(le.history_len, LE_HISTORY);
    for (int i = 0; i < LE_HISTORY; i++)
        feed(UP);
    assert_line("cmd4", 4);
    feed(UP);
    assert_line("cmd4", 4);
    feed("\x15");
    lineedit_history_add(&le, "cmd10");         /* an old one again: moves, nothing dropped */
    assert_int_equal(le.history_len, LE_HISTORY);
    assert_string_equal(le.history[LE_HISTORY - 1], "cmd10");
    assert_string_equal(le.history[0], "cmd4");
}

static void test_complete_one(void **state)
{
    (void)state;
    words[0] = "start";
    words[1] = "stop";                          /* filtered out: does not extend "sta" */
    nwords = 2;
    feed("sta");
    clear_out();
    feed("\t");
    assert_int_equal(asked, 1);
    assert_string_equal(asked_line, "sta");
    assert_int_equal(asked_cursor, 3);
    assert_line("start ", 6);
    assert_string_equal(out, "rt ");
    /* The second word: the callback sees the whole line and the cursor. */
    words[0] = "alpha";
    nwords = 1;
    feed("al\t");
    assert_string_equal(asked_line, "start al");
    assert_int_equal(asked_cursor, 8);
    assert_line("start alpha ", 12);
}

static void test_complete_in_middle(void **state)
{
    (void)state;
    words[0] = "info";
    nwords = 1;
    feed("in alpha\x01" RIGHT RIGHT);
    clear_out();
    feed("\t");                                 /* a space follows already: none added */
    assert_string_equal(asked_line, "in alpha");
    assert_int_equal(asked_cursor, 2);
    assert_line("info alpha", 4);
    assert_string_equal(out, "fo alpha\033[K\033[6D");
}

static void test_complete_several(void **state)
{
    (void)state;
    words[0] = "start";
    words[1] = "stats";
    words[2] = "stop";
    nwords = 3;
    feed("s");
    clear_out();
    feed("\t");                                 /* common prefix "st" */
    assert_line("st", 2);
    assert_string_equal(out, "t");
    clear_out();
    feed("\t");                                 /* second Tab: the list, then the line again */
    assert_line("st", 2);
    assert_string_equal(out, "\nstart  stats  stop\nhv> st");
    feed("ar");
    clear_out();
    feed("\t");                                 /* only start is left: completed */
    assert_line("start ", 6);
    assert_string_equal(out, "t ");
}

static void test_complete_several_no_progress(void **state)
{
    (void)state;
    words[0] = "stop";
    words[1] = "start";
    nwords = 2;
    feed("st");
    clear_out();
    feed("\t");                                 /* nothing to add: bell */
    assert_string_equal(out, "\a");
    clear_out();
    feed("\t");
    assert_string_equal(out, "\nstop  start\nhv> st");
    /* Another key in between: a Tab rings again instead of listing. */
    feed("\033[5~");                            /* an ignored key still breaks the pair */
    clear_out();
    feed("\t");
    assert_string_equal(out, "\a");
}

static void test_complete_none(void **state)
{
    (void)state;
    nwords = 0;
    feed("zz");
    clear_out();
    feed("\t");
    assert_int_equal(asked, 1);
    assert_line("zz", 2);
    assert_string_equal(out, "\a");
    words[0] = "start";                         /* candidates that do not match count as none */
    nwords = 1;
    clear_out();
    feed("\t");
    assert_line("zz", 2);
    assert_string_equal(out, "\a");
}

static void test_complete_without_callback(void **state)
{
    (void)state;
    lineedit_init(&le, "> ", fake_write, NULL, &out);
    feed("a\t");
    assert_line("a", 1);
    assert_string_equal(out, "a\a");
}

static void test_complete_overflow(void **state)
{
    (void)state;
    char many[LE_LINE_MAX];
    memset(many, 'x', LE_LINE_MAX - 2);
    many[LE_LINE_MAX - 2] = '\0';
    feed(many);
    feed(" s");                                 /* 255 characters: full */
    words[0] = "start";
    nwords = 1;
    clear_out();
    feed("\t");
    assert_int_equal(le.len, LE_LINE_MAX);
    assert_string_equal(out, "\a");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_typing_echoes),
        T(test_insert_in_middle),
        T(test_backspace),
        T(test_delete_key),
        T(test_left_right),
        T(test_home_end),
        T(test_ctrl_u),
        T(test_ctrl_k),
        T(test_ctrl_w),
        T(test_ctrl_l_and_redraw),
        T(test_ctrl_c),
        T(test_enter_forms),
        T(test_unknown_escapes_swallowed),
        T(test_escape_split_across_feeds),
        T(test_control_byte_breaks_escape),
        T(test_overlong_line),
        T(test_other_bytes_ignored),
        T(test_history_walk),
        T(test_history_empty),
        T(test_history_distinct_nonblank),
        T(test_history_keeps_last_16),
        T(test_complete_one),
        T(test_complete_in_middle),
        T(test_complete_several),
        T(test_complete_several_no_progress),
        T(test_complete_none),
        T(test_complete_without_callback),
        T(test_complete_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

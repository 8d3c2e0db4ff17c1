/* Host unit tests for the shell's pure parts (kernel/shell/shell.c): tokenizing, command lookup,
 * the error line and Tab completion of words. Line editing has its own tests
 * (test_lineedit.c); the shell links it in here only because shell.c uses it. */
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
#include "kernel/shell/lineedit.c"
#include "kernel/shell/shell.c"
#undef vsnprintf
#undef snprintf

/* Fake console: collects everything written. */
static char out[1024];
static size_t out_len;
static unsigned writes;

void console_write(const char *s, size_t n)
{
    assert_true(out_len + n < sizeof out);
    memcpy(out + out_len, s, n);
    out_len += n;
    out[out_len] = '\0';
    writes++;
}
void console_write_line(const char *s, size_t n) { console_write(s, n); }
void console_set_prompt_redraw(void (*redraw)(void)) { (void)redraw; }
void console_prompt_visible(bool visible) { (void)visible; }
int console_getc(void) { return -1; }
bool uart_rx_pending(void) { return false; }

/* Fake command table. */
static int run_nothing(int argc, char **argv) { (void)argc; (void)argv; return 0; }
const struct shell_command shell_commands[] = {
    { "help", "", "list commands", run_nothing },
    { "vm", "NAME", "show a guest", run_nothing },
    { "vmx", "", "VMX capabilities", run_nothing },
    { NULL, NULL, NULL, NULL },
};

static int setup(void **state)
{
    (void)state;
    out[0] = '\0';
    out_len = 0;
    writes = 0;
    return 0;
}

static void test_tokenize_spaces_and_tabs(void **state)
{
    (void)state;
    char line[] = "  vm \t guest1\tstart   ";
    char *argv[SHELL_MAX_ARGS];
    assert_int_equal(shell_tokenize(line, argv, SHELL_MAX_ARGS), 3);
    assert_string_equal(argv[0], "vm");
    assert_string_equal(argv[1], "guest1");
    assert_string_equal(argv[2], "start");
    /* In place: the arguments point into the line. */
    assert_ptr_equal(argv[0], line + 2);
}

static void test_tokenize_empty_and_blank(void **state)
{
    (void)state;
    char *argv[SHELL_MAX_ARGS] = { NULL };
    char empty[] = "";
    assert_int_equal(shell_tokenize(empty, argv, SHELL_MAX_ARGS), 0);
    char blank[] = " \t \t ";
    assert_int_equal(shell_tokenize(blank, argv, SHELL_MAX_ARGS), 0);
    assert_null(argv[0]);
    char one[] = "help";
    assert_int_equal(shell_tokenize(one, argv, SHELL_MAX_ARGS), 1);
    assert_string_equal(argv[0], "help");
}

static void test_tokenize_max_args(void **state)
{
    (void)state;
    char line[] = "a b c d e";
    char *argv[3] = { NULL, NULL, NULL };
    assert_int_equal(shell_tokenize(line, argv, 3), 3);
    assert_string_equal(argv[0], "a");
    assert_string_equal(argv[1], "b");
    assert_string_equal(argv[2], "c");          /* terminated, not "c d e" */

    char many[128];
    char *args[SHELL_MAX_ARGS + 1];
    strcpy(many, "0 1 2 3 4 5 6 7 8 9 a b c d e f g h i");
    args[SHELL_MAX_ARGS] = NULL;
    assert_int_equal(shell_tokenize(many, args, SHELL_MAX_ARGS), SHELL_MAX_ARGS);
    assert_string_equal(args[SHELL_MAX_ARGS - 1], "f");
    assert_null(args[SHELL_MAX_ARGS]);          /* nothing written past max */

    char z[] = "x y";
    assert_int_equal(shell_tokenize(z, args, 0), 0);
}

static void test_find(void **state)
{
    (void)state;
    const struct shell_command *c = shell_find("vm");
    assert_non_null(c);
    assert_ptr_equal(c, &shell_commands[1]);
    assert_ptr_equal(shell_find("vmx"), &shell_commands[2]);
    assert_ptr_equal(shell_find("help"), &shell_commands[0]);
    assert_null(shell_find("v"));               /* exact names only, no prefixes */
    assert_null(shell_find("vmxx"));
    assert_null(shell_find("HELP"));
    assert_null(shell_find(""));
}

static void test_error_line(void **state)
{
    (void)state;
    assert_int_equal(shell_error("no guest \"%s\" (%d running)", "linux", 2), -1);
    assert_string_equal(out, "error: no guest \"linux\" (2 running)\n");
    assert_int_equal(writes, 1);                /* one write: one line */

    setup(NULL);
    char longarg[400];
    memset(longarg, 'x', sizeof longarg - 1);
    longarg[sizeof longarg - 1] = '\0';
    assert_int_equal(shell_error("%s", longarg), -1);
    /* Cut to the 255 characters of shell_error's buffer, still one line ending in '\n'. */
    assert_int_equal(out_len, strlen("error: ") + 255 + 1);
    assert_memory_equal(out, "error: xxx", 10);
    assert_int_equal(out[out_len - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + out_len - 1);
}

static void test_complete_word(void **state)
{
    (void)state;
    const char *c[8];
    /* The first word completes to command names. */
    assert_int_equal(complete_word(NULL, "v", 1, c, 8), 2);
    assert_string_equal(c[0], "vm");
    assert_string_equal(c[1], "vmx");
    assert_int_equal(complete_word(NULL, "  vmx", 5, c, 8), 1);
    assert_string_equal(c[0], "vmx");
    assert_int_equal(complete_word(NULL, "", 0, c, 8), 3);
    assert_int_equal(complete_word(NULL, "x", 1, c, 8), 0);
    assert_int_equal(complete_word(NULL, "v", 1, c, 1), 1);     /* at most max */
    /* Only the text before the cursor counts: "h|vm" completes "h". */
    assert_int_equal(complete_word(NULL, "hvm", 1, c, 8), 1);
    assert_string_equal(c[0], "help");
    /* After "help", command names again; after other commands, guest names (none here). */
    assert_int_equal(complete_word(NULL, "help v", 6, c, 8), 2);
    assert_string_equal(c[1], "vmx");
    assert_int_equal(complete_word(NULL, " help  vmx", 10, c, 8), 1);
    assert_int_equal(complete_word(NULL, "vm v", 4, c, 8), 0);
    assert_int_equal(complete_word(NULL, "helper v", 8, c, 8), 0);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_tokenize_spaces_and_tabs),
        T(test_tokenize_empty_and_blank),
        T(test_tokenize_max_args),
        T(test_find),
        T(test_error_line),
        T(test_complete_word),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

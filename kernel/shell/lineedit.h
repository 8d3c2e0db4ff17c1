/* A terminal line editor, pure logic: bytes in, ANSI echo out through a callback.
 *
 * Overview: the shell feeds every received byte to lineedit_feed(). Printable
 * characters go in at the cursor; control keys and ANSI escape sequences
 * (arrows, Home/End, Delete) edit and move; Up/Down walk a small history; Tab
 * asks a completion callback. Everything the terminal should show goes out
 * through the write callback, so host tests capture it. The editor assumes a
 * VT100-style terminal and a line that does not wrap: it moves the cursor with
 * ESC[nD / ESC[nC and erases with ESC[K. No allocation, no state outside the
 * struct.
 */
#ifndef KERNEL_SHELL_LINEEDIT_H
#define KERNEL_SHELL_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LE_LINE_MAX       255   /* characters in a line, not counting the NUL */
#define LE_HISTORY        16    /* lines remembered */
#define LE_MAX_CANDIDATES 32    /* completion candidates considered per Tab */

enum le_result {
    LE_NONE,        /* still editing */
    LE_LINE,        /* Enter: lineedit_line() holds the line */
    LE_CANCEL,      /* Ctrl-C: the line was dropped */
};

/* Writes n bytes to the terminal ('\n' means "new line"; the console adds the CR). */
typedef void lineedit_write_fn(void *ctx, const char *s, size_t n);
/* Fills candidates with at most max words that could replace the word that ends
 * at cursor in line (a NUL-terminated copy); returns how many. The pointers must
 * stay valid until the callback is called again. */
typedef int lineedit_complete_fn(void *ctx, const char *line, size_t cursor,
                                 const char **candidates, int max);

struct lineedit {
    const char *prompt;
    lineedit_write_fn *write;
    lineedit_complete_fn *complete;     /* may be NULL: Tab rings the bell */
    void *ctx;

    char buf[LE_LINE_MAX + 1];          /* the line being edited, NUL-terminated */
    size_t len, cursor;
    char done[LE_LINE_MAX + 1];         /* the last line accepted with Enter */

    uint8_t esc;                        /* escape parser state (ESC_* in lineedit.c) */
    uint16_t esc_param;                 /* first numeric parameter of a CSI sequence */
    bool after_cr;                      /* swallow the LF of a CR LF pair */
    bool after_tab;                     /* the previous key was an unfinished Tab */

    char history[LE_HISTORY][LE_LINE_MAX + 1];  /* [0] is the oldest */
    int history_len;
    int history_pos;                    /* history_len: the line being typed */
    char saved[LE_LINE_MAX + 1];        /* the line being typed, while walking history */
};

/* Sets le up with an empty line and history. Prints nothing: call lineedit_redraw()
 * to show the prompt. prompt must outlive le. */
void lineedit_init(struct lineedit *le, const char *prompt, lineedit_write_fn *write,
                   lineedit_complete_fn *complete, void *ctx);
/* Handles one input byte. On LE_LINE the editor has echoed the newline and starts
 * a fresh empty line; lineedit_line() returns the accepted one. On LE_CANCEL it has
 * printed "^C" and a newline. Neither prints the next prompt: lineedit_redraw() does. */
enum le_result lineedit_feed(struct lineedit *le, uint8_t byte);
/* The line accepted by the last LE_LINE; valid until the next LE_LINE. */
const char *lineedit_line(const struct lineedit *le);
/* Prints the prompt and the current line and puts the cursor back where it was.
 * Assumes the terminal's cursor is at the start of an empty line. */
void lineedit_redraw(struct lineedit *le);
/* Remembers line as the newest history entry unless it is blank; an older copy of
 * the same line is dropped, and beyond LE_HISTORY lines the oldest goes. */
void lineedit_history_add(struct lineedit *le, const char *line);

#endif

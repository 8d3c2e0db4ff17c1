/* A terminal line editor: cursor keys, kill commands, history and Tab completion over ANSI. */
#include "kernel/shell/lineedit.h"
#include "kernel/string.h"

#define KEY_CTRL(c) ((c) & 0x1F)
#define KEY_ESC     0x1B
#define KEY_DEL     0x7F

enum {
    ESC_NONE,       /* not in a sequence */
    ESC_START,      /* ESC seen */
    ESC_CSI,        /* ESC [ seen: parameters, then a final byte */
    ESC_SS3,        /* ESC O seen: one final byte */
};

/* ---- output ------------------------------------------------------------ */

static void le_put(struct lineedit *le, const char *s, size_t n)
{
    if (n)
        le->write(le->ctx, s, n);
}

static void le_puts(struct lineedit *le, const char *s)
{
    le_put(le, s, strlen(s));
}

static void le_bell(struct lineedit *le)
{
    le_put(le, "\a", 1);
}

/* Moves the terminal cursor n columns; dir is 'D' (left) or 'C' (right). */
static void le_move(struct lineedit *le, size_t n, char dir)
{
    char s[32], digits[24];
    size_t k = 0, d = 0;
    if (!n)
        return;
    s[k++] = KEY_ESC;
    s[k++] = '[';
    if (n > 1) {
        for (; n; n /= 10)
            digits[d++] = (char)('0' + n % 10);
        while (d)
            s[k++] = digits[--d];
    }
    s[k++] = dir;
    le_put(le, s, k);
}

/* The terminal cursor is at column pos of the line: rewrite from there to the end,
 * erase what is left of a longer old line, and return the cursor to le->cursor. */
static void le_refresh_from(struct lineedit *le, size_t pos)
{
    le_put(le, le->buf + pos, le->len - pos);
    le_puts(le, "\033[K");
    le_move(le, le->len - le->cursor, 'D');
}

void lineedit_redraw(struct lineedit *le)
{
    le_puts(le, le->prompt);
    le_put(le, le->buf, le->len);
    le_move(le, le->len - le->cursor, 'D');
}

/* Replaces the whole line with s (history), cursor at its end. */
static void le_replace_line(struct lineedit *le, const char *s)
{
    le_move(le, le->cursor, 'D');
    le->len = strnlen(s, LE_LINE_MAX);
    memmove(le->buf, s, le->len);
    le->buf[le->len] = '\0';
    le->cursor = le->len;
    le_refresh_from(le, 0);
}

/* ---- editing ----------------------------------------------------------- */

/* Inserts n bytes at the cursor; returns false (and rings) if they did not all fit. */
static bool le_insert(struct lineedit *le, const char *s, size_t n)
{
    bool fits = n <= LE_LINE_MAX - le->len;
    if (!fits)
        n = LE_LINE_MAX - le->len;
    if (n) {
        size_t at = le->cursor;
        memmove(le->buf + at + n, le->buf + at, le->len - at);
        memcpy(le->buf + at, s, n);
        le->len += n;
        le->buf[le->len] = '\0';
        le->cursor += n;
        if (le->cursor == le->len)
            le_put(le, s, n);              /* typing at the end: a plain echo */
        else
            le_refresh_from(le, at);
    }
    if (!fits)
        le_bell(le);
    return fits;
}

/* Deletes the bytes [from, to) and leaves the cursor at from. */
static void le_delete_range(struct lineedit *le, size_t from, size_t to)
{
    if (from >= to)
        return;
    le_move(le, le->cursor - from, 'D');
    memmove(le->buf + from, le->buf + to, le->len - to);
    le->len -= to - from;
    le->buf[le->len] = '\0';
    le->cursor = from;
    le_refresh_from(le, from);
}

static void le_move_to(struct lineedit *le, size_t pos)
{
    if (pos < le->cursor)
        le_move(le, le->cursor - pos, 'D');
    else
        le_move(le, pos - le->cursor, 'C');
    le->cursor = pos;
}

/* Where the word before the cursor starts, for Tab: right after the last space. */
static size_t le_token_start(const struct lineedit *le)
{
    size_t i = le->cursor;
    while (i > 0 && le->buf[i - 1] != ' ')
        i--;
    return i;
}

/* Where Ctrl-W's kill starts: spaces before the cursor, then the word before them. */
static size_t le_word_start(const struct lineedit *le)
{
    size_t i = le->cursor;
    while (i > 0 && le->buf[i - 1] == ' ')
        i--;
    while (i > 0 && le->buf[i - 1] != ' ')
        i--;
    return i;
}

static void le_clear_line(struct lineedit *le)
{
    le->len = le->cursor = 0;
    le->buf[0] = '\0';
    le->history_pos = le->history_len;
    le->esc = ESC_NONE;
}

/* ---- history ----------------------------------------------------------- */

static bool le_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

void lineedit_history_add(struct lineedit *le, const char *line)
{
    if (le_blank(line))
        return;
    for (int i = 0; i < le->history_len; i++) {
        if (strncmp(le->history[i], line, LE_LINE_MAX) == 0) {
            memmove(le->history[i], le->history[i + 1],
                    (size_t)(le->history_len - i - 1) * sizeof le->history[0]);
            le->history_len--;
            break;
        }
    }
    if (le->history_len == LE_HISTORY) {
        memmove(le->history[0], le->history[1], (LE_HISTORY - 1) * sizeof le->history[0]);
        le->history_len--;
    }
    size_t n = strnlen(line, LE_LINE_MAX);
    memcpy(le->history[le->history_len], line, n);
    le->history[le->history_len][n] = '\0';
    le->history_len++;
    le->history_pos = le->history_len;
}

static void le_history_walk(struct lineedit *le, int step)
{
    int pos = le->history_pos + step;
    if (pos < 0 || pos > le->history_len) {
        le_bell(le);
        return;
    }
    if (le->history_pos == le->history_len)
        memcpy(le->saved, le->buf, le->len + 1);
    le->history_pos = pos;
    le_replace_line(le, pos == le->history_len ? le->saved : le->history[pos]);
}

/* ---- completion -------------------------------------------------------- */

static void le_list_candidates(struct lineedit *le, const char **cand, int n)
{
    le_puts(le, "\n");
    for (int i = 0; i < n; i++) {
        if (i)
            le_puts(le, "  ");
        le_puts(le, cand[i]);
    }
    le_puts(le, "\n");
    lineedit_redraw(le);
}

/* Tab: one candidate completes the word and adds a space; several complete their
 * common prefix, and a second Tab in a row lists them. */
static void le_complete(struct lineedit *le)
{
    const char *cand[LE_MAX_CANDIDATES];
    int n = le->complete ? le->complete(le->ctx, le->buf, le->cursor, cand, LE_MAX_CANDIDATES) : 0;
    if (n <= 0) {
        le_bell(le);
        return;
    }
    if (n > LE_MAX_CANDIDATES)
        n = LE_MAX_CANDIDATES;
    size_t start = le_token_start(le), typed = le->cursor - start;
    int kept = 0;
    for (int i = 0; i < n; i++)         /* only what extends the typed word */
        if (cand[i] && strncmp(cand[i], le->buf + start, typed) == 0)
            cand[kept++] = cand[i];
    n = kept;
    if (n == 0) {
        le_bell(le);
        return;
    }
    size_t common = strlen(cand[0]);
    for (int i = 1; i < n; i++) {
        size_t k = 0;
        while (k < common && cand[i][k] == cand[0][k])
            k++;
        common = k;
    }
    if (common > typed && !le_insert(le, cand[0] + typed, common - typed))
        return;
    if (n == 1) {
        if (le->cursor == le->len || le->buf[le->cursor] != ' ')
            le_insert(le, " ", 1);
    } else if (common > typed) {
        le->after_tab = true;           /* a second Tab lists them */
    } else if (le->after_tab) {
        le_list_candidates(le, cand, n);
    } else {
        le_bell(le);
        le->after_tab = true;
    }
}

/* ---- input ------------------------------------------------------------- */

/* The final byte of an ESC [ or ESC O sequence; unknown ones do nothing. */
static void le_escape_final(struct lineedit *le, uint8_t final, unsigned param)
{
    switch (final) {
    case 'A': le_history_walk(le, -1); break;
    case 'B': le_history_walk(le, +1); break;
    case 'C': if (le->cursor < le->len) le_move_to(le, le->cursor + 1); break;
    case 'D': if (le->cursor > 0) le_move_to(le, le->cursor - 1); break;
    case 'H': le_move_to(le, 0); break;
    case 'F': le_move_to(le, le->len); break;
    case '~':
        if (param == 1 || param == 7)
            le_move_to(le, 0);
        else if (param == 4 || param == 8)
            le_move_to(le, le->len);
        else if (param == 3)
            le_delete_range(le, le->cursor, le->cursor < le->len ? le->cursor + 1 : le->cursor);
        break;
    }
}

/* Advances the escape parser; returns false if byte ends no sequence and must be
 * handled as an ordinary key (a control byte cuts a broken sequence short). */
static bool le_escape_byte(struct lineedit *le, uint8_t byte)
{
    switch (le->esc) {
    case ESC_START:
        le->esc = byte == '[' ? ESC_CSI : byte == 'O' ? ESC_SS3 : ESC_NONE;
        le->esc_param = 0;
        return byte >= 0x20;            /* ESC x (Alt-x) is swallowed whole */
    case ESC_SS3:
        le->esc = ESC_NONE;
        if (byte < 0x20)
            return false;
        le_escape_final(le, byte, 0);
        return true;
    default:                            /* ESC_CSI */
        if (byte >= '0' && byte <= '9') {
            if (le->esc_param < 1000)
                le->esc_param = (uint16_t)(le->esc_param * 10 + (byte - '0'));
            return true;
        }
        if (byte >= 0x20 && byte <= 0x3F)   /* ';' and other parameter/intermediate bytes */
            return true;
        le->esc = ESC_NONE;
        if (byte < 0x40 || byte > 0x7E)
            return false;
        le_escape_final(le, byte, le->esc_param);
        return true;
    }
}

static enum le_result le_enter(struct lineedit *le)
{
    memcpy(le->done, le->buf, le->len + 1);
    le_puts(le, "\n");
    le_clear_line(le);
    return LE_LINE;
}

/* A control key (or DEL); unknown ones are ignored. */
static enum le_result le_control(struct lineedit *le, uint8_t byte)
{
    switch (byte) {
    case '\r': case '\n':
        return le_enter(le);
    case KEY_CTRL('C'):
        le_puts(le, "^C\n");
        le_clear_line(le);
        return LE_CANCEL;
    case KEY_DEL: case '\b':
        if (le->cursor > 0)
            le_delete_range(le, le->cursor - 1, le->cursor);
        break;
    case KEY_CTRL('A'): le_move_to(le, 0); break;
    case KEY_CTRL('E'): le_move_to(le, le->len); break;
    case KEY_CTRL('U'): le_delete_range(le, 0, le->len); break;
    case KEY_CTRL('K'): le_delete_range(le, le->cursor, le->len); break;
    case KEY_CTRL('W'): le_delete_range(le, le_word_start(le), le->cursor); break;
    case KEY_CTRL('L'):
        le_puts(le, "\r\033[K");
        lineedit_redraw(le);
        break;
    case '\t': le_complete(le); break;
    case KEY_ESC:
        le->esc = ESC_START;
        break;
    }
    return LE_NONE;
}

enum le_result lineedit_feed(struct lineedit *le, uint8_t byte)
{
    bool after_cr = le->after_cr, after_tab = le->after_tab;
    le->after_cr = byte == '\r';
    le->after_tab = false;
    if (byte == '\n' && after_cr)
        return LE_NONE;                 /* the LF of CR LF: Enter was already handled */
    if (le->esc != ESC_NONE && le_escape_byte(le, byte))
        return LE_NONE;
    if (byte == '\t')
        le->after_tab = after_tab;      /* le_complete() reads, then updates it */
    if (byte < 0x20 || byte == KEY_DEL)
        return le_control(le, byte);
    if (byte < 0x7F) {
        char c = (char)byte;
        le_insert(le, &c, 1);
    }
    return LE_NONE;                     /* bytes >= 0x80 are not supported: ignored */
}

const char *lineedit_line(const struct lineedit *le)
{
    return le->done;
}

void lineedit_init(struct lineedit *le, const char *prompt, lineedit_write_fn *write,
                   lineedit_complete_fn *complete, void *ctx)
{
    memset(le, 0, sizeof *le);
    le->prompt = prompt;
    le->write = write;
    le->complete = complete;
    le->ctx = ctx;
}

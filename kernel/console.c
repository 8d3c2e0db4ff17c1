/* The serial console: turns text into UART bytes and keeps the shell's line intact around async output. */
#include "kernel/console.h"
#include "drivers/uart.h"

static void (*prompt_redraw)(void);
static bool prompt_on_screen;
static bool redrawing;

void console_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            uart_putc('\r');
        uart_putc((uint8_t)s[i]);
    }
}

void console_set_prompt_redraw(void (*redraw)(void))
{
    prompt_redraw = redraw;
}

void console_prompt_visible(bool visible)
{
    prompt_on_screen = visible;
}

void console_write_line(const char *s, size_t n)
{
    bool redraw = prompt_on_screen && prompt_redraw && !redrawing;
    if (redraw)
        console_write("\r\033[K", 4);       /* carriage return, erase to end of line */
    console_write(s, n);
    if (redraw) {
        redrawing = true;
        prompt_redraw();
        redrawing = false;
    }
}

static bool async_hidden;

void console_async_begin(void)
{
    if (prompt_on_screen && prompt_redraw && !async_hidden) {
        console_write("\r\033[K", 4);
        prompt_on_screen = false;
        async_hidden = true;
    }
}

void console_async_end(void)
{
    if (async_hidden) {
        async_hidden = false;
        prompt_on_screen = true;
        prompt_redraw();
    }
}

int console_getc(void)
{
    return uart_getc();
}

void console_panic_mode(void)
{
    uart_panic_mode();
}

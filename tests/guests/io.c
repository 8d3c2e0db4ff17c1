/* Guest test io: unclaimed ports float high and drop writes; the UART scratch register stores. */
#include "guest.h"

static const uint16_t unclaimed_ports[] = { 0x2000, 0x5660, 0xe0e0 };

static void check_port(uint16_t port)
{
    uint8_t b = inb(port);
    uint16_t w = inw(port);
    uint32_t l = inl(port);
    test_check(b == 0xff && w == 0xffff && l == 0xffffffffu,
               "port 0x%04x reads all ones (inb 0x%02x, inw 0x%04x, inl 0x%08x)", port, b, w, l);

    outb(port, 0x12);
    outw(port, 0x3456);
    outl(port, 0x789abcdeu);
    b = inb(port);
    w = inw(port);
    l = inl(port);
    test_check(b == 0xff && w == 0xffff && l == 0xffffffffu,
               "port 0x%04x ignores writes (inb 0x%02x, inw 0x%04x, inl 0x%08x)", port, b, w, l);
}

static void check_rep_insb(uint16_t port)
{
    uint8_t buf[16 + 4];
    memset(buf, 0x00, 16);
    memset(buf + 16, 0x5a, 4);          /* guard: must stay untouched */
    insb(port, buf, 16);
    int filled = 0, guard_ok = 1;
    for (int i = 0; i < 16; i++)
        filled += buf[i] == 0xff;
    for (int i = 16; i < 20; i++)
        guard_ok &= buf[i] == 0x5a;
    test_check(filled == 16 && guard_ok,
               "rep insb of 16 bytes from 0x%04x fills 0xff (%d of 16, guard %s)",
               port, filled, guard_ok ? "intact" : "overwritten");
}

static void check_scratch(void)
{
    uint16_t scr = UART_COM1 + UART_SCR;
    outb(scr, 0xa5);
    uint8_t first = inb(scr);
    outb(scr, 0x5a);
    uint8_t second = inb(scr);
    test_check(first == 0xa5 && second == 0x5a,
               "UART scratch 0x%03x keeps writes (0xa5 -> 0x%02x, 0x5a -> 0x%02x)", scr, first, second);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("io: unclaimed ports read all ones, UART scratch register works");
    for (size_t i = 0; i < sizeof(unclaimed_ports) / sizeof(unclaimed_ports[0]); i++)
        check_port(unclaimed_ports[i]);
    check_rep_insb(unclaimed_ports[0]);
    check_scratch();
    test_end();
}

/* Guest test testdev: QEMU's pc-testdev (testdev=on) as kvm-unit-tests drives it: ports, IRQ lines, IORAM. */
#include "guest.h"

/*
 * Written as for "qemu-system-x86_64 -device pc-testdev" (hw/misc/pc-testdev.c):
 *   0xE0-0xE3   a 32-bit scratch register, any width, byte k at 0xE0+k
 *   0xE4        flush page: OUTL of a guest-physical address; reads 0
 *   0xE8-0xEB   the same scratch register, byte by byte
 *   0x2000+N    a byte written drives ISA IRQ line N (non-zero high, zero low); reads 0
 *   0xFF000000  IORAM: device memory that reads back what was written
 * Paging stays off, so every address here is guest-physical.
 */

#define TD_IOPORT       0xe0
#define TD_FLUSH        0xe4
#define TD_IOPORT_BYTE  0xe8
#define TD_IRQ_BASE     0x2000
#define TD_IRQ_PORTS    24
#define IORAM_BASE      0xff000000u
#define IORAM_PAGE      0x1000u         /* the page kvm-unit-tests maps */

#define PIC_TEST_IRQ    10              /* free on this PC: no device drives it */
#define IOAPIC_TEST_PIN 14              /* kvm-unit-tests' ioapic.c toggles line 0x0e */
#define IOAPIC_VECTOR   0x77            /* ... and routes it to vector 0x77 */
#define SPURIOUS_VECTOR 0xff

/* mmio_read8/16/32 and mmio_write8/16/32 (guest/lib/arch.h): single MOVs of each width. */

/* rep outsb: n bytes of buf to port (kvm-unit-tests' emulator test_stringio). */
static inline void outsb(uint16_t port, const void *buf, uint32_t n)
{
    __asm__ volatile("cld; rep outsb" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}

/* ---- 0xE0 and 0xE8: the scratch register. */

static void check_ioport(void)
{
    uint32_t first = inl(TD_IOPORT);
    test_check(first == 0, "0xe0 scratch register starts at 0 (inl 0x%08x)", first);

    outl(TD_IOPORT, 0x12345678u);
    uint32_t l = inl(TD_IOPORT);
    uint8_t b0 = inb(TD_IOPORT), b1 = inb(TD_IOPORT + 1), b2 = inb(TD_IOPORT + 2), b3 = inb(TD_IOPORT + 3);
    uint16_t w0 = inw(TD_IOPORT), w1 = inw(TD_IOPORT + 1), w2 = inw(TD_IOPORT + 2);
    test_check(l == 0x12345678u && b0 == 0x78 && b1 == 0x56 && b2 == 0x34 && b3 == 0x12 &&
               w0 == 0x5678 && w1 == 0x3456 && w2 == 0x1234,
               "0xe0 outl 0x12345678 reads back at every width: inl 0x%08x, inb e0-e3 %02x %02x %02x %02x, "
               "inw e0/e1/e2 %04x %04x %04x", l, b0, b1, b2, b3, w0, w1, w2);

    outb(TD_IOPORT + 1, 0xab);
    uint32_t after_b = inl(TD_IOPORT);
    outw(TD_IOPORT + 2, 0xcdef);
    uint32_t after_w = inl(TD_IOPORT);
    test_check(after_b == 0x1234ab78u && after_w == 0xcdefab78u,
               "0xe0 narrow writes replace only their bytes (outb e1 0xab -> 0x%08x, outw e2 0xcdef -> 0x%08x)",
               after_b, after_w);

    static const char st1[] = "abcdefghijklmnop";
    outsb(TD_IOPORT, st1, sizeof(st1) - 1);
    uint8_t last = inb(TD_IOPORT);
    test_check(last == 'p', "0xe0 after rep outsb of \"%s\" reads the last byte 'p' (0x%02x)", st1, last);
}

static void check_ioport_byte(void)
{
    outl(TD_IOPORT, 0x11223344u);
    uint32_t l = inl(TD_IOPORT_BYTE);
    uint8_t b = inb(TD_IOPORT_BYTE + 2);
    test_check(l == 0x11223344u && b == 0x22,
               "0xe8 reads the 0xe0 register byte by byte (inl e8 0x%08x, inb ea 0x%02x)", l, b);
    outl(TD_IOPORT_BYTE, 0xdeadbeefu);
    uint32_t via_e0 = inl(TD_IOPORT);
    outb(TD_IOPORT_BYTE + 3, 0x5a);
    uint32_t after_b = inl(TD_IOPORT);
    test_check(via_e0 == 0xdeadbeefu && after_b == 0x5aadbeefu,
               "0xe8 writes land in the same register (outl e8 -> inl e0 0x%08x, outb eb 0x5a -> 0x%08x)",
               via_e0, after_b);
}

/* ---- 0xE4: flush page. */

static uint8_t flush_page[4096] __attribute__((aligned(4096)));

static void raise_ud(void *arg)
{
    (void)arg;
    __asm__ volatile("ud2");
}

static void check_flush_page(void)
{
    for (unsigned i = 0; i < sizeof(flush_page); i++)
        flush_page[i] = (uint8_t)(i * 7 + 1);
    outl(TD_IOPORT, 0xcafef00du);
    outl(TD_FLUSH, (uint32_t)flush_page + 0x123);
    bool same = true;
    for (unsigned i = 0; i < sizeof(flush_page); i++)
        same &= flush_page[i] == (uint8_t)(i * 7 + 1);
    uint32_t scratch = inl(TD_IOPORT);
    test_check(same && scratch == 0xcafef00du,
               "0xe4 flush of page 0x%08x keeps its contents and the 0xe0 register (0x%08x)",
               (uint32_t)flush_page, scratch);

    /* eventinj.c flushes the IDT's page, then takes an exception through it. */
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    outl(TD_FLUSH, idtr.base);
    int vec = guest_try(raise_ud, NULL);
    test_check(vec == VEC_UD, "an exception after flushing the IDT page 0x%08x is delivered (%s)",
               idtr.base & ~0xfffu, vec < 0 ? "none" : exception_name((unsigned)vec));

    uint32_t l = inl(TD_FLUSH);
    uint8_t b = inb(TD_FLUSH);
    test_check(l == 0 && b == 0, "0xe4 reads 0 (inl 0x%08x, inb 0x%02x)", l, b);
}

/* ---- 0x2000-0x2017: IRQ lines. */

static void check_irq_ports_read_zero(void)
{
    uint8_t first = inb(TD_IRQ_BASE), last = inb(TD_IRQ_BASE + TD_IRQ_PORTS - 1);
    uint8_t past = inb(TD_IRQ_BASE + TD_IRQ_PORTS);
    test_check(first == 0 && last == 0 && past == 0xff,
               "0x2000-0x2017 read 0 (0x%02x, 0x%02x); 0x2018, past the device, floats (0x%02x)",
               first, last, past);
}

static volatile uint32_t pic_hits, ioapic_hits;

static struct int_frame *pic_irq(struct int_frame *f)
{
    pic_hits++;
    return f;
}

static struct int_frame *ioapic_irq(struct int_frame *f)
{
    ioapic_hits++;
    lapic_eoi();
    return f;
}

static void set_irq_line(unsigned line, uint8_t level)
{
    outb((uint16_t)(TD_IRQ_BASE + line), level);
}

/* With IF=1: drive the line, then one more instruction; returns the handler count. */
static uint32_t raise_and_step(unsigned line, volatile uint32_t *hits)
{
    sti();
    set_irq_line(line, 1);
    __asm__ volatile("nop");
    cli();
    return *hits;
}

/* The 8259 path: an edge-triggered input, unmasked in the IMR. */
static void check_pic_irq(void)
{
    pic_init();
    irq_set_handler(PIC_TEST_IRQ, pic_irq);
    pic_unmask(PIC_TEST_IRQ);

    uint32_t n = raise_and_step(PIC_TEST_IRQ, &pic_hits);
    test_check(n == 1, "outb 1 to 0x%04x raises ISA IRQ %u: the 8259 handler ran by the next "
               "instruction (%u times)", TD_IRQ_BASE + PIC_TEST_IRQ, PIC_TEST_IRQ, n);

    tsc_delay_us(2000, true);
    n = pic_hits;
    test_check(n == 1, "IRQ %u held high interrupts once (edge-triggered): %u times in 2 ms",
               PIC_TEST_IRQ, n);

    set_irq_line(PIC_TEST_IRQ, 0);
    n = raise_and_step(PIC_TEST_IRQ, &pic_hits);
    set_irq_line(PIC_TEST_IRQ, 0);
    test_check(n == 2, "outb 0 lowers IRQ %u: the next outb 1 is a new edge (%u times)",
               PIC_TEST_IRQ, n);

    pic_mask(PIC_TEST_IRQ);
    n = raise_and_step(PIC_TEST_IRQ, &pic_hits);
    set_irq_line(PIC_TEST_IRQ, 0);
    bool held = n == 2;
    pic_unmask(PIC_TEST_IRQ);
    sti();
    __asm__ volatile("nop");
    cli();
    n = pic_hits;
    test_check(held && n == 3, "IRQ %u raised while masked in the IMR waits, then is delivered "
               "on unmask (%u times)", PIC_TEST_IRQ, n);

    pic_mask(PIC_TEST_IRQ);
    irq_set_handler(PIC_TEST_IRQ, NULL);
}

/* The IOAPIC path, as kvm-unit-tests' ioapic.c test_ioapic_intr does it. */
static void check_ioapic_irq(void)
{
    pic_set_mask(0xffff);
    lapic_sw_enable(SPURIOUS_VECTOR);
    int_set_handler(IOAPIC_VECTOR, ioapic_irq);
    ioapic_write_rte(IOAPIC_TEST_PIN, IOAPIC_VECTOR);     /* fixed, edge, active high, APIC 0 */
    sti();
    set_irq_line(IOAPIC_TEST_PIN, 1);
    set_irq_line(IOAPIC_TEST_PIN, 0);
    __asm__ volatile("nop");
    cli();
    uint32_t n = ioapic_hits;
    test_check(n == 1, "toggling line %u (0x%04x) delivers IOAPIC pin %u at vector 0x%x "
               "once (%u times)", IOAPIC_TEST_PIN, TD_IRQ_BASE + IOAPIC_TEST_PIN,
               IOAPIC_TEST_PIN, IOAPIC_VECTOR, n);
    ioapic_write_rte(IOAPIC_TEST_PIN, IOAPIC_RTE_MASKED);
}

/* ---- 0xFF000000: IORAM. */

static void check_ioram(void)
{
    const uint32_t b = IORAM_BASE;
    uint32_t z0 = mmio_read32(b), z1 = mmio_read32(b + 0x800), z2 = mmio_read32(b + IORAM_PAGE - 4);
    test_check(z0 == 0 && z1 == 0 && z2 == 0, "IORAM at 0x%08x starts zeroed (0x%x 0x%x 0x%x)",
               b, z0, z1, z2);

    mmio_write32(b, 0x12345678u);
    uint32_t l = mmio_read32(b);
    uint8_t b0 = mmio_read8(b), b1 = mmio_read8(b + 1), b2 = mmio_read8(b + 2), b3 = mmio_read8(b + 3);
    uint16_t w0 = mmio_read16(b), w2 = mmio_read16(b + 2);
    test_check(l == 0x12345678u && b0 == 0x78 && b1 == 0x56 && b2 == 0x34 && b3 == 0x12 &&
               w0 == 0x5678 && w2 == 0x1234,
               "IORAM 32-bit write reads back at 32/16/8 bits: 0x%08x, %04x %04x, %02x %02x %02x %02x",
               l, w0, w2, b0, b1, b2, b3);

    mmio_write8(b + 0x10, 0xaa);
    mmio_write8(b + 0x11, 0xbb);
    mmio_write8(b + 0x12, 0xcc);
    mmio_write8(b + 0x13, 0xdd);
    uint32_t from_bytes = mmio_read32(b + 0x10);
    uint8_t rb = mmio_read8(b + 0x12);
    test_check(from_bytes == 0xddccbbaau && rb == 0xcc,
               "IORAM 8-bit writes read back (8-bit 0x%02x) and compose a little-endian dword (0x%08x)",
               rb, from_bytes);

    mmio_write16(b + 0x20, 0xbeef);
    mmio_write16(b + 0x22, 0xdead);
    uint32_t from_words = mmio_read32(b + 0x20);
    uint16_t rw = mmio_read16(b + 0x22);
    uint8_t mid = mmio_read8(b + 0x21);
    test_check(from_words == 0xdeadbeefu && rw == 0xdead && mid == 0xbe,
               "IORAM 16-bit writes read back (16-bit 0x%04x, 8-bit 0x%02x, 32-bit 0x%08x)",
               rw, mid, from_words);

    mmio_write32(b + 0x31, 0xa1b2c3d4u);
    uint32_t unaligned = mmio_read32(b + 0x31);
    uint16_t odd = mmio_read16(b + 0x33);
    test_check(unaligned == 0xa1b2c3d4u && odd == 0xa1b2,
               "IORAM unaligned 32-bit write at +0x31 reads back (0x%08x, 16-bit at +0x33 0x%04x)",
               unaligned, odd);

    for (uint32_t off = 0x100; off < IORAM_PAGE; off += 0x100)
        mmio_write32(b + off, 0x5a000000u | off);
    unsigned good = 0;
    for (uint32_t off = 0x100; off < IORAM_PAGE; off += 0x100)
        good += mmio_read32(b + off) == (0x5a000000u | off);
    uint32_t first = mmio_read32(b);
    test_check(good == 15 && first == 0x12345678u,
               "IORAM keeps 15 dwords spread over its page, and the first (%u of 15, +0 0x%08x)",
               good, first);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("testdev: QEMU's pc-testdev ports 0xe0/0xe4/0xe8, IRQ lines at 0x2000, IORAM at 0xff000000");
    check_ioport();
    check_ioport_byte();
    check_flush_page();
    check_irq_ports_read_zero();
    check_pic_irq();
    check_ioapic_irq();
    check_ioram();
    test_end();
}

/* Guest test unbacked: memory that is neither RAM nor a device answers as on a PC (issue 10,
 * item 3): reads give all-ones at every width, writes go nowhere, and the guest runs on.
 * Kernels probe such addresses (an absent HPET or TPM, a BIOS window, the end of RAM). The
 * runner boots it with the default on_bad_access; the memory test boots with
 * on_bad_access=crash and expects the old stop. */
#include "guest.h"

static uint32_t movzx8(uint32_t a) { uint32_t v; __asm__ volatile("movzbl (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }

static void check_address(uint32_t a, const char *what)
{
    uint32_t d = mmio_read32(a);
    uint16_t w = mmio_read16(a);
    uint8_t b = mmio_read8(a);
    test_check(d == 0xffffffffu && w == 0xffff && b == 0xff,
               "read of %s at 0x%08x: all-ones (32: 0x%08x, 16: 0x%04x, 8: 0x%02x)", what, a, d, w, b);
    uint32_t z = movzx8(a);
    test_check(z == 0xff, "movzx of a byte there: 0x%x (0xff, zero-extended)", z);
    mmio_write32(a, 0x12345678);
    d = mmio_read32(a);
    test_check(d == 0xffffffffu, "a write there goes nowhere: read back 0x%08x", d);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    test_title("unbacked: reads of nothing give all-ones, writes are dropped, the guest runs on");
    uint64_t ram_end = mb_ram_end(mbi);
    test_check(ram_end > 0 && ram_end < 0xc0000000ull, "RAM ends at 0x%llx", ram_end);
    check_address((uint32_t)ram_end + 0x1000, "past the end of RAM");
    check_address(0xfed90000u, "an empty chipset window");
    check_address(0xff000000u, "the flash window (no firmware image)");
    /* RAM itself is untouched by all this. */
    static volatile uint32_t canary = 0x5aa5c33c;
    test_check(canary == 0x5aa5c33c, "RAM unchanged (0x%08x)", canary);
    test_end();
}

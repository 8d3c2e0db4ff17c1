/* C side of the guest entry: set up the console and descriptor tables, then run guest_main. */
#include "guest.h"

void guest_start(uint32_t magic, const struct mb_info *mbi);

void guest_start(uint32_t magic, const struct mb_info *mbi)
{
    uart_init();
    gdt_init();
    idt_init();
    if (magic != MB_BOOT_MAGIC) {
        printf("guest: bad Multiboot magic 0x%08x (want 0x%08x), halting\n", magic, MB_BOOT_MAGIC);
        halt_forever();
    }
    guest_main(magic, mbi);
    halt_forever();
}

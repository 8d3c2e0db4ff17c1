/* Guest test lowload: a Multiboot image linked in conventional memory (0x8000) loads, runs and is left intact. */
#include "guest.h"

/*
 * Linked at 0x8000 (GUEST_LDFLAGS_lowload in guest/guest.mk), where the hypervisor used to
 * put the Multiboot information: it must now load here, as on a PC or under QEMU, and the
 * information must go elsewhere (Multiboot 3.3: anywhere but the kernel and its modules).
 */

#define LINK_ADDR       0x8000u
#define LOW_END         0xA0000u        /* conventional memory ends at 640 KiB */
#define MB_HEADER_MAGIC 0x1BADB002u

/* A known 4 KiB in each loadable segment: .rodata (text) and .data. */
#define P(i)    ((uint8_t)((i) * 151u + ((i) >> 8) + 7u))
#define P4(i)   P(i), P((i) + 1), P((i) + 2), P((i) + 3)
#define P16(i)  P4(i), P4((i) + 4), P4((i) + 8), P4((i) + 12)
#define P64(i)  P16(i), P16((i) + 16), P16((i) + 32), P16((i) + 48)
#define P256(i) P64(i), P64((i) + 64), P64((i) + 128), P64((i) + 192)
#define P1K(i)  P256(i), P256((i) + 256), P256((i) + 512), P256((i) + 768)
#define P4K(i)  P1K(i), P1K((i) + 1024), P1K((i) + 2048), P1K((i) + 3072)
#define PATTERN_LEN 4096u
#define RW_SEED     0x5000u

static const uint8_t ro_pattern[PATTERN_LEN] = { P4K(0) };
static uint8_t rw_pattern[PATTERN_LEN] = { P4K(RW_SEED) };

static bool overlaps(uint32_t a, uint32_t a_end, uint32_t b, uint32_t b_end) { return a < b_end && b < a_end; }

static uint32_t current_eip(void)
{
    uint32_t eip;
    __asm__ volatile("call 1f\n1: pop %0" : "=r"(eip));
    return eip;
}

/* Compares len bytes at p with P(seed + i), reading through volatile: the compiler knows them. */
static bool pattern_intact(const uint8_t *p, uint32_t seed)
{
    for (uint32_t i = 0; i < PATTERN_LEN; i++)
        if (((const volatile uint8_t *)p)[i] != P(seed + i))
            return false;
    return true;
}

static void check_image(uint32_t start, uint32_t end)
{
    uint32_t eip = current_eip();
    test_check(start == LINK_ADDR && end <= LOW_END && eip >= start && eip < end,
               "running at EIP 0x%x inside the image at 0x%x-0x%x, below 640 KiB "
               "(Multiboot 3.1: the ELF is loaded where its program headers say)", eip, start, end);
    const volatile uint32_t *h = (const volatile uint32_t *)start;
    test_check(h[0] == MB_HEADER_MAGIC && (uint32_t)(h[0] + h[1] + h[2]) == 0,
               "Multiboot header at 0x%x intact: magic 0x%x, flags 0x%x, checksum sums to 0 "
               "(Multiboot 3.1.1, 3.1.2)", start, h[0], h[1]);
    test_check(pattern_intact(ro_pattern, 0), "4 KiB .rodata pattern at 0x%x reads back as linked "
               "(text segment loaded whole)", (uint32_t)ro_pattern);
    test_check(pattern_intact(rw_pattern, RW_SEED), "4 KiB .data pattern at 0x%x reads back as linked "
               "(data segment loaded whole)", (uint32_t)rw_pattern);
}

/* The mmap entry of type available that holds [start, end) whole, or NULL. */
static const struct mb_mmap_entry *available_holding(const struct mb_info *mbi, uint32_t start, uint32_t end)
{
    for (const struct mb_mmap_entry *e = mb_mmap_next(mbi, NULL); e; e = mb_mmap_next(mbi, e))
        if (e->type == MB_MMAP_AVAILABLE && e->base <= start && end <= e->base + e->length)
            return e;
    return NULL;
}

static void check_info(const struct mb_info *mbi, uint32_t start, uint32_t end)
{
    uint32_t info = (uint32_t)mbi, info_end = info + sizeof *mbi;
    test_check(!overlaps(info, info_end, start, end), "Multiboot information at 0x%x-0x%x is outside the "
               "image 0x%x-0x%x (Multiboot 3.3: anywhere but the kernel and its modules)",
               info, info_end, start, end);
    bool clear = true;
    if (mbi->flags & MB_INFO_MMAP)
        clear &= !overlaps(mbi->mmap_addr, mbi->mmap_addr + mbi->mmap_length, start, end);
    const char *cmdline = mb_cmdline(mbi);
    clear &= !overlaps((uint32_t)cmdline, (uint32_t)cmdline + strlen(cmdline) + 1, start, end);
    if (mbi->flags & (1u << 9)) {
        const char *name = (const char *)mbi->boot_loader_name;
        clear &= !overlaps((uint32_t)name, (uint32_t)name + strlen(name) + 1, start, end);
    }
    test_check(clear, "its memory map at 0x%x, command line at 0x%x and loader name are outside the image "
               "(Multiboot 3.3)", mbi->mmap_addr, (uint32_t)cmdline);
    test_check(available_holding(mbi, start, end) != NULL, "the image 0x%x-0x%x lies in RAM the memory map "
               "calls available (Multiboot 3.3 mmap type 1)", start, end);
    test_check((mbi->flags & MB_INFO_MEMORY) && mbi->mem_lower * 1024u >= end,
               "mem_lower %u KiB covers the image (Multiboot 3.3: lower memory starts at 0)", mbi->mem_lower);
    test_check(available_holding(mbi, info, info_end) != NULL, "the information at 0x%x lies in RAM the "
               "memory map calls available (Multiboot 3.3)", info);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    test_title("lowload: a Multiboot image linked at 0x8000, in conventional memory");
    test_check(magic == MB_BOOT_MAGIC, "EAX held 0x%x, the boot loader's magic (Multiboot 3.2)", magic);
    uint32_t start = (uint32_t)guest_image_start, end = (uint32_t)guest_image_end;
    check_image(start, end);
    check_info(mbi, start, end);
    test_end();
}

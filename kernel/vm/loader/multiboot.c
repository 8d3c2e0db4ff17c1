/* The Multiboot 1 loader for guests: pure logic over a byte image and a guest_mem. */
#include "kernel/vm/loader/multiboot.h"
#include "kernel/vm/loader/util.h"
#include "kernel/printf.h"
#include "kernel/string.h"

#define MB_HEADER_MAGIC  0x1BADB002u
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMINFO    (1u << 1)
#define MB_FLAG_AOUT       (1u << 16)
#define MB_SEARCH_LIMIT    8192

struct mb_header {
    uint32_t magic, flags, checksum;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct elf32_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version, entry, phoff, shoff, flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf32_phdr { uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align; };
_Static_assert(sizeof(struct elf32_ehdr) == 52, "ELF32 header layout");
_Static_assert(sizeof(struct elf32_phdr) == 32, "ELF32 program header layout");

#define PT_LOAD 1


/* Offset of a valid Multiboot header lying wholly in the first 8 KiB (spec 3.1.1), or -1. */
static long find_header(const uint8_t *img, size_t len, struct mb_header *h)
{
    for (size_t off = 0; off + 12 <= len && off + 12 <= MB_SEARCH_LIMIT; off += 4) {
        memcpy(h, img + off, off + sizeof *h <= len ? sizeof *h : 12);
        if (h->magic == MB_HEADER_MAGIC && h->magic + h->flags + h->checksum == 0)
            return (long)off;
    }
    return -1;
}

/* Checks [start, end) lies in the guest's RAM at or above 1 MiB. */
static int check_range(uint64_t start, uint64_t end, const struct guest_mem *mem, char *why, size_t ws)
{
    if (end < start || start < MB_LOAD_MIN || end > mem->size)
        return loader_fail(why, ws, "image loads at 0x%lx-0x%lx, outside its RAM (1 MiB to %lu MiB)",
                    start, end, mem->size >> 20);
    return 0;
}

static int copy_in(const struct guest_mem *mem, uint64_t gpa, const uint8_t *src, uint64_t n,
                   uint64_t zero, char *why, size_t ws)
{
    uint8_t *dst = mem->ptr(mem->ctx, gpa, n + zero);
    if (!dst)
        return loader_fail(why, ws, "image range 0x%lx-0x%lx is not RAM", gpa, gpa + n + zero);
    memcpy(dst, src, n);
    memset(dst + n, 0, zero);
    return 0;
}

static int load_aout(const uint8_t *img, size_t len, long hoff, const struct mb_header *h,
                     const struct guest_mem *mem, struct mb_image *out, char *why, size_t ws)
{
    if ((size_t)hoff + sizeof *h > len)
        return loader_fail(why, ws, "truncated Multiboot header");
    if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > (uint32_t)hoff)
        return loader_fail(why, ws, "bad a.out kludge addresses (load_addr above header_addr)");
    uint64_t file_off = (uint64_t)hoff - (h->header_addr - h->load_addr);
    uint64_t load_end = h->load_end_addr ? h->load_end_addr : h->load_addr + (len - file_off);
    uint64_t bss_end = h->bss_end_addr ? h->bss_end_addr : load_end;
    if (load_end < h->load_addr || bss_end < load_end)
        return loader_fail(why, ws, "bad a.out kludge addresses (end below start)");
    if (file_off + (load_end - h->load_addr) > len)
        return loader_fail(why, ws, "file shorter than the a.out kludge's load_end_addr says");
    if (check_range(h->load_addr, bss_end, mem, why, ws) < 0)
        return -1;
    if (copy_in(mem, h->load_addr, img + file_off, load_end - h->load_addr, bss_end - load_end, why, ws) < 0)
        return -1;
    out->entry = h->entry_addr;
    out->load_start = h->load_addr;
    out->load_end = bss_end;
    out->aout_kludge = 1;
    return 0;
}

static int load_elf(const uint8_t *img, size_t len, const struct guest_mem *mem,
                    struct mb_image *out, char *why, size_t ws)
{
    struct elf32_ehdr eh;
    if (len < sizeof eh)
        return loader_fail(why, ws, "not an ELF file and no a.out kludge");
    memcpy(&eh, img, sizeof eh);
    if (memcmp(eh.ident, "\177ELF", 4) != 0)
        return loader_fail(why, ws, "not an ELF file and no a.out kludge");
    if (eh.ident[4] != 1 || eh.ident[5] != 1 || eh.machine != 3)
        return loader_fail(why, ws, "not a 32-bit little-endian i386 ELF (use the a.out kludge for 64-bit images)");
    if (eh.type != 2)
        return loader_fail(why, ws, "ELF file is not an executable");
    if (eh.phentsize != sizeof(struct elf32_phdr) || eh.phnum == 0 ||
        (uint64_t)eh.phoff + (uint64_t)eh.phnum * sizeof(struct elf32_phdr) > len)
        return loader_fail(why, ws, "bad or truncated ELF program headers");

    out->load_start = ~0ull;
    out->load_end = 0;
    for (unsigned i = 0; i < eh.phnum; i++) {
        struct elf32_phdr ph;
        memcpy(&ph, img + eh.phoff + i * sizeof ph, sizeof ph);
        if (ph.type != PT_LOAD || ph.memsz == 0)
            continue;
        if (ph.filesz > ph.memsz || (uint64_t)ph.offset + ph.filesz > len)
            return loader_fail(why, ws, "ELF segment %u is truncated or larger in the file than in memory", i);
        uint64_t start = ph.paddr, end = (uint64_t)ph.paddr + ph.memsz;
        if (check_range(start, end, mem, why, ws) < 0)
            return -1;
        if (copy_in(mem, start, img + ph.offset, ph.filesz, ph.memsz - ph.filesz, why, ws) < 0)
            return -1;
        if (start < out->load_start)
            out->load_start = start;
        if (end > out->load_end)
            out->load_end = end;
    }
    if (out->load_end == 0)
        return loader_fail(why, ws, "ELF file has no loadable segment");
    out->entry = eh.entry;
    out->aout_kludge = 0;
    return 0;
}

int mb_load(const uint8_t *img, size_t len, const struct guest_mem *mem, struct mb_image *out,
            char *why, size_t why_size)
{
    struct mb_header h;
    memset(&h, 0, sizeof h);
    long hoff = find_header(img, len, &h);
    if (hoff < 0)
        return loader_fail(why, why_size, "not a Multiboot image (no header in its first 8 KiB)");
    uint32_t required = h.flags & 0xFFFF & ~(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMINFO);
    if (required)
        return loader_fail(why, why_size, "needs Multiboot features anfitrion does not offer (flags 0x%x)", required);
    int rc = (h.flags & MB_FLAG_AOUT) ? load_aout(img, len, hoff, &h, mem, out, why, why_size)
                                      : load_elf(img, len, mem, out, why, why_size);
    if (rc == 0 && (out->entry < out->load_start || out->entry >= out->load_end))
        return loader_fail(why, why_size, "entry point 0x%x is outside the loaded image", out->entry);
    return rc;
}

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));
struct mb_mmap_entry { uint32_t size; uint64_t addr, len; uint32_t type; } __attribute__((packed));

struct mb_mod_entry { uint32_t mod_start, mod_end, string, reserved; } __attribute__((packed));
_Static_assert(sizeof(struct mb_mod_entry) == 16, "Multiboot module entry is 16 bytes");

uint32_t mb_build_info(const struct guest_mem *mem, const char *cmdline, const char *loader_name,
                       const struct mb_module *mods, unsigned n_mods, uint64_t free_from)
{
    if (n_mods > MB_MODULES_MAX)
        return 0;
    uint8_t *area = mem->ptr(mem->ctx, MB_INFO_GPA, MB_INFO_END - MB_INFO_GPA);
    if (!area)
        return 0;
    memset(area, 0, MB_INFO_END - MB_INFO_GPA);
    struct mb_info *info = (struct mb_info *)area;
    uint32_t off = (sizeof *info + 15) & ~15u;

    /* The guest's RAM as a PC would show it: low memory, the BIOS hole, extended memory. */
    const struct mb_mmap_entry map[] = {
        { 20, 0, 0x9FC00, 1 },
        { 20, 0x9FC00, 0x400, 2 },
        { 20, 0xF0000, 0x10000, 2 },
        { 20, 0x100000, mem->size - 0x100000, 1 },
    };
    memcpy(area + off, map, sizeof map);
    info->mmap_addr = MB_INFO_GPA + off;
    info->mmap_length = sizeof map;
    off += sizeof map;

    size_t n = strlen(cmdline);
    if (off + n + 1 + 64 > MB_INFO_END - MB_INFO_GPA)
        return 0;
    memcpy(area + off, cmdline, n + 1);
    info->cmdline = MB_INFO_GPA + off;
    off += n + 1;
    n = strnlen(loader_name, 63);
    memcpy(area + off, loader_name, n);
    area[off + n] = 0;
    info->boot_loader_name = MB_INFO_GPA + off;

    off += n + 1;

    /* Modules: the list and their strings in the information area, their bytes in RAM. */
    off = (off + 15) & ~15u;
    struct mb_mod_entry *list = (struct mb_mod_entry *)(area + off);
    info->mods_addr = n_mods ? MB_INFO_GPA + off : 0;
    off += n_mods * sizeof *list;
    uint64_t at = (free_from + 0xFFF) & ~0xFFFull;
    for (unsigned i = 0; i < n_mods; i++) {
        n = strlen(mods[i].string);
        if (off + n + 1 > MB_INFO_END - MB_INFO_GPA)
            return 0;
        memcpy(area + off, mods[i].string, n + 1);
        list[i].string = MB_INFO_GPA + off;
        off += n + 1;
        void *dst = mods[i].len ? mem->ptr(mem->ctx, at, mods[i].len) : NULL;
        if (at >= mem->size || (mods[i].len && !dst))
            return 0;
        if (mods[i].len)
            memcpy(dst, mods[i].data, mods[i].len);
        list[i].mod_start = (uint32_t)at;
        list[i].mod_end = (uint32_t)(at + mods[i].len);
        at = (at + mods[i].len + 0xFFF) & ~0xFFFull;
    }

    info->mem_lower = 639;
    info->mem_upper = (uint32_t)((mem->size - 0x100000) / 1024);
    info->mods_count = n_mods;
    info->flags = (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9);
    return MB_INFO_GPA;
}

/* The Multiboot 1 loader for guests: pure logic over a byte image and a guest_mem. */
#include "kernel/vm/loader/multiboot.h"
#include "kernel/vm/loader/util.h"
#include "kernel/printf.h"
#include "kernel/string.h"

#include <stdbool.h>

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

/* The firmware's part of the first MiB (util.h), by name, for refusals. */
static const struct { uint32_t start, end; const char *what; } firmware[] = {
    { PC_EBDA_GPA, PC_HOLE_GPA, "the EBDA" },
    { PC_HOLE_GPA, PC_BIOS_GPA, "the legacy VGA and option-ROM hole" },
    { PC_BIOS_GPA, PC_SMBIOS_GPA, "the ACPI tables" },
    { PC_SMBIOS_GPA, PC_BIOS_END, "the SMBIOS tables" },
};

/* Checks [start, end) lies in the guest's RAM and outside the firmware's area. */
static int check_range(uint64_t start, uint64_t end, const struct guest_mem *mem, char *why, size_t ws)
{
    if (end < start || end > mem->size)
        return loader_fail(why, ws, "image loads at 0x%lx-0x%lx, outside its RAM (0 to %lu MiB)",
                    start, end, mem->size >> 20);
    for (unsigned i = 0; i < sizeof firmware / sizeof firmware[0]; i++)
        if (start < firmware[i].end && firmware[i].start < end)
            return loader_fail(why, ws, "image loads at 0x%lx-0x%lx, over %s at 0x%x-0x%x",
                        start, end, firmware[i].what, firmware[i].start, firmware[i].end);
    return 0;
}

static int copy_in(const struct guest_mem *mem, uint64_t gpa, const uint8_t *src, uint64_t n,
                   uint64_t zero, char *why, size_t ws)
{
    uint8_t *dst = mem->ptr(mem->ctx, gpa, n + zero);
    if (!dst)
        return loader_fail(why, ws, "image range 0x%lx-0x%lx is not RAM", gpa, gpa + n + zero);
    if (mem->copy) {
        mem->copy(mem->ctx, gpa, src, n, zero);
        return 0;
    }
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

/* ---- Placement: the lowest page-aligned room that overlaps nothing already taken. */

#define PAGE 0x1000ull

struct span { uint64_t start, end; };

static uint64_t page_up(uint64_t v) { return (v + PAGE - 1) & ~(PAGE - 1); }

/* The lowest page-aligned base in [lo, hi) for len bytes overlapping none of the n busy
 * spans; 0 if there is none (lo is never 0). */
static uint64_t find_room(uint64_t lo, uint64_t hi, uint64_t len, const struct span *busy, unsigned n)
{
    uint64_t at = page_up(lo);
    for (bool moved = true; moved;) {
        if (at > hi || len > hi - at)
            return 0;
        moved = false;
        for (unsigned i = 0; i < n; i++)
            if (busy[i].start < at + len && at < busy[i].end) {
                at = page_up(busy[i].end);
                moved = true;
            }
    }
    return at;
}

/* Where everything goes, decided before anything is written. */
struct mb_plan {
    struct span busy[1 + MB_MODULES_MAX];   /* the image, then each module */
    unsigned n_busy;
    uint64_t info;
};

/* Modules above the image and 1 MiB, else anywhere from 1 MiB (never in the firmware's area). */
static int plan_modules(const struct guest_mem *mem, const struct mb_boot_args *a, struct mb_plan *p,
                        uint64_t top, char *why, size_t ws)
{
    uint64_t above = a->image_end > PC_BIOS_END ? a->image_end : PC_BIOS_END;
    for (unsigned i = 0; i < a->n_mods; i++) {
        uint64_t len = a->mods[i].len ? a->mods[i].len : 1;    /* an empty one still gets an address */
        uint64_t at = find_room(above, top, len, p->busy, p->n_busy);
        if (!at)
            at = find_room(PC_BIOS_END, top, len, p->busy, p->n_busy);
        if (!at)
            return loader_fail(why, ws, "no room for module %u (%lu KiB) in its %lu MiB of RAM beside "
                        "the image at 0x%lx-0x%lx", i + 1, (len + 1023) / 1024, mem->size >> 20,
                        a->image_start, a->image_end);
        p->busy[p->n_busy++] = (struct span){ at, at + len };
    }
    return 0;
}

/* The information where it always was if free, else in conventional memory, else from 1 MiB. */
static int plan_info(const struct guest_mem *mem, const struct mb_boot_args *a, struct mb_plan *p,
                     uint64_t top, char *why, size_t ws)
{
    const struct span windows[] = {
        { MB_INFO_GPA, PC_EBDA_GPA }, { MB_LOW_MIN, PC_EBDA_GPA }, { PC_BIOS_END, top },
    };
    for (unsigned i = 0; i < sizeof windows / sizeof windows[0]; i++) {
        p->info = find_room(windows[i].start, windows[i].end, MB_INFO_SIZE, p->busy, p->n_busy);
        if (p->info)
            return 0;
    }
    return loader_fail(why, ws, "no room for the Multiboot information (%u KiB) in its %lu MiB of RAM "
                "beside the image at 0x%lx-0x%lx%s", MB_INFO_SIZE / 1024, mem->size >> 20,
                a->image_start, a->image_end, a->n_mods ? " and its modules" : "");
}

/* ---- The information structure (Multiboot 3.3). */

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));
struct mb_mmap_entry { uint32_t size; uint64_t addr, len; uint32_t type; } __attribute__((packed));
_Static_assert(sizeof(struct mb_info) == 68, "Multiboot information layout up to boot_loader_name (3.3)");
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "Multiboot memory map entry layout");

struct mb_mod_entry { uint32_t mod_start, mod_end, string, reserved; } __attribute__((packed));
_Static_assert(sizeof(struct mb_mod_entry) == 16, "Multiboot module entry is 16 bytes");

#define MB_INFO_MEMORY      (1u << 0)
#define MB_INFO_CMDLINE     (1u << 2)
#define MB_INFO_MODS        (1u << 3)
#define MB_INFO_MMAP        (1u << 6)
#define MB_INFO_LOADER_NAME (1u << 9)
#define MB_LOADER_NAME_MAX  63

/* Offsets in the area: the structure, the map, the command line and loader name, the
 * module list (16-byte aligned), then the modules' strings; end is the bytes used. */
struct info_layout { uint64_t mmap, cmdline, loader_name, mods, strings, end; };

static void info_layout(const struct mb_boot_args *a, struct info_layout *l)
{
    l->mmap = (sizeof(struct mb_info) + 15) & ~15ull;
    l->cmdline = l->mmap + PC_MAP_ENTRIES * sizeof(struct mb_mmap_entry);
    l->loader_name = l->cmdline + strlen(a->cmdline) + 1;
    l->mods = (l->loader_name + strnlen(a->loader_name, MB_LOADER_NAME_MAX) + 1 + 15) & ~15ull;
    l->strings = l->mods + a->n_mods * sizeof(struct mb_mod_entry);
    l->end = l->strings;
    for (unsigned i = 0; i < a->n_mods; i++)
        l->end += strlen(a->mods[i].string) + 1;
}

static void write_info(uint8_t *area, uint32_t base, const struct guest_mem *mem,
                       const struct mb_boot_args *a, const struct info_layout *l, const struct mb_plan *p)
{
    memset(area, 0, MB_INFO_SIZE);
    struct mb_info *info = (struct mb_info *)area;

    struct pc_map_entry pc[PC_MAP_ENTRIES];
    loader_pc_map(mem->size, pc);
    for (unsigned i = 0; i < PC_MAP_ENTRIES; i++) {
        struct mb_mmap_entry e = { sizeof e - 4, pc[i].base, pc[i].len, pc[i].type };
        memcpy(area + l->mmap + i * sizeof e, &e, sizeof e);
    }
    info->mmap_addr = base + (uint32_t)l->mmap;
    info->mmap_length = PC_MAP_ENTRIES * sizeof(struct mb_mmap_entry);

    memcpy(area + l->cmdline, a->cmdline, strlen(a->cmdline) + 1);
    info->cmdline = base + (uint32_t)l->cmdline;
    memcpy(area + l->loader_name, a->loader_name, strnlen(a->loader_name, MB_LOADER_NAME_MAX));
    info->boot_loader_name = base + (uint32_t)l->loader_name;

    struct mb_mod_entry *list = (struct mb_mod_entry *)(area + l->mods);
    uint64_t s = l->strings;
    for (unsigned i = 0; i < a->n_mods; i++) {
        const struct span *m = &p->busy[1 + i];
        list[i].mod_start = (uint32_t)m->start;
        list[i].mod_end = (uint32_t)(m->start + a->mods[i].len);
        size_t n = strlen(a->mods[i].string) + 1;
        memcpy(area + s, a->mods[i].string, n);
        list[i].string = base + (uint32_t)s;
        s += n;
    }
    info->mods_addr = a->n_mods ? base + (uint32_t)l->mods : 0;
    info->mods_count = a->n_mods;

    info->mem_lower = PC_EBDA_GPA / 1024;
    info->mem_upper = (uint32_t)((mem->size - PC_BIOS_END) / 1024);
    info->flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP | MB_INFO_LOADER_NAME;
}

/* Lays the information out, refusing more modules or longer strings than it holds. */
static int check_args(const struct mb_boot_args *a, struct info_layout *l, char *why, size_t ws)
{
    if (a->n_mods > MB_MODULES_MAX)
        return loader_fail(why, ws, "%u modules, anfitrion passes at most %u", a->n_mods, MB_MODULES_MAX);
    info_layout(a, l);
    if (l->end > MB_INFO_SIZE)
        return loader_fail(why, ws, "its command line and module strings take %lu bytes, more than the "
                    "%u KiB Multiboot information area", l->end, MB_INFO_SIZE / 1024);
    return 0;
}

uint32_t mb_build_info(const struct guest_mem *mem, const struct mb_boot_args *a, char *why, size_t ws)
{
    struct info_layout l = { 0 };
    /* Everything is placed below 4 GiB: the structure holds 32-bit addresses. */
    uint64_t top = mem->size < (1ull << 32) ? mem->size : (1ull << 32);
    struct mb_plan p = { .busy = { { a->image_start, a->image_end } }, .n_busy = 1 };
    if (check_args(a, &l, why, ws) < 0 || plan_modules(mem, a, &p, top, why, ws) < 0 ||
        plan_info(mem, a, &p, top, why, ws) < 0)
        return 0;

    /* Every destination is reachable before the first byte is written. */
    uint8_t *dst[MB_MODULES_MAX];
    for (unsigned i = 0; i < a->n_mods; i++) {
        const struct span *m = &p.busy[1 + i];
        dst[i] = mem->ptr(mem->ctx, m->start, m->end - m->start);
        if (!dst[i]) {
            loader_fail(why, ws, "module %u's RAM at 0x%lx is not reachable", i + 1, m->start);
            return 0;
        }
    }
    uint8_t *area = mem->ptr(mem->ctx, p.info, MB_INFO_SIZE);
    if (!area) {
        loader_fail(why, ws, "the Multiboot information's RAM at 0x%lx is not reachable", p.info);
        return 0;
    }
    for (unsigned i = 0; i < a->n_mods; i++) {
        if (mem->copy)
            mem->copy(mem->ctx, p.busy[1 + i].start, a->mods[i].data, a->mods[i].len, 0);
        else
            memcpy(dst[i], a->mods[i].data, a->mods[i].len);
    }
    write_info(area, (uint32_t)p.info, mem, a, &l, &p);
    return (uint32_t)p.info;
}

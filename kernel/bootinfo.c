/* Parses Multiboot 1 and Multiboot 2 boot information into struct boot_info.
 * Pure logic: all memory is read through the map callback, so host tests can feed fakes. */
#include "kernel/bootinfo.h"
#include "kernel/string.h"
#include "boot/boot.h"

#define MB1_FLAG_MEM     (1u << 0)
#define MB1_FLAG_CMDLINE (1u << 2)
#define MB1_FLAG_MODS    (1u << 3)
#define MB1_FLAG_MMAP    (1u << 6)
#define MB1_FLAG_LOADER  (1u << 9)

struct mb1_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
} __attribute__((packed));
_Static_assert(sizeof(struct mb1_info) == 68, "Multiboot 1 info layout");

struct mb1_module { uint32_t start, end, string, reserved; };
struct mb1_mmap { uint32_t size; uint64_t addr, len; uint32_t type; } __attribute__((packed));

enum {
    MB2_TAG_END = 0, MB2_TAG_CMDLINE = 1, MB2_TAG_LOADER = 2, MB2_TAG_MODULE = 3,
    MB2_TAG_MEMINFO = 4, MB2_TAG_MMAP = 6, MB2_TAG_ACPI_OLD = 14, MB2_TAG_ACPI_NEW = 15,
};
struct mb2_tag { uint32_t type, size; };

const char *mem_type_name(uint32_t type)
{
    switch (type) {
    case MEM_USABLE: return "usable";
    case MEM_RESERVED: return "reserved";
    case MEM_ACPI: return "acpi";
    case MEM_NVS: return "acpi-nvs";
    case MEM_BAD: return "bad";
    default: return "reserved";
    }
}

static void add_region(struct boot_info *bi, uint64_t start, uint64_t len, uint32_t type)
{
    if (len == 0 || bi->n_regions == BOOT_MAX_REGIONS)
        return;
    if (start + len < start)            /* wraps: clip at the top of the address space */
        len = ~0ull - start;
    if (type < MEM_USABLE || type > MEM_BAD)
        type = MEM_RESERVED;
    bi->regions[bi->n_regions++] = (struct mem_region){ start, start + len, type };
}

static void add_reserved(struct boot_info *bi, uint64_t start, uint64_t end)
{
    if (end > start && bi->n_reserved < BOOT_MAX_RESERVED)
        bi->reserved[bi->n_reserved++] = (struct phys_range){ start, end };
}

/* Copies a NUL-terminated string at phys into dst (truncated to dst_size-1), reserving its bytes. */
static void copy_string(struct boot_info *bi, char *dst, size_t dst_size, uint64_t phys,
                        boot_map_fn map, void *ctx)
{
    dst[0] = '\0';
    size_t n = 0;
    for (; n + 1 < dst_size; n++) {
        const char *c = map(phys + n, 1, ctx);
        if (!c || *c == '\0')
            break;
        dst[n] = *c;
    }
    dst[n] = '\0';
    add_reserved(bi, phys, phys + n + 1);
}

static void add_module(struct boot_info *bi, uint64_t start, uint64_t end)
{
    if (bi->n_modules == BOOT_MAX_MODULES) {
        bi->modules_dropped++;
        return;
    }
    struct boot_module *m = &bi->modules[bi->n_modules++];
    m->start = start;
    m->end = end < start ? start : end;
    m->cmdline[0] = '\0';
    add_reserved(bi, start, m->end);
}

static int parse_mb1(struct boot_info *bi, uint64_t info_phys, boot_map_fn map, void *ctx)
{
    const struct mb1_info *mi = map(info_phys, sizeof *mi, ctx);
    if (!mi)
        return -1;
    add_reserved(bi, info_phys, info_phys + sizeof *mi);
    if (mi->flags & MB1_FLAG_CMDLINE)
        copy_string(bi, bi->cmdline, sizeof bi->cmdline, mi->cmdline, map, ctx);
    if (mi->flags & MB1_FLAG_LOADER)
        copy_string(bi, bi->loader, sizeof bi->loader, mi->boot_loader_name, map, ctx);

    if (mi->flags & MB1_FLAG_MMAP) {
        add_reserved(bi, mi->mmap_addr, (uint64_t)mi->mmap_addr + mi->mmap_length);
        uint64_t p = mi->mmap_addr, end = (uint64_t)mi->mmap_addr + mi->mmap_length;
        while (p + sizeof(struct mb1_mmap) <= end) {
            const struct mb1_mmap *e = map(p, sizeof *e, ctx);
            if (!e)
                return -1;
            if (e->size < 20)           /* a malformed entry: stop rather than loop or trust it */
                break;
            add_region(bi, e->addr, e->len, e->type);
            p += e->size + 4;
        }
    } else if (mi->flags & MB1_FLAG_MEM) {
        add_region(bi, 0, (uint64_t)mi->mem_lower * 1024, MEM_USABLE);
        add_region(bi, 0x100000, (uint64_t)mi->mem_upper * 1024, MEM_USABLE);
    }

    if (mi->flags & MB1_FLAG_MODS) {
        add_reserved(bi, mi->mods_addr, (uint64_t)mi->mods_addr + mi->mods_count * 16ull);
        for (uint32_t i = 0; i < mi->mods_count; i++) {
            const struct mb1_module *m = map(mi->mods_addr + i * 16ull, sizeof *m, ctx);
            if (!m)
                return -1;
            add_module(bi, m->start, m->end);
            if (m->string && bi->n_modules && i < BOOT_MAX_MODULES)
                copy_string(bi, bi->modules[bi->n_modules - 1].cmdline, BOOT_CMDLINE_MAX,
                            m->string, map, ctx);
        }
    }
    return 0;
}

static int parse_mb2(struct boot_info *bi, uint64_t info_phys, boot_map_fn map, void *ctx)
{
    const uint32_t *hdr = map(info_phys, 8, ctx);
    if (!hdr || hdr[0] < 8)
        return -1;
    uint32_t total = hdr[0];
    const uint8_t *info = map(info_phys, total, ctx);
    if (!info)
        return -1;
    add_reserved(bi, info_phys, info_phys + total);
    bool have_mmap = false, have_meminfo = false;
    uint32_t mem_lower = 0, mem_upper = 0;

    for (uint32_t off = 8; off + sizeof(struct mb2_tag) <= total;) {
        const struct mb2_tag *tag = (const struct mb2_tag *)(info + off);
        if (tag->type == MB2_TAG_END || tag->size < 8 || tag->size > total - off)
            break;
        const uint8_t *body = (const uint8_t *)(tag + 1);
        uint32_t body_len = tag->size - 8;
        switch (tag->type) {
        case MB2_TAG_CMDLINE:
            memcpy(bi->cmdline, body, body_len < BOOT_CMDLINE_MAX ? body_len : BOOT_CMDLINE_MAX);
            bi->cmdline[BOOT_CMDLINE_MAX - 1] = '\0';
            break;
        case MB2_TAG_LOADER:
            memcpy(bi->loader, body, body_len < sizeof bi->loader ? body_len : sizeof bi->loader);
            bi->loader[sizeof bi->loader - 1] = '\0';
            break;
        case MB2_TAG_MODULE:
            if (body_len >= 8) {
                const uint32_t *m = (const uint32_t *)body;
                add_module(bi, m[0], m[1]);
                if (bi->n_modules && !bi->modules_dropped) {
                    size_t n = body_len - 8 < BOOT_CMDLINE_MAX ? body_len - 8 : BOOT_CMDLINE_MAX;
                    char *dst = bi->modules[bi->n_modules - 1].cmdline;
                    memcpy(dst, body + 8, n);
                    dst[BOOT_CMDLINE_MAX - 1] = '\0';
                    if (n < BOOT_CMDLINE_MAX)
                        dst[n] = '\0';
                }
            }
            break;
        case MB2_TAG_MMAP:
            if (body_len >= 8) {
                uint32_t entry_size = ((const uint32_t *)body)[0];
                if (entry_size < 24)
                    break;
                have_mmap = true;
                for (uint32_t p = 8; entry_size <= body_len - p; p += entry_size) {
                    const uint8_t *e = body + p;
                    uint64_t addr, len;
                    uint32_t type;
                    memcpy(&addr, e, 8);
                    memcpy(&len, e + 8, 8);
                    memcpy(&type, e + 16, 4);
                    add_region(bi, addr, len, type);
                }
            }
            break;
        case MB2_TAG_MEMINFO:
            if (body_len >= 8) {
                have_meminfo = true;
                mem_lower = ((const uint32_t *)body)[0];
                mem_upper = ((const uint32_t *)body)[1];
            }
            break;
        case MB2_TAG_ACPI_OLD:
        case MB2_TAG_ACPI_NEW:
            if (!bi->has_rsdp_copy || tag->type == MB2_TAG_ACPI_NEW) {
                size_t n = body_len < sizeof bi->rsdp_copy ? body_len : sizeof bi->rsdp_copy;
                memset(bi->rsdp_copy, 0, sizeof bi->rsdp_copy);
                memcpy(bi->rsdp_copy, body, n);
                bi->has_rsdp_copy = n >= 20;
            }
            break;
        }
        off += (tag->size + 7) & ~7u;
    }

    if (!have_mmap && have_meminfo) {
        add_region(bi, 0, (uint64_t)mem_lower * 1024, MEM_USABLE);
        add_region(bi, 0x100000, (uint64_t)mem_upper * 1024, MEM_USABLE);
    }
    return 0;
}

/* Multiboot 1 loaders put the kernel's own path first ("build/anfitrion.elf loglevel=info").
 * Options always contain '=', so a first word without one is that path. */
static void strip_image_path(char *cmdline)
{
    char *p = cmdline;
    while (*p == ' ')
        p++;
    char *end = p;
    while (*end && *end != ' ')
        end++;
    for (char *q = p; q < end; q++)
        if (*q == '=')
            return;
    while (*end == ' ')
        end++;
    memmove(cmdline, end, strlen(end) + 1);
}

int bootinfo_parse(struct boot_info *bi, uint32_t magic, uint64_t info_phys, boot_map_fn map, void *ctx)
{
    memset(bi, 0, sizeof *bi);
    int rc;
    if (magic == MB1_BOOTLOADER_MAGIC) {
        bi->protocol = 1;
        rc = parse_mb1(bi, info_phys, map, ctx);
        strip_image_path(bi->cmdline);
    } else if (magic == MB2_BOOTLOADER_MAGIC) {
        bi->protocol = 2;
        rc = parse_mb2(bi, info_phys, map, ctx);
    } else {
        rc = -1;
    }
    if (rc < 0) {
        const char *why = bi->protocol ? "unreadable Multiboot information" : "unknown boot magic";
        memcpy(bi->loader, why, strlen(why) + 1);
    }
    return rc;
}

uint64_t bootinfo_usable_bytes(const struct boot_info *bi)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < bi->n_regions; i++)
        if (bi->regions[i].type == MEM_USABLE)
            total += bi->regions[i].end - bi->regions[i].start;
    return total;
}

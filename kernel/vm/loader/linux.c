/* The Linux bzImage loader for guests (32-bit boot protocol): pure logic over a byte image
 * and a guest_mem. Field names and offsets follow Documentation/arch/x86/boot.rst and
 * arch/x86/include/uapi/asm/bootparam.h. */
#include "kernel/vm/loader/linux.h"
#include "kernel/vm/loader/util.h"
#include "kernel/printf.h"
#include "kernel/string.h"

#define MiB              0x100000ull
#define PAGE             0x1000ull
#define ZERO_PAGE_SIZE   0x1000u

/* The setup header: at 0x1F1 in the bzImage file and at the same offset in the zero page. */
#define HDR_OFF          0x1F1u
struct setup_header {
    uint8_t  setup_sects;
    uint16_t root_flags;
    uint32_t syssize;
    uint16_t ram_size, vid_mode, root_dev, boot_flag, jump;
    uint32_t header;
    uint16_t version;
    uint32_t realmode_swtch;
    uint16_t start_sys_seg, kernel_version;
    uint8_t  type_of_loader, loadflags;
    uint16_t setup_move_size;
    uint32_t code32_start, ramdisk_image, ramdisk_size, bootsect_kludge;
    uint16_t heap_end_ptr;
    uint8_t  ext_loader_ver, ext_loader_type;
    uint32_t cmd_line_ptr, initrd_addr_max, kernel_alignment;
    uint8_t  relocatable_kernel, min_alignment;
    uint16_t xloadflags;
    uint32_t cmdline_size, hardware_subarch;
    uint64_t hardware_subarch_data;
    uint32_t payload_offset, payload_length;
    uint64_t setup_data, pref_address;
    uint32_t init_size, handover_offset, kernel_info_offset;
} __attribute__((packed));

#define HDR_AT(field) (HDR_OFF + offsetof(struct setup_header, field))
_Static_assert(HDR_AT(syssize) == 0x1F4, "setup_header layout");
_Static_assert(HDR_AT(boot_flag) == 0x1FE, "setup_header layout");
_Static_assert(HDR_AT(header) == 0x202, "setup_header layout");
_Static_assert(HDR_AT(version) == 0x206, "setup_header layout");
_Static_assert(HDR_AT(type_of_loader) == 0x210, "setup_header layout");
_Static_assert(HDR_AT(code32_start) == 0x214, "setup_header layout");
_Static_assert(HDR_AT(heap_end_ptr) == 0x224, "setup_header layout");
_Static_assert(HDR_AT(cmd_line_ptr) == 0x228, "setup_header layout");
_Static_assert(HDR_AT(relocatable_kernel) == 0x234, "setup_header layout");
_Static_assert(HDR_AT(cmdline_size) == 0x238, "setup_header layout");
_Static_assert(HDR_AT(hardware_subarch) == 0x23C, "setup_header layout");
_Static_assert(HDR_AT(setup_data) == 0x250, "setup_header layout");
_Static_assert(HDR_AT(pref_address) == 0x258, "setup_header layout");
_Static_assert(HDR_AT(init_size) == 0x260, "setup_header layout");
_Static_assert(sizeof(struct setup_header) == 0x26C - HDR_OFF, "setup_header layout");

/* Zero-page fields outside the setup header (struct boot_params). */
#define BP_ACPI_RSDP_ADDR  0x070u
#define BP_ALT_MEM_K       0x1E0u
#define BP_E820_ENTRIES    0x1E8u
#define BP_HDR_LIMIT       0x290u      /* edd_mbr_sig_buffer: the header can't grow past it */
#define BP_E820_TABLE      0x2D0u
#define BP_E820_MAX        128u

struct boot_e820_entry { uint64_t addr, size; uint32_t type; } __attribute__((packed));
_Static_assert(sizeof(struct boot_e820_entry) == 20, "boot_e820_entry layout");
_Static_assert(BP_E820_TABLE + BP_E820_MAX * sizeof(struct boot_e820_entry) <= ZERO_PAGE_SIZE,
               "e820_table inside the zero page");
_Static_assert(PC_MAP_ENTRIES <= BP_E820_MAX, "the PC map fits e820_table");

#define HDR_MAGIC          0x53726448u   /* "HdrS" */
#define BOOT_FLAG          0xAA55u
#define LOADED_HIGH        0x01u
#define CAN_USE_HEAP       0x80u
#define LOADER_UNDEFINED   0xFFu
#define PROTO_CMDLINE_SIZE 0x0206u       /* cmdline_size; also our minimum */
#define PROTO_INIT_SIZE    0x020Au       /* pref_address and init_size */
#define PROTO_ACPI_RSDP    0x020Eu       /* boot_params.acpi_rsdp_addr */

/* Boot GDT descriptors: flat 4 GiB, 32-bit, present, accessed (matching LINUX_BOOT_*_AR). */
static const uint64_t boot_gdt[4] = { 0, 0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull };


static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t mib_up(uint64_t v) { return (v + MiB - 1) / MiB; }

bool linux_is_bzimage(const uint8_t *img, size_t len)
{
    return len >= HDR_AT(version) + 2 && le16(img + HDR_AT(boot_flag)) == BOOT_FLAG &&
           le32(img + HDR_AT(header)) == HDR_MAGIC;
}

/* Where things go, decided before anything is written. */
struct plan {
    struct setup_header h;
    uint32_t hdr_end;               /* the header's end in the file (0x202 + the byte at 0x201) */
    uint32_t setup_size;            /* real-mode part: skipped */
    uint64_t load_addr, load_end;
    uint64_t run_addr, run_end;     /* the decompressor's footprint */
    uint64_t kernel_end;            /* above both */
    size_t cmdline_len;
    uint64_t initrd_addr;
};

/* Reads and checks the setup header: version, loadflags and the image's length. */
static int check_header(const uint8_t *img, size_t len, struct plan *p, char *why, size_t ws)
{
    if (!linux_is_bzimage(img, len))
        return loader_fail(why, ws, "not a Linux bzImage (no \"HdrS\" setup header)");
    uint16_t v = le16(img + HDR_AT(version));
    if (v < PROTO_CMDLINE_SIZE)
        return loader_fail(why, ws, "boot protocol %u.%02u is older than 2.06, which anfitrion needs",
                    v >> 8, v & 0xFF);
    p->hdr_end = 0x202u + img[0x201];
    if (p->hdr_end < HDR_AT(hardware_subarch))
        return loader_fail(why, ws, "setup header ends at 0x%x, too short for boot protocol %u.%02u",
                    p->hdr_end, v >> 8, v & 0xFF);
    if (p->hdr_end > BP_HDR_LIMIT)
        p->hdr_end = BP_HDR_LIMIT;
    if (p->hdr_end > len)
        return loader_fail(why, ws, "truncated: the file ends inside the setup header");
    memset(&p->h, 0, sizeof p->h);
    uint32_t n = p->hdr_end - HDR_OFF;
    memcpy(&p->h, img + HDR_OFF, n < sizeof p->h ? n : sizeof p->h);

    if (!(p->h.loadflags & LOADED_HIGH))
        return loader_fail(why, ws, "not loadable at 1 MiB (loadflags LOADED_HIGH clear): a zImage?");
    p->setup_size = ((p->h.setup_sects ? p->h.setup_sects : 4u) + 1) * 512;
    uint64_t payload = (uint64_t)p->h.syssize * 16;
    if (payload == 0)
        return loader_fail(why, ws, "no protected-mode kernel (syssize 0)");
    if (p->setup_size + payload > len)
        return loader_fail(why, ws, "truncated: setup and kernel take %lu bytes, the file has %zu",
                    p->setup_size + payload, len);
    p->load_addr = LINUX_LOAD_GPA;
    p->load_end = p->load_addr + payload;
    return 0;
}

/* Where the kernel decompresses itself: a relocatable one at its load address rounded up to
 * kernel_alignment but not below pref_address (LOAD_PHYSICAL_ADDR), a fixed one at
 * pref_address; it needs init_size bytes from there. Before 2.10 neither is known. */
static int plan_kernel(const struct guest_mem *mem, struct plan *p, char *why, size_t ws)
{
    const struct setup_header *h = &p->h;
    if (h->version < PROTO_INIT_SIZE) {
        p->run_addr = p->load_addr;
        p->run_end = p->load_end;
    } else {
        uint64_t align = h->kernel_alignment;
        if (h->relocatable_kernel && (align == 0 || (align & (align - 1))))
            return loader_fail(why, ws, "bad kernel_alignment 0x%x", h->kernel_alignment);
        p->run_addr = h->pref_address;
        if (h->relocatable_kernel && align_up(p->load_addr, align) > p->run_addr)
            p->run_addr = align_up(p->load_addr, align);
        p->run_end = p->run_addr + h->init_size;
    }
    p->kernel_end = p->run_end > p->load_end ? p->run_end : p->load_end;
    if (p->run_addr > UINT32_MAX || p->kernel_end > UINT32_MAX)
        return loader_fail(why, ws, "kernel would run above 4 GiB (pref_address 0x%lx)", h->pref_address);
    if (p->kernel_end > mem->size)
        return loader_fail(why, ws, "needs at least %lu MiB of RAM (mem=): decompresses into 0x%lx-0x%lx",
                    mib_up(p->kernel_end), p->run_addr, p->run_end);
    return 0;
}

/* The initrd goes as high as RAM and initrd_addr_max allow, page aligned, above the kernel. */
static int plan_initrd(const struct guest_mem *mem, size_t len, struct plan *p, char *why, size_t ws)
{
    uint64_t addr_max = (uint64_t)p->h.initrd_addr_max + 1;
    uint64_t top = mem->size < addr_max ? mem->size : addr_max;
    if (len <= top && ((top - len) & ~(PAGE - 1)) >= p->kernel_end) {
        p->initrd_addr = (top - len) & ~(PAGE - 1);
        return 0;
    }
    if (mem->size <= addr_max)
        return loader_fail(why, ws, "kernel and a %lu KiB initrd need at least %lu MiB of RAM (mem=)",
                    align_up(len, 1024) / 1024, mib_up(align_up(p->kernel_end, PAGE) + len));
    return loader_fail(why, ws, "a %lu KiB initrd does not fit between the kernel (ends at 0x%lx) and "
                "initrd_addr_max 0x%x", align_up(len, 1024) / 1024, p->kernel_end,
                p->h.initrd_addr_max);
}

/* Host pointer to [gpa, gpa + len) of guest RAM, or NULL with a reason. */
static void *guest_ram(const struct guest_mem *mem, uint64_t gpa, uint64_t len, char *why, size_t ws)
{
    void *p = mem->ptr(mem->ctx, gpa, len);
    if (!p)
        loader_fail(why, ws, "guest RAM 0x%lx-0x%lx is not reachable", gpa, gpa + len);
    return p;
}

/* The zero page: the image's setup header, what the loader fills in, and the e820 map. */
static void build_zero_page(uint8_t *bp, const uint8_t *img, const struct plan *p,
                            const struct guest_mem *mem, const struct linux_boot_args *args,
                            size_t initrd_len)
{
    memset(bp, 0, ZERO_PAGE_SIZE);
    memcpy(bp + HDR_OFF, img + HDR_OFF, p->hdr_end - HDR_OFF);

    /* Bytes past hdr_end are zero in bp, so writing the whole struct back adds only zeros. */
    struct setup_header h;
    memcpy(&h, bp + HDR_OFF, sizeof h);
    h.type_of_loader = LOADER_UNDEFINED;
    h.loadflags |= CAN_USE_HEAP;
    h.heap_end_ptr = 0xFE00;            /* for the real-mode setup only; harmless here */
    h.code32_start = (uint32_t)p->load_addr;
    h.cmd_line_ptr = LINUX_CMDLINE_GPA;
    h.ramdisk_image = initrd_len ? (uint32_t)p->initrd_addr : 0;
    h.ramdisk_size = (uint32_t)initrd_len;
    h.hardware_subarch = 0;             /* a PC */
    h.hardware_subarch_data = 0;
    h.setup_data = 0;
    memcpy(bp + HDR_OFF, &h, sizeof h);

    if (p->h.version >= PROTO_ACPI_RSDP && args && args->acpi_rsdp) {
        uint64_t rsdp = args->acpi_rsdp;
        memcpy(bp + BP_ACPI_RSDP_ADDR, &rsdp, 8);
    }
    uint32_t alt_mem_k = (uint32_t)((mem->size - MiB) / 1024);
    memcpy(bp + BP_ALT_MEM_K, &alt_mem_k, 4);

    struct pc_map_entry pc[PC_MAP_ENTRIES];
    loader_pc_map(mem->size, pc);
    for (unsigned i = 0; i < PC_MAP_ENTRIES; i++) {
        struct boot_e820_entry e = { pc[i].base, pc[i].len, pc[i].type };
        memcpy(bp + BP_E820_TABLE + i * sizeof e, &e, sizeof e);
    }
    bp[BP_E820_ENTRIES] = PC_MAP_ENTRIES;
}

int linux_load(const uint8_t *img, size_t len, const struct guest_mem *mem,
               const struct linux_boot_args *args, struct linux_image *out,
               char *why, size_t why_size)
{
    struct plan p;
    if (check_header(img, len, &p, why, why_size) < 0 || plan_kernel(mem, &p, why, why_size) < 0)
        return -1;

    const char *cmdline = args && args->cmdline ? args->cmdline : "";
    p.cmdline_len = strlen(cmdline);
    if (p.cmdline_len > p.h.cmdline_size)
        return loader_fail(why, why_size, "command line is %zu bytes, the kernel takes at most %u "
                    "(cmdline_size)", p.cmdline_len, p.h.cmdline_size);
    if (p.cmdline_len >= LINUX_CMDLINE_MAX)
        return loader_fail(why, why_size, "command line is %zu bytes, anfitrion has room for %u",
                    p.cmdline_len, LINUX_CMDLINE_MAX - 1);

    size_t initrd_len = args && args->initrd ? args->initrd_len : 0;
    p.initrd_addr = 0;
    if (initrd_len > UINT32_MAX)
        return loader_fail(why, why_size, "initrd of %zu bytes is larger than 4 GiB", initrd_len);
    if (initrd_len && plan_initrd(mem, initrd_len, &p, why, why_size) < 0)
        return -1;

    /* Every destination is reachable before the first byte is written. */
    uint8_t *kernel = guest_ram(mem, p.load_addr, p.load_end - p.load_addr, why, why_size);
    uint8_t *bp = kernel ? guest_ram(mem, LINUX_BOOT_PARAMS_GPA, ZERO_PAGE_SIZE, why, why_size) : NULL;
    uint8_t *gdt = bp ? guest_ram(mem, LINUX_GDT_GPA, sizeof boot_gdt, why, why_size) : NULL;
    char *cl = gdt ? guest_ram(mem, LINUX_CMDLINE_GPA, p.cmdline_len + 1, why, why_size) : NULL;
    uint8_t *rd = cl && initrd_len ? guest_ram(mem, p.initrd_addr, initrd_len, why, why_size) : NULL;
    if (!cl || (initrd_len && !rd))
        return -1;

    if (mem->copy)
        mem->copy(mem->ctx, p.load_addr, img + p.setup_size, p.load_end - p.load_addr, 0);
    else
        memcpy(kernel, img + p.setup_size, p.load_end - p.load_addr);
    memcpy(cl, cmdline, p.cmdline_len + 1);
    if (initrd_len && mem->copy)
        mem->copy(mem->ctx, p.initrd_addr, args->initrd, initrd_len, 0);
    else if (initrd_len)
        memcpy(rd, args->initrd, initrd_len);
    memcpy(gdt, boot_gdt, sizeof boot_gdt);
    build_zero_page(bp, img, &p, mem, args, initrd_len);

    out->entry = (uint32_t)p.load_addr;
    out->boot_params = LINUX_BOOT_PARAMS_GPA;
    out->gdt_base = LINUX_GDT_GPA;
    out->gdt_limit = sizeof boot_gdt - 1;
    out->version = p.h.version;
    out->load_addr = (uint32_t)p.load_addr;
    out->load_end = (uint32_t)p.load_end;
    out->run_addr = (uint32_t)p.run_addr;
    out->run_end = (uint32_t)p.run_end;
    out->initrd_addr = (uint32_t)p.initrd_addr;
    out->initrd_size = (uint32_t)initrd_len;
    return 0;
}

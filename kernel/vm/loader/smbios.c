/* The guests' SMBIOS tables (DMTF DSP0134 2.8): pure logic that lays them out in a guest_mem. */
#include "kernel/vm/loader/smbios.h"
#include "kernel/vm/loader/util.h"
#include "kernel/string.h"

#include <stdbool.h>
#include <stddef.h>

#define SMBIOS_MAJOR       2
#define SMBIOS_MINOR       8
#define SMBIOS_BCD_REV     0x28
#define SMBIOS_TABLE_GPA   (SMBIOS_GPA + 0x20)   /* the entry point's 31 bytes, rounded to 16 */

#define SMBIOS_MANUFACTURER "anfitrion"
#define SMBIOS_PRODUCT      "anfitrion guest"
#define SMBIOS_VERSION      "0.1"
#define SMBIOS_BIOS_MAJOR   0                    /* "0.1", as Linux's DMI_BIOS_RELEASE shows it */
#define SMBIOS_BIOS_MINOR   1

#define KiB 1024ull
#define MiB (1024ull * 1024)

/* ---- Layouts, field by field as in DSP0134 2.8 (section numbers). */

/* 5.2.1 SMBIOS 2.1 (32-bit) Entry Point. */
struct smbios_entry_point {
    char anchor[4];                /* "_SM_" */
    uint8_t checksum;              /* over the whole entry point (length bytes) */
    uint8_t length;                /* 0x1F */
    uint8_t major, minor;
    uint16_t max_structure_size;   /* the largest structure, formatted area and strings */
    uint8_t revision;              /* 0: the formatted area below is reserved */
    uint8_t formatted_area[5];
    char intermediate_anchor[5];   /* "_DMI_": the legacy DMI entry point from here on */
    uint8_t intermediate_checksum; /* over the 15 bytes from intermediate_anchor */
    uint16_t table_length;
    uint32_t table_address;
    uint16_t structure_count;
    uint8_t bcd_revision;
} __attribute__((packed));

/* 6.1.2 Structure header: the start of every structure. */
struct smbios_header {
    uint8_t type;
    uint8_t length;                /* of the formatted area, this header included */
    uint16_t handle;
} __attribute__((packed));

enum smbios_type {
    SMBIOS_TYPE_BIOS = 0, SMBIOS_TYPE_SYSTEM = 1, SMBIOS_TYPE_CHASSIS = 3,
    SMBIOS_TYPE_MEMORY_ARRAY = 16, SMBIOS_TYPE_MEMORY_DEVICE = 17,
    SMBIOS_TYPE_MEMORY_MAPPED = 19, SMBIOS_TYPE_BOOT = 32, SMBIOS_TYPE_END = 127,
};

/* String fields below are string numbers (uint8_t), 0 for "Not Specified". */

/* 7.1 BIOS Information (type 0), 2.4 and later. */
struct smbios_bios {
    struct smbios_header h;
    uint8_t vendor, version;
    uint16_t start_segment;        /* where the BIOS runtime image starts, below 1 MiB */
    uint8_t release_date;
    uint8_t rom_size;              /* 64 KiB * (n + 1) */
    uint64_t characteristics;
    uint8_t characteristics_ext[2];
    uint8_t bios_major, bios_minor;
    uint8_t ec_major, ec_minor;    /* 0xFF: no upgradeable embedded controller firmware */
} __attribute__((packed));

#define BIOS_CHAR_NOT_SUPPORTED (1ull << 3)   /* 7.1.1 */
#define BIOS_EXT1_ACPI          (1u << 0)     /* 7.1.2.1 */
#define BIOS_EXT2_VM            (1u << 4)     /* 7.1.2.2: the table describes a VM */

/* 7.2 System Information (type 1), 2.4 and later. */
struct smbios_system {
    struct smbios_header h;
    uint8_t manufacturer, product, version, serial;
    uint8_t uuid[16];              /* 7.2.1: first three fields little-endian */
    uint8_t wake_up_type;
    uint8_t sku, family;
} __attribute__((packed));

#define WAKE_UP_POWER_SWITCH 0x06     /* 7.2.2 */

/* 7.4 System Enclosure or Chassis (type 3), 2.7 and later, with no contained elements. */
struct smbios_chassis {
    struct smbios_header h;
    uint8_t manufacturer;
    uint8_t type;                  /* 7.4.1; bit 7: a lock is present */
    uint8_t version, serial, asset_tag;
    uint8_t boot_up_state, power_supply_state, thermal_state;   /* 7.4.2 */
    uint8_t security_status;       /* 7.4.3 */
    uint32_t oem_defined;
    uint8_t height, power_cords;
    uint8_t element_count, element_length;
    uint8_t sku;                   /* after the (here empty) contained elements */
} __attribute__((packed));

#define CHASSIS_OTHER    0x01
#define CHASSIS_SAFE     0x03
#define CHASSIS_SEC_NONE 0x03

/* 7.17 Physical Memory Array (type 16), 2.7 and later. */
struct smbios_memory_array {
    struct smbios_header h;
    uint8_t location, use, error_correction;    /* 7.17.1, 7.17.2, 7.17.3 */
    uint32_t max_capacity;         /* KiB; 0x80000000: see ext_max_capacity */
    uint16_t error_handle;         /* 0xFFFE: no error information */
    uint16_t devices;
    uint64_t ext_max_capacity;     /* bytes */
} __attribute__((packed));

#define ARRAY_SYSTEM_BOARD 0x03
#define ARRAY_SYSTEM_MEMORY 0x03
#define ARRAY_ECC_NONE     0x03
#define NO_ERROR_INFO      0xFFFE

/* 7.18 Memory Device (type 17), 2.8. */
struct smbios_memory_device {
    struct smbios_header h;
    uint16_t array_handle, error_handle;
    uint16_t total_width, data_width;           /* bits; 0xFFFF unknown */
    uint16_t size;                 /* MiB, or KiB if bit 15; 0x7FFF: see ext_size */
    uint8_t form_factor, device_set;            /* 7.18.1 */
    uint8_t device_locator, bank_locator;
    uint8_t memory_type;           /* 7.18.2 */
    uint16_t type_detail;          /* 7.18.3 */
    uint16_t speed;                /* MT/s; 0 unknown */
    uint8_t manufacturer, serial, asset_tag, part_number;
    uint8_t attributes;            /* bits 3:0 rank; 0 unknown */
    uint32_t ext_size;             /* MiB, bits 30:0 */
    uint16_t configured_speed;
    uint16_t min_voltage, max_voltage, configured_voltage;   /* mV; 0 unknown */
} __attribute__((packed));

#define DEVICE_DIMM        0x09
#define DEVICE_RAM         0x07
#define DEVICE_DETAIL_OTHER 0x0002
#define SIZE_IN_KIB        0x8000
#define SIZE_EXTENDED      0x7FFF

/* 7.20 Memory Array Mapped Address (type 19), 2.7 and later. */
struct smbios_memory_mapped {
    struct smbios_header h;
    uint32_t start_kib, end_kib;   /* end inclusive; 0xFFFFFFFF: see the ext_ fields */
    uint16_t array_handle;
    uint8_t partition_width;       /* memory devices per row */
    uint64_t ext_start, ext_end;   /* bytes, end inclusive */
} __attribute__((packed));

/* 7.33 System Boot Information (type 32), with one status byte. */
struct smbios_boot {
    struct smbios_header h;
    uint8_t reserved[6];
    uint8_t status;                /* 7.33.2: 0, no errors detected */
} __attribute__((packed));

_Static_assert(sizeof(struct smbios_entry_point) == 0x1F, "entry point layout");
_Static_assert(sizeof(struct smbios_entry_point) <= SMBIOS_TABLE_GPA - SMBIOS_GPA, "room");
_Static_assert(sizeof(struct smbios_header) == 4, "structure header layout");
_Static_assert(sizeof(struct smbios_bios) == 0x18, "type 0 layout");
_Static_assert(sizeof(struct smbios_system) == 0x1B, "type 1 layout");
_Static_assert(sizeof(struct smbios_chassis) == 0x16, "type 3 layout");
_Static_assert(sizeof(struct smbios_memory_array) == 0x17, "type 16 layout");
_Static_assert(sizeof(struct smbios_memory_device) == 0x28, "type 17 layout");
_Static_assert(sizeof(struct smbios_memory_mapped) == 0x1F, "type 19 layout");
_Static_assert(sizeof(struct smbios_boot) == 0x0B, "type 32 layout");
_Static_assert(SMBIOS_END - SMBIOS_TABLE_GPA <= 0xFFFF, "table length fits the entry point");

/* ---- Appending structures to the table: begin, strings, end. */

struct smbios_table {
    uint8_t *base;                 /* host pointer to SMBIOS_TABLE_GPA */
    uint32_t used, size;
    uint32_t start;                /* the open structure's offset */
    uint8_t strings;               /* strings in the open structure's set */
    uint16_t count, max_size, next_handle;
    bool full;                     /* something did not fit: the table is unusable */
};

/* Opens a structure with a zeroed formatted area of len bytes; NULL if it does not fit. */
static void *smbios_begin(struct smbios_table *t, uint8_t type, uint8_t len, uint16_t *handle)
{
    if (t->full || len > t->size - t->used) {
        t->full = true;
        return NULL;
    }
    struct smbios_header *h = (struct smbios_header *)(t->base + t->used);
    memset(h, 0, len);
    h->type = type;
    h->length = len;
    h->handle = t->next_handle;
    if (handle)
        *handle = t->next_handle;
    t->next_handle++;
    t->start = t->used;
    t->used += len;
    t->strings = 0;
    return h;
}

/* Appends s (cut to SMBIOS_STRING_MAX) to the open structure's set; returns its number,
 * or 0 ("Not Specified") for NULL or "", which a set cannot hold. */
static uint8_t smbios_string(struct smbios_table *t, const char *s)
{
    size_t n = s ? strnlen(s, SMBIOS_STRING_MAX) : 0;
    if (n == 0 || t->full)
        return 0;
    if (n + 1 > t->size - t->used) {
        t->full = true;
        return 0;
    }
    memcpy(t->base + t->used, s, n);
    t->base[t->used + n] = 0;
    t->used += (uint32_t)n + 1;
    return ++t->strings;
}

/* Closes the open structure: one more NUL ends its string set, two if it has none. */
static void smbios_end(struct smbios_table *t)
{
    uint32_t nuls = t->strings ? 1 : 2;
    if (t->full || nuls > t->size - t->used) {
        t->full = true;
        return;
    }
    memset(t->base + t->used, 0, nuls);
    t->used += nuls;
    t->count++;
    if (t->used - t->start > t->max_size)
        t->max_size = (uint16_t)(t->used - t->start);
}


/* ---- The structures. */

static void add_bios(struct smbios_table *t)
{
    struct smbios_bios *b = smbios_begin(t, SMBIOS_TYPE_BIOS, sizeof *b, NULL);
    if (!b)
        return;
    b->vendor = smbios_string(t, SMBIOS_BIOS_VENDOR);
    b->version = smbios_string(t, SMBIOS_BIOS_VERSION);
    b->start_segment = SMBIOS_GPA >> 4;
    b->release_date = smbios_string(t, SMBIOS_BIOS_DATE);
    b->rom_size = (SMBIOS_END - SMBIOS_GPA) / (64 * KiB) - 1;
    b->characteristics = BIOS_CHAR_NOT_SUPPORTED;
    b->characteristics_ext[0] = BIOS_EXT1_ACPI;
    b->characteristics_ext[1] = BIOS_EXT2_VM;
    b->bios_major = SMBIOS_BIOS_MAJOR;
    b->bios_minor = SMBIOS_BIOS_MINOR;
    b->ec_major = b->ec_minor = 0xFF;
    smbios_end(t);
}

static uint64_t fnv1a64(const char *s, uint64_t hash)
{
    for (size_t i = 0; i < SMBIOS_STRING_MAX && s[i]; i++)
        hash = (hash ^ (uint8_t)s[i]) * 0x100000001B3ull;
    return hash;
}

/* A UUID that stays the same for a VM name across boots (what systemd's machine-id and
 * licence checks expect of a machine): RFC 9562 version 8, the bits hashed from the name.
 * All zeros (SMBIOS: "not settable") when there is no name. */
static void name_uuid(uint8_t uuid[16], const char *name)
{
    memset(uuid, 0, 16);
    if (!name || !name[0])
        return;
    uint64_t lo = fnv1a64(name, 0xCBF29CE484222325ull);
    uint64_t hi = fnv1a64(name, 0x84222325CBF29CE4ull);
    memcpy(uuid, &lo, 8);
    memcpy(uuid + 8, &hi, 8);
    uuid[7] = (uint8_t)((uuid[7] & 0x0F) | 0x80);   /* version: high nibble of time_hi (LE) */
    uuid[8] = (uint8_t)((uuid[8] & 0x3F) | 0x80);   /* variant 10 */
}

static void add_system(struct smbios_table *t, const char *vm_name)
{
    struct smbios_system *s = smbios_begin(t, SMBIOS_TYPE_SYSTEM, sizeof *s, NULL);
    if (!s)
        return;
    s->manufacturer = smbios_string(t, SMBIOS_MANUFACTURER);
    s->product = smbios_string(t, SMBIOS_PRODUCT);
    s->version = smbios_string(t, SMBIOS_VERSION);
    s->serial = smbios_string(t, vm_name);
    name_uuid(s->uuid, vm_name);
    s->wake_up_type = WAKE_UP_POWER_SWITCH;
    s->family = smbios_string(t, SMBIOS_MANUFACTURER);
    smbios_end(t);
}

static void add_chassis(struct smbios_table *t)
{
    struct smbios_chassis *c = smbios_begin(t, SMBIOS_TYPE_CHASSIS, sizeof *c, NULL);
    if (!c)
        return;
    c->manufacturer = smbios_string(t, SMBIOS_MANUFACTURER);
    c->type = CHASSIS_OTHER;
    c->boot_up_state = c->power_supply_state = c->thermal_state = CHASSIS_SAFE;
    c->security_status = CHASSIS_SEC_NONE;
    smbios_end(t);
}

/* One array, one DIMM holding all of [0, ram), mapped at 0 (the e820 holes are the
 * firmware's business, as on real machines). */
static void add_memory(struct smbios_table *t, uint64_t ram)
{
    uint16_t array;
    struct smbios_memory_array *a = smbios_begin(t, SMBIOS_TYPE_MEMORY_ARRAY, sizeof *a, &array);
    if (!a)
        return;
    a->location = ARRAY_SYSTEM_BOARD;
    a->use = ARRAY_SYSTEM_MEMORY;
    a->error_correction = ARRAY_ECC_NONE;
    uint64_t cap_kib = (ram + KiB - 1) / KiB;
    if (cap_kib < 0x80000000u) {
        a->max_capacity = (uint32_t)cap_kib;
    } else {
        a->max_capacity = 0x80000000u;
        a->ext_max_capacity = ram;
    }
    a->error_handle = NO_ERROR_INFO;
    a->devices = 1;
    smbios_end(t);

    struct smbios_memory_device *d = smbios_begin(t, SMBIOS_TYPE_MEMORY_DEVICE, sizeof *d, NULL);
    if (!d)
        return;
    d->array_handle = array;
    d->error_handle = NO_ERROR_INFO;
    d->total_width = d->data_width = 0xFFFF;
    uint64_t mib = ram / MiB;
    if (ram % MiB && ram / KiB < SIZE_EXTENDED) {
        d->size = (uint16_t)(SIZE_IN_KIB | ram / KiB);
    } else if (mib < SIZE_EXTENDED) {
        d->size = (uint16_t)mib;
    } else {
        d->size = SIZE_EXTENDED;
        d->ext_size = mib < 0x80000000u ? (uint32_t)mib : 0x7FFFFFFFu;
    }
    d->form_factor = DEVICE_DIMM;
    d->device_locator = smbios_string(t, "DIMM 0");
    d->memory_type = DEVICE_RAM;
    d->type_detail = DEVICE_DETAIL_OTHER;
    d->manufacturer = smbios_string(t, SMBIOS_MANUFACTURER);
    smbios_end(t);

    struct smbios_memory_mapped *m = smbios_begin(t, SMBIOS_TYPE_MEMORY_MAPPED, sizeof *m, NULL);
    if (!m)
        return;
    if (ram % KiB == 0 && ram / KiB <= 0xFFFFFFFFu) {
        m->start_kib = 0;
        m->end_kib = (uint32_t)(ram / KiB - 1);
    } else {
        m->start_kib = m->end_kib = 0xFFFFFFFFu;
        m->ext_start = 0;
        m->ext_end = ram - 1;
    }
    m->array_handle = array;
    m->partition_width = 1;
    smbios_end(t);
}

static void add_boot_and_end(struct smbios_table *t)
{
    struct smbios_boot *b = smbios_begin(t, SMBIOS_TYPE_BOOT, sizeof *b, NULL);
    if (!b)
        return;
    smbios_end(t);                 /* status 0: no errors detected */
    if (smbios_begin(t, SMBIOS_TYPE_END, sizeof(struct smbios_header), NULL))
        smbios_end(t);
}

uint32_t smbios_build(const struct guest_mem *mem, const struct smbios_config *cfg)
{
    if (!mem || !cfg || mem->size < SMBIOS_END)
        return 0;
    uint8_t *area = mem->ptr(mem->ctx, SMBIOS_GPA, SMBIOS_END - SMBIOS_GPA);
    if (!area)
        return 0;
    /* The anchors last: a guest never finds a half-written table. */
    memset(area, 0, SMBIOS_TABLE_GPA - SMBIOS_GPA);

    struct smbios_table t = {.base = area + (SMBIOS_TABLE_GPA - SMBIOS_GPA),
                             .size = SMBIOS_END - SMBIOS_TABLE_GPA};
    add_bios(&t);
    add_system(&t, cfg->vm_name);
    add_chassis(&t);
    if (cfg->ram_size)
        add_memory(&t, cfg->ram_size);
    add_boot_and_end(&t);
    if (t.full)
        return 0;

    struct smbios_entry_point *ep = (struct smbios_entry_point *)area;
    memcpy(ep->anchor, "_SM_", 4);
    ep->length = sizeof *ep;
    ep->major = SMBIOS_MAJOR;
    ep->minor = SMBIOS_MINOR;
    ep->max_structure_size = t.max_size;
    memcpy(ep->intermediate_anchor, "_DMI_", 5);
    ep->table_length = (uint16_t)t.used;
    ep->table_address = SMBIOS_TABLE_GPA;
    ep->structure_count = t.count;
    ep->bcd_revision = SMBIOS_BCD_REV;
    ep->intermediate_checksum = loader_checksum(ep->intermediate_anchor,
                                         sizeof *ep - offsetof(struct smbios_entry_point,
                                                               intermediate_anchor));
    ep->checksum = loader_checksum(ep, sizeof *ep);
    return SMBIOS_GPA;
}

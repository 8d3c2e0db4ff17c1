/* The guests' ACPI tables (ACPI 6.0): pure logic that lays them out in a guest_mem. */
#include "kernel/vm/loader/acpi_tables.h"
#include "kernel/vm/loader/util.h"
#include "kernel/string.h"

#define ACPI_OEM_ID        "ANFITR"     /* 6 bytes, no terminator in the tables */
#define ACPI_OEM_TABLE_ID  "ANFITRIO"   /* 8 bytes */
#define ACPI_OEM_REVISION  1
#define ACPI_CREATOR_ID    "ANFI"
#define ACPI_CREATOR_REV   1

/* ---- Layouts, field by field as in the ACPI 6.0 specification's tables (section numbers). */

/* 5.2.5.3 Root System Description Pointer. */
struct acpi_rsdp {
    char signature[8];             /* "RSD PTR " */
    uint8_t checksum;              /* over the first 20 bytes (the ACPI 1.0 structure) */
    char oem_id[6];
    uint8_t revision;              /* 2: ACPI 2.0 and later, the fields below are valid */
    uint32_t rsdt_address;
    uint32_t length;               /* of this structure: 36 */
    uint64_t xsdt_address;
    uint8_t extended_checksum;     /* over all 36 bytes */
    uint8_t reserved[3];
} __attribute__((packed));

/* 5.2.6 System Description Table Header: the start of every table but the FACS. */
struct acpi_header {
    char signature[4];
    uint32_t length;               /* of the whole table, header included */
    uint8_t revision;
    uint8_t checksum;              /* makes the whole table sum to 0 (mod 256) */
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
} __attribute__((packed));

/* 5.2.3.2 Generic Address Structure. */
struct acpi_gas {
    uint8_t space_id;              /* 0 memory, 1 system I/O */
    uint8_t bit_width, bit_offset;
    uint8_t access_size;           /* 1 byte, 2 word, 3 dword, 4 qword */
    uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_IO 1

/* 5.2.9 Fixed ACPI Description Table, revision 6 (276 bytes). */
struct acpi_fadt {
    struct acpi_header h;          /* "FACP" */
    uint32_t firmware_ctrl, dsdt;
    uint8_t reserved0, preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
    uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
    uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
    uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
    uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
    uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
    uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    struct acpi_gas reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl, x_dsdt;
    struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
    struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
    struct acpi_gas sleep_control_reg, sleep_status_reg;   /* hardware-reduced ACPI only */
    char hypervisor_vendor[8];
} __attribute__((packed));

/* FADT Flags (5.2.9, "Fixed ACPI Description Table Fixed Feature Flags"). */
#define FADT_WBINVD         (1u << 0)   /* WBINVD works and flushes all caches */
#define FADT_PROC_C1        (1u << 2)   /* HLT (C1) on every processor */
#define FADT_SLP_BUTTON     (1u << 5)   /* no fixed-feature sleep button */
#define FADT_FIX_RTC        (1u << 6)   /* no RTC wake status in PM1 */
#define FADT_RESET_REG_SUP  (1u << 10)  /* RESET_REG/RESET_VALUE reset the machine */

/* IA-PC Boot Architecture Flags (5.2.9.3). */
#define BOOT_LEGACY_DEVICES (1u << 0)   /* ISA devices: PIC, PIT, RTC, UART */
#define BOOT_8042           (1u << 1)   /* not set: no keyboard controller */
#define BOOT_VGA_NOT_PRESENT (1u << 2)
#define BOOT_MSI_NOT_SUPPORTED (1u << 3)

/* 5.2.10 Firmware ACPI Control Structure: no header, no checksum, 64-byte aligned. */
struct acpi_facs {
    char signature[4];             /* "FACS" */
    uint32_t length;               /* 64 */
    uint32_t hardware_signature;
    uint32_t firmware_waking_vector;
    uint32_t global_lock;
    uint32_t flags;
    uint64_t x_firmware_waking_vector;
    uint8_t version;               /* 2 */
    uint8_t reserved0[3];
    uint32_t ospm_flags;
    uint8_t reserved1[24];
} __attribute__((packed));

/* 5.2.12 Multiple APIC Description Table and its interrupt controller structures. */
struct acpi_madt {
    struct acpi_header h;          /* "APIC" */
    uint32_t lapic_address;
    uint32_t flags;
} __attribute__((packed));

#define MADT_PCAT_COMPAT 1u        /* a dual 8259 is present too */

enum madt_type {
    MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_INT_OVERRIDE = 2, MADT_LAPIC_NMI = 4,
};

struct madt_lapic {
    uint8_t type, length;          /* 0, 8 */
    uint8_t processor_uid, apic_id;
    uint32_t flags;                /* bit 0: enabled */
} __attribute__((packed));

struct madt_ioapic {
    uint8_t type, length;          /* 1, 12 */
    uint8_t ioapic_id, reserved;
    uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_override {
    uint8_t type, length;          /* 2, 10 */
    uint8_t bus, source;           /* bus 0: ISA; source: the ISA IRQ */
    uint32_t gsi;
    uint16_t flags;                /* MPS INTI flags: polarity bits 1:0, trigger bits 3:2 */
} __attribute__((packed));

#define MPS_INTI_CONFORMING  0x0000
#define MPS_INTI_HIGH_LEVEL  0x000D  /* active high (01), level-triggered (11 << 2) */

struct madt_lapic_nmi {
    uint8_t type, length;          /* 4, 6 */
    uint8_t processor_uid;         /* 0xFF: all processors */
    uint16_t flags;
    uint8_t lint;                  /* LINT0 or LINT1 */
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header layout");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 layout");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS layout");
_Static_assert(sizeof(struct madt_lapic) == 8 && sizeof(struct madt_ioapic) == 12 &&
               sizeof(struct madt_override) == 10 && sizeof(struct madt_lapic_nmi) == 6,
               "MADT entry layouts");

/* ---- The DSDT's AML (chapter 20, "AML Specification"): the definition block's body.
 *   Name (_S0_, Package (4) { 0, 0, 0, 0 })      working state: SLP_TYP 0
 *   Name (_S5_, Package (4) { 5, 5, 0, 0 })      soft off: SLP_TYP 5 for PM1a and PM1b
 * A package is PackageOp, PkgLength (one byte when < 64: it counts itself, NumElements
 * and the elements), NumElements, then the elements: ZeroOp (0x00) or BytePrefix n. */
#define AML_NAME_OP    0x08
#define AML_PACKAGE_OP 0x12
#define AML_BYTE_PREFIX 0x0A
#define AML_ZERO_OP    0x00

static const uint8_t dsdt_aml[] = {
    AML_NAME_OP, '_', 'S', '0', '_',
    AML_PACKAGE_OP, 6, 4,
    AML_ZERO_OP, AML_ZERO_OP, AML_ZERO_OP, AML_ZERO_OP,
    AML_NAME_OP, '_', 'S', '5', '_',
    AML_PACKAGE_OP, 8, 4,
    AML_BYTE_PREFIX, ACPI_SLP_TYP_S5, AML_BYTE_PREFIX, ACPI_SLP_TYP_S5,
    AML_ZERO_OP, AML_ZERO_OP,
};

/* ---- Laying tables out one after another in the region. */

struct region {
    uint8_t *base;                 /* host pointer to ACPI_TABLES_GPA */
    uint32_t used, size;
};

/* Zeroed space for len bytes aligned to align (a power of two); NULL if the region is full. */
static void *region_alloc(struct region *r, uint32_t len, uint32_t align, uint32_t *gpa)
{
    uint32_t start = (r->used + align - 1) & ~(align - 1);
    if (start > r->size || len > r->size - start)
        return NULL;
    memset(r->base + r->used, 0, start + len - r->used);
    r->used = start + len;
    *gpa = ACPI_TABLES_GPA + start;
    return r->base + start;
}


/* Fills a table header; acpi_finish() sets the checksum once the body is written. */
static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(h->signature, sig, 4);
    h->length = len;
    h->revision = rev;
    memcpy(h->oem_id, ACPI_OEM_ID, 6);
    memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
    h->oem_revision = ACPI_OEM_REVISION;
    memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
    h->creator_revision = ACPI_CREATOR_REV;
}

static void acpi_finish(struct acpi_header *h)
{
    h->checksum = 0;
    h->checksum = loader_checksum(h, h->length);
}

static struct acpi_gas io_gas(uint16_t port, uint8_t bytes, uint8_t access_size)
{
    return (struct acpi_gas){.space_id = ACPI_GAS_IO, .bit_width = (uint8_t)(8 * bytes),
                             .access_size = access_size, .address = port};
}

static void fill_fadt(struct acpi_fadt *f, uint32_t facs, uint32_t dsdt)
{
    acpi_header_init(&f->h, "FACP", sizeof *f, 6);   /* minor version 0: ACPI 6.0 */
    f->firmware_ctrl = facs;
    f->dsdt = dsdt;
    f->sci_int = ACPI_SCI_IRQ;
    /* SMI_CMD 0: the machine starts in ACPI mode (SCI_EN reads 1), nothing to switch. */
    f->pm1a_evt_blk = ACPI_PM1A_EVT_PORT;
    f->pm1a_cnt_blk = ACPI_PM1A_CNT_PORT;
    f->pm_tmr_blk = ACPI_PM_TMR_PORT;
    f->pm1_evt_len = ACPI_PM1_EVT_LEN;
    f->pm1_cnt_len = ACPI_PM1_CNT_LEN;
    f->pm_tmr_len = ACPI_PM_TMR_LEN;
    f->p_lvl2_lat = 0x0FFF;        /* > 100 us: no C2 */
    f->p_lvl3_lat = 0x0FFF;        /* > 1000 us: no C3 */
    f->century = 0x32;             /* the RTC's CMOS century byte (kernel/vm/vdev/vrtc.c) */
    /* No i8042 (so Linux does not probe 0x60/0x64), no VGA, no PCI MSI. */
    f->iapc_boot_arch = BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT | BOOT_MSI_NOT_SUPPORTED;
    /* PWR_BUTTON clear: the power button is the fixed feature in PM1 (vacpi_power_button).
     * TMR_VAL_EXT clear: the PM timer counts 24 bits. */
    f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_RESET_REG_SUP;
    f->reset_reg = io_gas(ACPI_RESET_PORT, 1, 1);
    f->reset_value = ACPI_RESET_VALUE;
    f->x_firmware_ctrl = facs;
    f->x_dsdt = dsdt;
    f->x_pm1a_evt_blk = io_gas(ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN, 2);
    f->x_pm1a_cnt_blk = io_gas(ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN, 2);
    f->x_pm_tmr_blk = io_gas(ACPI_PM_TMR_PORT, ACPI_PM_TMR_LEN, 3);
    memcpy(f->hypervisor_vendor, ACPI_OEM_TABLE_ID, 8);
    acpi_finish(&f->h);
}

#define MADT_SIZE (sizeof(struct acpi_madt) + sizeof(struct madt_lapic) + \
                   sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_override) + \
                   sizeof(struct madt_lapic_nmi))

static void put_override(uint8_t *p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
    struct madt_override o = {MADT_INT_OVERRIDE, sizeof o, 0, irq, gsi, flags};
    memcpy(p, &o, sizeof o);
}

static void fill_madt(uint8_t *t, const struct acpi_config *cfg)
{
    struct acpi_madt *m = (struct acpi_madt *)t;
    acpi_header_init(&m->h, "APIC", MADT_SIZE, 3);
    m->lapic_address = cfg->lapic_addr;
    m->flags = MADT_PCAT_COMPAT;
    uint8_t *p = t + sizeof *m;

    struct madt_lapic cpu = {MADT_LAPIC, sizeof cpu, 0, cfg->lapic_id, 1};
    memcpy(p, &cpu, sizeof cpu);
    p += sizeof cpu;
    struct madt_ioapic io = {MADT_IOAPIC, sizeof io, cfg->ioapic_id, 0, cfg->ioapic_addr, 0};
    memcpy(p, &io, sizeof io);
    p += sizeof io;
    /* The PIT's IRQ 0 arrives on IOAPIC pin 2 (pin 0 is the 8259's INTR), as on PCs. */
    put_override(p, 0, 2, MPS_INTI_CONFORMING);
    p += sizeof(struct madt_override);
    /* The SCI is level-triggered, active high (the 8259 ELCR convention). */
    put_override(p, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_INTI_HIGH_LEVEL);
    p += sizeof(struct madt_override);
    struct madt_lapic_nmi nmi = {MADT_LAPIC_NMI, sizeof nmi, 0xFF, MPS_INTI_CONFORMING, 1};
    memcpy(p, &nmi, sizeof nmi);
    acpi_finish(&m->h);
}

uint32_t acpi_build_tables(const struct guest_mem *mem, const struct acpi_config *cfg)
{
    if (!mem || !cfg || mem->size < ACPI_TABLES_END)
        return 0;
    struct region r = {.size = ACPI_TABLES_END - ACPI_TABLES_GPA};
    r.base = mem->ptr(mem->ctx, ACPI_TABLES_GPA, r.size);
    if (!r.base)
        return 0;

    uint32_t rsdp_gpa, facs_gpa, dsdt_gpa, fadt_gpa, madt_gpa, rsdt_gpa, xsdt_gpa;
    uint32_t dsdt_len = sizeof(struct acpi_header) + sizeof dsdt_aml;
    uint32_t rsdt_len = sizeof(struct acpi_header) + 2 * 4;
    uint32_t xsdt_len = sizeof(struct acpi_header) + 2 * 8;
    struct acpi_rsdp *rsdp = region_alloc(&r, sizeof *rsdp, 16, &rsdp_gpa);
    struct acpi_facs *facs = region_alloc(&r, sizeof *facs, 64, &facs_gpa);
    uint8_t *dsdt = region_alloc(&r, dsdt_len, 16, &dsdt_gpa);
    struct acpi_fadt *fadt = region_alloc(&r, sizeof *fadt, 16, &fadt_gpa);
    uint8_t *madt = region_alloc(&r, MADT_SIZE, 16, &madt_gpa);
    uint8_t *rsdt = region_alloc(&r, rsdt_len, 16, &rsdt_gpa);
    uint8_t *xsdt = region_alloc(&r, xsdt_len, 16, &xsdt_gpa);
    if (!rsdp || !facs || !dsdt || !fadt || !madt || !rsdt || !xsdt)
        return 0;

    memcpy(facs->signature, "FACS", 4);
    facs->length = sizeof *facs;
    facs->version = 2;

    acpi_header_init((struct acpi_header *)dsdt, "DSDT", dsdt_len, 2);
    memcpy(dsdt + sizeof(struct acpi_header), dsdt_aml, sizeof dsdt_aml);
    acpi_finish((struct acpi_header *)dsdt);

    fill_fadt(fadt, facs_gpa, dsdt_gpa);
    fill_madt(madt, cfg);

    /* RSDT entries are 32-bit addresses, XSDT entries 64-bit; both list FADT then MADT. */
    const uint32_t tables[2] = {fadt_gpa, madt_gpa};
    acpi_header_init((struct acpi_header *)rsdt, "RSDT", rsdt_len, 1);
    acpi_header_init((struct acpi_header *)xsdt, "XSDT", xsdt_len, 1);
    for (unsigned i = 0; i < 2; i++) {
        uint64_t wide = tables[i];
        memcpy(rsdt + sizeof(struct acpi_header) + 4 * i, &tables[i], 4);
        memcpy(xsdt + sizeof(struct acpi_header) + 8 * i, &wide, 8);
    }
    acpi_finish((struct acpi_header *)rsdt);
    acpi_finish((struct acpi_header *)xsdt);

    memcpy(rsdp->signature, "RSD PTR ", 8);
    memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
    rsdp->revision = 2;
    rsdp->rsdt_address = rsdt_gpa;
    rsdp->length = sizeof *rsdp;
    rsdp->xsdt_address = xsdt_gpa;
    rsdp->checksum = loader_checksum(rsdp, 20);
    rsdp->extended_checksum = loader_checksum(rsdp, sizeof *rsdp);
    return rsdp_gpa;
}

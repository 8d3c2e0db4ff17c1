/* Guest test firmware: a Multiboot guest finds a PC's ACPI and SMBIOS tables where a BIOS leaves them. */
#include "guest.h"

/*
 * Found as an operating system finds them on a legacy-BIOS PC: the RSDP by scanning
 * 0xE0000-0xFFFFF on 16-byte boundaries (ACPI 6.0 5.2.5.1), the SMBIOS entry point by
 * scanning 0xF0000-0xFFFFF (DSP0134 5.2.1, 5.2.2). Every table is checked as the ACPI
 * specification defines it, and none may lie in RAM the Multiboot memory map calls
 * available (Multiboot 3.3): the OS would reuse it.
 */

#define BIOS_AREA       0xE0000u
#define SMBIOS_AREA     0xF0000u
#define AREA_END        0x100000u
#define LAPIC_ADDR      0xFEE00000u
#define IOAPIC_ADDR     0xFEC00000u
#define SDT_HEADER      36u             /* 5.2.6 System Description Table Header */
#define MAX_TABLES      16

static uint8_t sum8(uint32_t addr, uint32_t len)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + *(const volatile uint8_t *)(addr + i));
    return s;
}

static uint8_t rd8(uint32_t a) { return *(const volatile uint8_t *)a; }
static uint16_t rd16(uint32_t a) { uint16_t v; memcpy(&v, (const void *)a, 2); return v; }
static uint32_t rd32(uint32_t a) { uint32_t v; memcpy(&v, (const void *)a, 4); return v; }
static uint64_t rd64(uint32_t a) { uint64_t v; memcpy(&v, (const void *)a, 8); return v; }
static bool sig_is(uint32_t a, const char *sig) { return memcmp((const void *)a, sig, strlen(sig)) == 0; }

/* Every firmware range we found, to hold against the memory map at the end. */
static struct { uint32_t start, end; const char *what; } found[MAX_TABLES + 4];
static unsigned n_found;

static void remember(uint32_t start, uint32_t len, const char *what)
{
    if (n_found < sizeof found / sizeof found[0])
        found[n_found++] = (typeof(found[0])){ start, start + len, what };
}

/* ---- ACPI. */

/* The first "RSD PTR " with a good checksum on a 16-byte boundary, or 0. */
static uint32_t find_rsdp(void)
{
    for (uint32_t a = BIOS_AREA; a < AREA_END; a += 16)
        if (sig_is(a, "RSD PTR ") && sum8(a, 20) == 0)
            return a;
    return 0;
}

/* Checks a table's signature and checksum (5.2.6: the whole table sums to 0); its length. */
static uint32_t check_sdt(uint32_t addr, const char *sig, const char *section)
{
    if (!test_check(addr && sig_is(addr, sig), "%s at 0x%x has signature \"%s\" (ACPI 6.0 %s)",
                    sig, addr, sig, section))
        return 0;
    uint32_t len = rd32(addr + 4);
    if (!test_check(len >= SDT_HEADER && len < 0x10000 && sum8(addr, len) == 0,
                    "%s: %u bytes, checksum sums to 0 (ACPI 6.0 5.2.6)", sig, len))
        return 0;
    remember(addr, len, sig);
    return len;
}

/* The tables the XSDT (or, before ACPI 2.0, the RSDT) lists. */
static uint32_t tables[MAX_TABLES];
static unsigned n_tables;

static void check_root_tables(uint32_t rsdp)
{
    uint8_t rev = rd8(rsdp + 15);
    uint32_t rsdt = rd32(rsdp + 16);
    uint32_t rlen = check_sdt(rsdt, "RSDT", "5.2.7");
    unsigned n_rsdt = rlen ? (rlen - SDT_HEADER) / 4 : 0;
    if (rev < 2) {
        test_note("RSDP revision %u: ACPI 1.0, no XSDT", rev);
        for (unsigned i = 0; i < n_rsdt && n_tables < MAX_TABLES; i++)
            tables[n_tables++] = rd32(rsdt + SDT_HEADER + 4 * i);
        return;
    }
    uint64_t xsdt64 = rd64(rsdp + 24);
    if (!test_check(xsdt64 && xsdt64 < 0x100000000ull, "RSDP XsdtAddress 0x%llx is below 4 GiB (ACPI 6.0 5.2.5.3)",
                    xsdt64))
        return;
    uint32_t xsdt = (uint32_t)xsdt64;
    uint32_t xlen = check_sdt(xsdt, "XSDT", "5.2.8");
    unsigned n_xsdt = xlen ? (xlen - SDT_HEADER) / 8 : 0;
    bool same = n_xsdt == n_rsdt;
    for (unsigned i = 0; i < n_xsdt && n_tables < MAX_TABLES; i++) {
        uint64_t t = rd64(xsdt + SDT_HEADER + 8 * i);
        tables[n_tables++] = (uint32_t)t;
        if (t >= 0x100000000ull || (i < n_rsdt && rd32(rsdt + SDT_HEADER + 4 * i) != t))
            same = false;
    }
    test_check(n_xsdt > 0 && same, "RSDT and XSDT list the same %u tables (ACPI 6.0 5.2.7, 5.2.8)", n_xsdt);
}

static uint32_t find_table(const char *sig)
{
    for (unsigned i = 0; i < n_tables; i++)
        if (tables[i] && sig_is(tables[i], sig))
            return tables[i];
    return 0;
}

static void check_rsdp(uint32_t rsdp)
{
    test_check(sum8(rsdp, 20) == 0, "RSDP checksum: its first 20 bytes sum to 0 (ACPI 6.0 5.2.5.3)");
    uint8_t rev = rd8(rsdp + 15);
    uint32_t len = rev >= 2 ? rd32(rsdp + 20) : 20;
    if (rev >= 2)
        test_check(len >= 36 && sum8(rsdp, len) == 0,
                   "RSDP revision %u: extended checksum, its %u bytes sum to 0 (ACPI 6.0 5.2.5.3)", rev, len);
    remember(rsdp, len, "RSDP");
}

/* 5.2.9: FACS at FIRMWARE_CTRL (or X_FIRMWARE_CTRL), DSDT at DSDT (or X_DSDT). */
static void check_fadt(void)
{
    uint32_t fadt = find_table("FACP");
    if (!test_check(fadt != 0, "FADT (\"FACP\") listed in the XSDT (ACPI 6.0 5.2.9)"))
        return;
    uint32_t len = check_sdt(fadt, "FACP", "5.2.9");
    if (!len)
        return;
    uint32_t facs = rd32(fadt + 36), dsdt = rd32(fadt + 40);
    if (len >= 140 && rd64(fadt + 132))
        facs = (uint32_t)rd64(fadt + 132);
    if (len >= 148 && rd64(fadt + 140))
        dsdt = (uint32_t)rd64(fadt + 140);
    if (test_check(facs && sig_is(facs, "FACS") && rd32(facs + 4) >= 64 && facs % 64 == 0,
                   "FACS at 0x%x: signature \"FACS\", length %u >= 64, 64-byte aligned (ACPI 6.0 5.2.10)",
                   facs, facs ? rd32(facs + 4) : 0))
        remember(facs, rd32(facs + 4), "FACS");
    check_sdt(dsdt, "DSDT", "5.2.11.1");
}

/* 5.2.12: one enabled processor local APIC, the IOAPIC at 0xFEC00000. */
static void check_madt(void)
{
    uint32_t madt = find_table("APIC");
    if (!test_check(madt != 0, "MADT (\"APIC\") listed in the XSDT (ACPI 6.0 5.2.12)"))
        return;
    uint32_t len = check_sdt(madt, "APIC", "5.2.12");
    if (!len)
        return;
    test_check(rd32(madt + 36) == LAPIC_ADDR, "MADT Local Interrupt Controller Address 0x%x is 0x%x "
               "(ACPI 6.0 5.2.12)", rd32(madt + 36), LAPIC_ADDR);
    unsigned lapics = 0, ioapics = 0;
    uint32_t ioapic_addr = 0;
    bool well_formed = true;
    for (uint32_t p = madt + 44; p < madt + len;) {
        uint8_t type = rd8(p), elen = rd8(p + 1);
        if (elen < 2 || p + elen > madt + len) {
            well_formed = false;
            break;
        }
        if (type == 0 && elen >= 8 && (rd32(p + 4) & 1))
            lapics++;
        if (type == 1 && elen >= 12) {
            ioapics++;
            ioapic_addr = rd32(p + 4);
        }
        p += elen;
    }
    test_check(well_formed, "MADT interrupt controller structures fill the table exactly (ACPI 6.0 5.2.12)");
    test_check(lapics == 1, "MADT lists %u enabled Processor Local APIC, one per vCPU (ACPI 6.0 5.2.12.2)", lapics);
    test_check(ioapics == 1 && ioapic_addr == IOAPIC_ADDR,
               "MADT lists %u I/O APIC, at 0x%x (ACPI 6.0 5.2.12.3)", ioapics, ioapic_addr);
}

static void check_acpi(void)
{
    uint32_t rsdp = find_rsdp();
    if (!test_check(rsdp != 0, "RSDP \"RSD PTR \" at 0x%x, found by scanning 0xE0000-0xFFFFF on 16-byte "
                    "boundaries (ACPI 6.0 5.2.5.1)", rsdp))
        return;
    check_rsdp(rsdp);
    check_root_tables(rsdp);
    check_fadt();
    check_madt();
}

/* ---- SMBIOS. */

/* The 32-bit ("_SM_", 5.2.1) or 64-bit ("_SM3_", 5.2.2) entry point with a good checksum. */
static uint32_t find_smbios(void)
{
    for (uint32_t a = SMBIOS_AREA; a < AREA_END; a += 16) {
        if (sig_is(a, "_SM3_") && rd8(a + 6) >= 24 && sum8(a, rd8(a + 6)) == 0)
            return a;
        if (sig_is(a, "_SM_") && rd8(a + 5) >= 0x1F && sum8(a, rd8(a + 5)) == 0)
            return a;
    }
    return 0;
}

/* Walks count structures (6.1.2: formatted area, then strings ended by a double NUL). */
static bool walk_smbios(uint32_t table, uint32_t len, unsigned count)
{
    uint32_t p = table, end = table + len;
    for (unsigned i = 0; i < count; i++) {
        if (p + 4 > end || rd8(p + 1) < 4)
            return false;
        uint8_t type = rd8(p);
        p += rd8(p + 1);
        while (p + 1 < end && (rd8(p) || rd8(p + 1)))
            p++;
        p += 2;
        if (p > end)
            return false;
        if (type == 127)
            return i + 1 == count;
    }
    return false;
}

static void check_smbios(void)
{
    uint32_t ep = find_smbios();
    if (!test_check(ep != 0, "SMBIOS entry point \"_SM_\" or \"_SM3_\" with a good checksum found at 0x%x in "
                    "0xF0000-0xFFFFF on a 16-byte boundary (DSP0134 5.2.1, 5.2.2)", ep))
        return;
    uint32_t table, len;
    unsigned count = 0;
    if (sig_is(ep, "_SM3_")) {
        remember(ep, rd8(ep + 6), "SMBIOS entry point");
        table = (uint32_t)rd64(ep + 16);
        len = rd32(ep + 12);
        test_note("SMBIOS 3 entry point: version %u.%u", rd8(ep + 7), rd8(ep + 8));
    } else {
        remember(ep, rd8(ep + 5), "SMBIOS entry point");
        test_check(sig_is(ep + 16, "_DMI_") && sum8(ep + 16, 15) == 0,
                   "SMBIOS intermediate anchor \"_DMI_\", its 15 bytes sum to 0 (DSP0134 5.2.1)");
        table = rd32(ep + 24);
        len = rd16(ep + 22);
        count = rd16(ep + 28);
        test_note("SMBIOS %u.%u: %u structures, %u bytes at 0x%x", rd8(ep + 6), rd8(ep + 7), count, len, table);
    }
    remember(table, len, "SMBIOS structure table");
    if (count)
        test_check(walk_smbios(table, len, count), "SMBIOS structure table: %u structures, the last of type "
                   "127 (End-of-Table), within its %u bytes (DSP0134 2.8 6.1.2, 7.45)", count, len);
}

/* ---- The Multiboot memory map. */

static void check_not_available(const struct mb_info *mbi)
{
    if (!test_check(mbi->flags & MB_INFO_MMAP, "Multiboot information has a memory map (Multiboot 3.3, flags bit 6)"))
        return;
    for (unsigned i = 0; i < n_found; i++) {
        const struct mb_mmap_entry *over = NULL;
        for (const struct mb_mmap_entry *e = mb_mmap_next(mbi, NULL); e; e = mb_mmap_next(mbi, e))
            if (e->type == MB_MMAP_AVAILABLE && e->base < found[i].end && found[i].start < e->base + e->length)
                over = e;
        test_check(!over, "%s at 0x%x-0x%x is not in RAM the Multiboot memory map calls available "
                   "(Multiboot 3.3 mmap type 1; ACPI 6.0 15)", found[i].what, found[i].start, found[i].end);
    }
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    test_title("firmware: ACPI and SMBIOS tables in the BIOS area of a Multiboot guest");
    check_acpi();
    check_smbios();
    check_not_available(mbi);
    test_end();
}

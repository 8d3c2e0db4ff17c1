/* Guest test cr: control-register writes get the hardware's answer, and instructions the CPU
 * does not offer #UD (issue 10, item 1). SDM Vol. 2B "MOV-Move to/from Control Registers",
 * CLTS and LMSW; Vol. 3A 2.5 (CR0 and CR4 bits); Vol. 3C 25.3 (INVPCID and XSAVES #UD when
 * their VM-execution controls are off, as CPUID says they are absent). A wrong answer used to
 * be a VM-entry failure for some of these (CR4.PCIDE outside IA-32e mode). */
#include "guest.h"

#define CR0_PE   (1u << 0)
#define CR0_TS   (1u << 3)
#define CR0_WP   (1u << 16)
#define CR0_AM   (1u << 18)
#define CR0_NW   (1u << 29)
#define CR0_CD   (1u << 30)
#define CR4_PCIDE   (1u << 17)
#define CR4_OSXSAVE (1u << 18)
#define VEC_UD 6

static uint32_t cr_value;

static void do_write_cr0(void *arg) { (void)arg; write_cr0(cr_value); }
static void do_write_cr4(void *arg) { (void)arg; write_cr4(cr_value); }

static void check_cr_write(bool cr4, uint32_t value, int want, const char *what)
{
    uint32_t before = cr4 ? read_cr4() : read_cr0();
    cr_value = value;
    int vec = guest_try(cr4 ? do_write_cr4 : do_write_cr0, NULL);
    uint32_t after = cr4 ? read_cr4() : read_cr0();
    if (want >= 0)
        test_check(vec == want && after == before, "MOV to CR%d 0x%08x (%s): %s, CR%d stays 0x%08x "
                   "(got vector %d, 0x%08x)", cr4 ? 4 : 0, value, what, exception_name((unsigned)want),
                   cr4 ? 4 : 0, before, vec, after);
    else
        test_check(vec < 0, "MOV to CR%d 0x%08x (%s): no fault (got vector %d)", cr4 ? 4 : 0,
                   value, what, vec);
}

static void do_invpcid(void *arg)
{
    static struct { uint64_t pcid, addr; } desc __attribute__((aligned(16)));
    (void)arg;
    uint32_t type = 2;                      /* all contexts, including globals */
    __asm__ volatile(".byte 0x66, 0x0f, 0x38, 0x82, 0x01" : : "c"(type), "a"(&desc) : "memory");
}

static void do_xsaves(void *arg)
{
    static uint8_t area[4096] __attribute__((aligned(64)));
    (void)arg;
    __asm__ volatile("xsaves (%0)" : : "r"(area), "a"(3), "d"(0) : "memory");
}

static void check_absent(const char *name, void (*fn)(void *), bool cpuid_says)
{
    int vec = guest_try(fn, NULL);
    test_check(!cpuid_says && vec == VEC_UD, "%s, which CPUID does not offer: #UD (got vector %d)",
               name, vec);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("cr: MOV to CR0/CR4, CLTS and LMSW as the CPU does them; absent instructions #UD");

    uint32_t cr0 = read_cr0(), cr4 = read_cr4();
    check_cr_write(true, cr4 | CR4_PCIDE, VEC_GP, "PCIDE outside IA-32e mode");
    check_cr_write(true, cr4 | (1u << 13), VEC_GP, "VMXE: VMX is hidden");
    check_cr_write(true, cr4 | (1u << 31), VEC_GP, "reserved bit 31");
    check_cr_write(false, (cr0 & ~CR0_PE) | CR0_PG, VEC_GP, "PG without PE");
    check_cr_write(false, cr0 | CR0_NW, VEC_GP, "NW without CD");

    /* Reserved bits of CR0[31:0] are ignored, not refused. */
    cr_value = cr0 | (1u << 6);
    int vec = guest_try(do_write_cr0, NULL);
    test_check(vec < 0 && !(read_cr0() & (1u << 6)), "MOV to CR0 with reserved bit 6: ignored "
               "(vector %d, CR0 0x%08x)", vec, read_cr0());

    /* WP and AM change without an exit; CLTS and LMSW exit and must keep them. */
    write_cr0(cr0 | CR0_WP | CR0_AM | CR0_TS);
    __asm__ volatile("clts");
    uint32_t after = read_cr0();
    test_check((after & (CR0_WP | CR0_AM)) == (CR0_WP | CR0_AM) && !(after & CR0_TS),
               "CLTS clears TS and keeps WP and AM (CR0 0x%08x)", after);
    uint16_t msw = (uint16_t)(after | CR0_TS);
    __asm__ volatile("lmsw %0" : : "r"(msw));
    after = read_cr0();
    test_check((after & (CR0_WP | CR0_AM | CR0_TS)) == (CR0_WP | CR0_AM | CR0_TS),
               "LMSW sets TS and keeps WP and AM (CR0 0x%08x)", after);
    write_cr0(cr0);

    /* PAE paging: a present PDPTE with a reserved bit makes the MOV to CR0 that enables
     * paging #GP (SDM 4.4.1, Table 4-8); it used to reach VM entry and stop the guest. */
    static uint64_t pdpt[4] __attribute__((aligned(32)));
    static uint64_t pd[512] __attribute__((aligned(4096)));
    pdpt[0] = (uint32_t)pd | 1 | (1u << 1);
    write_cr3((uint32_t)pdpt);
    write_cr4(read_cr4() | (1u << 5));
    check_cr_write(false, read_cr0() | CR0_PG, VEC_GP, "PG with PAE and a reserved PDPTE bit");
    write_cr4(read_cr4() & ~(1u << 5));

    uint32_t a, b, c, d;
    cpuid(7, 0, &a, &b, &c, &d);
    check_absent("INVPCID", do_invpcid, b & (1u << 10));
    cpuid(1, 0, &a, &b, &c, &d);
    if (c & (1u << 26)) {
        write_cr4(read_cr4() | CR4_OSXSAVE);
        cpuid(0xD, 1, &a, &b, &c, &d);
        check_absent("XSAVES", do_xsaves, a & (1u << 3));
        write_cr4(read_cr4() & ~CR4_OSXSAVE);
    }
    test_end();
}

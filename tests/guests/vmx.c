/* Guest test vmx: VMX instructions raise #UD and CR4.VMXE cannot be set (no nested VT-x). */
#include "guest.h"

static uint8_t vmx_region[4096] __attribute__((aligned(4096)));
static uint64_t region_pa;

struct invept_desc {
    uint64_t eptp;
    uint64_t reserved;
};

static void do_vmxon(void *arg)
{
    (void)arg;
    __asm__ volatile("vmxon %0" : : "m"(region_pa) : "cc", "memory");
}

static void do_vmxoff(void *arg)
{
    (void)arg;
    __asm__ volatile("vmxoff" : : : "cc", "memory");
}

static void do_vmread(void *arg)
{
    (void)arg;
    uint32_t field = 0x681e, value = 0;     /* GUEST_RIP */
    __asm__ volatile("vmread %1, %0" : "=r"(value) : "r"(field) : "cc");
    (void)value;
}

static void do_vmptrld(void *arg)
{
    (void)arg;
    __asm__ volatile("vmptrld %0" : : "m"(region_pa) : "cc", "memory");
}

static void do_invept(void *arg)
{
    (void)arg;
    static struct invept_desc desc;
    uint32_t type = 2;                      /* all-context */
    __asm__ volatile("invept %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

static void do_set_vmxe(void *arg)
{
    (void)arg;
    write_cr4(read_cr4() | CR4_VMXE);
}

static void expect_vector(const char *what, void (*fn)(void *), int want)
{
    int vec = guest_try(fn, NULL);
    if (vec == want)
        test_pass("%s raises %s", what, exception_name(want));
    else if (vec < 0)
        test_fail("%s did not fault (want %s)", what, exception_name(want));
    else
        test_fail("%s raised %s (vector %d), want %s", what, exception_name(vec), vec,
                  exception_name(want));
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    region_pa = (uint32_t)vmx_region;
    test_title("vmx: VMX instructions #UD, CR4.VMXE cannot be set");

    test_check(!(read_cr4() & CR4_VMXE), "CR4.VMXE starts clear (cr4=0x%08x)", read_cr4());
    expect_vector("VMXON", do_vmxon, VEC_UD);
    expect_vector("VMXOFF", do_vmxoff, VEC_UD);
    expect_vector("VMREAD", do_vmread, VEC_UD);
    expect_vector("VMPTRLD", do_vmptrld, VEC_UD);
    expect_vector("INVEPT", do_invept, VEC_UD);
    expect_vector("setting CR4.VMXE (bit 13)", do_set_vmxe, VEC_GP);
    uint32_t cr4 = read_cr4();
    test_check(!(cr4 & CR4_VMXE), "CR4.VMXE still clear afterwards (cr4=0x%08x)", cr4);
    if (cr4 & CR4_VMXE)
        write_cr4(cr4 & ~CR4_VMXE);
    test_end();
}

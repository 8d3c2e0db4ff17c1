/* Guest test cpuid: the hypervisor hides VMX, announces itself, and leaves basic features alone. */
#include "guest.h"

static const char *const known_vendors[] = {
    "GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "  Shanghai  ",
};

static void regs_to_string(char out[13], uint32_t r0, uint32_t r1, uint32_t r2)
{
    memcpy(out, &r0, 4);
    memcpy(out + 4, &r1, 4);
    memcpy(out + 8, &r2, 4);
    out[12] = '\0';
    for (int i = 0; i < 12; i++)
        if (out[i] && (out[i] < 0x20 || out[i] > 0x7e))
            out[i] = '?';
}

static void check_vendor(void)
{
    uint32_t max, b, c, d;
    char vendor[13];
    cpuid(0, 0, &max, &b, &c, &d);
    regs_to_string(vendor, b, d, c);
    bool known = false;
    for (size_t i = 0; i < sizeof(known_vendors) / sizeof(known_vendors[0]); i++)
        if (memcmp(vendor, known_vendors[i], 12) == 0)
            known = true;
    test_check(known, "leaf 0 vendor \"%s\" is a known vendor", vendor);
    test_check(max >= 1, "leaf 0 max basic leaf 0x%x >= 1", max);
}

static void check_leaf1(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    test_check(!(c & CPUID1_ECX_VMX), "leaf 1 ECX.VMX (bit 5) is clear (ecx=0x%08x)", c);
    test_check(c & CPUID1_ECX_HYPERVISOR, "leaf 1 ECX bit 31 (hypervisor present) is set (ecx=0x%08x)", c);
    test_check((d & CPUID1_EDX_FPU) && (d & CPUID1_EDX_TSC),
               "leaf 1 EDX still reports FPU and TSC (edx=0x%08x)", d);
}

static void check_hypervisor_leaf(void)
{
    static const char want[12] = { 'a', 'n', 'f', 'i', 't', 'r', 'i', 'o', 'n', 0, 0, 0 };
    uint32_t a, b, c, d;
    char raw[12], shown[13];
    cpuid(0x40000000, 0, &a, &b, &c, &d);
    memcpy(raw, &b, 4);
    memcpy(raw + 4, &c, 4);
    memcpy(raw + 8, &d, 4);
    regs_to_string(shown, b, c, d);
    test_check(a >= 0x40000000 && a < 0x40010000,
               "leaf 0x40000000 EAX=0x%08x is a hypervisor max leaf", a);
    test_check(memcmp(raw, want, sizeof(want)) == 0,
               "leaf 0x40000000 signature \"%s\" is \"anfitrion\" NUL-padded", shown);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("cpuid: VMX hidden, hypervisor leaves, basic features kept");
    check_vendor();
    check_leaf1();
    check_hypervisor_leaf();
    test_end();
}

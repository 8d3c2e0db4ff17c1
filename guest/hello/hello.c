/* hello: the smallest useful guest; says what CPU and memory it sees, then halts. */
#include "guest.h"

static void report_hypervisor(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    bool vmx = c & CPUID1_ECX_VMX;
    if (c & CPUID1_ECX_HYPERVISOR) {
        char sig[13];
        cpuid(0x40000000, 0, &a, &b, &c, &d);
        memcpy(sig, &b, 4);
        memcpy(sig + 4, &c, 4);
        memcpy(sig + 8, &d, 4);
        sig[12] = '\0';
        for (int i = 0; i < 12; i++)        /* NUL padding ends it; other bytes must print */
            if (sig[i] && (sig[i] < 0x20 || sig[i] > 0x7e))
                sig[i] = '?';
        printf("hypervisor: present (%s)\n", sig);
    } else {
        printf("hypervisor: none\n");
    }
    printf("vmx: %s\n", vmx ? "visible" : "hidden");
}

static void report_memory(const struct mb_info *mbi)
{
    if (mbi->flags & MB_INFO_MMAP) {
        printf("memory: %llu KiB (lower %u KiB, upper %u KiB)\n",
               mb_usable_bytes(mbi) >> 10, mbi->mem_lower, mbi->mem_upper);
        for (const struct mb_mmap_entry *e = mb_mmap_next(mbi, NULL); e; e = mb_mmap_next(mbi, e))
            printf("memory: map 0x%08llx-0x%08llx type %u\n",
                   e->base, e->base + e->length - 1, e->type);
    } else if (mbi->flags & MB_INFO_MEMORY) {
        printf("memory: %llu KiB (lower %u KiB, upper %u KiB)\n",
               mb_usable_bytes(mbi) >> 10, mbi->mem_lower, mbi->mem_upper);
    } else {
        printf("memory: unknown (no Multiboot memory information)\n");
    }
}

/* The Multiboot modules the boot loader gave us (module2 ... for=NAME under anfitrion). */
static void report_modules(const struct mb_info *mbi)
{
    if (!(mbi->flags & MB_INFO_MODS) || mbi->mods_count == 0) {
        printf("modules: none\n");
        return;
    }
    const struct mb_module_entry *m = (const struct mb_module_entry *)mbi->mods_addr;
    for (uint32_t i = 0; i < mbi->mods_count; i++, m++) {
        const uint8_t *p = (const uint8_t *)m->mod_start;
        uint32_t len = m->mod_end - m->mod_start;
        printf("module %u: \"%s\" at 0x%x, %u bytes", i, m->string ? (const char *)m->string : "",
               m->mod_start, len);
        if (len >= 4)
            printf(", starts %02x %02x %02x %02x", p[0], p[1], p[2], p[3]);
        printf("\n");
    }
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    printf("hello from a guest\n");
    report_hypervisor();
    report_memory(mbi);
    printf("cmdline: \"%s\"\n", mb_cmdline(mbi));
    report_modules(mbi);
    printf("halting\n");
}

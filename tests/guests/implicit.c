/*
 * Guest test implicit: the CPU's own accesses to device memory are not the instruction's.
 *
 * When a page table lies in device memory (here the xAPIC page) the CPU's page walk reads
 * it, and when an IDT gate lies there, event delivery does. Under VT-x both exits look like
 * an access to the device, but neither is an access the instruction at RIP makes, so the
 * hypervisor must not decode and carry out that instruction (SDM Vol. 3C 27.2.1 Table 28-7:
 * exit qualification bit 8 clear for a paging-structure access; 27.2.4: IDT-vectoring
 * information valid during delivery). What the guest gets instead is what an entry of
 * all-ones (the value of memory of nothing on a PC) gives: a #PF with the reserved-bit flag
 * for the walk (SDM Vol. 3A 4.7), and for the gate a #GP with the IDT error code (vector,
 * IDT bit; 6.13), delivered through the part of the IDT that is RAM.
 */
#include "guest.h"

#define PTE_P  1u
#define PTE_RW 2u
#define PTE_US 4u
#define PF_P    1u
#define PF_W    2u
#define PF_RSVD 8u

#define WALK_BASE   0x02000000u     /* a 4 MiB region whose page table is the xAPIC page */
#define NOTHING_PT  0xe0000000u     /* no RAM and no device there */
#define IDT_LOW     0x03000000u     /* two linear pages for the IDT: RAM, then the xAPIC page */
#define IDT_HIGH    (IDT_LOW + 4096)
#define TEST_VECTOR 0x30

static uint8_t idt_page[4096] __attribute__((aligned(4096)));
static volatile uint32_t sink;

static void load(void *p)
{
    sink = *(volatile uint32_t *)p;
}

static void store(void *p)
{
    *(volatile uint32_t *)p = 0x50;
}

static void check_walk(const char *what, void (*fn)(void *), uint32_t addr, uint32_t want)
{
    int vec = guest_try(fn, (void *)addr);
    uint32_t err = guest_try_error(), cr2 = read_cr2();
    test_check(vec == VEC_PF && err == want && cr2 == addr,
               "%s at 0x%08x: #PF error 0x%x (got %s error 0x%x CR2 0x%08x)", what, addr, want,
               vec < 0 ? "nothing" : exception_name((unsigned)vec), err, cr2);
}

/* A page-directory entry pointing at the xAPIC page, then at nothing. The store's PTE sits
 * at offset 0x80 of the page table: the TPR, which must not change. */
static void check_page_walk(void)
{
    *paging_pde(WALK_BASE) = LAPIC_DEFAULT_BASE | PTE_P | PTE_RW | PTE_US;
    paging_flush();
    check_walk("a load through a page table in the xAPIC page", load, WALK_BASE + 0x10, PF_P | PF_RSVD);
    check_walk("a store through it", store, WALK_BASE + 0x20000, PF_P | PF_W | PF_RSVD);
    write_cr0(read_cr0() & ~CR0_PG);    /* the xAPIC page is not in the map: look with paging off */
    uint32_t tpr = lapic_read(LAPIC_TPR);
    write_cr0(read_cr0() | CR0_PG);
    test_check(tpr == 0, "the page walk did not write the APIC (TPR 0x%x)", tpr);
    *paging_pde(WALK_BASE) = NOTHING_PT | PTE_P | PTE_RW | PTE_US;
    paging_flush();
    check_walk("a load through a page table where nothing is", load, WALK_BASE + 0x3000, PF_P | PF_RSVD);
}

static void software_interrupt(void *unused)
{
    (void)unused;
    __asm__ volatile("int %0" : : "i"(TEST_VECTOR));
}

struct __attribute__((packed)) table_reg {
    uint16_t limit;
    uint32_t base;
};

/* An IDT across two pages: gates 0-15 in RAM, 16-255 in the xAPIC page. INT 0x30 reads its
 * gate from the APIC: #GP(0x30 << 3 | 2), through the #GP gate in RAM. */
static void check_delivery(void)
{
    struct table_reg old, idt = { 256 * 8 - 1, IDT_HIGH - 16 * 8 };
    __asm__ volatile("sidt %0" : "=m"(old));
    memcpy(idt_page + 4096 - 16 * 8, (void *)old.base, 16 * 8);
    *paging_pte(IDT_LOW) = (uint32_t)idt_page | PTE_P | PTE_RW;
    *paging_pte(IDT_HIGH) = LAPIC_DEFAULT_BASE | PTE_P | PTE_RW;
    paging_flush();
    __asm__ volatile("lidt %0" : : "m"(idt));
    int vec = guest_try(software_interrupt, 0);
    uint32_t err = guest_try_error();
    __asm__ volatile("lidt %0" : : "m"(old));
    test_check(vec == VEC_GP && err == (TEST_VECTOR << 3 | 2),
               "INT 0x%x with its gate in the xAPIC page: #GP error 0x%x (got %s error 0x%x)", TEST_VECTOR,
               TEST_VECTOR << 3 | 2, vec < 0 ? "nothing" : exception_name((unsigned)vec), err);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("implicit: page walks and event delivery into device memory");
    lapic_write(LAPIC_TPR, 0);
    paging_identity_map_user();
    check_page_walk();
    check_delivery();
    test_end();
}

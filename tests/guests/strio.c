/*
 * Guest test strio: string I/O (INS/OUTS and their REP forms) obeys the guest's own page
 * protections, as the CPU's INS and OUTS do (SDM Vol. 2B INS/OUTS "Protected Mode
 * Exceptions"; Vol. 3A 4.6 access rights, 4.7 page-fault error codes, 4.8 accessed and
 * dirty flags; Vol. 3B 18.3.1.4 single-step on REP string instructions).
 *
 * anfitrion emulates these instructions (they exit, and the hypervisor moves the data), so
 * every check the CPU would make is the hypervisor's to make. A ring-3 program given the
 * ports (IOPL=3) must not write a supervisor page with INSB nor read one with OUTSB, nor
 * write a read-only page; ring 0 must not write a read-only page while CR0.WP=1. Each gets
 * #PF with the CPU's error code and CR2, and the port is untouched. The 64-bit rules
 * (canonical RDI, ES base ignored, addr32) are in tests/unit/test_exit_io.c.
 */
#include "guest.h"

#define UCODE_SEL 0x1b              /* DPL 3 code, RPL 3 */
#define UDATA_SEL 0x23
#define TSS_SEL   0x28
#define EFLAGS_IOPL3 (3u << 12)
#define CR0_WP    (1u << 16)
#define PTE_P  1u
#define PTE_RW 2u
#define PTE_US 4u
#define PTE_A  (1u << 5)
#define PTE_D  (1u << 6)
#define PF_P 1u
#define PF_W 2u
#define PF_U 4u

#define SCRATCH (UART_COM1 + UART_SCR)  /* a port that keeps what is written to it */

static uint64_t gdt[6] __attribute__((aligned(8)));
static struct tss32 tss __attribute__((aligned(128)));
static uint8_t pages[3][4096] __attribute__((aligned(4096)));
enum { USER_RW, SUPERVISOR, USER_RO };
static uint8_t kstack[4096] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));

static uint32_t *pte_of(const void *p)
{
    return paging_pte((uint32_t)p);
}

static void set_wp(bool on)
{
    write_cr0(on ? read_cr0() | CR0_WP : read_cr0() & ~CR0_WP);
}

/* A GDT with DPL 3 segments and a TSS for the way back to ring 0; paging with every page
 * user-accessible and writable but the three test pages, which get their own rights. */
static void setup(void)
{
    gdt[1] = gdt_seg_desc(0, 0xFFFFF, 0x9A, 0xC);
    gdt[2] = gdt_seg_desc(0, 0xFFFFF, 0x92, 0xC);
    gdt[3] = gdt_seg_desc(0, 0xFFFFF, 0xFA, 0xC);
    gdt[4] = gdt_seg_desc(0, 0xFFFFF, 0xF2, 0xC);
    tss.ss0 = GDT_DATA_SEL;
    tss.esp0 = (uint32_t)(kstack + sizeof kstack);
    tss.iomap_base = sizeof tss;    /* no bitmap: IOPL decides */
    gdt[5] = gdt_seg_desc((uint32_t)&tss, sizeof tss - 1, 0x89, 0);
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr = { sizeof gdt - 1, (uint32_t)gdt };
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x08, $1f\n1:\n"
                     "mov %1, %%ds; mov %1, %%es; mov %1, %%ss\n"
                     "ltr %w2"
                     : : "m"(gdtr), "r"(GDT_DATA_SEL), "r"(TSS_SEL) : "memory");
    paging_identity_map_user();
    *pte_of(pages[SUPERVISOR]) &= ~PTE_US;
    *pte_of(pages[USER_RO]) &= ~PTE_RW;
    paging_flush();
}

/* What ring 3 runs: one string instruction, then HLT, whose #GP says it completed. */
extern char user_insb[], user_outsb[];
__asm__(".globl user_insb\nuser_insb:\n rep insb\n hlt\n"
        ".globl user_outsb\nuser_outsb:\n rep outsb\n hlt\n");

struct call { void *eip; uint32_t edi, esi, ecx; };

static void to_ring3(void *arg)
{
    struct call *c = arg;
    __asm__ volatile("mov %w[ds], %%ds\n mov %w[ds], %%es\n"
                     "pushl %[ds]\n pushl %[esp]\n pushl %[fl]\n pushl %[cs]\n pushl %[eip]\n iret"
                     : : [ds] "a"(UDATA_SEL), [esp] "b"(ustack + sizeof ustack), [fl] "i"(EFLAGS_IOPL3 | 2),
                         [cs] "i"(UCODE_SEL), [eip] "m"(c->eip), "D"(c->edi), "S"(c->esi), "c"(c->ecx),
                         "d"(SCRATCH)
                     : "memory");
}

/* Runs the string instruction at CPL 3: the vector that ended it (13 from the HLT: it
 * completed), its error code in *err. */
static int ring3(void *eip, void *edi, void *esi, uint32_t ecx, uint32_t *err)
{
    struct call c = { eip, (uint32_t)edi, (uint32_t)esi, ecx };
    int vec = guest_try(to_ring3, &c);
    __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(GDT_DATA_SEL));
    *err = guest_try_error();
    return vec;
}

static void check_fault(const char *what, int vec, uint32_t err, uint32_t want_err, const void *addr)
{
    uint32_t fault_addr = read_cr2();
    test_check(vec == VEC_PF && err == want_err && fault_addr == (uint32_t)addr,
               "%s: #PF error 0x%x at 0x%x (got %s error 0x%x CR2 0x%x)", what, want_err,
               (uint32_t)addr, vec < 0 ? "nothing" : exception_name((unsigned)vec), err, fault_addr);
}

static void check_ring3(void)
{
    uint32_t err;
    int vec;
    outb(SCRATCH, 0xA5);
    vec = ring3(user_insb, pages[SUPERVISOR] + 16, 0, 1, &err);
    check_fault("ring-3 INSB into a supervisor page", vec, err, PF_P | PF_W | PF_U, pages[SUPERVISOR] + 16);
    test_check(pages[SUPERVISOR][16] == 0, "the supervisor page kept its byte (0x%02x)", pages[SUPERVISOR][16]);

    pages[SUPERVISOR][32] = 0x77;
    vec = ring3(user_outsb, 0, pages[SUPERVISOR] + 32, 1, &err);
    check_fault("ring-3 OUTSB from a supervisor page", vec, err, PF_P | PF_U, pages[SUPERVISOR] + 32);
    uint8_t s = inb(SCRATCH);
    test_check(s == 0xA5, "the port did not see the supervisor byte (scratch 0x%02x)", s);

    vec = ring3(user_insb, pages[USER_RO] + 8, 0, 1, &err);
    check_fault("ring-3 INSB into a read-only page", vec, err, PF_P | PF_W | PF_U, pages[USER_RO] + 8);

    *pte_of(pages[USER_RW]) &= ~(PTE_A | PTE_D);
    paging_flush();
    vec = ring3(user_insb, pages[USER_RW] + 8, 0, 1, &err);
    test_check(vec == VEC_GP && pages[USER_RW][8] == 0xA5,
               "ring-3 INSB into its own page completes (%s, byte 0x%02x)",
               vec < 0 ? "nothing" : exception_name((unsigned)vec), pages[USER_RW][8]);
    uint32_t pte = *pte_of(pages[USER_RW]);
    test_check((pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "it set the page's accessed and dirty flags (PTE 0x%x)", pte);

    /* REP INSB of 8 from 4 bytes before the supervisor page: 4 land, then #PF at its start. */
    memset(pages[USER_RW] + 4092, 0, 4);
    vec = ring3(user_insb, pages[USER_RW] + 4092, 0, 8, &err);
    check_fault("ring-3 REP INSB running into a supervisor page", vec, err, PF_P | PF_W | PF_U, pages[SUPERVISOR]);
    int landed = 0;
    for (int i = 4092; i < 4096; i++)
        landed += pages[USER_RW][i] == 0xA5;
    test_check(landed == 4 && pages[SUPERVISOR][0] == 0, "the 4 elements before it completed (%d), none after", landed);
}

static void ring0_insb(void *arg)
{
    __asm__ volatile("insb" : "+D"(arg) : "d"(SCRATCH) : "memory");
}

static void check_ring0(void)
{
    set_wp(true);
    int vec = guest_try(ring0_insb, pages[USER_RO] + 100);
    check_fault("ring-0 INSB into a read-only page with CR0.WP=1", vec, guest_try_error(), PF_P | PF_W,
                pages[USER_RO] + 100);
    set_wp(false);
    vec = guest_try(ring0_insb, pages[USER_RO] + 100);
    test_check(vec < 0 && pages[USER_RO][100] == 0xA5, "with CR0.WP=0 it writes (%s, byte 0x%02x)",
               vec < 0 ? "no fault" : exception_name((unsigned)vec), pages[USER_RO][100]);
}

/* Single step: the #DB handler records ECX at each trap. */
volatile uint32_t db_count, db_ecx[16];
extern char db_stub[];
__asm__(".globl db_stub\ndb_stub:\n"
        " pushl %eax\n movl db_count, %eax\n andl $15, %eax\n movl %ecx, db_ecx(,%eax,4)\n"
        " incl db_count\n popl %eax\n iret\n");

static void check_single_step(void)
{
    idt_set_raw_gate(1, (void (*)(void))db_stub);
    db_count = 0;
    uint32_t edi = (uint32_t)(pages[USER_RW] + 200), ecx = 3;
    __asm__ volatile("pushf; orl $0x100, (%%esp); popf\n"
                     "rep insb\n"
                     "pushf; andl $~0x100, (%%esp); popf"
                     : "+D"(edi), "+c"(ecx) : "d"(SCRATCH) : "memory", "cc");
    /* Traps: one after each of the 3 iterations, then after PUSHF, AND and POPF. */
    test_check(db_count == 6 && db_ecx[0] == 2 && db_ecx[1] == 1 && db_ecx[2] == 0,
               "REP INSB under TF traps after each iteration (%u traps, ECX %u %u %u)", db_count,
               db_ecx[0], db_ecx[1], db_ecx[2]);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("strio: INS/OUTS obey the guest's page protections");
    setup();
    check_ring3();
    check_ring0();
    check_single_step();
    test_end();
}

/* Guest test privcheck: checks the CPU makes that the hypervisor used to skip (issue 20, item 5).
 * - VMCALL exits at any CPL (SDM Vol. 3C 26.1.2): from CPL 3 the hypercall is refused, RAX = -1
 *   (KVM's -KVM_EPERM), and RIP advances.
 * - MOV DR exits before the CPU's privilege check (Vol. 3C 26.1.1 footnote, 26.1.3 "MOV DR"):
 *   at CPL 3 it must still #GP(0) (Vol. 2B MOV DR).
 * - DR7.GD: the next MOV to or from a debug register faults with #DB, RIP on the MOV, DR6.BD set
 *   and DR7.GD cleared for the handler (Vol. 3B 18.2.4, 18.3.1.2); at CPL 3 the #GP comes first.
 * - In 64-bit mode a 1 in bits 63:32 of DR6 or DR7 is #GP(0) (Vol. 2B MOV DR).
 * - A CR4 bit whose feature CPUID does not report is reserved: MOV to CR4 #GPs (Vol. 2B MOV CR,
 *   Vol. 3A 2.5). MCE is one: CPUID.1:EDX.MCE reads 0.
 * - CR8 is the local APIC's TPR: MOV to CR8 sets TPR[7:4], MOV from CR8 reads it, and a TPR
 *   written through the xAPIC page shows in CR8 (Vol. 3A 11.8.6.1); lowering it lets a held
 *   interrupt in right after the MOV.
 * - Clearing CR0.PG in 64-bit mode is #GP(0) (Vol. 2B MOV CR); from compatibility mode it
 *   leaves IA-32e mode (Vol. 3A 10.8.5.4).
 * The 64-bit checks run in a small long-mode island (identity-mapped 4 GiB, its own IDT) entered
 * and left from this 32-bit kernel. */
#include "guest.h"

#define VEC_DB      1
#define DR6_BD      (1u << 13)
#define DR7_GD      (1u << 13)
#define CR4_MCE     (1u << 6)

#define UCODE_SEL   0x23        /* ring 3 flat code, RPL 3 */
#define UDATA_SEL   0x2B        /* ring 3 flat data, RPL 3 */
#define TSS_SEL     0x30

/* Null, the runtime's ring-0 code and data (same selectors), 64-bit code (0x18), ring-3 code and
 * data, the TSS (its ESP0 is where a fault at CPL 3 lands). */
static uint64_t gdt[7] __attribute__((aligned(8)));
static struct tss32 tss __attribute__((aligned(128)));
static uint8_t ring0_stack[4096] __attribute__((aligned(16)));
static uint8_t ring3_stack[4096] __attribute__((aligned(16)));

static void descriptors_init(void)
{
    gdt[1] = gdt_seg_desc(0, 0xFFFFF, 0x9A, 0xC);
    gdt[2] = gdt_seg_desc(0, 0xFFFFF, 0x92, 0xC);
    gdt[3] = gdt_seg_desc(0, 0xFFFFF, 0x9A, 0xA);       /* L=1, D=0 */
    gdt[4] = gdt_seg_desc(0, 0xFFFFF, 0xFA, 0xC);
    gdt[5] = gdt_seg_desc(0, 0xFFFFF, 0xF2, 0xC);
    tss.ss0 = GDT_DATA_SEL;
    tss.esp0 = (uint32_t)(ring0_stack + sizeof ring0_stack);
    tss.iomap_base = sizeof tss;                         /* no I/O bitmap: every port #GPs at CPL 3 */
    gdt[6] = gdt_seg_desc((uint32_t)&tss, sizeof tss - 1, 0x89, 0);
    struct { uint16_t limit; uint32_t base; } __attribute__((packed)) p = { sizeof gdt - 1, (uint32_t)gdt };
    __asm__ volatile("lgdt %0\n\tltr %w1" : : "m"(p), "r"(TSS_SEL) : "memory");
}

/* ---- CPL 3 ---------------------------------------------------------------------------------
 * Each piece of ring-3 code ends in UD2: its #UD is the way back to CPL 0, so guest_try returns
 * VEC_UD when the code ran through, or the vector of the fault it took on the way. */

volatile uint32_t user_eax;
extern char u_vmcall[], u_vmcall_sweep[], u_read_dr7[], u_write_dr0[];
__asm__(".text\n"
        "u_vmcall:\n"
        "    xor %eax, %eax\n    vmcall\n    mov %eax, user_eax\n    ud2\n"
        /* Every number 0-1023 (shutdown, reboot, block, console... among them) with arguments
         * that would be good at CPL 0: user_eax = how many did not answer -1. */
        "u_vmcall_sweep:\n"
        "    xor %ebp, %ebp\n    xor %edi, %edi\n"
        "1:  mov %ebp, %eax\n    mov $0x100000, %ebx\n    xor %ecx, %ecx\n    mov $8, %edx\n"
        "    xor %esi, %esi\n    vmcall\n    cmp $-1, %eax\n    je 2f\n    inc %edi\n"
        "2:  inc %ebp\n    cmp $1024, %ebp\n    jb 1b\n    mov %edi, user_eax\n    ud2\n"
        "u_read_dr7:\n"
        "    mov %dr7, %eax\n    mov %eax, user_eax\n    ud2\n"
        "u_write_dr0:\n"
        "    mov $0x5a5a0000, %eax\n    mov %eax, %dr0\n    ud2\n");

static void enter_ring3(void *entry)
{
    __asm__ volatile("mov %w0, %%ds\n\t"
                     "mov %w0, %%es\n\t"
                     "pushl %0\n\t"
                     "pushl %1\n\t"
                     "pushfl\n\t"
                     "pushl %2\n\t"
                     "pushl %3\n\t"
                     "iret"
                     : : "r"((uint32_t)UDATA_SEL), "r"((uint32_t)(ring3_stack + sizeof ring3_stack)),
                       "i"(UCODE_SEL), "r"(entry) : "memory");
}

static int run_ring3(char *entry)
{
    int vec = guest_try(enter_ring3, entry);
    __asm__ volatile("mov %w0, %%ds\n\tmov %w0, %%es" : : "r"((uint32_t)GDT_DATA_SEL));
    return vec;
}

/* ---- debug registers at CPL 0 -------------------------------------------------------------- */

static void write_dr0(uint32_t v) { __asm__ volatile("mov %0, %%dr0" : : "r"(v)); }
static void write_dr6(uint32_t v) { __asm__ volatile("mov %0, %%dr6" : : "r"(v)); }
static void write_dr7(uint32_t v) { __asm__ volatile("mov %0, %%dr7" : : "r"(v)); }
static uint32_t read_dr0(void) { uint32_t v; __asm__ volatile("mov %%dr0, %0" : "=r"(v)); return v; }
static uint32_t read_dr6(void) { uint32_t v; __asm__ volatile("mov %%dr6, %0" : "=r"(v)); return v; }
static uint32_t read_dr7(void) { uint32_t v; __asm__ volatile("mov %%dr7, %0" : "=r"(v)); return v; }

/* guest_try targets whose MOV DR has a known address (a #DB fault reports it). */
void gd_read(void *arg);
void gd_write_dr7(void *arg);
extern char gd_read_insn[], gd_write_insn[];
__asm__(".text\n"
        "gd_read:\n"
        "gd_read_insn:\n    mov %dr0, %eax\n    ret\n"
        "gd_write_dr7:\n    mov 4(%esp), %eax\n"
        "gd_write_insn:\n    mov %eax, %dr7\n    ret\n");

static void check_general_detect(void)
{
    write_dr7(0x400);
    write_dr6(0);
    write_dr0(0x1111);

    write_dr7(0x400 | DR7_GD);
    int vec = guest_try(gd_read, NULL);
    uint32_t eip = guest_try_eip(), dr7 = read_dr7(), dr6 = read_dr6();
    test_check(vec == VEC_DB && eip == (uint32_t)gd_read_insn && (dr6 & DR6_BD) && !(dr7 & DR7_GD),
               "SDM 18.2.4: DR7.GD: MOV from DR0: #DB at the MOV, DR6.BD set, GD cleared "
               "(vector %d, EIP 0x%x want 0x%x, DR6 0x%x, DR7 0x%x)", vec, eip,
               (uint32_t)gd_read_insn, dr6, dr7);

    write_dr6(0);
    write_dr7(0x400 | DR7_GD);
    vec = guest_try(gd_write_dr7, (void *)0x401);
    eip = guest_try_eip(), dr7 = read_dr7(), dr6 = read_dr6();
    test_check(vec == VEC_DB && eip == (uint32_t)gd_write_insn && (dr6 & DR6_BD) && dr7 == 0x400,
               "SDM 18.2.4: DR7.GD: MOV to DR7: #DB at the MOV, nothing written, GD cleared "
               "(vector %d, EIP 0x%x want 0x%x, DR6 0x%x, DR7 0x%x want 0x400)", vec, eip,
               (uint32_t)gd_write_insn, dr6, dr7);

    /* The privilege check comes first: at CPL 3 the MOV is #GP, and GD stays set. */
    write_dr6(0);
    write_dr7(0x400 | DR7_GD);
    vec = run_ring3(u_read_dr7);
    int vec2 = guest_try(gd_read, NULL);           /* GD still set: #DB, and it clears GD */
    test_check(vec == VEC_GP && vec2 == VEC_DB && !(read_dr7() & DR7_GD),
               "SDM Vol. 2B MOV DR: DR7.GD at CPL 3: #GP(0) first, GD still set for the next MOV at "
               "CPL 0 (vector %d, then %d)", vec, vec2);
    write_dr7(0x400);
}

/* ---- CR4 bits and CPUID -------------------------------------------------------------------- */

static uint32_t cr4_value;
static void do_write_cr4(void *arg) { (void)arg; write_cr4(cr4_value); }

static const struct { unsigned bit; uint32_t leaf; char reg; unsigned flag; const char *name; } cr4_bits[] = {
    { 0, 1, 'd', 1, "VME" }, { 1, 1, 'd', 1, "PVI" }, { 2, 1, 'd', 4, "TSD" }, { 3, 1, 'd', 2, "DE" },
    { 4, 1, 'd', 3, "PSE" }, { 5, 1, 'd', 6, "PAE" }, { 6, 1, 'd', 7, "MCE" }, { 7, 1, 'd', 13, "PGE" },
    { 9, 1, 'd', 24, "OSFXSR" }, { 10, 1, 'd', 25, "OSXMMEXCPT" }, { 11, 7, 'c', 2, "UMIP" },
    { 12, 7, 'c', 16, "LA57" }, { 13, 1, 'c', 5, "VMXE" }, { 14, 1, 'c', 6, "SMXE" },
    { 16, 7, 'b', 0, "FSGSBASE" }, { 17, 1, 'c', 17, "PCIDE" }, { 18, 1, 'c', 26, "OSXSAVE" },
    { 19, 7, 'c', 23, "KL" }, { 20, 7, 'b', 7, "SMEP" }, { 21, 7, 'b', 20, "SMAP" },
    { 22, 7, 'c', 3, "PKE" }, { 23, 7, 'c', 7, "CET" }, { 24, 7, 'c', 31, "PKS" }, { 25, 7, 'd', 5, "UINTR" },
};

static void check_cr4_bits(void)
{
    uint32_t l1[4], l7[4];
    cpuid(1, 0, &l1[0], &l1[1], &l1[2], &l1[3]);
    cpuid(7, 0, &l7[0], &l7[1], &l7[2], &l7[3]);
    test_check(!(l1[3] & (1u << 7)), "CPUID.1:EDX.MCE[7] reads 0 (machine checks are not virtualized)");
    uint32_t cr4 = read_cr4();
    unsigned absent = 0, present = 0, bad = 0;
    for (unsigned i = 0; i < sizeof cr4_bits / sizeof cr4_bits[0]; i++) {
        const uint32_t *r = cr4_bits[i].leaf == 1 ? l1 : l7;
        uint32_t reg = cr4_bits[i].reg == 'b' ? r[1] : cr4_bits[i].reg == 'c' ? r[2] : r[3];
        bool has = reg >> cr4_bits[i].flag & 1;
        uint32_t bit = 1u << cr4_bits[i].bit;
        if (cr4 & bit)
            continue;
        /* PCIDE needs IA-32e mode and CET needs CR0.WP whatever CPUID says: not this check's. */
        if (has && (cr4_bits[i].bit == 17 || cr4_bits[i].bit == 23))
            continue;
        cr4_value = cr4 | bit;
        int vec = guest_try(do_write_cr4, NULL);
        uint32_t after = read_cr4();
        write_cr4(cr4);
        bool ok = has ? vec < 0 && after == (cr4 | bit) : vec == VEC_GP && after == cr4;
        has ? present++ : absent++;
        if (!ok) {
            bad++;
            test_fail("SDM Vol. 2B MOV CR: CR4.%s (bit %u), which CPUID %s: want %s, got vector %d, "
                      "CR4 0x%08x", cr4_bits[i].name, cr4_bits[i].bit, has ? "reports" : "does not report",
                      has ? "no fault" : "#GP and CR4 unchanged", vec, after);
        } else if (cr4_bits[i].bit == 6) {
            test_pass("SDM Vol. 2B MOV CR: CR4.MCE while CPUID.1:EDX.MCE is 0: #GP, CR4 unchanged");
        }
    }
    if (!bad)
        test_pass("SDM Vol. 3A 2.5: every CR4 bit follows CPUID: %u settable, %u reported absent and #GP",
                  present, absent);
}

/* ---- long mode ------------------------------------------------------------------------------
 * long_mode_run() enables PAE paging with EFER.LME (IA-32e mode, compatibility mode), jumps to
 * 64-bit code, runs the checks below, returns to compatibility mode with a far return and clears
 * CR0.PG there, which leaves IA-32e mode; then it restores the 32-bit IDT. A fault in 64-bit
 * code goes through idt64 to x64_fault, which records the vector in x64_vec and resumes at
 * x64_rip with the stack x64_rsp (a TRY64 sets them before each checked instruction). */

struct idt64_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));
static struct idt64_gate idt64[256] __attribute__((aligned(16)));
struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idt64_ptr;
struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idt32_ptr;

volatile uint64_t x64_rip, x64_rsp, x64_dr7;
volatile uint32_t x64_vec, x64_pg_test, x64_still_long, irq_count, saved_esp32;
volatile uint32_t r_dr7_vec, r_dr6_vec, r_cr8_vec, r_cr8_read, r_tpr_after_cr8, r_cr8_after_tpr;
volatile uint32_t r_cr8_rsv_vec, r_irq_held, r_irq_after, r_pg64_vec, r_pg_compat_vec;

void long_mode_run(void);
extern char x64_exception_stubs[], x64_irq_stub[], x64_spurious_stub[];

__asm__(
    ".macro TRY64 resume\n"
    "    mov $\\resume, %eax\n    movq %rax, x64_rip(%rip)\n    movq %rsp, x64_rsp(%rip)\n"
    "    movl $0xffffffff, x64_vec(%rip)\n"
    ".endm\n"
    ".text\n"
    ".code32\n"
    ".globl long_mode_run\n"
    "long_mode_run:\n"
    "    push %ebp\n    push %ebx\n    push %esi\n    push %edi\n"
    "    mov %esp, saved_esp32\n"
    "    movl $0, x64_still_long\n"
    "    sidt idt32_ptr\n"
    "    mov $pml4, %eax\n    mov %eax, %cr3\n"
    "    mov %cr4, %eax\n    or $0x20, %eax\n    mov %eax, %cr4\n"          /* PAE */
    "    mov $0xc0000080, %ecx\n    rdmsr\n    or $0x100, %eax\n    wrmsr\n"  /* EFER.LME */
    "    mov %cr0, %eax\n    or $0x80000000, %eax\n    mov %eax, %cr0\n"     /* PG: IA-32e mode */
    "    ljmp $0x18, $1f\n"
    ".code64\n"
    "1:  lidt idt64_ptr(%rip)\n"
    "    mov %esp, %esp\n"
    /* MOV to DR7 with bit 32 set: #GP(0), DR7 unchanged. */
    "    TRY64 2f\n"
    "    movabs $0x100000400, %rax\n    mov %rax, %dr7\n"
    "2:  movl x64_vec(%rip), %eax\n    movl %eax, r_dr7_vec(%rip)\n"
    "    mov %dr7, %rax\n    movq %rax, x64_dr7(%rip)\n"
    /* MOV to DR6 with bit 63 set: #GP(0). */
    "    TRY64 2f\n"
    "    movabs $0x80000000ffff0ff0, %rax\n    mov %rax, %dr6\n"
    "2:  movl x64_vec(%rip), %eax\n    movl %eax, r_dr6_vec(%rip)\n"
    /* CR8 and the xAPIC TPR are one register. */
    "    TRY64 2f\n"
    "    mov $5, %eax\n    mov %rax, %cr8\n"
    "    mov %cr8, %rax\n    movl %eax, r_cr8_read(%rip)\n"
    "    mov $0xfee00080, %ebx\n"
    "    movl (%rbx), %eax\n    movl %eax, r_tpr_after_cr8(%rip)\n"
    "    movl $0x70, (%rbx)\n"
    "    mov %cr8, %rax\n    movl %eax, r_cr8_after_tpr(%rip)\n"
    "    movl $0, (%rbx)\n"
    "2:  movl x64_vec(%rip), %eax\n    movl %eax, r_cr8_vec(%rip)\n"
    /* CR8 bits 63:4 are reserved. */
    "    TRY64 2f\n"
    "    mov $0x10, %eax\n    mov %rax, %cr8\n"
    "2:  movl x64_vec(%rip), %eax\n    movl %eax, r_cr8_rsv_vec(%rip)\n"
    /* A self-IPI at vector 0x80 waits while CR8 = 15 and comes in right after CR8 = 0. */
    "    movl $0, irq_count(%rip)\n"
    "    mov $15, %eax\n    mov %rax, %cr8\n"
    "    mov $0xfee00310, %ebx\n    movl $0, (%rbx)\n"
    "    mov $0xfee00300, %ebx\n    movl $0x40080, (%rbx)\n"                  /* self, fixed, 0x80 */
    "    sti\n"
    "    mov $1000, %ecx\n"
    "3:  nop\n    loop 3b\n"
    "    movl irq_count(%rip), %eax\n    movl %eax, r_irq_held(%rip)\n"
    "    xor %eax, %eax\n    mov %rax, %cr8\n"
    "    movl irq_count(%rip), %eax\n    movl %eax, r_irq_after(%rip)\n"
    "    cli\n"
    /* Clearing CR0.PG in 64-bit mode: #GP(0) (second run only: it used to wreck the guest). */
    "    cmpl $0, x64_pg_test(%rip)\n    je 4f\n"
    "    TRY64 2f\n"
    "    mov %cr0, %rax\n    btr $31, %eax\n    mov %rax, %cr0\n"
    "2:  movl x64_vec(%rip), %eax\n    movl %eax, r_pg64_vec(%rip)\n"
    /* Back to compatibility mode, where clearing PG leaves IA-32e mode. */
    "4:  pushq $0x08\n    mov $5f, %eax\n    push %rax\n    lretq\n"
    ".code32\n"
    "5:  movl $6f, x64_rip\n    movl $0, x64_rip+4\n"
    "    movl %esp, x64_rsp\n    movl $0, x64_rsp+4\n"
    "    movl $0xffffffff, x64_vec\n"
    "    mov %cr0, %eax\n    and $0x7fffffff, %eax\n    mov %eax, %cr0\n"
    "    mov $0xc0000080, %ecx\n    rdmsr\n    and $0xfffffeff, %eax\n    wrmsr\n"
    "    mov %cr4, %eax\n    and $0xffffffdf, %eax\n    mov %eax, %cr4\n"
    "    lidt idt32_ptr\n"
    "    movl $0xffffffff, r_pg_compat_vec\n"
    "7:  mov saved_esp32, %esp\n"
    "    pop %edi\n    pop %esi\n    pop %ebx\n    pop %ebp\n"
    "    ret\n"
    /* The MOV to CR0 in compatibility mode faulted: still in IA-32e mode; report and stop. */
    ".code64\n"
    "6:  movl x64_vec(%rip), %eax\n    movl %eax, r_pg_compat_vec(%rip)\n"
    "    movl $1, x64_still_long(%rip)\n"
    "    pushq $0x08\n    mov $7b, %eax\n    push %rax\n    lretq\n"
    /* Exceptions 0-31: 8 bytes each, the vector into x64_vec, then resume where TRY64 said. */
    "    .balign 8\n"
    "x64_exception_stubs:\n"
    "    .set vec64, 0\n"
    "    .rept 32\n"
    "    .balign 8\n"
    "    push $vec64\n    jmp x64_fault\n"
    "    .set vec64, vec64 + 1\n"
    "    .endr\n"
    "x64_fault:\n"
    "    pop %rax\n    movl %eax, x64_vec(%rip)\n"
    "    movq x64_rsp(%rip), %rsp\n    jmp *x64_rip(%rip)\n"
    "x64_irq_stub:\n"
    "    push %rax\n    incl irq_count(%rip)\n"
    "    mov $0xfee000b0, %eax\n    movl $0, (%rax)\n"
    "    pop %rax\n    iretq\n"
    "x64_spurious_stub:\n"
    "    iretq\n"
    ".code32\n");

static void idt64_set(unsigned v, uint32_t handler)
{
    idt64[v] = (struct idt64_gate){ (uint16_t)handler, 0x18, 0, 0x8E, (uint16_t)(handler >> 16), 0, 0 };
}

static void long_mode_init(void)
{
    pml4[0] = (uint32_t)pdpt | 3;
    for (unsigned g = 0; g < 4; g++) {
        pdpt[g] = (uint32_t)pd[g] | 3;
        for (unsigned i = 0; i < 512; i++)
            pd[g][i] = ((uint64_t)g << 30 | (uint64_t)i << 21) | 0x83;  /* 2 MiB, writable, present */
    }
    for (unsigned v = 0; v < 256; v++)
        idt64_set(v, (uint32_t)x64_spurious_stub);
    for (unsigned v = 0; v < 32; v++)
        idt64_set(v, (uint32_t)x64_exception_stubs + v * 8);
    idt64_set(0x80, (uint32_t)x64_irq_stub);
    idt64_ptr.limit = sizeof idt64 - 1;
    idt64_ptr.base = (uint32_t)idt64;
}

static void check_long_mode(void)
{
    long_mode_init();
    lapic_sw_enable(0xFF);
    x64_pg_test = 0;
    long_mode_run();
    test_check(!x64_still_long && r_pg_compat_vec == 0xFFFFFFFF,
               "SDM 10.8.5.4: clearing CR0.PG in compatibility mode leaves IA-32e mode (vector %d)",
               (int)r_pg_compat_vec);
    if (x64_still_long)
        test_end();
    test_check(r_dr7_vec == VEC_GP && x64_dr7 == 0x400, "SDM Vol. 2B MOV DR: 64-bit mode: MOV to DR7 "
               "with bit 32 set: #GP, DR7 unchanged (vector %d, DR7 0x%llx)", (int)r_dr7_vec,
               (unsigned long long)x64_dr7);
    test_check(r_dr6_vec == VEC_GP, "SDM Vol. 2B MOV DR: 64-bit mode: MOV to DR6 with bit 63 set: #GP "
               "(vector %d)", (int)r_dr6_vec);
    test_check(r_cr8_vec == 0xFFFFFFFF && r_cr8_read == 5 && r_tpr_after_cr8 == 0x50,
               "SDM 11.8.6.1: MOV to CR8 5: CR8 reads 5, the xAPIC TPR reads 0x50 (vector %d, CR8 %u, "
               "TPR 0x%x)", (int)r_cr8_vec, r_cr8_read, r_tpr_after_cr8);
    test_check(r_cr8_vec == 0xFFFFFFFF && r_cr8_after_tpr == 7,
               "SDM 11.8.6.1: xAPIC TPR 0x70: CR8 reads 7 (got %u)", r_cr8_after_tpr);
    test_check(r_cr8_rsv_vec == VEC_GP, "SDM Vol. 2B MOV CR: MOV to CR8 0x10 (reserved bit 4): #GP "
               "(vector %d)", (int)r_cr8_rsv_vec);
    test_check(r_irq_held == 0 && r_irq_after == 1, "SDM 11.8.3.1: a self-IPI at vector 0x80 waits while "
               "CR8 = 15 and is taken right after MOV to CR8 0 (taken %u before, %u after)",
               r_irq_held, r_irq_after);

    /* Last: before the fix this MOV left IA-32e mode under 64-bit code and the guest was lost. */
    x64_pg_test = 1;
    r_pg64_vec = 0;
    long_mode_run();
    test_check(r_pg64_vec == VEC_GP && !x64_still_long, "SDM Vol. 2B MOV CR: clearing CR0.PG in 64-bit "
               "mode: #GP, still in IA-32e mode (vector %d)", (int)r_pg64_vec);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("privcheck: privilege and reserved-bit checks the CPU makes, made by the hypervisor");
    pic_init();
    descriptors_init();

    /* VMCALL: at CPL 0 the hypercall runs (HC_NOP returns 0); at CPL 3 it is refused. */
    uint32_t a = 0;
    __asm__ volatile("vmcall" : "+a"(a) : : "memory");
    test_check(a == 0, "VMCALL 0 (HC_NOP) at CPL 0 returns 0 (got 0x%08x)", a);
    user_eax = 0x12345678;
    int vec = run_ring3(u_vmcall);
    test_check(vec == VEC_UD && user_eax == 0xFFFFFFFF, "SDM 26.1.2: VMCALL at CPL 3 exits and is "
               "refused: RAX = -1, RIP advanced (vector %d, want %d from the UD2 after it; EAX 0x%08x)",
               vec, VEC_UD, user_eax);
    user_eax = 0x12345678;
    vec = run_ring3(u_vmcall_sweep);
    test_check(vec == VEC_UD && user_eax == 0, "docs/hypercalls.md: every hypercall number 0-1023 from "
               "CPL 3 is refused with -1 and does nothing (vector %d; %u answered otherwise)", vec, user_eax);

    /* MOV DR at CPL 3: #GP(0), nothing read or written. */
    write_dr0(0x2222);
    user_eax = 0x12345678;
    vec = run_ring3(u_read_dr7);
    test_check(vec == VEC_GP && guest_try_error() == 0 && user_eax == 0x12345678,
               "SDM 26.1.3, Vol. 2B MOV DR: MOV from DR7 at CPL 3: #GP(0) (vector %d, error 0x%x)",
               vec, guest_try_error());
    vec = run_ring3(u_write_dr0);
    test_check(vec == VEC_GP && read_dr0() == 0x2222, "SDM 26.1.3, Vol. 2B MOV DR: MOV to DR0 at "
               "CPL 3: #GP(0), DR0 unchanged (vector %d, DR0 0x%08x)", vec, read_dr0());

    check_general_detect();
    check_cr4_bits();
    check_long_mode();
    test_end();
}

/* Guest test taskswitch: hardware task switches as the CPU makes them (issue 10, item 9).
 * Every task switch exits in VMX non-root operation and the hypervisor does it on the guest's
 * state (SDM Vol. 3A 7.3); before, the guest was stopped ("not emulated"). A JMP to a TSS, a
 * CALL and the IRET back (NT, back link, busy flags, 7.4), the classic double-fault handler
 * task behind a task gate (error code 0 on its stack, 6.12.2), and bad TSSs (#TS, #GP, #NP).
 * The test runs on its own GDT (the runtime's three descriptors, then the TSSs), put back at
 * the end. */
#include "guest.h"

#define EFLAGS_NT  (1u << 14)
#define CR0_TS     (1u << 3)

/* The 32-bit TSS with its 16-bit selector fields and reserved halves apart (guest/lib has the
 * plain one): what the CPU writes on a task switch is compared field by field. */
struct tss_words {
    uint16_t link, r0;
    uint32_t esp0;
    uint16_t ss0, r1;
    uint32_t esp1;
    uint16_t ss1, r2;
    uint32_t esp2;
    uint16_t ss2, r3;
    uint32_t cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint16_t es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10, trap, iomap;
} __attribute__((packed));
_Static_assert(sizeof(struct tss_words) == 0x68, "a 32-bit TSS is 104 bytes (SDM Figure 7-2)");

enum {
    SEL_MAIN = 0x18,        /* the test's own task (LTR) */
    SEL_JMP = 0x20,         /* (1) entered with JMP, leaves with JMP */
    SEL_CALL = 0x28,        /* (2) entered with CALL, leaves with IRET */
    SEL_DF = 0x30,          /* (3) the #DF handler behind a task gate */
    SEL_SMALL = 0x38,       /* (4) limit 0x50 < 0x67 */
    SEL_BUSY = 0x40,        /* (4) marked busy */
    SEL_ABSENT = 0x48,      /* (4) not present */
    GDT_ENTRIES = 10,
};

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));
struct tss_words tss_main, tss_jmp, tss_call, tss_df, tss_spare;
static uint8_t stacks[3][4096] __attribute__((aligned(16)));

struct table_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

static struct table_ptr runtime_gdt;

static uint64_t tss_desc(const struct tss_words *t, uint32_t limit, unsigned type, bool present)
{
    uint32_t base = (uint32_t)t;
    return (limit & 0xFFFF) | (uint64_t)(base & 0xFFFFFF) << 16 |
           (uint64_t)((present ? 0x80u : 0) | type) << 40 | (uint64_t)((limit >> 16) & 0xF) << 48 |
           (uint64_t)(base >> 24) << 56;
}

static unsigned desc_type(unsigned sel) { return (unsigned)(gdt[sel / 8] >> 40) & 15; }

/* A task at entry with registers base+0 (EAX) ... base+7 (EDI), ESP the top of its stack. */
static void task_init(struct tss_words *t, void (*entry)(void), uint8_t *stack_top, uint32_t base)
{
    memset(t, 0, sizeof *t);
    t->cr3 = read_cr3();
    t->eip = (uint32_t)entry;
    t->eflags = 0x2;
    t->eax = base, t->ecx = base + 1, t->edx = base + 2, t->ebx = base + 3;
    t->esp = (uint32_t)stack_top, t->ebp = base + 5, t->esi = base + 6, t->edi = base + 7;
    t->cs = GDT_CODE_SEL;
    t->es = t->ss = t->ds = t->fs = t->gs = GDT_DATA_SEL;
    t->iomap = sizeof *t;
}

/* What each task saw on entry: its registers (EAX..EDI, the pushal order reversed), EFLAGS. */
volatile uint32_t jmp_regs[8], call_regs[8], df_regs[8];
volatile uint32_t jmp_eflags, call_eflags, df_eflags, df_error;
volatile uint32_t jmp_runs, call_runs, df_runs;
/* Snapshots the tasks took of the rest of the machine while the main task was switched out. */
volatile uint32_t seen_main_type, seen_self_type, seen_link, seen_main_eip, seen_tr;
volatile struct tss_words seen_main;

void jmp_task(void);
void call_task(void);
void df_task(void);
void jmp_body(void);
void call_body(void);
void df_body(void);
void df_fault_insn(void);
void df_resume(void);
void after_jmp(void);
void after_call(void);

/* The tasks: record the registers, run the C body, then leave (JMP back to the main task, or
 * IRET through the back link); run again from the top if entered again. */
#define TASK_ENTRY(name, regs, eflags, leave)                                        \
    ".globl " #name "\n" #name ":\n"                                                 \
    "  movl %eax, " #regs "\n  movl %ecx, " #regs "+4\n  movl %edx, " #regs "+8\n"   \
    "  movl %ebx, " #regs "+12\n  movl %esp, " #regs "+16\n  movl %ebp, " #regs "+20\n" \
    "  movl %esi, " #regs "+24\n  movl %edi, " #regs "+28\n"                         \
    "  pushfl\n  popl " #eflags "\n"                                                 \
    "  call " #name "_body_entry\n"                                                  \
    "  " leave "\n  jmp " #name "\n"
__asm__(".text\n"
        TASK_ENTRY(jmp_task, jmp_regs, jmp_eflags, "ljmp $0x18, $0")
        TASK_ENTRY(call_task, call_regs, call_eflags, "iret")
        TASK_ENTRY(df_task, df_regs, df_eflags, "iret")
        "jmp_task_body_entry: jmp jmp_body\n"
        "call_task_body_entry: jmp call_body\n"
        "df_task_body_entry: movl 4(%esp), %eax\n  movl %eax, df_error\n  jmp df_body\n");

static void snapshot(unsigned self)
{
    seen_main_type = desc_type(SEL_MAIN);
    seen_self_type = desc_type(self);
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    seen_tr = tr;
    memcpy((void *)&seen_main, &tss_main, sizeof tss_main);
}

void jmp_body(void)
{
    jmp_runs++;
    snapshot(SEL_JMP);
    seen_link = tss_jmp.link;
}

void call_body(void)
{
    call_runs++;
    snapshot(SEL_CALL);
    seen_link = tss_call.link;
}

/* The double-fault task: the main task faulted on df_fault_insn; it resumes past it. */
void df_body(void)
{
    df_runs++;
    snapshot(SEL_DF);
    seen_link = tss_df.link;
    seen_main_eip = tss_main.eip;
    tss_main.eip = (uint32_t)df_resume;
}

static void clts(void) { __asm__ volatile("clts"); }

/* (1) JMP to a TSS and JMP back: known registers in the main task before the JMP, which
 * resumes after it (SDM 7.3, 7.4 Table 7-2). */
static __attribute__((noinline)) void do_jmp(void)
{
    __asm__ volatile("movl $0xA0, %%eax\n movl $0xA1, %%ecx\n movl $0xA2, %%edx\n"
                     "movl $0xA3, %%ebx\n movl $0xA6, %%esi\n movl $0xA7, %%edi\n"
                     "ljmp $0x20, $0\n"
                     ".globl after_jmp\nafter_jmp:\n"
                     : : : "eax", "ecx", "edx", "ebx", "esi", "edi", "memory", "cc");
}

static void test_jmp(void)
{
    task_init(&tss_jmp, jmp_task, stacks[0] + sizeof stacks[0], 0x1000);
    tss_jmp.link = 0x1234;
    clts();
    do_jmp();
    test_check(jmp_runs == 1, "JMP to a TSS runs the task and JMP back resumes after the JMP (SDM 7.3)");
    bool regs = true;
    for (unsigned i = 0; i < 8; i++)
        regs &= jmp_regs[i] == (i == 4 ? (uint32_t)(stacks[0] + sizeof stacks[0]) : 0x1000 + i);
    test_check(regs, "the new task starts with the registers of its TSS (SDM 7.3 step 12; EAX 0x%x ESP 0x%x)",
               jmp_regs[0], jmp_regs[4]);
    test_check(!(jmp_eflags & EFLAGS_NT) && seen_link == 0x1234 && seen_tr == SEL_JMP,
               "JMP: NT stays 0 and the back link is untouched (SDM 7.4; EFLAGS 0x%x link 0x%x TR 0x%x)",
               jmp_eflags, seen_link, seen_tr);
    test_check(seen_main_type == 0x9 && seen_self_type == 0xB,
               "JMP clears the old TSS's busy flag and sets the new one's (SDM 7.4 Table 7-2; types %x, %x)",
               seen_main_type, seen_self_type);
    test_check(seen_main.eip == (uint32_t)after_jmp && seen_main.eax == 0xA0 && seen_main.ecx == 0xA1 &&
               seen_main.edx == 0xA2 && seen_main.ebx == 0xA3 && seen_main.esi == 0xA6 && seen_main.edi == 0xA7 &&
               seen_main.cs == GDT_CODE_SEL && seen_main.ss == GDT_DATA_SEL,
               "the old TSS holds EIP past the JMP and the registers at the JMP (SDM 7.3 step 8; EIP 0x%x)",
               seen_main.eip);
    test_check(desc_type(SEL_MAIN) == 0xB && desc_type(SEL_JMP) == 0x9,
               "JMP back: the main task busy again, the other one available (SDM 7.4)");
    test_check(read_cr0() & CR0_TS, "a task switch sets CR0.TS (SDM 2.5, 7.3 step 11)");
    clts();
}

/* (2) CALL to a TSS; the called task IRETs with NT=1 back through its link (SDM 7.4). */
volatile uint32_t call_returned;
static __attribute__((noinline)) void do_call(void)
{
    __asm__ volatile("lcall $0x28, $0\n"
                     ".globl after_call\nafter_call:\n"
                     "movl $1, call_returned\n" : : : "memory", "cc");
}

static void test_call(void)
{
    task_init(&tss_call, call_task, stacks[1] + sizeof stacks[1], 0x2000);
    do_call();
    test_check(call_runs == 1 && call_returned == 1,
               "CALL to a TSS runs it; its IRET returns after the CALL (SDM 7.4)");
    test_check((call_eflags & EFLAGS_NT) && seen_link == SEL_MAIN,
               "CALL: NT=1 in the new task and its back link is the old TR (SDM 7.4; EFLAGS 0x%x link 0x%x)",
               call_eflags, seen_link);
    test_check(seen_main_type == 0xB && seen_self_type == 0xB && seen_main.eip == (uint32_t)after_call,
               "CALL leaves the caller busy and saves EIP past the CALL (SDM 7.4 Table 7-2; EIP 0x%x)",
               seen_main.eip);
    test_check(desc_type(SEL_CALL) == 0x9 && !(tss_call.eflags & EFLAGS_NT) && !(read_eflags() & EFLAGS_NT),
               "IRET clears the busy flag of the task it leaves and NT in its saved EFLAGS (SDM 7.4)");
    clts();
}

/* (3) #DF through a task gate: a #DE whose gate is not present is #NP during #DE delivery,
 * two contributory exceptions, so #DF (SDM 6.15 Table 6-5). */
struct idt_gate {
    uint16_t offset_lo, selector;
    uint8_t zero, type_attr;
    uint16_t offset_hi;
} __attribute__((packed));

static void test_double_fault_task(void)
{
    struct table_ptr idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    struct idt_gate *idt = (struct idt_gate *)idtr.base;
    struct idt_gate de = idt[0], df = idt[8];
    task_init(&tss_df, df_task, stacks[2] + sizeof stacks[2], 0x3000);
    idt[8] = (struct idt_gate){ 0, SEL_DF, 0, 0x85, 0 };        /* task gate, present, DPL 0 */
    idt[0].type_attr &= 0x7F;                                   /* #DE's gate not present */
    __asm__ volatile("xorl %%ecx, %%ecx\n movl $1, %%eax\n xorl %%edx, %%edx\n"
                     ".globl df_fault_insn\ndf_fault_insn: divl %%ecx\n"
                     ".globl df_resume\ndf_resume:\n" : : : "eax", "ecx", "edx", "memory", "cc");
    idt[0] = de;
    idt[8] = df;
    test_check(df_runs == 1, "#DE with its gate not present is #DF, delivered through the task gate (SDM 6.15)");
    test_check(df_error == 0 && df_regs[4] == (uint32_t)(stacks[2] + sizeof stacks[2]) - 4,
               "the #DF handler task has error code 0 on its stack (SDM 6.12.2; 0x%x, ESP 0x%x)",
               df_error, df_regs[4]);
    test_check(seen_link == SEL_MAIN && (df_eflags & EFLAGS_NT) && seen_tr == SEL_DF,
               "an exception through a task gate nests: back link = the faulting task, NT=1 (SDM 7.4; link 0x%x)",
               seen_link);
    test_check(seen_main_eip == (uint32_t)df_fault_insn,
               "the faulting task is saved with EIP on the faulting instruction (SDM 6.5; 0x%x)", seen_main_eip);
    test_check(desc_type(SEL_DF) == 0x9 && desc_type(SEL_MAIN) == 0xB,
               "the handler's IRET returns to the faulting task (SDM 7.4)");
    clts();
}

/* (4) Bad TSSs: the CPU's own checks (before the exit) and the same in the hypervisor. */
static void jmp_small(void *a) { (void)a; __asm__ volatile("ljmp $0x38, $0" : : : "memory"); }
static void jmp_busy(void *a) { (void)a; __asm__ volatile("ljmp $0x40, $0" : : : "memory"); }
static void jmp_self(void *a) { (void)a; __asm__ volatile("ljmp $0x18, $0" : : : "memory"); }
static void call_absent(void *a) { (void)a; __asm__ volatile("lcall $0x48, $0" : : : "memory"); }
static void iret_nested(void *a)
{
    (void)a;
    __asm__ volatile("pushfl\n orl $0x4000, (%%esp)\n popfl\n iret" : : : "memory", "cc");
}

static void check_fault(const char *what, void (*fn)(void *), int vector, uint32_t error)
{
    int v = guest_try(fn, NULL);
    uint32_t e = guest_try_error();
    test_check(v == vector && e == error, "%s: %s(0x%x) (vector %d, error 0x%x)", what,
               exception_name((unsigned)vector), error, v, e);
}

static void test_bad_tss(void)
{
    check_fault("JMP to a TSS whose limit is below 67H (SDM 7.3 step 3)", jmp_small, 10, SEL_SMALL);
    check_fault("JMP to a busy TSS (SDM 7.3 step 4)", jmp_busy, 13, SEL_BUSY);
    check_fault("JMP to the running task's own TSS, busy (SDM 7.3 step 4)", jmp_self, 13, SEL_MAIN);
    check_fault("CALL to a TSS not present (SDM 7.3 step 3)", call_absent, 11, SEL_ABSENT);
    tss_main.link = SEL_JMP;
    check_fault("IRET with NT=1 to a back link that is not busy (SDM Vol. 2 IRET)", iret_nested, 10, SEL_JMP);
    test_check(desc_type(SEL_MAIN) == 0xB && desc_type(SEL_JMP) == 0x9 && desc_type(SEL_SMALL) == 0x9,
               "a refused task switch changes no busy flag (SDM 7.3, the notes)");
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    test_title("taskswitch: JMP, CALL/IRET and a #DF task gate switch tasks; bad TSSs fault (SDM 7.3)");

    __asm__ volatile("sgdt %0" : "=m"(runtime_gdt));
    memcpy(gdt, (const void *)runtime_gdt.base, 3 * sizeof gdt[0]);    /* null, code, data */
    gdt[SEL_MAIN / 8] = tss_desc(&tss_main, 0x67, 0x9, true);
    gdt[SEL_JMP / 8] = tss_desc(&tss_jmp, 0x67, 0x9, true);
    gdt[SEL_CALL / 8] = tss_desc(&tss_call, 0x67, 0x9, true);
    gdt[SEL_DF / 8] = tss_desc(&tss_df, 0x67, 0x9, true);
    gdt[SEL_SMALL / 8] = tss_desc(&tss_spare, 0x50, 0x9, true);
    gdt[SEL_BUSY / 8] = tss_desc(&tss_spare, 0x67, 0xB, true);
    gdt[SEL_ABSENT / 8] = tss_desc(&tss_spare, 0x67, 0x9, false);
    struct table_ptr p = { sizeof gdt - 1, (uint32_t)gdt };
    __asm__ volatile("lgdt %0" : : "m"(p) : "memory");
    memset(&tss_main, 0, sizeof tss_main);
    tss_main.cr3 = read_cr3();
    tss_main.iomap = sizeof tss_main;
    __asm__ volatile("ltr %w0" : : "r"(SEL_MAIN) : "memory");
    test_check(desc_type(SEL_MAIN) == 0xB, "LTR marks the main task's TSS busy (SDM 7.2.4)");

    test_jmp();
    test_call();
    test_double_fault_task();
    test_bad_tss();

    __asm__ volatile("lgdt %0" : : "m"(runtime_gdt) : "memory");
    test_end();
}

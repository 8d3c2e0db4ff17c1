/*
 * Guest test mmio: the instructions compilers and kernels use on device memory, emulated by
 * the hypervisor as the CPU executes them (issue 10, item 2). Every access to the xAPIC page
 * (0xFEE00000) or to memory of nothing (0xFED90000, all-ones) exits, and anfitrion decodes
 * and carries out the instruction: string moves and stores (REP, DF, 16-bit addressing),
 * LOCK-prefixed read-modify-writes with their flags, XCHG, CMPXCHG, XADD, the bit tests,
 * MOVZX/MOVSX, PUSH/POP of memory, SSE loads and stores, SETcc, CMOVcc, shifts and rotates,
 * MUL/DIV/IMUL (with #DE), BSF/BSR/TZCNT/LZCNT/POPCNT, CMPS/SCAS with REPE/REPNE and
 * CMPXCHG8B. The registers used have known
 * behaviour: the TPR (0x80, bits 7:0 read/write), the LVT error entry (0x370: vector and
 * mask), and the read-only version register (0x30: 0x00060014) and ID (0x20: 0). The APIC
 * takes only aligned 32-bit writes (others are ignored, as on KVM). Interrupts stay off.
 */
#include "guest.h"

#define CR0_MP          (1u << 1)
#define CR0_EM          (1u << 2)
#define CR0_TS          (1u << 3)
#define CR4_OSFXSR      (1u << 9)
#define PDE_P_RW_PS     0x83u

#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_OF 0x800u
#define FL_STATUS (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define APIC(reg)       (LAPIC_DEFAULT_BASE + (reg))
#define TPR             APIC(LAPIC_TPR)
#define NOTHING         0xfed90000u
#define VERSION_VALUE   0x00060014u     /* version 0x14, max LVT entry 6 (CMCI..error) */
#define APIC_SEL        0x18            /* our GDT's data segment based at the APIC page */

static uint32_t version;                /* the version register, read with a plain MOV */

static void set_tpr(uint32_t v) { lapic_write(LAPIC_TPR, v); }
static uint32_t tpr(void) { return lapic_read(LAPIC_TPR); }

/* ---- String instructions. */

static void check_rep_movs(void)
{
    uint32_t buf[4] = { 1, 1, 1, 1 };
    uint32_t si = APIC(LAPIC_VERSION), di = (uint32_t)buf, cx = 4;
    __asm__ volatile("cld; rep movsl" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
    test_check(buf[0] == version && buf[1] == 0 && buf[2] == 0 && buf[3] == 0 && cx == 0 &&
               si == APIC(0x40) && di == (uint32_t)buf + 16,
               "rep movsl APIC page -> RAM: %08x %08x %08x %08x, ECX %u, ESI/EDI +16 (SDM MOVS, REP: "
               "one element per ECX, ESI and EDI step by 4 with DF=0)", buf[0], buf[1], buf[2], buf[3], cx);

    memset(buf, 1, sizeof buf);
    si = APIC(LAPIC_VERSION + 0xc), di = (uint32_t)&buf[3], cx = 4;
    __asm__ volatile("std; rep movsl; cld" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
    test_check(buf[0] == version && buf[3] == 0 && si == APIC(0x2c) && di == (uint32_t)buf - 4,
               "std; rep movsl: walks down, buf[0] %08x, ESI ends 0x%08x (SDM MOVS: DF=1 decrements)",
               buf[0], si);

    static const uint32_t src[1] = { 0x40 };
    si = (uint32_t)src, di = TPR, cx = 1;
    __asm__ volatile("rep movsl" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
    test_check(tpr() == 0x40 && cx == 0, "rep movsl RAM -> TPR: TPR 0x%x (want 0x40)", tpr());

    si = APIC(LAPIC_VERSION), di = TPR;
    __asm__ volatile("movsl" : "+S"(si), "+D"(di) : : "memory");
    test_check(tpr() == (version & 0xff) && si == APIC(0x34) && di == TPR + 4,
               "movsl version register -> TPR (device to device): TPR 0x%x (want 0x%x)", tpr(), version & 0xff);

    si = APIC(LAPIC_VERSION);
    uint32_t ax = 0;
    __asm__ volatile("lodsl" : "+S"(si), "+a"(ax) : : "memory");
    test_check(ax == version && si == APIC(0x34), "lodsl from the version register: EAX 0x%08x (SDM LODS)", ax);
}

static void check_rep_stos(void)
{
    uint32_t di = APIC(LAPIC_LVT_ERROR), cx = 4, ax = LAPIC_LVT_MASKED | 0xee;
    __asm__ volatile("rep stosl" : "+D"(di), "+c"(cx) : "a"(ax) : "memory");
    uint32_t lvt = lapic_read(LAPIC_LVT_ERROR);
    test_check(lvt == (LAPIC_LVT_MASKED | 0xee) && cx == 0 && di == APIC(0x380),
               "rep stosl into the LVT error entry: 0x%x (want 0x100ee), EDI +16 (SDM STOS)", lvt);
    di = APIC(LAPIC_LVT_ERROR), cx = 1, ax = 0xe0;
    __asm__ volatile("rep stosl" : "+D"(di), "+c"(cx) : "a"(ax) : "memory");
    lvt = lapic_read(LAPIC_LVT_ERROR);
    test_check(lvt == 0xe0, "rep stosl unmasks it: 0x%x (mask bit 16 written 0)", lvt);
    lapic_write(LAPIC_LVT_ERROR, LAPIC_LVT_MASKED);
}

/* Memory of nothing reads all-ones and drops writes, with the string forms too. */
static void check_strings_on_nothing(void)
{
    uint32_t buf[4] = { 0 };
    uint32_t si = NOTHING, di = (uint32_t)buf, cx = 4;
    __asm__ volatile("rep movsl" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
    test_check(buf[0] == 0xffffffffu && buf[3] == 0xffffffffu && cx == 0,
               "rep movsl from memory of nothing: all-ones (%08x .. %08x)", buf[0], buf[3]);
    di = NOTHING, cx = 300;
    __asm__ volatile("rep stosl" : "+D"(di), "+c"(cx) : "a"(0x12345678) : "memory");
    test_check(cx == 0 && di == NOTHING + 1200,
               "rep stosl of 300 dwords into nothing: done (ECX %u; more than one exit's batch)", cx);
}

/* 16-bit addressing in 32-bit code (0x67): SI/DI/CX, and BX+SI in a ModRM; ES has its base at
 * the APIC page so that a 16-bit offset reaches it. */
static const uint64_t gdt_apic[4] __attribute__((aligned(8))) = {
    0,
    0x00cf9a000000ffffull,              /* 0x08: the runtime's flat code */
    0x00cf92000000ffffull,              /* 0x10: flat data */
    0xfe4092e00000ffffull,              /* 0x18: data, base 0xfee00000, limit 0xffff, 32-bit */
};

static void load_apic_gdt(void)
{
    struct { uint16_t limit; uint32_t base; } __attribute__((packed)) p = { sizeof gdt_apic - 1, (uint32_t)gdt_apic };
    __asm__ volatile("lgdt %0" : : "m"(p) : "memory");
}

static void check_addr16(void)
{
    load_apic_gdt();
    uint32_t di = 0xabcd0000u | LAPIC_LVT_ERROR, cx = 0x12340001u;
    __asm__ volatile("mov %[sel], %%es; addr16 rep stosl; mov %[flat], %%es"
                     : "+D"(di), "+c"(cx) : "a"(LAPIC_LVT_MASKED | 0xe1), [sel] "r"(APIC_SEL),
                       [flat] "r"(GDT_DATA_SEL) : "memory");
    uint32_t lvt = lapic_read(LAPIC_LVT_ERROR);
    test_check(lvt == (LAPIC_LVT_MASKED | 0xe1) && di == 0xabcd0374u && cx == 0x12340000u,
               "addr16 rep stosl %%es:(%%di): LVT 0x%x, EDI 0x%08x, ECX 0x%08x (SDM Vol. 1 3.6: 16-bit "
               "address size uses DI and CX; bits 31:16 kept)", lvt, di, cx);

    uint32_t si = 0x55550000u | LAPIC_VERSION, ax = 0;
    __asm__ volatile("mov %[sel], %%es; addr16 lodsl %%es:(%%si), %%eax; mov %[flat], %%es"
                     : "+S"(si), "+a"(ax) : [sel] "r"(APIC_SEL), [flat] "r"(GDT_DATA_SEL) : "memory");
    test_check(ax == version && si == 0x55550034u,
               "addr16 lodsl %%es:(%%si): EAX 0x%08x, ESI 0x%08x (SI steps, 31:16 kept)", ax, si);

    set_tpr(0);
    si = LAPIC_VERSION, di = LAPIC_TPR;
    __asm__ volatile("mov %[sel], %%es; addr16 movsl %%es:(%%si), %%es:(%%di); mov %[flat], %%es"
                     : "+S"(si), "+D"(di) : [sel] "r"(APIC_SEL), [flat] "r"(GDT_DATA_SEL) : "memory");
    test_check(tpr() == (version & 0xff) && di == LAPIC_TPR + 4,
               "addr16 movsl between two APIC registers: TPR 0x%x", tpr());

    set_tpr(0x20);
    uint32_t bx = 0x80, si0 = 0, v = 0, f = 0;
    __asm__ volatile("mov %[sel], %%es; movl %%es:(%%bx,%%si), %[v]; lock orl $0x1, %%es:(%%bx,%%si); "
                     "pushf; pop %[f]; mov %[flat], %%es"
                     : [v] "=&r"(v), [f] "=&r"(f) : "b"(bx), "S"(si0), [sel] "r"(APIC_SEL),
                       [flat] "r"(GDT_DATA_SEL) : "memory", "cc");
    test_check(v == 0x20 && tpr() == 0x21 && !(f & FL_ZF),
               "movl and lock orl at %%es:(%%bx,%%si) (16-bit ModRM): read 0x%x, TPR then 0x%x", v, tpr());
}

/* ---- Read-modify-writes on the TPR, with the flags the SDM gives each one. */

/* Runs insn with the status flags fl, EAX and ECX in; returns the status flags out. */
#define RUN(insn, fl, eax, ecx)                                                                 \
    ({                                                                                          \
        uint32_t f_ = ((fl) & FL_STATUS) | 0x2;                                                 \
        __asm__ volatile("push %[f]; popf; " insn "; pushf; pop %[f]"                           \
                         : [f] "+r"(f_), "+a"(eax), "+c"(ecx) : [m] "r"(TPR) : "memory", "cc"); \
        f_ & FL_STATUS;                                                                         \
    })

static void check_rmw(void)
{
    uint32_t a = 0, c = 0, f;
    set_tpr(0x20);
    f = RUN("lock orl $0x10, (%[m])", FL_CF | FL_OF | FL_ZF, a, c);
    test_check(tpr() == 0x30 && f == FL_PF, "lock orl $0x10: TPR 0x%x, flags 0x%x (SDM OR: CF=OF=0, "
               "SF ZF PF by the result)", tpr(), f);
    f = RUN("lock andl $0x0f, (%[m])", 0, a, c);
    test_check(tpr() == 0 && f == (FL_ZF | FL_PF), "lock andl $0x0f: TPR 0x%x, flags 0x%x (AND: ZF, PF)",
               tpr(), f);
    set_tpr(0x20);
    f = RUN("lock addl $-1, (%[m])", 0, a, c);
    test_check(tpr() == 0x1f && f == FL_CF, "lock addl $-1 to 0x20: TPR 0x%x, flags 0x%x (ADD: CF from "
               "the carry out; 0x1f has odd parity)", tpr(), f);
    f = RUN("lock subl $0x20, (%[m])", 0, a, c);
    test_check(tpr() == 0xff && f == (FL_CF | FL_SF | FL_PF),
               "lock subl $0x20 from 0x1f: TPR 0x%x, flags 0x%x (SUB: borrow sets CF, SF)", tpr(), f);
    set_tpr(0x7f);
    f = RUN("lock incl (%[m])", FL_CF, a, c);
    test_check(tpr() == 0x80 && f == (FL_CF | FL_AF), "lock incl 0x7f: TPR 0x%x, flags 0x%x (INC keeps CF; "
               "AF from bit 3)", tpr(), f);
    f = RUN("lock decl (%[m])", 0, a, c);
    test_check(tpr() == 0x7f && f == FL_AF, "lock decl 0x80: TPR 0x%x, flags 0x%x", tpr(), f);
    f = RUN("lock adcl $0, (%[m])", FL_CF, a, c);
    test_check(tpr() == 0x80 && f == FL_AF, "stc; lock adcl $0: TPR 0x%x, flags 0x%x (ADC adds CF)", tpr(), f);
    f = RUN("lock sbbl $0, (%[m])", FL_CF, a, c);
    test_check(tpr() == 0x7f && f == FL_AF, "stc; lock sbbl $0: TPR 0x%x, flags 0x%x (SBB subtracts CF)",
               tpr(), f);
    f = RUN("lock notl (%[m])", FL_ZF | FL_CF, a, c);
    test_check(tpr() == 0x80 && f == (FL_ZF | FL_CF), "lock notl: TPR 0x%x, flags 0x%x (NOT: no flag changes)",
               tpr(), f);
    f = RUN("lock negl (%[m])", 0, a, c);
    test_check(tpr() == 0x80 && f == (FL_CF | FL_SF),
               "lock negl 0x80: TPR 0x%x (0xffffff80), flags 0x%x (NEG: CF = operand != 0)", tpr(), f);
    f = RUN("lock xorl $0x80, (%[m])", FL_CF, a, c);
    test_check(tpr() == 0 && f == (FL_ZF | FL_PF), "lock xorl: TPR 0x%x, flags 0x%x", tpr(), f);

    set_tpr(0x60);
    f = RUN("cmpl $0x60, (%[m])", 0, a, c);
    test_check(f == (FL_ZF | FL_PF) && tpr() == 0x60, "cmpl $0x60 (equal): flags 0x%x (CMP: ZF; TPR unchanged)", f);
    f = RUN("cmpl $0x61, (%[m])", 0, a, c);
    test_check(f == (FL_CF | FL_SF | FL_PF | FL_AF), "cmpl $0x61 (below): flags 0x%x (CF, SF)", f);
    f = RUN("testl $0x20, (%[m])", FL_CF | FL_OF, a, c);
    test_check(f == 0, "testl $0x20: flags 0x%x (TEST: CF=OF=0, ZF=0: bit set)", f);
    a = 0x10;
    f = RUN("addl (%[m]), %%eax", 0, a, c);
    test_check(a == 0x70 && f == 0 && tpr() == 0x60, "addl TPR, %%eax: EAX 0x%x, flags 0x%x (register "
               "destination, the device only read)", a, f);
}

static void check_xchg_cmpxchg_xadd(void)
{
    uint32_t a = 0x40, c = 0, f;
    set_tpr(0x1f);
    f = RUN("xchgl %%eax, (%[m])", FL_CF, a, c);
    test_check(a == 0x1f && tpr() == 0x40 && f == FL_CF, "xchg %%eax, TPR: EAX 0x%x, TPR 0x%x, flags kept "
               "(SDM XCHG: locked, no flags)", a, tpr());
    a = 0x40, c = 0x50;
    f = RUN("lock cmpxchgl %%ecx, (%[m])", 0, a, c);
    test_check(tpr() == 0x50 && a == 0x40 && (f & FL_ZF),
               "lock cmpxchg, EAX equal: TPR 0x%x from ECX, ZF=1, EAX kept (SDM CMPXCHG)", tpr());
    a = 0x40, c = 0x60;
    f = RUN("lock cmpxchgl %%ecx, (%[m])", 0, a, c);
    test_check(tpr() == 0x50 && a == 0x50 && f == (FL_CF | FL_SF | FL_PF),
               "lock cmpxchg, EAX differs: EAX 0x%x from TPR, TPR 0x%x kept, flags 0x%x (CMP EAX-TPR)", a, tpr(), f);
    a = 0x10;
    f = RUN("lock xaddl %%eax, (%[m])", 0, a, c);
    test_check(tpr() == 0x60 && a == 0x50 && f == FL_PF,
               "lock xadd: TPR 0x%x (sum), EAX 0x%x (old), flags 0x%x (SDM XADD: flags of ADD)", tpr(), a, f);
}

static void check_bit_tests(void)
{
    uint32_t a = 0, c = 5, f;
    set_tpr(0x20);
    f = RUN("btl $5, (%[m])", FL_ZF, a, c);
    test_check((f & FL_CF) && (f & FL_ZF) && tpr() == 0x20, "btl $5, TPR=0x20: CF=1 (SDM BT: CF is the bit; ZF kept)");
    f = RUN("lock btsl $4, (%[m])", FL_CF, a, c);
    test_check(!(f & FL_CF) && tpr() == 0x30, "lock btsl $4: TPR 0x%x, CF=0 (old bit)", tpr());
    f = RUN("lock btrl %%ecx, (%[m])", 0, a, c);
    test_check((f & FL_CF) && tpr() == 0x10, "lock btrl %%ecx=5: TPR 0x%x, CF=1", tpr());
    f = RUN("lock btcl $0, (%[m])", FL_CF, a, c);
    test_check(!(f & FL_CF) && tpr() == 0x11, "lock btcl $0: TPR 0x%x, CF=0", tpr());
    set_tpr(0x13);
    c = 33;
    f = RUN("btl %%ecx, (%[m])", 0, a, c);
    test_check(!(f & FL_CF), "btl %%ecx=33, TPR=0x13: CF=0 (SDM BT: a register offset selects the dword "
               "at TPR+4, which reads 0, not bit 1 of the TPR)");
}

static void check_widening_loads(void)
{
    uint32_t v;
    __asm__ volatile("movzbl (%1), %0" : "=r"(v) : "r"(APIC(LAPIC_VERSION)) : "memory");
    test_check(v == (version & 0xff), "movzbl version: 0x%x (SDM MOVZX)", v);
    __asm__ volatile("movzwl (%1), %0" : "=r"(v) : "r"(APIC(LAPIC_VERSION + 2)) : "memory");
    test_check(v == version >> 16, "movzwl version+2: 0x%x (the max LVT entry)", v);
    set_tpr(0x80);
    __asm__ volatile("movsbl (%1), %0" : "=r"(v) : "r"(TPR) : "memory");
    test_check(v == 0xffffff80u, "movsbl TPR=0x80: 0x%08x (SDM MOVSX: sign-extended)", v);
    __asm__ volatile("movswl (%1), %0" : "=r"(v) : "r"(NOTHING) : "memory");
    test_check(v == 0xffffffffu, "movswl from nothing: 0x%08x", v);
    uint16_t w = 0x1234;
    __asm__ volatile("movzbw (%1), %0" : "+r"(w) : "r"(TPR) : "memory");
    test_check(w == 0x80, "movzbw TPR: 0x%x (16-bit destination)", w);
}

static void check_push_pop(void)
{
    uint32_t v, sp0, sp1;
    set_tpr(0x55);
    __asm__ volatile("mov %%esp, %[s0]; pushl (%[m]); mov %%esp, %[s1]; popl %[v]"
                     : [v] "=r"(v), [s0] "=&r"(sp0), [s1] "=&r"(sp1) : [m] "r"(TPR) : "memory");
    test_check(v == 0x55 && sp1 == sp0 - 4, "pushl TPR: 0x%x on the stack, ESP -4 (SDM PUSH)", v);
    __asm__ volatile("pushl $0x66; popl (%[m]); mov %%esp, %[s1]" : [s1] "=r"(sp1) : [m] "r"(TPR) : "memory");
    test_check(tpr() == 0x66, "popl TPR: TPR 0x%x from the stack (SDM POP)", tpr());
    __asm__ volatile("mov %%esp, %[s0]; pushl $0x77; popl (%[m]); mov %%esp, %[s1]"
                     : [s0] "=&r"(sp0), [s1] "=&r"(sp1) : [m] "r"(TPR) : "memory");
    test_check(sp1 == sp0 && tpr() == 0x77, "pushl $0x77; popl TPR: ESP balanced, TPR 0x%x", tpr());
    uint16_t w;
    __asm__ volatile("pushw (%[m]); popw %[w]" : [w] "=r"(w) : [m] "r"(APIC(LAPIC_VERSION)) : "memory");
    test_check(w == (version & 0xffff), "pushw version: 0x%x (16-bit operand)", w);
}

/* ---- SSE: 16 and 8 bytes in pieces, the XMM register the guest's own. */

static void check_sse(void)
{
    uint32_t out[4];
    static const uint32_t ones[4] = { ~0u, ~0u, ~0u, ~0u };
    __asm__ volatile("movdqu %[o], %%xmm0; movups (%[p]), %%xmm0; movdqu %%xmm0, %[out]"
                     : [out] "=m"(out) : [p] "r"(APIC(0x28)), [o] "m"(ones) : "memory");
    test_check(out[0] == 0 && out[1] == 0 && out[2] == version && out[3] == 0,
               "movups 0x28..0x37 (ID's reserved half, version): %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    __asm__ volatile("movdqu %[o], %%xmm1; movdqu (%[p]), %%xmm1; movdqu %%xmm1, %[out]"
                     : [out] "=m"(out) : [p] "r"(APIC(LAPIC_ID)), [o] "m"(ones) : "memory");
    test_check(out[0] == lapic_read(LAPIC_ID) && out[1] == 0 && out[2] == 0 && out[3] == 0,
               "movdqu the ID register (16 bytes): %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    __asm__ volatile("movdqu %[o], %%xmm2; movq (%[p]), %%xmm2; movdqu %%xmm2, %[out]"
                     : [out] "=m"(out) : [p] "r"(APIC(LAPIC_VERSION)), [o] "m"(ones) : "memory");
    test_check(out[0] == version && out[1] == 0 && out[2] == 0 && out[3] == 0,
               "movq version -> xmm2: %08x %08x, upper half %08x %08x (SDM MOVQ: bits 127:64 zeroed)",
               out[0], out[1], out[2], out[3]);
    __asm__ volatile("movdqu %[o], %%xmm3; movss (%[p]), %%xmm3; movdqu %%xmm3, %[out]"
                     : [out] "=m"(out) : [p] "r"(APIC(LAPIC_VERSION)), [o] "m"(ones) : "memory");
    test_check(out[0] == version && out[1] == 0 && out[3] == 0,
               "movss version -> xmm3: %08x, bits 127:32 zeroed (SDM MOVSS from memory)", out[0]);
    static const uint32_t val[4] = { 0x3c, 0, 0, 0 };
    __asm__ volatile("movdqu %[v], %%xmm4; movd %%xmm4, (%[p])" : : [p] "r"(TPR), [v] "m"(val) : "memory");
    test_check(tpr() == 0x3c, "movd %%xmm4 -> TPR: 0x%x (a 4-byte store)", tpr());
    static const uint32_t val2[4] = { 0x4d, 0, 0, 0 };
    __asm__ volatile("movdqu %[v], %%xmm5; movss %%xmm5, (%[p])" : : [p] "r"(TPR), [v] "m"(val2) : "memory");
    test_check(tpr() == 0x4d, "movss %%xmm5 -> TPR: 0x%x", tpr());
    __asm__ volatile("movdqu %[o], %%xmm6; movups (%[p]), %%xmm6; movdqu %%xmm6, %[out]"
                     : [out] "=m"(out) : [p] "r"(NOTHING), [o] "m"(val) : "memory");
    test_check(out[0] == ~0u && out[1] == ~0u && out[2] == ~0u && out[3] == ~0u,
               "movups from memory of nothing: all-ones (%08x .. %08x)", out[0], out[3]);
    __asm__ volatile("movups %%xmm6, (%[p]); movdqa %%xmm6, 0x10(%[p]); movq %%xmm6, 0x20(%[p])"
                     : : [p] "r"(NOTHING) : "memory");
    test_pass("movups, movdqa, movq stores into nothing: dropped, the guest runs on");
}

/* ---- A fault of the access the CPU did not make: rep movsl from the APIC into RAM that
 * ends at an unmapped page raises #PF there (SDM 4.7), after the elements before it. */

static uint32_t page_dir[1024] __attribute__((aligned(4096)));

static void movs_into_hole(void *arg)
{
    (void)arg;
    uint32_t si = APIC(LAPIC_VERSION), di = 0x7ffff8, cx = 4;
    __asm__ volatile("rep movsl" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
}

static void check_page_fault(void)
{
    page_dir[0] = 0 | PDE_P_RW_PS;                      /* 0-8 MiB, then a hole at 8 MiB */
    page_dir[1] = 0x400000 | PDE_P_RW_PS;
    page_dir[LAPIC_DEFAULT_BASE >> 22] = (LAPIC_DEFAULT_BASE & 0xffc00000u) | PDE_P_RW_PS;
    volatile uint32_t *last = (volatile uint32_t *)0x7ffff8;
    last[0] = last[1] = 0;
    write_cr3((uint32_t)page_dir);
    write_cr4(read_cr4() | CR4_PSE);
    write_cr0(read_cr0() | CR0_PG);
    int vec = guest_try(movs_into_hole, NULL);
    uint32_t cr2 = read_cr2(), err = guest_try_error();
    write_cr0(read_cr0() & ~CR0_PG);
    test_check(vec == VEC_PF && cr2 == 0x800000 && err == 2,
               "rep movsl into an unmapped page: vector %d, CR2 0x%x, error 0x%x (want #PF, 0x800000, "
               "write to a not-present page)", vec, cr2, err);
    test_check(last[0] == version && last[1] == 0, "the elements before the fault were moved (0x%x 0x%x)",
               last[0], last[1]);
}

/* ---- Operands that start in RAM and end past it (issue 10 item 3). The EPT violation names
 * the first byte that is not RAM, not the operand's start. On a PC an unaligned operand is
 * two accesses (SDM Vol. 1 4.1.1): the bytes in RAM are RAM's, the others come from what is
 * past it, all-ones from nothing (a write there is dropped) and the device's own bytes from a
 * device page. */

static const uint32_t zeros[4];

static void check_straddle_nothing(uint32_t end)
{
    volatile uint8_t *last = (volatile uint8_t *)end;
    last[-2] = 0x34, last[-1] = 0x12;
    uint32_t v = mmio_read32(end - 2);
    test_check(v == 0xffff1234u, "mov from RAM end - 2: 0x%08x (want 0xffff1234: 2 bytes of RAM, then 2 of "
               "nothing, all-ones)", v);
    mmio_write32(end - 2, 0xabcd5678u);
    test_check(last[-2] == 0x78 && last[-1] == 0x56, "mov to RAM end - 2: RAM holds %02x %02x (want 78 56; the "
               "other half dropped)", last[-2], last[-1]);
    last[-2] = 0x34, last[-1] = 0x12;
    uint32_t f = 0x2;
    __asm__ volatile("push %[f]; popf; lock addl $1, (%[p]); pushf; pop %[f]"
                     : [f] "+r"(f) : [p] "r"(end - 2) : "memory", "cc");
    test_check(last[-2] == 0x35 && last[-1] == 0x12 && (f & FL_SF) && !(f & FL_CF),
               "lock addl $1 at RAM end - 2: RAM holds %02x %02x, flags 0x%x (want 35 12, SF: 0xffff1234 + 1)",
               last[-2], last[-1], f & FL_STATUS);
    uint32_t out[4];
    *(volatile uint32_t *)(end - 4) = 0x11223344;
    __asm__ volatile("movdqu %[z], %%xmm0; movups (%[p]), %%xmm0; movdqu %%xmm0, %[out]"
                     : [out] "=m"(out) : [p] "r"(end - 4), [z] "m"(zeros) : "memory");
    test_check(out[0] == 0x11223344 && out[1] == ~0u && out[2] == ~0u && out[3] == ~0u,
               "movups from RAM end - 4: %08x %08x %08x %08x (RAM's dword, then all-ones)",
               out[0], out[1], out[2], out[3]);
}

/* Paging puts the last RAM page at WINDOW and the IOAPIC's page right after it. */
#define WINDOW 0x00c00000u
static uint32_t window_pt[1024] __attribute__((aligned(4096)));

static void check_straddle_device(uint32_t end)
{
    page_dir[0] = 0 | PDE_P_RW_PS;
    page_dir[1] = 0x400000 | PDE_P_RW_PS;
    page_dir[WINDOW >> 22] = (uint32_t)window_pt | 3;
    window_pt[0] = (end - 0x1000) | 3;
    window_pt[1] = IOAPIC_DEFAULT_BASE | 3;
    *(volatile uint32_t *)(end - 4) = 0x11223344;
    mmio_write32(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 0x10);
    static const uint32_t val[4] = { 0xaabbccdd, 0x27, 0, 0 };
    uint32_t out[4], p = WINDOW + 0xffc;
    write_cr3((uint32_t)page_dir);
    write_cr4(read_cr4() | CR4_PSE);
    write_cr0(read_cr0() | CR0_PG);
    __asm__ volatile("movdqu %[z], %%xmm1; movq (%[p]), %%xmm1; movdqu %%xmm1, %[out]; "
                     "movdqu %[v], %%xmm2; movq %%xmm2, (%[p])"
                     : [out] "=m"(out) : [p] "r"(p), [z] "m"(zeros), [v] "m"(val) : "memory");
    write_cr0(read_cr0() & ~CR0_PG);
    page_dir[WINDOW >> 22] = 0;
    uint32_t ram = *(volatile uint32_t *)(end - 4), sel = mmio_read32(IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL);
    test_check(out[0] == 0x11223344 && out[1] == 0x10 && out[2] == 0 && out[3] == 0,
               "movq across the last RAM page and the IOAPIC's: %08x %08x (RAM's dword, then IOREGSEL 0x10)",
               out[0], out[1]);
    test_check(ram == 0xaabbccdd && sel == 0x27, "movq store across them: RAM 0x%08x, IOREGSEL 0x%x (want "
               "0xaabbccdd, 0x27: the device's half went to the device)", ram, sel);
}

/* ---- SETcc, CMOVcc, shifts and rotates, MUL/DIV/IMUL, bit counts, CMPS/SCAS, CMPXCHG8B
 * (issue 10 item 2, the rest). Before them anfitrion stopped the guest at each of these. */

static void check_setcc_cmov(void)
{
    uint32_t a = 0, c = 0, f;
    set_tpr(0x55);
    f = RUN("setz (%[m])", FL_ZF | FL_CF, a, c);
    test_check(f == (FL_ZF | FL_CF) && tpr() == 0x55,
               "setz TPR: flags 0x%x kept, TPR 0x%x (SDM SETcc: no flags; the byte store is one the "
               "APIC ignores, as KVM's)", f, tpr());
    __asm__ volatile("setnc (%0)" : : "r"(NOTHING) : "memory");
    test_pass("setnc into memory of nothing: dropped, the guest runs on");
    c = 0x1111;
    f = RUN("cmovzl (%[m]), %%ecx", FL_ZF, a, c);
    test_check(c == 0x55 && f == FL_ZF, "cmovz TPR, ZF=1: ECX 0x%x (SDM CMOVcc: moved when the condition "
               "holds; flags kept)", c);
    c = 0x1111;
    f = RUN("cmovzl (%[m]), %%ecx", 0, a, c);
    test_check(c == 0x1111 && f == 0, "cmovz TPR, ZF=0: ECX 0x%x kept (SDM CMOVcc: the source is read, "
               "the destination not written)", c);
    c = 0x1111;
    f = RUN("cmovlw (%[m]), %%cx", FL_SF, a, c);
    test_check(c == 0x55, "cmovl 16-bit, SF != OF: CX 0x%x", c);
    uint32_t v = 7;
    __asm__ volatile("xor %%edx, %%edx; cmovzl (%1), %0" : "+r"(v) : "r"(NOTHING) : "edx", "cc", "memory");
    test_check(v == 0xffffffffu, "xor; cmovz from nothing: 0x%08x (all-ones)", v);
}

static void check_shifts(void)
{
    uint32_t a = 0, c = 0, f;
    set_tpr(0x81);
    f = RUN("shrl (%[m])", 0, a, c);
    test_check(tpr() == 0x40 && (f & ~FL_AF) == FL_CF,
               "shrl TPR=0x81: TPR 0x%x, flags 0x%x (SDM SHR: CF the bit out, OF = old MSB for count 1)", tpr(), f);
    set_tpr(0x81);
    f = RUN("shll $1, (%[m])", FL_CF | FL_OF, a, c);
    test_check(tpr() == 0x02 && (f & ~FL_AF) == 0,
               "shll $1 TPR=0x81: TPR 0x%x (bits 7:0 of 0x102), flags 0x%x (SHL: CF = old bit 31; OF = MSB^CF; "
               "SF ZF PF from the result)", tpr(), f);
    set_tpr(0x01);
    f = RUN("rorl (%[m])", FL_ZF | FL_PF, a, c);
    test_check(tpr() == 0 && f == (FL_CF | FL_OF | FL_ZF | FL_PF),
               "rorl TPR=1: TPR 0x%x, flags 0x%x (SDM ROR: CF = MSB of the result, OF = its top two bits "
               "XORed; SF ZF AF PF kept)", tpr(), f);
    set_tpr(0x40);
    f = RUN("rcll (%[m])", FL_CF, a, c);
    test_check(tpr() == 0x81 && f == 0, "stc; rcll TPR=0x40: TPR 0x%x, flags 0x%x (SDM RCL: CF into bit 0)",
               tpr(), f);
    set_tpr(0x80);
    c = 0x23;
    f = RUN("sarl %%cl, (%[m])", 0, a, c);
    test_check(tpr() == 0x10 && (f & FL_CF) == 0 && (f & FL_ZF) == 0,
               "sarl %%cl=0x23 TPR=0x80: TPR 0x%x (SDM SAR: count masked to 5 bits, 3), flags 0x%x", tpr(), f);
    c = 0x20;
    f = RUN("shll %%cl, (%[m])", FL_ZF | FL_CF | FL_OF, a, c);
    test_check(tpr() == 0x10 && f == (FL_ZF | FL_CF | FL_OF),
               "shll %%cl=0x20: TPR 0x%x, flags 0x%x kept (SDM SHL: count masked to 0, no flag changes)",
               tpr(), f);
}

static void div_by_zero_tpr(void *arg)
{
    (void)arg;
    uint32_t a = 0x100, d = 0;
    __asm__ volatile("divl (%2)" : "+a"(a), "+d"(d) : "r"(TPR) : "cc", "memory");
}

static void idiv_overflow_tpr(void *arg)
{
    (void)arg;
    uint32_t a = 0, d = 0x10;               /* 0x10_0000_0000 / 2 does not fit in 32 bits */
    __asm__ volatile("idivl (%2)" : "+a"(a), "+d"(d) : "r"(TPR) : "cc", "memory");
}

static void check_muldiv(void)
{
    uint32_t a = 0x12345678, d = 0, f = 0x2;
    set_tpr(0x10);
    __asm__ volatile("push %[f]; popf; mull (%[m]); pushf; pop %[f]"
                     : "+a"(a), "+d"(d), [f] "+r"(f) : [m] "r"(TPR) : "cc", "memory");
    test_check(a == 0x23456780 && d == 1 && (f & (FL_CF | FL_OF)) == (FL_CF | FL_OF),
               "mull TPR=0x10: EDX:EAX %x:%08x, CF=OF=1 (SDM MUL: upper half not zero)", d, a);
    a = 0x100, d = 0, f = 0x2;
    __asm__ volatile("push %[f]; popf; divl (%[m]); pushf; pop %[f]"
                     : "+a"(a), "+d"(d), [f] "+r"(f) : [m] "r"(TPR) : "cc", "memory");
    test_check(a == 0x10 && d == 0, "divl TPR=0x10 of 0x100: EAX 0x%x, EDX 0x%x (SDM DIV)", a, d);
    a = (uint32_t)-0x105, d = 0xffffffffu;
    __asm__ volatile("idivl (%[m])" : "+a"(a), "+d"(d) : [m] "r"(TPR) : "cc", "memory");
    test_check(a == (uint32_t)-0x10 && d == (uint32_t)-5, "idivl -0x105 by TPR=0x10: EAX %d, EDX %d "
               "(SDM IDIV: truncated toward zero, remainder has the dividend's sign)", (int)a, (int)d);
    set_tpr(0);
    int vec = guest_try(div_by_zero_tpr, NULL);
    test_check(vec == VEC_DE, "divl by TPR=0: vector %d (SDM DIV: #DE for a zero divisor)", vec);
    set_tpr(2);
    vec = guest_try(idiv_overflow_tpr, NULL);
    test_check(vec == VEC_DE, "idivl 0x1000000000 by TPR=2: vector %d (SDM IDIV: #DE when the quotient "
               "does not fit)", vec);
    set_tpr(0x7f);
    uint32_t c = 3;
    a = 0;
    f = RUN("imull (%[m]), %%ecx", FL_CF | FL_OF, a, c);
    test_check(c == 0x17d && (f & (FL_CF | FL_OF)) == 0, "imull TPR=0x7f, ECX=3: ECX 0x%x, CF=OF=0 "
               "(SDM IMUL: the product fits)", c);
    f = RUN("imull $0x2000000, (%[m]), %%ecx", 0, a, c);
    test_check(c == 0xfe000000u && (f & (FL_CF | FL_OF)) == (FL_CF | FL_OF),
               "imull $0x2000000, TPR: ECX 0x%08x, CF=OF=1 (SDM IMUL: signed overflow)", c);
}

static void check_bit_counts(void)
{
    uint32_t a = 0, c = 0, f;
    set_tpr(0x28);
    f = RUN("bsfl (%[m]), %%ecx", FL_ZF, a, c);
    test_check(c == 3 && !(f & FL_ZF), "bsf TPR=0x28: %u, ZF=0 (SDM BSF)", c);
    f = RUN("bsrl (%[m]), %%ecx", FL_ZF, a, c);
    test_check(c == 5 && !(f & FL_ZF), "bsr TPR=0x28: %u (SDM BSR)", c);
    f = RUN("tzcntl (%[m]), %%ecx", 0, a, c);
    test_check(c == 3 && !(f & (FL_CF | FL_ZF)), "tzcnt TPR=0x28: %u (SDM TZCNT; BSF where BMI1 is absent)", c);
    f = RUN("lzcntl (%[m]), %%ecx", 0, a, c);
    test_check(c == 26 || c == 5, "lzcnt TPR=0x28: %u (SDM LZCNT: 26; BSR's 5 where LZCNT is absent)", c);
    f = RUN("popcntl (%[m]), %%ecx", FL_CF | FL_OF, a, c);
    test_check(c == 2 && (f & FL_STATUS) == 0, "popcnt TPR=0x28: %u, flags 0x%x (SDM POPCNT: all cleared, "
               "ZF for 0)", c, f);
    set_tpr(0);
    c = 0x1234;
    f = RUN("bsfl (%[m]), %%ecx", 0, a, c);
    test_check(c == 0x1234 && (f & FL_ZF), "bsf TPR=0: ZF=1, ECX 0x%x kept (SDM BSF: destination undefined, "
               "the CPUs leave it)", c);
    f = RUN("tzcntl (%[m]), %%ecx", 0, a, c);
    test_check((c == 32 && (f & FL_CF)) || (c == 0x1234 && (f & FL_ZF)),
               "tzcnt TPR=0: %u (SDM TZCNT: the operand size, CF=1)", c);
}

static void check_cmps_scas(void)
{
    uint32_t buf[2] = { version, 7 };
    uint32_t si = APIC(LAPIC_VERSION), di = (uint32_t)buf, cx = 3, f = 0x2;
    __asm__ volatile("push %[f]; popf; cld; repe cmpsl; pushf; pop %[f]"
                     : "+S"(si), "+D"(di), "+c"(cx), [f] "+r"(f) : : "memory", "cc");
    test_check(cx == 1 && si == APIC(0x38) && di == (uint32_t)buf + 8 && !(f & FL_ZF) && (f & FL_CF),
               "repe cmpsl version page vs {version, 7}: ECX %u, stops after the second (SDM REPE: ends when "
               "ZF=0; 0 - 7 borrows)", cx);
    uint32_t a = 0xffffffffu;
    di = NOTHING, cx = 5, f = 0x2;
    __asm__ volatile("push %[f]; popf; repne scasl; pushf; pop %[f]"
                     : "+D"(di), "+c"(cx), [f] "+r"(f) : "a"(a) : "memory", "cc");
    test_check(cx == 4 && di == NOTHING + 4 && (f & FL_ZF), "repne scasl for all-ones in nothing: ECX %u "
               "(SDM REPNE: ends when ZF=1, after the first)", cx);
    di = NOTHING, cx = 300, f = 0x2;
    __asm__ volatile("push %[f]; popf; repe scasl; pushf; pop %[f]"
                     : "+D"(di), "+c"(cx), [f] "+r"(f) : "a"(a) : "memory", "cc");
    test_check(cx == 0 && di == NOTHING + 1200 && (f & FL_ZF), "repe scasl x300 over nothing: ECX %u, ZF=1 "
               "(all equal; more than one exit's batch)", cx);
    set_tpr(0x33);
    di = TPR, f = 0x2;
    __asm__ volatile("push %[f]; popf; scasb; pushf; pop %[f]" : "+D"(di), [f] "+r"(f) : "a"(0x33) : "memory", "cc");
    test_check((f & FL_ZF) && di == TPR + 1, "scasb AL=0x33, TPR 0x33: ZF=1, EDI +1 (SDM SCAS)");
}

static void check_cmpxchg8b(void)
{
    set_tpr(0x20);
    uint32_t a = 0x20, d = 0, b = 0x30, c = 0, f = 0x2 | FL_CF;
    __asm__ volatile("push %[f]; popf; lock cmpxchg8b (%[m]); pushf; pop %[f]"
                     : "+a"(a), "+d"(d), [f] "+r"(f) : "b"(b), "c"(c), [m] "r"(TPR) : "memory", "cc");
    test_check(tpr() == 0x30 && (f & FL_ZF) && (f & FL_CF) && a == 0x20,
               "lock cmpxchg8b TPR:TPR+4 = EDX:EAX: TPR 0x%x from EBX, ZF=1, CF kept (SDM CMPXCHG8B)", tpr());
    a = 0x21, d = 0, f = 0x2;
    __asm__ volatile("push %[f]; popf; lock cmpxchg8b (%[m]); pushf; pop %[f]"
                     : "+a"(a), "+d"(d), [f] "+r"(f) : "b"(0x40), "c"(c), [m] "r"(TPR) : "memory", "cc");
    test_check(tpr() == 0x30 && !(f & FL_ZF) && a == 0x30 && d == 0,
               "lock cmpxchg8b, EDX:EAX differs: EDX:EAX %x:%x loaded, TPR 0x%x kept, ZF=0", d, a, tpr());
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    test_title("mmio: string, locked, bit-test, widening, push/pop and SSE instructions on device memory");
    lapic_sw_enable(0xff);
    version = lapic_read(LAPIC_VERSION);
    test_check(version == VERSION_VALUE, "version register 0x%08x (mov; the value the checks expect)", version);
    write_cr0((read_cr0() | CR0_MP) & ~(CR0_EM | CR0_TS));
    write_cr4(read_cr4() | CR4_OSFXSR);

    check_rep_movs();
    check_rep_stos();
    check_strings_on_nothing();
    check_addr16();
    check_rmw();
    check_xchg_cmpxchg_xadd();
    check_bit_tests();
    check_widening_loads();
    check_push_pop();
    check_sse();
    check_setcc_cmov();
    check_shifts();
    check_muldiv();
    check_bit_counts();
    check_cmps_scas();
    check_cmpxchg8b();
    check_straddle_nothing((uint32_t)mb_ram_end(mbi));
    check_straddle_device((uint32_t)mb_ram_end(mbi));
    check_page_fault();
    set_tpr(0);
    test_end();
}

/* The arithmetic of the instructions emulated on device memory: results and RFLAGS as the CPU
 * computes them (SDM Vol. 1 3.4.3.1 and each instruction of Vol. 2), and access to the guest's
 * XMM registers for the SSE loads and stores. */
#include "vmx/emulate.h"

uint64_t emu_low(uint64_t v, unsigned size)
{
    return size >= 8 ? v : v & ((1ull << (8 * size)) - 1);
}

uint64_t emu_reg_merge(uint64_t old, uint64_t v, unsigned size, bool high_byte)
{
    v = emu_low(v, size);
    switch (size) {
    case 1:
        return high_byte ? (old & ~0xFF00ull) | (v << 8) : (old & ~0xFFull) | v;
    case 2:
        return (old & ~0xFFFFull) | v;
    default:                            /* 4: zero-extended into 63:32; 8: the whole register */
        return v;
    }
}

static uint64_t sign_bit(unsigned size)
{
    return 1ull << (8 * size - 1);
}

/* SF, ZF and PF of a result (PF: an even number of ones in its low byte). */
static uint64_t szp(uint64_t r, unsigned size)
{
    uint64_t f = 0;
    unsigned b = (unsigned)(r & 0xFF);
    b ^= b >> 4;
    b ^= b >> 2;
    b ^= b >> 1;
    if (!(b & 1))
        f |= EMU_PF;
    if (r == 0)
        f |= EMU_ZF;
    if (r & sign_bit(size))
        f |= EMU_SF;
    return f;
}

/* r = d + s (+ carry in): the carry out of the top bit, signed overflow, the carry out of bit 3. */
static uint64_t add_flags(uint64_t d, uint64_t s, uint64_t r, unsigned size)
{
    uint64_t f = szp(r, size), msb = sign_bit(size);
    if (((d & s) | ((d | s) & ~r)) & msb)
        f |= EMU_CF;
    if ((d ^ r) & (s ^ r) & msb)
        f |= EMU_OF;
    if ((d ^ s ^ r) & 0x10)
        f |= EMU_AF;
    return f;
}

/* r = d - s (- borrow in): the borrow into the top bit, signed overflow, the borrow from bit 4. */
static uint64_t sub_flags(uint64_t d, uint64_t s, uint64_t r, unsigned size)
{
    uint64_t f = szp(r, size), msb = sign_bit(size);
    if (((~d & s) | ((~d | s) & r)) & msb)
        f |= EMU_CF;
    if ((d ^ s) & (d ^ r) & msb)
        f |= EMU_OF;
    if ((d ^ s ^ r) & 0x10)
        f |= EMU_AF;
    return f;
}

/* The value after a 1-bit step of a rotate or shift, and the bit it moved out in *out. */
static uint64_t shift_step(enum emu_op op, unsigned size, uint64_t r, uint64_t *cf)
{
    unsigned top = 8 * size - 1;
    uint64_t msb = sign_bit(size), in = *cf;
    switch (op) {
    case EMU_ROL: *cf = (r & msb) != 0; return emu_low(r << 1 | *cf, size);
    case EMU_ROR: *cf = r & 1; return r >> 1 | (r & 1) << top;
    case EMU_RCL: *cf = (r & msb) != 0; return emu_low(r << 1 | in, size);
    case EMU_RCR: *cf = r & 1; return r >> 1 | in << top;
    case EMU_SHL: *cf = (r & msb) != 0; return emu_low(r << 1, size);
    case EMU_SHR: *cf = r & 1; return r >> 1;
    default:      *cf = r & 1; return r >> 1 | (r & msb);     /* SAR */
    }
}

unsigned emu_shift_count(unsigned size, uint64_t src)
{
    return (unsigned)(src & (size == 8 ? 0x3F : 0x1F));
}

/* ROL ROR RCL RCR SHL SHR SAR (SDM Vol. 2 "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR"), step by step
 * as their pseudo-code: rotates go round count MOD the width (RCL/RCR MOD width + 1 for 8 and
 * 16 bits), shifts count times (a byte shifted by 9..31 is 0). OF is the SDM's for count 1;
 * for other counts it is undefined and computed by the same rule on the last step (SHL, RCL,
 * ROL: top bit XOR CF; SHR, SAR, ROR, RCR: the top two bits XORed), as Bochs does. */
static uint64_t shift(enum emu_op op, unsigned size, uint64_t d, uint64_t src, uint64_t *rflags)
{
    unsigned n = emu_shift_count(size, src), bits = 8 * size, steps = n;
    uint64_t msb = sign_bit(size), cf = (*rflags & EMU_CF) != 0, r = d, prev = d, f, keep;
    if (n == 0)
        return d;                       /* no flag changes */
    if (op == EMU_ROL || op == EMU_ROR)
        steps = n % bits;
    else if ((op == EMU_RCL || op == EMU_RCR) && size < 4)
        steps = n % (bits + 1);
    if ((op == EMU_RCL || op == EMU_RCR) && steps == 0)
        return d;
    for (unsigned i = 0; i < steps; i++) {
        prev = r;
        r = shift_step(op, size, r, &cf);
    }
    switch (op) {
    case EMU_ROL:                       /* CF is the low bit even when count MOD width is 0 */
        cf = r & 1;
        break;
    case EMU_ROR:
        cf = (r & msb) != 0;
        break;
    default:
        break;
    }
    bool of;
    if (op == EMU_ROL || op == EMU_RCL || op == EMU_SHL)
        of = ((r & msb) != 0) != (cf != 0);
    else if (op == EMU_ROR || op == EMU_RCR)
        of = ((r & msb) != 0) != ((r & (msb >> 1)) != 0);
    else                                /* SHR: the top bit before the last step; SAR: 0 */
        of = ((r ^ prev) & msb) != 0;
    f = (cf ? EMU_CF : 0) | (of ? EMU_OF : 0);
    keep = EMU_CF | EMU_OF;
    if (op == EMU_SHL || op == EMU_SHR || op == EMU_SAR) {
        f |= szp(r, size);              /* AF: undefined, cleared */
        keep = EMU_STATUS_FLAGS;
    }
    *rflags = (*rflags & ~keep) | (f & keep);
    return r;
}

static uint64_t sign_extend(uint64_t v, unsigned size)
{
    v = emu_low(v, size);
    return size < 8 && (v & sign_bit(size)) ? v | ~0ull << (8 * size) : v;
}

/* a * b on size bytes: the low half returned, the high half (size bytes) in *hi. */
static uint64_t mul_wide(bool sign, unsigned size, uint64_t a, uint64_t b, uint64_t *hi)
{
    uint64_t lo, h;
    if (size == 8) {
        if (sign)
            __asm__("imulq %3" : "=a"(lo), "=d"(h) : "a"(a), "rm"(b) : "cc");
        else
            __asm__("mulq %3" : "=a"(lo), "=d"(h) : "a"(a), "rm"(b) : "cc");
        *hi = h;
        return lo;
    }
    uint64_t p = sign ? (uint64_t)((int64_t)sign_extend(a, size) * (int64_t)sign_extend(b, size))
                      : emu_low(a, size) * emu_low(b, size);
    *hi = emu_low(p >> (8 * size), size);
    return emu_low(p, size);
}

/* CF = OF = the high half matters; SF ZF PF of the low half, AF clear (Bochs's choice for the
 * undefined four, SDM Vol. 2 MUL, IMUL). */
static uint64_t mul_flags(bool sign, unsigned size, uint64_t lo, uint64_t hi)
{
    uint64_t ext = sign && (lo & sign_bit(size)) ? emu_low(~0ull, size) : 0;
    return szp(lo, size) | (hi != ext ? EMU_CF | EMU_OF : 0);
}

/* BSF BSR TZCNT LZCNT POPCNT of s into d (see emulate.h for the flags). */
static uint64_t bit_count(enum emu_op op, unsigned size, uint64_t d, uint64_t s, uint64_t *rflags)
{
    unsigned bits = 8 * size, low = 0, high = 0, ones = 0;
    bool any = s != 0;
    for (unsigned i = 0; i < bits; i++)
        ones += (s >> i) & 1;
    while (any && !((s >> low) & 1))
        low++;
    while (any && !((s >> (bits - 1 - high)) & 1))
        high++;
    uint64_t f, keep, r;
    switch (op) {
    case EMU_BSF: case EMU_BSR:
        if (!any) {
            *rflags |= EMU_ZF;
            return d;
        }
        r = op == EMU_BSF ? low : bits - 1 - high;
        f = szp(r, size) & ~(uint64_t)EMU_ZF;
        keep = EMU_STATUS_FLAGS;
        break;
    case EMU_TZCNT: case EMU_LZCNT:
        r = !any ? bits : op == EMU_TZCNT ? low : high;
        f = (!any ? EMU_CF : 0) | (r == 0 ? EMU_ZF : 0);
        keep = EMU_CF | EMU_ZF;
        break;
    default:                            /* POPCNT */
        r = ones;
        f = !any ? EMU_ZF : 0;
        keep = EMU_STATUS_FLAGS;
        break;
    }
    *rflags = (*rflags & ~keep) | (f & keep);
    return r;
}

uint64_t emu_alu(enum emu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags)
{
    uint64_t d = emu_low(dst, size), s = emu_low(src, size), r, f, keep = EMU_STATUS_FLAGS;
    uint64_t cf = *rflags & EMU_CF;
    switch (op) {
    case EMU_ADD: case EMU_ADC:
        r = emu_low(d + s + (op == EMU_ADC ? cf : 0), size);
        f = add_flags(d, s, r, size);
        break;
    case EMU_SUB: case EMU_SBB: case EMU_CMP:
        r = emu_low(d - s - (op == EMU_SBB ? cf : 0), size);
        f = sub_flags(d, s, r, size);
        if (op == EMU_CMP)
            r = d;
        break;
    case EMU_INC: case EMU_DEC:
        r = emu_low(op == EMU_INC ? d + 1 : d - 1, size);
        f = (op == EMU_INC ? add_flags(d, 1, r, size) : sub_flags(d, 1, r, size)) & ~(uint64_t)EMU_CF;
        keep = EMU_STATUS_FLAGS & ~EMU_CF;
        break;
    case EMU_NEG:
        r = emu_low(0 - d, size);
        f = sub_flags(0, d, r, size);
        break;
    case EMU_AND: case EMU_TEST:
        r = d & s;
        f = szp(r, size);
        if (op == EMU_TEST)
            r = d;
        break;
    case EMU_OR:
        r = d | s;
        f = szp(r, size);
        break;
    case EMU_XOR:
        r = d ^ s;
        f = szp(r, size);
        break;
    case EMU_NOT:
        return emu_low(~d, size);
    case EMU_ROL: case EMU_ROR: case EMU_RCL: case EMU_RCR: case EMU_SHL: case EMU_SHR: case EMU_SAR:
        return shift(op, size, d, s, rflags);
    case EMU_IMUL: {
        uint64_t hi, lo = mul_wide(true, size, d, s, &hi);
        *rflags = (*rflags & ~(uint64_t)EMU_STATUS_FLAGS) | mul_flags(true, size, lo, hi);
        return lo;
    }
    case EMU_BSF: case EMU_BSR: case EMU_TZCNT: case EMU_LZCNT: case EMU_POPCNT:
        return bit_count(op, size, d, s, rflags);
    default: {                          /* BT, BTS, BTR, BTC */
        uint64_t bit = 1ull << (src & (8 * size - 1));
        f = (d & bit) ? EMU_CF : 0;
        keep = EMU_CF;
        r = op == EMU_BTS ? d | bit : op == EMU_BTR ? d & ~bit : op == EMU_BTC ? d ^ bit : d;
        break;
    }
    }
    *rflags = (*rflags & ~keep) | (f & keep);
    return r;
}

/* (hi:lo) / d with hi < d, so that the quotient fits in 64 bits (DIV itself, SDM Vol. 2). */
static uint64_t div_wide(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
    uint64_t q, r;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d) : "cc");
    *rem = r;
    return q;
}

/* Writes the two halves of a result: AL and AH for size 1, else the accumulator and RDX. */
static void put_pair(unsigned size, uint64_t a, uint64_t d, uint64_t *rax, uint64_t *rdx)
{
    if (size == 1) {
        *rax = (*rax & ~0xFFFFull) | emu_low(d, 1) << 8 | emu_low(a, 1);
        return;
    }
    *rax = emu_reg_merge(*rax, a, size, false);
    *rdx = emu_reg_merge(*rdx, d, size, false);
}

static int divide(bool sign, unsigned size, uint64_t src, uint64_t *rax, uint64_t *rdx)
{
    unsigned bits = 8 * size;
    uint64_t hi, lo;                    /* the dividend, 128 bits */
    if (size == 8) {
        hi = *rdx, lo = *rax;
    } else {
        lo = emu_low(size == 1 ? *rax : *rdx << bits | emu_low(*rax, size), 2 * size);
        hi = 0;
        if (sign && (lo >> (2 * bits - 1) & 1)) {
            lo |= size == 4 ? 0 : ~0ull << (2 * bits);
            hi = ~0ull;
        }
    }
    uint64_t dv = sign ? sign_extend(src, size) : emu_low(src, size);
    bool neg = sign && (hi >> 63), dneg = sign && (dv >> 63);
    if (neg) {                          /* magnitudes */
        lo = ~lo + 1;
        hi = ~hi + (lo == 0);
    }
    if (dneg)
        dv = ~dv + 1;
    if (dv == 0 || hi >= dv)
        return -1;
    uint64_t r, q = div_wide(hi, lo, dv, &r);
    uint64_t max = sign ? (neg != dneg ? sign_bit(size) : sign_bit(size) - 1) : emu_low(~0ull, size);
    if (q > max)
        return -1;
    put_pair(size, neg != dneg ? ~q + 1 : q, neg ? ~r + 1 : r, rax, rdx);
    return 0;
}

int emu_muldiv(enum emu_op op, unsigned size, uint64_t src, uint64_t *rax, uint64_t *rdx, uint64_t *rflags)
{
    if (op == EMU_DIV || op == EMU_IDIV)
        return divide(op == EMU_IDIV, size, src, rax, rdx);
    bool sign = op == EMU_IMUL;
    uint64_t hi, lo = mul_wide(sign, size, *rax, src, &hi);
    *rflags = (*rflags & ~(uint64_t)EMU_STATUS_FLAGS) | mul_flags(sign, size, lo, hi);
    put_pair(size, lo, hi, rax, rdx);
    return 0;
}

bool emu_cond(unsigned cc, uint64_t rflags)
{
    bool cf = rflags & EMU_CF, zf = rflags & EMU_ZF, sf = rflags & EMU_SF, of = rflags & EMU_OF;
    bool pf = rflags & EMU_PF, r;
    switch ((cc >> 1) & 7) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    default: r = zf || sf != of; break;
    }
    return (cc & 1) ? !r : r;
}

bool emu_writes_result(enum emu_op op)
{
    return op != EMU_CMP && op != EMU_TEST && op != EMU_BT;
}

bool emu_lockable(enum emu_op op)
{
    return op <= EMU_BTC && emu_writes_result(op);
}

/* One case per register, since the register is part of the instruction. The host is built
 * with -mno-sse: these are its only SSE instructions, and nothing else uses the registers. */
void emu_xmm_read(unsigned n, uint8_t out[16])
{
    uint8_t (*p)[16] = (uint8_t (*)[16])out;
    switch (n & 15) {
#define R(n) case n: __asm__ volatile("movdqu %%xmm" #n ", %0" : "=m"(*p) : : "memory"); break;
    R(0) R(1) R(2) R(3) R(4) R(5) R(6) R(7) R(8) R(9) R(10) R(11) R(12) R(13) R(14) R(15)
#undef R
    }
}

void emu_xmm_write(unsigned n, const uint8_t in[16])
{
    const uint8_t (*p)[16] = (const uint8_t (*)[16])in;
    switch (n & 15) {
#define W(n) case n: __asm__ volatile("movdqu %0, %%xmm" #n : : "m"(*p) : "memory"); break;
    W(0) W(1) W(2) W(3) W(4) W(5) W(6) W(7) W(8) W(9) W(10) W(11) W(12) W(13) W(14) W(15)
#undef W
    }
}

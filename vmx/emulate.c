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

bool emu_writes_result(enum emu_op op)
{
    return op != EMU_CMP && op != EMU_TEST && op != EMU_BT;
}

bool emu_lockable(enum emu_op op)
{
    return emu_writes_result(op);
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

/* The arithmetic of the instructions emulated on device memory (results and RFLAGS, pure), and
 * the guest's XMM registers, which the CPU still holds while its exit is handled. */
#ifndef VMX_EMULATE_H
#define VMX_EMULATE_H

#include <stdbool.h>
#include <stdint.h>

/* The status flags (SDM Vol. 1 3.4.3.1); DF for the string instructions. */
#define EMU_CF (1u << 0)
#define EMU_PF (1u << 2)
#define EMU_AF (1u << 4)
#define EMU_ZF (1u << 6)
#define EMU_SF (1u << 7)
#define EMU_DF (1u << 10)
#define EMU_OF (1u << 11)
#define EMU_STATUS_FLAGS (EMU_CF | EMU_PF | EMU_AF | EMU_ZF | EMU_SF | EMU_OF)

/* The operations. The first eight are in the order of the /digit of opcodes 80-83 and of
 * bits 5:3 of opcodes 00-3F (SDM Vol. 2, Table A-6), which the decoder relies on. */
enum emu_op {
    EMU_ADD, EMU_OR, EMU_ADC, EMU_SBB, EMU_AND, EMU_SUB, EMU_XOR, EMU_CMP,
    EMU_TEST, EMU_INC, EMU_DEC, EMU_NOT, EMU_NEG,
    EMU_BT, EMU_BTS, EMU_BTR, EMU_BTC,
    /* Shifts and rotates: the memory operand by a count (C0/C1/D0-D3, SAL is SHL). */
    EMU_ROL, EMU_ROR, EMU_RCL, EMU_RCR, EMU_SHL, EMU_SHR, EMU_SAR,
    /* dst is the register, src the memory operand: IMUL r, r/m (and r, r/m, imm with the
     * immediate as dst), the bit scans and counts. */
    EMU_IMUL, EMU_BSF, EMU_BSR, EMU_TZCNT, EMU_LZCNT, EMU_POPCNT,
    /* F6/F7 /4-/7 with their implicit accumulator (emu_muldiv; EMU_IMUL there too). */
    EMU_MUL, EMU_DIV, EMU_IDIV,
};

/*
 * dst OP src on size bytes (1, 2, 4 or 8; the inputs' higher bits are ignored), as the CPU
 * computes it (SDM Vol. 2, each instruction's "Flags Affected"). Returns the result (size
 * bytes, zero above) and updates the status flags in *rflags, leaving every other bit alone:
 *   ADD ADC SUB SBB CMP NEG   CF OF SF ZF AF PF from the result; ADC/SBB add/subtract CF;
 *                             NEG is 0 - dst (CF = dst != 0); CMP returns dst unchanged
 *   INC DEC                   the same as ADD/SUB 1, but CF is kept
 *   AND OR XOR TEST           CF = OF = 0, SF ZF PF from the result; AF (undefined) cleared,
 *                             as the CPU and Bochs do; TEST returns dst unchanged
 *   NOT                       no flag changes
 *   BT BTS BTR BTC            CF = bit (src mod 8*size) of dst, then BTS sets, BTR clears,
 *                             BTC flips it; ZF kept, OF SF AF PF (undefined) kept
 *   ROL ROR RCL RCR SHL SHR SAR  dst by src masked to 5 bits (6 for size 8); a masked count
 *                             of 0 changes no flag. CF the last bit out (ROL: the low bit,
 *                             ROR: the top bit, after rotating); OF as the SDM says for a
 *                             count of 1 and by the same rule (the last 1-bit step) for the
 *                             others, where it is undefined: that is what Bochs computes.
 *                             Shifts: SF ZF PF from the result, AF (undefined) cleared, as
 *                             Bochs does. Rotates keep SF ZF AF PF; RCL/RCR whose count is a
 *                             multiple of 9 (byte) or 17 (word) change nothing.
 *   IMUL                      dst * src, signed, truncated to size; CF = OF = the truncation
 *                             lost significant bits; SF ZF PF (undefined) from the truncated
 *                             result and AF cleared, as Bochs does
 *   BSF BSR                   the index of the lowest / highest set bit of src, ZF = 0; src 0:
 *                             ZF = 1, dst returned unchanged (the CPUs leave the register alone)
 *                             and the other flags kept. Otherwise CF OF AF (undefined) cleared
 *                             and SF PF from the index, as Bochs does
 *   TZCNT LZCNT               trailing / leading zeros of src (8*size for 0); CF = src is 0,
 *                             ZF = result is 0; OF SF AF PF (undefined) kept, as Bochs does
 *   POPCNT                    the ones in src; ZF = src is 0, OF SF AF CF PF cleared
 * src is unused by INC, DEC, NOT and NEG.
 */
uint64_t emu_alu(enum emu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags);

/*
 * F6/F7 /4-/7 on size bytes with operand src (SDM Vol. 2 MUL, IMUL, DIV, IDIV): MUL and IMUL
 * leave the double-width product in AX (size 1), DX:AX, EDX:EAX or RDX:RAX, CF = OF = the high
 * half is significant (MUL: not zero; IMUL: not the sign extension of the low half), SF ZF PF
 * (undefined) from the low half and AF cleared, as Bochs does. DIV and IDIV divide that
 * double-width register pair by src: the quotient to AL/AX/EAX/RAX, the remainder to
 * AH/DX/EDX/RDX (IDIV truncates toward zero, the remainder has the dividend's sign). Returns
 * -1 for #DE, a zero divisor or a quotient too wide for size bytes (IDIV: outside
 * -2^(8*size-1) .. 2^(8*size-1)-1), with nothing changed; DIV and IDIV leave every flag as it
 * was (all six undefined; Bochs does not change them). A 32-bit result zero-extends RAX and
 * RDX (SDM Vol. 1 3.4.1.1).
 */
int emu_muldiv(enum emu_op op, unsigned size, uint64_t src, uint64_t *rax, uint64_t *rdx, uint64_t *rflags);

/* Whether condition code cc (0-15, the low nibble of Jcc, SETcc, CMOVcc) holds for rflags
 * (SDM Vol. 1 Appendix B: O NO B AE E NE BE A S NS P NP L GE LE G). */
bool emu_cond(unsigned cc, uint64_t rflags);

/* The count a shift or rotate uses: src masked to 5 bits, 6 for size 8. */
unsigned emu_shift_count(unsigned size, uint64_t src);

/* Whether op writes its result to the destination (CMP, TEST and BT only set flags). */
bool emu_writes_result(enum emu_op op);

/* Whether LOCK is legal with op on a memory destination (SDM Vol. 2 "LOCK"): ADD ADC AND
 * BTC BTR BTS DEC INC NEG NOT OR SBB SUB XOR (and XCHG, XADD, CMPXCHG, which have no op). */
bool emu_lockable(enum emu_op op);

/* The low size bytes of v (all of it for 8). */
uint64_t emu_low(uint64_t v, unsigned size);

/* A general-purpose register after writing size bytes of v to it (SDM Vol. 1 3.4.1.1):
 * 1 and 2 keep the rest (high_byte: bits 15:8, AH..BH), 4 zero-extends into 63:32, 8 is all. */
uint64_t emu_reg_merge(uint64_t old, uint64_t v, unsigned size, bool high_byte);

/* XMM register n (0-15) of the CPU, which holds the guest's while its exit is handled: the
 * host switches FPU/SSE state only between vCPUs (vmx/xsave.c) and never uses SSE itself
 * (-mno-sse), so the exit handler reads and writes the guest's register directly. */
void emu_xmm_read(unsigned n, uint8_t out[16]);
void emu_xmm_write(unsigned n, const uint8_t in[16]);

#endif

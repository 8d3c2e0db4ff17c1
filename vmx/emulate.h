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
 * src is unused by INC, DEC, NOT and NEG.
 */
uint64_t emu_alu(enum emu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags);

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

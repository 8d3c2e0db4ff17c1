/* Decoding of the few x86 instructions a guest uses on memory-mapped device registers. */
#ifndef VMX_DECODE_H
#define VMX_DECODE_H

/*
 * Overview. When a guest touches an emulated MMIO page (the local APIC at
 * 0xFEE00000, the IOAPIC at 0xFEC00000) the CPU takes an EPT violation. The
 * exit qualification and GUEST_PHYSICAL_ADDRESS say where and whether it was a
 * read or a write (SDM 28.2.1 Table 28-7), but not how wide the access was,
 * which register holds the data, nor how long the instruction is (VM-exit
 * instruction length is undefined for EPT violations, SDM 28.2.5). So the
 * handler fetches the bytes at the guest's CS:RIP and asks decode_mmio().
 *
 * Recognised (SDM Vol. 2, "MOV", "MOVZX", "MOVSX", "XCHG"):
 *   88/89   MOV r/m, r          store
 *   8A/8B   MOV r, r/m          load
 *   C6/C7 /0 MOV r/m, imm       store of an immediate
 *   A0-A3   MOV AL/eAX <-> moffs
 *   0F B6/B7 MOVZX, 0F BE/BF MOVSX   loads that widen
 *   86/87   XCHG r/m, r         store of reg, then load of the old value into reg
 * with legacy prefixes 66, 67, segment overrides (ignored: the EPT violation
 * gives the address), F2/F3 (ignored, as the CPU does for these opcodes), F0
 * (XCHG only: LOCK MOV raises #UD before any access) and, in 64-bit mode, a REX
 * prefix immediately before the opcode (a REX followed by another prefix is
 * ignored, SDM 2.2.1).
 *
 * Refused (-1): every other opcode, register operands (mod = 11), string
 * instructions (MOVS, STOS, LODS, CMPS, SCAS and their REP forms: they need a
 * loop over RSI/RDI/RCX and the direction flag, not this decoder), VEX/EVEX,
 * instructions longer than 15 bytes, and input that ends mid-instruction.
 *
 * The effective address is not computed, only the length of the ModRM, SIB
 * and displacement bytes that encode it.
 */

#include <stdbool.h>
#include <stdint.h>

/* The code segment's default operand and address size: CS.L (64), CS.D (32), else 16. */
enum decode_mode { DECODE_16, DECODE_32, DECODE_64 };

enum mmio_op { MMIO_LOAD, MMIO_STORE };

/* Register numbers of reg, in the ModRM/REX order. */
enum { DECODE_RAX, DECODE_RCX, DECODE_RDX, DECODE_RBX, DECODE_RSP, DECODE_RBP, DECODE_RSI, DECODE_RDI };

/* Longest legal x86 instruction (SDM 2.3.11); a caller fetching this many bytes never truncates. */
#define DECODE_MAX_LEN 15

/*
 * One decoded MMIO access.
 * Stores write `size` bytes: the low bytes of register `reg`, bits 15:8 of it
 * when high_byte, or the low bytes of imm when reg is -1 (see mmio_store_data).
 * Loads read `size` bytes, widen them to dest_size bytes (zero_extend for
 * MOVZX, sign_extend for MOVSX, neither when the sizes match) and write
 * dest_size bytes of register `reg`. Writes of 1 or 2 bytes keep the rest of
 * the register; a 4-byte write zero-extends into bits 63:32, as 64-bit mode
 * does for every 32-bit destination (SDM 3.4.1.1; outside 64-bit mode those
 * bits are not visible); see mmio_load_result.
 * XCHG is reported as a store with xchg set: the caller writes the register's
 * value to the device and loads the device's old value into the register,
 * under the load rule above with dest_size = size.
 */
struct mmio_insn {
    unsigned len;           /* instruction length in bytes: add to RIP after emulating */
    enum mmio_op op;
    unsigned size;          /* bytes accessed in the device: 1, 2, 4 or 8 */
    int reg;                /* register 0..15 (RAX=0 ... R15=15) holding the data; -1: imm */
    bool high_byte;         /* reg names RAX..RBX and the byte is AH/CH/DH/BH (bits 15:8) */
    uint64_t imm;           /* stores with reg == -1: the immediate, sign-extended to size */
    bool zero_extend;       /* loads: MOVZX */
    bool sign_extend;       /* loads: MOVSX */
    unsigned dest_size;     /* loads and XCHG: bytes of reg written: 1, 2, 4 (clears 63:32) or 8 */
    bool xchg;              /* XCHG: a store that also loads the old value into reg */
};

/* Decodes the instruction at bytes[0..avail) as executed in mode. Returns 0 and fills *out,
 * or -1 if it is not one we emulate or bytes end before it does (*out then undefined). */
int decode_mmio(const uint8_t *bytes, unsigned avail, enum decode_mode mode, struct mmio_insn *out);

/* The size bytes a store writes to the device, given the current value of insn->reg
 * (ignored for an immediate), in the low bits of the result. */
uint64_t mmio_store_data(const struct mmio_insn *insn, uint64_t reg_value);

/* The new value of insn->reg after a load (or the load half of XCHG) read data from the
 * device, given the register's old value; applies widening and the dest_size rule above. */
uint64_t mmio_load_result(const struct mmio_insn *insn, uint64_t reg_old, uint64_t data);

#endif

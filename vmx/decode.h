/* Decoding of the few x86 instructions a guest uses on memory-mapped device registers. */
#ifndef VMX_DECODE_H
#define VMX_DECODE_H

/*
 * Overview. When a guest touches an emulated MMIO page (the local APIC at
 * 0xFEE00000, the IOAPIC at 0xFEC00000) or memory of nothing, the CPU takes an
 * EPT violation. The exit qualification and GUEST_PHYSICAL_ADDRESS say where
 * and whether it was a read or a write (SDM 28.2.1 Table 28-7), but not how
 * wide the access was, which register holds the data, what the instruction
 * computes, nor how long it is (VM-exit instruction length is undefined for EPT
 * violations, SDM 28.2.5). So the handler fetches the bytes at the guest's
 * CS:RIP and asks decode_mmio(); vmx/exit_mmio.c then carries the instruction
 * out, one device access (request) at a time.
 *
 * Recognised (SDM Vol. 2, each instruction; the kinds of struct mmio_insn):
 *   MMIO_MOV   88-8B MOV, C6/C7 /0 MOV imm, A0-A3 MOV moffs, 0F B6/B7/BE/BF
 *              MOVZX/MOVSX, 63 MOVSXD (64-bit mode), 86/87 XCHG, 0F C3 MOVNTI
 *   MMIO_ALU   00-3B ADD OR ADC SBB AND SUB XOR CMP (r/m,r and r,r/m), 80/81/83
 *              the same with an immediate, 84/85 and F6/F7 /0 /1 TEST, F6/F7 /2 NOT
 *              /3 NEG, FE/FF /0 INC /1 DEC, 0F A3/AB/B3/BB and 0F BA /4-/7
 *              BT BTS BTR BTC
 *   MMIO_CMPXCHG 0F B0/B1;  MMIO_XADD 0F C0/C1
 *   MMIO_MOVS A4/A5, MMIO_STOS AA/AB, MMIO_LODS AC/AD, with REP (F3 or F2)
 *   MMIO_SSE   0F 10/11 MOVUPS MOVUPD MOVSS MOVSD, 0F 28/29 MOVAPS MOVAPD,
 *              0F 2B MOVNTPS MOVNTPD, 66 0F 6F/7F MOVDQA, F3 0F 6F/7F MOVDQU,
 *              66 0F E7 MOVNTDQ, 66 0F 6E/7E MOVD/MOVQ, F3 0F 7E and 66 0F D6 MOVQ
 *   MMIO_PUSH  FF /6 PUSH r/m;  MMIO_POP 8F /0 POP r/m
 *   MMIO_ALU   also C0/C1 D0-D3 ROL ROR RCL RCR SHL SHR SAR r/m by imm8, 1 or CL (/6 is SHL,
 *              as the CPUs execute it); 0F AF, 69, 6B IMUL r, r/m (, imm); 0F BC/BD BSF BSR,
 *              F3 0F BC/BD TZCNT LZCNT, F3 0F B8 POPCNT (exit_mmio.c applies the guest's
 *              CPUID: without BMI1/LZCNT the CPU runs TZCNT/LZCNT as BSF/BSR)
 *   MMIO_SETCC 0F 90-9F SETcc r/m8;  MMIO_CMOV 0F 40-4F CMOVcc r, r/m
 *   MMIO_MULDIV F6/F7 /4-/7 MUL IMUL DIV IDIV r/m (the accumulator and RDX implicit)
 *   MMIO_CMPS A6/A7, MMIO_SCAS AE/AF, with REPE (F3) or REPNE (F2)
 *   MMIO_CMPXCHG8B 0F C7 /1 CMPXCHG8B m64, with REX.W CMPXCHG16B m128
 * with legacy prefixes 66, 67 (16-bit addressing: the ModRM forms with BX+SI
 * etc., and SI/DI/CX for the string instructions), segment overrides (the
 * source of MOVS and LODS; for the rest the EPT violation gives the address),
 * F2/F3 (REP of a string instruction, the mandatory prefix of an SSE one,
 * else ignored as the CPU does), F0 and, in 64-bit mode, a REX prefix
 * immediately before the opcode (a REX followed by another prefix is ignored,
 * SDM 2.2.1). LOCK with an instruction that cannot take it is #UD (SDM Vol. 2
 * "LOCK"), reported as DECODE_UD.
 *
 * Refused (DECODE_REFUSED): every other opcode, register operands (mod = 11),
 * CALL/JMP through memory, MMX, VEX and EVEX, instructions longer than 15
 * bytes, and input that ends mid-instruction.
 *
 * The memory operand's effective address is decoded into its parts (base, index,
 * scale, displacement; RIP-relative; the moffs of A0-A3) and its default segment (SS
 * for a BP or SP base, SDM Vol. 1 3.7.5), so that exit_mmio.c can compute where the
 * operand starts: the exit's guest-physical address is only the first byte of the
 * page that is not RAM, which for an operand that begins in RAM is not its start
 * (the string instructions compute theirs from RSI/RDI).
 */

#include <stdbool.h>
#include <stdint.h>
#include "vmx/emulate.h"

/* The code segment's default operand and address size: CS.L (64), CS.D (32), else 16. */
enum decode_mode { DECODE_16, DECODE_32, DECODE_64 };

/* What decode_mmio() returns besides 0. */
#define DECODE_REFUSED (-1)     /* not an instruction we emulate, or the bytes end first */
#define DECODE_UD      (-2)     /* LOCK where the CPU raises #UD */

enum mmio_kind {
    MMIO_MOV,               /* one access: op, size, reg/imm, widening, xchg */
    MMIO_ALU,               /* load, emu_alu, store if the op writes memory */
    MMIO_CMPXCHG,           /* load; equal to the accumulator: store reg, else load it into RAX */
    MMIO_XADD,              /* load; store the sum, the old value into reg */
    MMIO_MOVS, MMIO_STOS, MMIO_LODS,    /* one element at a time, RSI/RDI/RCX as the CPU */
    MMIO_SSE,               /* op, size bytes of XMM register reg, in pieces of at most 8 */
    MMIO_PUSH,              /* load the operand, write it below RSP in the stack */
    MMIO_POP,               /* read the stack at RSP, store it to the operand */
    MMIO_SETCC,             /* store 1 or 0: whether cond holds */
    MMIO_CMOV,              /* load; write reg only if cond holds (32 bits: zero-extend anyway) */
    MMIO_MULDIV,            /* load; emu_muldiv(alu) on RAX/RDX, #DE if it says so */
    MMIO_CMPS, MMIO_SCAS,   /* strings that compare: RFLAGS, REPE/REPNE stop on ZF */
    MMIO_CMPXCHG8B,         /* two loads of size/2; equal: two stores of RCX:RBX's halves */
};

enum mmio_op { MMIO_LOAD, MMIO_STORE };

/* Register numbers of reg, in the ModRM/REX order. */
enum { DECODE_RAX, DECODE_RCX, DECODE_RDX, DECODE_RBX, DECODE_RSP, DECODE_RBP, DECODE_RSI, DECODE_RDI };

/* Segment registers, in the order of their encoding (and of VMX instruction information). */
enum { DECODE_ES, DECODE_CS, DECODE_SS, DECODE_DS, DECODE_FS, DECODE_GS };

/* mmio_insn.base for a RIP-relative operand (64-bit mode, ModRM mod 00 r/m 101). */
#define DECODE_RIP 16

/* Longest legal x86 instruction (SDM 2.3.11); a caller fetching this many bytes never truncates. */
#define DECODE_MAX_LEN 15

/* One access of an instruction to memory, in parts at page boundaries (exit_mmio.c): an
 * operand may start in RAM and end in a device's page or in nothing. */
struct mmio_part {
    uint64_t gla, gpa[2];   /* its first byte; where each of its pages is */
    uint64_t data;          /* a store's bytes, or a load's as they arrive */
    uint8_t size, done;     /* bytes in all (at most 8), bytes done */
    bool store;
};

/* exit_mmio.c's progress through an instruction that needs several device accesses (a
 * read-modify-write, a string, an SSE access in pieces); decode_mmio() zeroes it. */
struct mmio_progress {
    unsigned phase;         /* which request the VM layer is answering (exit_mmio.c) */
    unsigned done;          /* string elements done in this exit; SSE: bytes moved */
    uint64_t gla;           /* the memory operand's linear address (ModRM and moffs forms) */
    uint64_t value;         /* what one access leaves for the next */
    uint8_t xmm[16];        /* SSE: the bytes on their way */
    struct mmio_part part;  /* the access under way */
};

/*
 * One decoded instruction on device memory.
 * MMIO_MOV: stores write `size` bytes: the low bytes of register `reg`, bits 15:8 of it
 * when high_byte, or the low bytes of imm when reg is -1 (see mmio_store_data).
 * Loads read `size` bytes, widen them to dest_size bytes (zero_extend for MOVZX,
 * sign_extend for MOVSX, neither when the sizes match) and write dest_size bytes of
 * register `reg` (the rule of emu_reg_merge; see mmio_load_result). XCHG is reported
 * as a store with xchg set: the caller loads the device's old value into the register,
 * under the load rule above with dest_size = size, and stores the register's value.
 * MMIO_ALU: the memory operand OP the source (reg, high_byte, or imm when reg is -1,
 * sign-extended to size; unused by INC DEC NOT NEG; the bit offset of BT*); with
 * reg_dest the register is the destination instead: reg = reg OP memory.
 * MMIO_CMPXCHG, MMIO_XADD: reg is the source register (and XADD's destination).
 * Strings: size bytes per element, addr_size the width of RSI/RDI/RCX, seg the source's
 * segment (MOVS, LODS); rep with F2 or F3.
 * MMIO_SSE: reg is the XMM register (0-15); a load of 4 or 8 bytes zeroes the rest of
 * it (MOVSS, MOVSD, MOVD, MOVQ from memory); align16 for the forms that need it.
 * MMIO_PUSH, MMIO_POP: size is the operand size (the stack's width comes from SS).
 * MMIO_ALU shifts: the count is the source (imm, or reg = RCX for CL). IMUL r, r/m, imm:
 * three_op, reg = imm * memory. MMIO_SETCC, MMIO_CMOV: cond (0-15, as in Jcc); CMOV's reg,
 * size and dest_size as a load's. MMIO_MULDIV: alu is EMU_MUL, EMU_IMUL, EMU_DIV or EMU_IDIV.
 * MMIO_CMPS, MMIO_SCAS: as the other strings, repne for F2. MMIO_CMPXCHG8B: size 8 or 16.
 */
struct mmio_insn {
    unsigned len;           /* instruction length in bytes: add to RIP after emulating */
    enum mmio_kind kind;
    enum mmio_op op;        /* MMIO_MOV and MMIO_SSE: load or store */
    unsigned size;          /* bytes of the memory operand: 1, 2, 4 or 8 (SSE: 4, 8, 16) */
    int reg;                /* register 0..15 (RAX=0 ... R15=15) holding the data; -1: imm */
    bool high_byte;         /* reg names RAX..RBX and the byte is AH/CH/DH/BH (bits 15:8) */
    uint64_t imm;           /* reg == -1: the immediate, sign-extended to 64 bits */
    bool zero_extend;       /* loads: MOVZX */
    bool sign_extend;       /* loads: MOVSX */
    unsigned dest_size;     /* bytes of reg written: 1, 2, 4 (clears 63:32) or 8; 0: none */
    bool xchg;              /* XCHG: a store that also loads the old value into reg */
    enum emu_op alu;        /* MMIO_ALU: the operation */
    bool reg_dest;          /* MMIO_ALU: OP reg, r/m (the register is the destination) */
    bool rep;               /* strings: REP */
    unsigned addr_size;     /* address size in bytes: 2, 4 or 8 */
    int seg;                /* segment of the memory operand: an override, else DS (SS for a
                             * BP or SP base) */
    bool align16;           /* MOVAPS, MOVDQA, MOVNT*: #GP(0) unless 16-byte aligned */
    unsigned cond;          /* SETcc, CMOVcc: the condition (emu_cond) */
    bool three_op;          /* IMUL r, r/m, imm */
    bool repne;             /* CMPS, SCAS: REPNE (F2), else REPE */
    int base, index;        /* the operand's base and index registers, -1 if none; base */
    unsigned scale;         /* DECODE_RIP: RIP-relative; index scaled by 1 << scale */
    uint64_t disp;          /* displacement, sign-extended (moffs: the offset) */
    struct mmio_progress progress;
};

/* Decodes the instruction at bytes[0..avail) as executed in mode. Returns 0 and fills *out,
 * DECODE_UD for a LOCK the CPU refuses, or DECODE_REFUSED if it is not one we emulate or
 * bytes end before it does (*out then undefined). */
int decode_mmio(const uint8_t *bytes, unsigned avail, enum decode_mode mode, struct mmio_insn *out);

/* The memory operand's offset in its segment, its effective address (SDM Vol. 2 2.1.5):
 * base + index * 2^scale + disp at the address size, given the values of the base register
 * (of RIP after the instruction for DECODE_RIP) and of the index register (0 if none). */
uint64_t mmio_ea(const struct mmio_insn *insn, uint64_t base, uint64_t index);

/* BT, BTS, BTR, BTC with a register bit offset address a bit string: the operand they access is
 * at the effective address plus this many bytes, the offset's signed quotient by the operand's
 * bits times its size (SDM Vol. 2 BT); 0 for every other form. reg_value: the register's value. */
int64_t mmio_bit_string_delta(const struct mmio_insn *insn, uint64_t reg_value);

/* The size bytes a MOV or XCHG stores to the device, or an ALU instruction's source
 * operand, given the current value of insn->reg (ignored for an immediate), in the low bits
 * of the result. */
uint64_t mmio_store_data(const struct mmio_insn *insn, uint64_t reg_value);

/* The new value of insn->reg after a load (or the load half of XCHG) read data from the
 * device, given the register's old value; applies widening and the dest_size rule above. */
uint64_t mmio_load_result(const struct mmio_insn *insn, uint64_t reg_old, uint64_t data);

#endif

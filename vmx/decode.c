/* The MMIO instruction decoder: prefixes, opcode, ModRM/SIB/displacement (SDM Vol. 2, ch. 2). */
#include "vmx/decode.h"
#include "kernel/string.h"

/* A cursor over the fetched bytes; every read past the end or past 15 bytes fails. */
struct cursor {
    const uint8_t *bytes;
    unsigned avail, pos;
};

static int take(struct cursor *c, unsigned n, uint64_t *value)
{
    if (c->pos + n > c->avail || c->pos + n > DECODE_MAX_LEN)
        return -1;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)c->bytes[c->pos + i] << (8 * i);
    c->pos += n;
    if (value)
        *value = v;
    return 0;
}

static int take_byte(struct cursor *c, uint8_t *b)
{
    uint64_t v;
    if (take(c, 1, &v) < 0)
        return -1;
    *b = (uint8_t)v;
    return 0;
}

/* What the prefixes said. */
struct prefixes {
    bool opsize, addrsize, lock;
    uint8_t rep;            /* the last F2 or F3, 0 if none */
    int seg;                /* the last segment override (DECODE_ES...), -1 if none */
    uint8_t rex;            /* 0 if none */
};

/* The segment of an override prefix, -1 if b is not one. */
static int segment_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: return DECODE_ES;
    case 0x2E: return DECODE_CS;
    case 0x36: return DECODE_SS;
    case 0x3E: return DECODE_DS;
    case 0x64: return DECODE_FS;
    case 0x65: return DECODE_GS;
    default: return -1;
    }
}

/* Consumes the prefixes and returns the opcode byte after them. A REX counts only
 * if the opcode follows it directly; one followed by a legacy prefix is ignored (SDM 2.2.1). */
static int read_prefixes(struct cursor *c, enum decode_mode mode, struct prefixes *p, uint8_t *opcode)
{
    memset(p, 0, sizeof(*p));
    p->seg = -1;
    for (;;) {
        uint8_t b;
        if (take_byte(c, &b) < 0)
            return -1;
        int seg = segment_prefix(b);
        if (seg >= 0 || b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3) {
            p->opsize |= b == 0x66;
            p->addrsize |= b == 0x67;
            p->lock |= b == 0xF0;
            if (b == 0xF2 || b == 0xF3)
                p->rep = b;
            if (seg >= 0)
                p->seg = seg;
            p->rex = 0;
        } else if (mode == DECODE_64 && (b & 0xF0) == 0x40) {
            p->rex = b;
        } else {
            *opcode = b;
            return 0;
        }
    }
}

#define REX_W 0x08
#define REX_R 0x04
#define REX_X 0x02
#define REX_B 0x01

/* Operand size in bytes of a non-byte instruction (SDM 2.2.1.2, Table 2-4 and Vol. 1 3.6). */
static unsigned operand_size(enum decode_mode mode, const struct prefixes *p)
{
    if (mode == DECODE_64 && (p->rex & REX_W))
        return 8;
    if (mode == DECODE_16)
        return p->opsize ? 4 : 2;
    return p->opsize ? 2 : 4;
}

/* Address size in bytes: 8/4 in 64-bit mode, 4/2 in 32-bit, 2/4 in 16-bit (0x67 flips). */
static unsigned address_size(enum decode_mode mode, const struct prefixes *p)
{
    switch (mode) {
    case DECODE_64: return p->addrsize ? 4 : 8;
    case DECODE_32: return p->addrsize ? 2 : 4;
    default:        return p->addrsize ? 4 : 2;
    }
}

/* One instruction being decoded. */
struct decoder {
    struct cursor c;
    enum decode_mode mode;
    struct prefixes p;
    uint8_t modrm;
    bool lockable;          /* LOCK is legal with it (SDM Vol. 2 "LOCK") */
    struct mmio_insn *out;
};

/* An immediate of n bytes (1, 2 or 4), sign-extended to 64 bits (SDM 2.2.1.5: imm32 for a
 * 64-bit operand). */
static int read_imm(struct decoder *d, unsigned n, uint64_t *v)
{
    if (take(&d->c, n, v) < 0)
        return -1;
    if (*v & (1ull << (8 * n - 1)))
        *v |= ~0ull << (8 * n);
    return 0;
}

/* The 16-bit forms by r/m (SDM Table 2-1): BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX. */
static const int8_t base16[8] = { DECODE_RBX, DECODE_RBX, DECODE_RBP, DECODE_RBP, DECODE_RSI, DECODE_RDI,
                                  DECODE_RBP, DECODE_RBX };
static const int8_t index16[8] = { DECODE_RSI, DECODE_RDI, DECODE_RSI, DECODE_RDI, -1, -1, -1, -1 };

/* The memory operand after the ModRM byte: SIB and displacement (SDM 2.1.5, Tables 2-1 to
 * 2-3) into base, index, scale and disp. REX.B and REX.X extend the registers, never the
 * encoding form, which goes by the low 3 bits. Fails for mod = 11, a register operand. */
static int memory_operand(struct decoder *d)
{
    struct mmio_insn *out = d->out;
    unsigned mod = d->modrm >> 6, rm = d->modrm & 7, rex_b = (d->p.rex & REX_B) ? 8 : 0, disp;
    if (mod == 3)
        return -1;
    if (address_size(d->mode, &d->p) == 2) {
        /* No SIB; [disp16] replaces [BP] when mod = 00. */
        bool disp16 = mod == 0 && rm == 6;
        out->base = disp16 ? -1 : base16[rm];
        out->index = index16[rm];
        disp = mod == 1 ? 1 : mod == 2 || disp16 ? 2 : 0;
        return disp ? read_imm(d, disp, &out->disp) : 0;
    }
    disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    out->base = (int)(rm | rex_b);
    if (rm == 4) {
        uint8_t sib;
        if (take_byte(&d->c, &sib) < 0)
            return -1;
        unsigned index = ((sib >> 3) & 7) | ((d->p.rex & REX_X) ? 8 : 0);
        out->index = index == DECODE_RSP ? -1 : (int)index;    /* 100 without REX.X: none */
        out->scale = sib >> 6;
        out->base = (int)((sib & 7) | rex_b);
        if (mod == 0 && (sib & 7) == 5) {
            out->base = -1;             /* no base: [index*scale + disp32] */
            disp = 4;
        }
    } else if (mod == 0 && rm == 5) {
        out->base = d->mode == DECODE_64 ? DECODE_RIP : -1;    /* else [disp32] */
        disp = 4;
    }
    return disp ? read_imm(d, disp, &out->disp) : 0;
}

/* Reads the ModRM byte and the memory operand it encodes; a register operand is refused. */
static int read_modrm(struct decoder *d)
{
    if (take_byte(&d->c, &d->modrm) < 0)
        return -1;
    return memory_operand(d);
}

static unsigned reg_field(const struct decoder *d)
{
    return (d->modrm >> 3) & 7;
}

/* ModRM's reg field as a register number, with REX.R. A byte register 4..7 without any
 * REX is AH/CH/DH/BH, reported as the register that holds it plus high_byte. */
static void set_modrm_reg(struct decoder *d, bool byte_op)
{
    struct mmio_insn *out = d->out;
    int reg = (int)reg_field(d);
    if (byte_op && !d->p.rex && reg >= 4) {
        out->reg = reg - 4;
        out->high_byte = true;
        return;
    }
    out->reg = reg | ((d->p.rex & REX_R) ? 8 : 0);
}

/* 86-8B, C6/C7: MOV and XCHG with a ModRM operand. */
static int decode_mov(struct decoder *d, uint8_t opcode)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    bool byte_op = !(opcode & 1);
    out->size = byte_op ? 1 : operand_size(d->mode, &d->p);
    out->dest_size = out->size;
    switch (opcode) {
    case 0x86: case 0x87:
        out->op = MMIO_STORE;
        out->xchg = true;
        d->lockable = true;
        set_modrm_reg(d, byte_op);
        return 0;
    case 0x88: case 0x89:
        out->op = MMIO_STORE;
        set_modrm_reg(d, byte_op);
        return 0;
    case 0x8A: case 0x8B:
        out->op = MMIO_LOAD;
        set_modrm_reg(d, byte_op);
        return 0;
    default: {                          /* C6/C7: only /0 is MOV */
        uint64_t imm;
        if (reg_field(d) != 0 || read_imm(d, out->size > 4 ? 4 : out->size, &imm) < 0)
            return -1;
        out->op = MMIO_STORE;
        out->reg = -1;
        out->imm = emu_low(imm, out->size);
        return 0;
    }
    }
}

/* 0F B6/B7/BE/BF: MOVZX/MOVSX r16/32/64, r/m8 or r/m16. */
static int decode_movx(struct decoder *d, uint8_t op2)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    out->op = MMIO_LOAD;
    out->size = (op2 & 1) ? 2 : 1;
    out->dest_size = operand_size(d->mode, &d->p);
    out->zero_extend = op2 == 0xB6 || op2 == 0xB7;
    out->sign_extend = !out->zero_extend;
    set_modrm_reg(d, false);
    return 0;
}

/* 63: MOVSXD r, r/m32 in 64-bit mode (ARPL elsewhere): with REX.W a load of 4 bytes
 * sign-extended to 8, else a plain load of the operand size (SDM Vol. 2 "MOVSX/MOVSXD"). */
static int decode_movsxd(struct decoder *d)
{
    struct mmio_insn *out = d->out;
    if (d->mode != DECODE_64 || read_modrm(d) < 0)
        return -1;
    out->op = MMIO_LOAD;
    out->dest_size = operand_size(d->mode, &d->p);
    out->size = out->dest_size == 8 ? 4 : out->dest_size;
    out->sign_extend = out->dest_size == 8;
    set_modrm_reg(d, false);
    return 0;
}

/* 00-3B with bits 2:0 below 4: OP r/m, r (RMW; CMP reads only) or OP r, r/m (reads only). */
static int decode_alu_modrm(struct decoder *d, uint8_t opcode)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    bool byte_op = !(opcode & 1);
    out->kind = MMIO_ALU;
    out->alu = (enum emu_op)(opcode >> 3);
    out->reg_dest = opcode & 2;
    out->size = byte_op ? 1 : operand_size(d->mode, &d->p);
    out->dest_size = out->reg_dest ? out->size : 0;
    set_modrm_reg(d, byte_op);
    d->lockable = !out->reg_dest && emu_lockable(out->alu);
    return 0;
}

/* 80/81/83: OP r/m, imm8/imm16/imm32 (83: imm8 sign-extended). */
static int decode_alu_imm(struct decoder *d, uint8_t opcode)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    out->kind = MMIO_ALU;
    out->alu = (enum emu_op)reg_field(d);
    out->size = opcode == 0x80 ? 1 : operand_size(d->mode, &d->p);
    unsigned imm_size = opcode == 0x81 ? (out->size > 4 ? 4 : out->size) : 1;
    uint64_t imm;
    if (read_imm(d, imm_size, &imm) < 0)
        return -1;
    out->reg = -1;
    out->imm = emu_low(imm, out->size);
    d->lockable = emu_lockable(out->alu);
    return 0;
}

/* F6/F7: /0 /1 TEST r/m, imm; /2 NOT; /3 NEG; /4 MUL, /5 IMUL, /6 DIV, /7 IDIV. */
static int decode_group3(struct decoder *d, uint8_t opcode)
{
    static const enum emu_op ops[8] = {
        EMU_TEST, EMU_TEST, EMU_NOT, EMU_NEG, EMU_MUL, EMU_IMUL, EMU_DIV, EMU_IDIV,
    };
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    out->kind = reg_field(d) > 3 ? MMIO_MULDIV : MMIO_ALU;
    out->alu = ops[reg_field(d)];
    out->size = opcode == 0xF6 ? 1 : operand_size(d->mode, &d->p);
    out->reg = -1;
    if (out->kind == MMIO_MULDIV)
        return 0;
    if (out->alu == EMU_TEST) {
        uint64_t imm;
        if (read_imm(d, out->size > 4 ? 4 : out->size, &imm) < 0)
            return -1;
        out->imm = emu_low(imm, out->size);
    }
    d->lockable = out->alu != EMU_TEST;
    return 0;
}

/* C0/C1 (imm8), D0/D1 (1), D2/D3 (CL): /0 ROL /1 ROR /2 RCL /3 RCR /4 SHL /5 SHR /7 SAR r/m;
 * /6 is not in the SDM's map but the CPUs run it as SHL (SAL). */
static int decode_shift(struct decoder *d, uint8_t opcode)
{
    static const enum emu_op ops[8] = {
        EMU_ROL, EMU_ROR, EMU_RCL, EMU_RCR, EMU_SHL, EMU_SHR, EMU_SHL, EMU_SAR,
    };
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    out->kind = MMIO_ALU;
    out->alu = ops[reg_field(d)];
    out->size = (opcode & 1) ? operand_size(d->mode, &d->p) : 1;
    out->reg = opcode >= 0xD2 ? DECODE_RCX : -1;
    out->imm = opcode >= 0xD0 && opcode <= 0xD1 ? 1 : 0;
    if (opcode <= 0xC1 && take(&d->c, 1, &out->imm) < 0)
        return -1;
    return 0;
}

/* 69 (imm16/32), 6B (imm8, sign-extended), 0F AF: IMUL r, r/m (, imm). */
static int decode_imul(struct decoder *d, uint8_t opcode)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    out->kind = MMIO_ALU;
    out->alu = EMU_IMUL;
    out->reg_dest = true;
    out->size = operand_size(d->mode, &d->p);
    out->dest_size = out->size;
    set_modrm_reg(d, false);
    if (opcode == 0xAF)
        return 0;
    uint64_t imm;
    if (read_imm(d, opcode == 0x6B ? 1 : out->size > 4 ? 4 : out->size, &imm) < 0)
        return -1;
    out->three_op = true;
    out->imm = emu_low(imm, out->size);
    return 0;
}

/* 0F BC/BD BSF BSR, with F3 TZCNT LZCNT; F3 0F B8 POPCNT (0F B8 alone is not one). */
static int decode_bit_count(struct decoder *d, uint8_t op2)
{
    struct mmio_insn *out = d->out;
    bool f3 = d->p.rep == 0xF3;
    if ((op2 == 0xB8 && !f3) || read_modrm(d) < 0)
        return -1;
    out->kind = MMIO_ALU;
    out->alu = op2 == 0xB8 ? EMU_POPCNT : op2 == 0xBC ? (f3 ? EMU_TZCNT : EMU_BSF) : (f3 ? EMU_LZCNT : EMU_BSR);
    out->reg_dest = true;
    out->size = operand_size(d->mode, &d->p);
    out->dest_size = out->size;
    set_modrm_reg(d, false);
    return 0;
}

/* 0F 40-4F CMOVcc r, r/m; 0F 90-9F SETcc r/m8 (the reg field is ignored). */
static int decode_cc(struct decoder *d, uint8_t op2)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    out->cond = op2 & 15;
    if (op2 >= 0x90) {
        out->kind = MMIO_SETCC;
        out->op = MMIO_STORE;
        out->size = 1;
        out->reg = -1;
        return 0;
    }
    out->kind = MMIO_CMOV;
    out->op = MMIO_LOAD;
    out->size = operand_size(d->mode, &d->p);
    out->dest_size = out->size;
    set_modrm_reg(d, false);
    return 0;
}

/* 0F C7 /1: CMPXCHG8B m64, with REX.W CMPXCHG16B m128 (the other /digits are refused). */
static int decode_cmpxchg8b(struct decoder *d)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0 || reg_field(d) != 1)
        return -1;
    out->kind = MMIO_CMPXCHG8B;
    out->size = (d->p.rex & REX_W) ? 16 : 8;
    out->reg = -1;
    d->lockable = true;
    return 0;
}

/* FE/FF: /0 INC, /1 DEC; FF /6 PUSH r/m. CALL and JMP through memory are refused. */
static int decode_group45(struct decoder *d, uint8_t opcode)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    unsigned r = reg_field(d);
    if (r == 6 && opcode == 0xFF) {
        out->kind = MMIO_PUSH;
        out->size = d->mode == DECODE_64 ? (d->p.opsize && !(d->p.rex & REX_W) ? 2 : 8)
                                         : operand_size(d->mode, &d->p);
        return 0;
    }
    if (r > 1)
        return -1;
    out->kind = MMIO_ALU;
    out->alu = r == 0 ? EMU_INC : EMU_DEC;
    out->size = opcode == 0xFE ? 1 : operand_size(d->mode, &d->p);
    out->reg = -1;
    d->lockable = true;
    return 0;
}

/* 8F /0: POP r/m (8F with another reg field is AMD's XOP prefix). */
static int decode_pop(struct decoder *d)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0 || reg_field(d) != 0)
        return -1;
    out->kind = MMIO_POP;
    out->size = d->mode == DECODE_64 ? (d->p.opsize && !(d->p.rex & REX_W) ? 2 : 8)
                                     : operand_size(d->mode, &d->p);
    return 0;
}

/* A4/A5 MOVS, AA/AB STOS, AC/AD LODS: F2 and F3 both repeat them (SDM Vol. 2 "REP"). A6/A7
 * CMPS, AE/AF SCAS: F3 is REPE, F2 REPNE. */
static int decode_string(struct decoder *d, uint8_t opcode)
{
    static const enum mmio_kind kinds[6] = { MMIO_MOVS, MMIO_CMPS, MMIO_MOV, MMIO_STOS, MMIO_LODS, MMIO_SCAS };
    struct mmio_insn *out = d->out;
    out->kind = kinds[(opcode - 0xA4) / 2];
    out->size = (opcode & 1) ? operand_size(d->mode, &d->p) : 1;
    out->rep = d->p.rep != 0;
    out->repne = d->p.rep == 0xF2 && (out->kind == MMIO_CMPS || out->kind == MMIO_SCAS);
    out->reg = out->kind == MMIO_MOVS || out->kind == MMIO_CMPS ? -1 : DECODE_RAX;
    out->dest_size = out->kind == MMIO_LODS ? out->size : 0;
    return 0;
}

/* 0F A3/AB/B3/BB: BT BTS BTR BTC r/m, r; 0F BA /4-/7: the same with imm8. */
static int decode_bt(struct decoder *d, uint8_t op2)
{
    static const enum emu_op ops[4] = { EMU_BT, EMU_BTS, EMU_BTR, EMU_BTC };
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    out->kind = MMIO_ALU;
    out->size = operand_size(d->mode, &d->p);
    if (op2 == 0xBA) {
        if (reg_field(d) < 4 || take(&d->c, 1, &out->imm) < 0)
            return -1;
        out->alu = ops[reg_field(d) - 4];
        out->reg = -1;
    } else {
        out->alu = ops[(op2 >> 3) & 3];
        set_modrm_reg(d, false);
    }
    d->lockable = out->alu != EMU_BT;
    return 0;
}

/* 0F B0/B1 CMPXCHG, 0F C0/C1 XADD: r/m, r. */
static int decode_cmpxchg_xadd(struct decoder *d, uint8_t op2)
{
    struct mmio_insn *out = d->out;
    if (read_modrm(d) < 0)
        return -1;
    bool byte_op = !(op2 & 1);
    out->kind = op2 <= 0xB1 ? MMIO_CMPXCHG : MMIO_XADD;
    out->size = byte_op ? 1 : operand_size(d->mode, &d->p);
    out->dest_size = out->size;
    set_modrm_reg(d, byte_op);
    d->lockable = true;
    return 0;
}

/* 0F C3: MOVNTI m32/m64, r32/r64, a store with a non-temporal hint. */
static int decode_movnti(struct decoder *d)
{
    struct mmio_insn *out = d->out;
    if (d->p.opsize || d->p.rep || read_modrm(d) < 0)
        return -1;
    out->op = MMIO_STORE;
    out->size = (d->p.rex & REX_W) ? 8 : 4;
    set_modrm_reg(d, false);
    return 0;
}

/* The SSE moves, by opcode and mandatory prefix (the last F2/F3, else 66, else none): size
 * in bytes, load or store, alignment. Returns -1 for what is not one of them (MMX included). */
static int sse_form(uint8_t op2, uint8_t pfx, bool rex_w, struct mmio_insn *out)
{
    bool none_or_66 = pfx == 0 || pfx == 0x66;
    out->size = 16;
    switch (op2) {
    case 0x10: case 0x11:               /* MOVUPS, MOVUPD, MOVSS (F3), MOVSD (F2) */
        out->size = pfx == 0xF3 ? 4 : pfx == 0xF2 ? 8 : 16;
        out->op = op2 == 0x10 ? MMIO_LOAD : MMIO_STORE;
        return 0;
    case 0x28: case 0x29:               /* MOVAPS, MOVAPD */
        out->op = op2 == 0x28 ? MMIO_LOAD : MMIO_STORE;
        out->align16 = true;
        return none_or_66 ? 0 : -1;
    case 0x2B:                          /* MOVNTPS, MOVNTPD */
        out->op = MMIO_STORE;
        out->align16 = true;
        return none_or_66 ? 0 : -1;
    case 0x6F: case 0x7F:               /* MOVDQA (66), MOVDQU (F3) */
        out->op = op2 == 0x6F ? MMIO_LOAD : MMIO_STORE;
        out->align16 = pfx == 0x66;
        return pfx == 0x66 || pfx == 0xF3 ? 0 : -1;
    case 0xE7:                          /* MOVNTDQ */
        out->op = MMIO_STORE;
        out->align16 = true;
        return pfx == 0x66 ? 0 : -1;
    case 0x6E:                          /* MOVD/MOVQ xmm, r/m32/64 */
        out->op = MMIO_LOAD;
        out->size = rex_w ? 8 : 4;
        return pfx == 0x66 ? 0 : -1;
    case 0x7E:                          /* 66: MOVD/MOVQ r/m32/64, xmm; F3: MOVQ xmm, m64 */
        out->op = pfx == 0xF3 ? MMIO_LOAD : MMIO_STORE;
        out->size = pfx == 0xF3 || rex_w ? 8 : 4;
        return pfx == 0x66 || pfx == 0xF3 ? 0 : -1;
    case 0xD6:                          /* MOVQ m64, xmm */
        out->op = MMIO_STORE;
        out->size = 8;
        return pfx == 0x66 ? 0 : -1;
    default:
        return -1;
    }
}

static int decode_sse(struct decoder *d, uint8_t op2)
{
    struct mmio_insn *out = d->out;
    uint8_t pfx = d->p.rep ? d->p.rep : d->p.opsize ? 0x66 : 0;
    if (sse_form(op2, pfx, d->p.rex & REX_W, out) < 0 || read_modrm(d) < 0)
        return -1;
    out->kind = MMIO_SSE;
    out->reg = (int)reg_field(d) | ((d->p.rex & REX_R) ? 8 : 0);
    return 0;
}

static int decode_0f(struct decoder *d)
{
    uint8_t op2;
    if (take_byte(&d->c, &op2) < 0)
        return -1;
    if ((op2 & 0xF0) == 0x40 || (op2 & 0xF0) == 0x90)
        return decode_cc(d, op2);
    switch (op2) {
    case 0xB6: case 0xB7: case 0xBE: case 0xBF:
        return decode_movx(d, op2);
    case 0xAF:
        return decode_imul(d, op2);
    case 0xB8: case 0xBC: case 0xBD:
        return decode_bit_count(d, op2);
    case 0xC7:
        return decode_cmpxchg8b(d);
    case 0xA3: case 0xAB: case 0xB3: case 0xBB: case 0xBA:
        return decode_bt(d, op2);
    case 0xB0: case 0xB1: case 0xC0: case 0xC1:
        return decode_cmpxchg_xadd(d, op2);
    case 0xC3:
        return decode_movnti(d);
    default:
        return decode_sse(d, op2);
    }
}

static int decode_opcode(struct decoder *d, uint8_t opcode)
{
    struct mmio_insn *out = d->out;
    if (opcode < 0x40 && (opcode & 7) < 4)
        return decode_alu_modrm(d, opcode);
    switch (opcode) {
    case 0x0F:
        return decode_0f(d);
    case 0x63:
        return decode_movsxd(d);
    case 0x80: case 0x81: case 0x83:
        return decode_alu_imm(d, opcode);
    case 0x84: case 0x85:               /* TEST r/m, r */
        if (decode_alu_modrm(d, opcode) < 0)
            return -1;
        out->alu = EMU_TEST;
        d->lockable = false;
        return 0;
    case 0x86: case 0x87: case 0x88: case 0x89: case 0x8A: case 0x8B: case 0xC6: case 0xC7:
        return decode_mov(d, opcode);
    case 0x8F:
        return decode_pop(d);
    case 0xA0: case 0xA1: case 0xA2: case 0xA3:
        /* MOV AL/eAX <-> moffs: the offset is address-size wide, no ModRM (SDM Vol. 2 "MOV"). */
        out->op = opcode < 0xA2 ? MMIO_LOAD : MMIO_STORE;
        out->size = (opcode & 1) ? operand_size(d->mode, &d->p) : 1;
        out->dest_size = out->size;
        out->reg = DECODE_RAX;
        return take(&d->c, address_size(d->mode, &d->p), &out->disp);
    case 0x69: case 0x6B:
        return decode_imul(d, opcode);
    case 0xA4: case 0xA5: case 0xA6: case 0xA7: case 0xAA: case 0xAB: case 0xAC: case 0xAD: case 0xAE: case 0xAF:
        return decode_string(d, opcode);
    case 0xC0: case 0xC1: case 0xD0: case 0xD1: case 0xD2: case 0xD3:
        return decode_shift(d, opcode);
    case 0xF6: case 0xF7:
        return decode_group3(d, opcode);
    case 0xFE: case 0xFF:
        return decode_group45(d, opcode);
    default:
        return -1;
    }
}

int decode_mmio(const uint8_t *bytes, unsigned avail, enum decode_mode mode, struct mmio_insn *out)
{
    struct decoder d = { .c = { .bytes = bytes, .avail = avail }, .mode = mode, .out = out };
    uint8_t opcode;
    if (read_prefixes(&d.c, mode, &d.p, &opcode) < 0)
        return DECODE_REFUSED;
    memset(out, 0, sizeof(*out));
    out->base = out->index = -1;
    if (decode_opcode(&d, opcode) < 0)
        return DECODE_REFUSED;
    /* LOCK is legal only on a read-modify-write of memory; elsewhere the CPU raises #UD
     * before any access. */
    if (d.p.lock && !d.lockable)
        return DECODE_UD;
    if (out->kind == MMIO_MOV && out->op == MMIO_STORE && !out->xchg)
        out->dest_size = 0;
    out->addr_size = address_size(mode, &d.p);
    bool stack = out->base == DECODE_RSP || out->base == DECODE_RBP;  /* SDM Vol. 1 3.7.5 */
    out->seg = d.p.seg >= 0 ? d.p.seg : stack ? DECODE_SS : DECODE_DS;
    out->len = d.c.pos;
    return 0;
}

uint64_t mmio_ea(const struct mmio_insn *insn, uint64_t base, uint64_t index)
{
    uint64_t mask = insn->addr_size == 2 ? 0xFFFFull : insn->addr_size == 4 ? 0xFFFFFFFFull : ~0ull;
    return (base + (index << insn->scale) + insn->disp) & mask;
}

int64_t mmio_bit_string_delta(const struct mmio_insn *insn, uint64_t reg_value)
{
    if (insn->kind != MMIO_ALU || insn->alu < EMU_BT || insn->alu > EMU_BTC || insn->reg < 0)
        return 0;
    unsigned bits = 8 * insn->size;
    int64_t offset = (int64_t)(reg_value << (64 - bits)) >> (64 - bits);   /* signed, operand size */
    return (offset >> (bits == 16 ? 4 : bits == 32 ? 5 : 6)) * (int64_t)insn->size;
}

uint64_t mmio_store_data(const struct mmio_insn *insn, uint64_t reg_value)
{
    if (insn->reg < 0)
        return emu_low(insn->imm, insn->size);
    if (insn->high_byte)
        return (reg_value >> 8) & 0xFF;
    return emu_low(reg_value, insn->size);
}

uint64_t mmio_load_result(const struct mmio_insn *insn, uint64_t reg_old, uint64_t data)
{
    uint64_t v = emu_low(data, insn->size);
    if (insn->sign_extend && insn->size < 8 && (v >> (8 * insn->size - 1)))
        v |= ~0ull << (8 * insn->size);
    return emu_reg_merge(reg_old, v, insn->dest_size, insn->high_byte);
}

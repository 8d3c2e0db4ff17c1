/* The MMIO instruction decoder: prefixes, opcode, ModRM/SIB/displacement lengths (SDM Vol. 2, ch. 2). */
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
    uint8_t rex;            /* 0 if none */
};

static bool is_legacy_prefix(uint8_t b)
{
    switch (b) {
    case 0x66: case 0x67: case 0xF0: case 0xF2: case 0xF3:
    case 0x26: case 0x2E: case 0x36: case 0x3E: case 0x64: case 0x65:
        return true;
    default:
        return false;
    }
}

/* Consumes the prefixes and returns the opcode byte after them. A REX counts only
 * if the opcode follows it directly; one followed by a legacy prefix is ignored (SDM 2.2.1). */
static int read_prefixes(struct cursor *c, enum decode_mode mode, struct prefixes *p, uint8_t *opcode)
{
    memset(p, 0, sizeof(*p));
    for (;;) {
        uint8_t b;
        if (take_byte(c, &b) < 0)
            return -1;
        if (is_legacy_prefix(b)) {
            p->opsize |= b == 0x66;
            p->addrsize |= b == 0x67;
            p->lock |= b == 0xF0;
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

/* Skips the memory operand after a ModRM byte: SIB and displacement (SDM 2.1.5, Tables 2-1
 * to 2-3). REX.B/X select registers, never the encoding form, so only the low 3 bits matter.
 * Fails for mod = 11, a register operand. */
static int skip_memory_operand(struct cursor *c, uint8_t modrm, unsigned addr_size)
{
    unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3)
        return -1;
    if (addr_size == 2) {
        /* 16-bit forms: no SIB; [disp16] replaces [BP] when mod = 00. */
        unsigned disp = mod == 1 ? 1 : mod == 2 ? 2 : rm == 6 ? 2 : 0;
        return take(c, disp, NULL);
    }
    unsigned disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (rm == 4) {
        uint8_t sib;
        if (take_byte(c, &sib) < 0)
            return -1;
        if (mod == 0 && (sib & 7) == 5)
            disp = 4;                   /* no base: [index*scale + disp32] */
    } else if (mod == 0 && rm == 5) {
        disp = 4;                       /* RIP-relative in 64-bit mode, [disp32] otherwise */
    }
    return take(c, disp, NULL);
}

/* ModRM's reg field as a register number, with REX.R. A byte register 4..7 without any
 * REX is AH/CH/DH/BH, reported as the register that holds it plus high_byte. */
static void set_modrm_reg(struct mmio_insn *out, uint8_t modrm, const struct prefixes *p, bool byte_op)
{
    int reg = (modrm >> 3) & 7;
    if (byte_op && !p->rex && reg >= 4) {
        out->reg = reg - 4;
        out->high_byte = true;
        return;
    }
    out->reg = reg | ((p->rex & REX_R) ? 8 : 0);
}

/* The opcodes with a ModRM operand: 86-8B, C6/C7, 0F B6/B7/BE/BF. */
static int decode_modrm_insn(struct cursor *c, uint8_t opcode, bool two_byte, enum decode_mode mode,
                             const struct prefixes *p, struct mmio_insn *out)
{
    uint8_t modrm;
    if (take_byte(c, &modrm) < 0 || skip_memory_operand(c, modrm, address_size(mode, p)) < 0)
        return -1;
    unsigned osize = operand_size(mode, p);
    if (two_byte) {                     /* MOVZX/MOVSX r16/32/64, r/m8 or r/m16 */
        out->op = MMIO_LOAD;
        out->size = (opcode & 1) ? 2 : 1;
        out->dest_size = osize;
        out->zero_extend = opcode == 0xB6 || opcode == 0xB7;
        out->sign_extend = !out->zero_extend;
        set_modrm_reg(out, modrm, p, false);
        return 0;
    }
    bool byte_op = !(opcode & 1);
    out->size = byte_op ? 1 : osize;
    out->dest_size = out->size;
    switch (opcode) {
    case 0x86: case 0x87:
        out->op = MMIO_STORE;
        out->xchg = true;
        set_modrm_reg(out, modrm, p, byte_op);
        return 0;
    case 0x88: case 0x89:
        out->op = MMIO_STORE;
        set_modrm_reg(out, modrm, p, byte_op);
        return 0;
    case 0x8A: case 0x8B:
        out->op = MMIO_LOAD;
        set_modrm_reg(out, modrm, p, byte_op);
        return 0;
    default: {                          /* C6/C7: only /0 is MOV */
        if (((modrm >> 3) & 7) != 0)
            return -1;
        unsigned imm_size = out->size > 4 ? 4 : out->size;
        uint64_t imm;
        if (take(c, imm_size, &imm) < 0)
            return -1;
        if (out->size == 8 && (imm & 0x80000000u))
            imm |= 0xFFFFFFFF00000000ull;   /* imm32 sign-extended to 64 bits */
        out->op = MMIO_STORE;
        out->reg = -1;
        out->imm = imm;
        return 0;
    }
    }
}

int decode_mmio(const uint8_t *bytes, unsigned avail, enum decode_mode mode, struct mmio_insn *out)
{
    struct cursor c = {.bytes = bytes, .avail = avail, .pos = 0};
    struct prefixes p;
    uint8_t opcode;
    if (read_prefixes(&c, mode, &p, &opcode) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    /* LOCK is legal only on a read-modify-write of memory; on MOV the CPU raises #UD first. */
    if (p.lock && opcode != 0x86 && opcode != 0x87)
        return -1;

    int r;
    switch (opcode) {
    case 0x86: case 0x87: case 0x88: case 0x89: case 0x8A: case 0x8B: case 0xC6: case 0xC7:
        r = decode_modrm_insn(&c, opcode, false, mode, &p, out);
        break;
    case 0x0F: {
        uint8_t op2;
        if (take_byte(&c, &op2) < 0)
            return -1;
        if (op2 != 0xB6 && op2 != 0xB7 && op2 != 0xBE && op2 != 0xBF)
            return -1;
        r = decode_modrm_insn(&c, op2, true, mode, &p, out);
        break;
    }
    case 0xA0: case 0xA1: case 0xA2: case 0xA3:
        /* MOV AL/eAX <-> moffs: the offset is address-size wide, no ModRM (SDM Vol. 2 "MOV"). */
        r = take(&c, address_size(mode, &p), NULL);
        out->op = opcode < 0xA2 ? MMIO_LOAD : MMIO_STORE;
        out->size = (opcode & 1) ? operand_size(mode, &p) : 1;
        out->dest_size = out->op == MMIO_LOAD ? out->size : 0;
        out->reg = DECODE_RAX;
        break;
    default:
        return -1;                      /* includes A4-AF, the string instructions */
    }
    if (r < 0)
        return -1;
    if (out->op == MMIO_STORE && !out->xchg)
        out->dest_size = 0;
    out->len = c.pos;
    return 0;
}

static uint64_t low_bytes(uint64_t v, unsigned size)
{
    return size >= 8 ? v : v & ((1ull << (8 * size)) - 1);
}

uint64_t mmio_store_data(const struct mmio_insn *insn, uint64_t reg_value)
{
    if (insn->reg < 0)
        return low_bytes(insn->imm, insn->size);
    if (insn->high_byte)
        return (reg_value >> 8) & 0xFF;
    return low_bytes(reg_value, insn->size);
}

uint64_t mmio_load_result(const struct mmio_insn *insn, uint64_t reg_old, uint64_t data)
{
    uint64_t v = low_bytes(data, insn->size);
    if (insn->sign_extend && insn->size < 8 && (v >> (8 * insn->size - 1)))
        v |= ~0ull << (8 * insn->size);
    v = low_bytes(v, insn->dest_size);
    switch (insn->dest_size) {
    case 1:
        if (insn->high_byte)
            return (reg_old & ~0xFF00ull) | (v << 8);
        return (reg_old & ~0xFFull) | v;
    case 2:
        return (reg_old & ~0xFFFFull) | v;
    default:                            /* 4: zero-extended into 63:32; 8: the whole register */
        return v;
    }
}

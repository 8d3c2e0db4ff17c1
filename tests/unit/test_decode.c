/* Host unit tests for the MMIO instruction decoder (vmx/decode.c) and the arithmetic of the
 * emulated instructions (vmx/emulate.c: results and RFLAGS, checked against this host's own
 * CPU). Every byte sequence was produced by GNU as (--64, --32, .code16) and checked with
 * objdump -d; those marked "hand" were written as .byte lines and checked the same way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/decode.c"
#include "vmx/emulate.c"

#define M64 DECODE_64
#define M32 DECODE_32
#define M16 DECODE_16
#define NONE (-1)

#define FIELD_EQ(field)                                                                     \
    do {                                                                                    \
        if ((uint64_t)got.field != (uint64_t)want.field)                                    \
            fail_msg("line %d: " #field " = 0x%llx, want 0x%llx", line,                      \
                     (unsigned long long)got.field, (unsigned long long)want.field);        \
    } while (0)

/* Decodes b[0..n) exactly, then with trailing NOPs after it (the length must not change),
 * and checks that every shorter prefix of it is refused as truncated. */
static void check(int line, enum decode_mode mode, const uint8_t *b, unsigned n, struct mmio_insn want)
{
    uint8_t buf[32];
    memset(buf, 0x90, sizeof(buf));
    memcpy(buf, b, n);
    struct mmio_insn got;
    if (want.len != n)
        fail_msg("line %d: test table says len %u for %u bytes", line, want.len, n);
    for (unsigned avail = n; avail <= n + 8; avail += 8) {
        if (decode_mmio(buf, avail, mode, &got) != 0)
            fail_msg("line %d: refused with avail %u", line, avail);
        FIELD_EQ(len);
        FIELD_EQ(op);
        FIELD_EQ(size);
        FIELD_EQ(reg);
        FIELD_EQ(high_byte);
        FIELD_EQ(imm);
        FIELD_EQ(zero_extend);
        FIELD_EQ(sign_extend);
        FIELD_EQ(dest_size);
        FIELD_EQ(xchg);
        FIELD_EQ(kind);
        FIELD_EQ(alu);
        FIELD_EQ(reg_dest);
        FIELD_EQ(rep);
        FIELD_EQ(align16);
        FIELD_EQ(cond);
        FIELD_EQ(three_op);
        FIELD_EQ(repne);
        if (want.addr_size) {           /* the string instructions' tables say these */
            FIELD_EQ(addr_size);
            FIELD_EQ(seg);
        }
    }
    for (unsigned avail = 0; avail < n; avail++)
        if (decode_mmio(buf, avail, mode, &got) != -1)
            fail_msg("line %d: truncated to %u bytes but accepted", line, avail);
}

static void check_refused(int line, enum decode_mode mode, const uint8_t *b, unsigned n)
{
    uint8_t buf[32];
    memset(buf, 0x90, sizeof(buf));
    memcpy(buf, b, n);
    struct mmio_insn got;
    if (decode_mmio(buf, n, mode, &got) != -1 || decode_mmio(buf, sizeof(buf), mode, &got) != -1)
        fail_msg("line %d: accepted", line);
}

/* LOCK where the CPU raises #UD: DECODE_UD once the whole instruction is there. */
static void check_ud(int line, enum decode_mode mode, const uint8_t *b, unsigned n)
{
    uint8_t buf[32];
    memset(buf, 0x90, sizeof(buf));
    memcpy(buf, b, n);
    struct mmio_insn got;
    if (decode_mmio(buf, n, mode, &got) != DECODE_UD || decode_mmio(buf, sizeof(buf), mode, &got) != DECODE_UD)
        fail_msg("line %d: not #UD", line);
    if (decode_mmio(buf, n - 1, mode, &got) != DECODE_REFUSED)
        fail_msg("line %d: truncated but not refused", line);
}

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define DECODES(mode, want, ...) check(__LINE__, mode, BYTES(__VA_ARGS__), want)
#define REFUSED(mode, ...) check_refused(__LINE__, mode, BYTES(__VA_ARGS__))
#define UD(mode, ...) check_ud(__LINE__, mode, BYTES(__VA_ARGS__))

/* Expected results, by kind. */
#define STORE(l, sz, r) ((struct mmio_insn){.len = l, .op = MMIO_STORE, .size = sz, .reg = r})
#define STORE_HI(l, r) ((struct mmio_insn){.len = l, .op = MMIO_STORE, .size = 1, .reg = r, .high_byte = true})
#define STORE_IMM(l, sz, v) ((struct mmio_insn){.len = l, .op = MMIO_STORE, .size = sz, .reg = NONE, .imm = v})
#define LOAD(l, sz, r) ((struct mmio_insn){.len = l, .op = MMIO_LOAD, .size = sz, .reg = r, .dest_size = sz})
#define LOAD_HI(l, r) \
    ((struct mmio_insn){.len = l, .op = MMIO_LOAD, .size = 1, .reg = r, .high_byte = true, .dest_size = 1})
#define MOVZX(l, sz, dsz, r) \
    ((struct mmio_insn){.len = l, .op = MMIO_LOAD, .size = sz, .reg = r, .zero_extend = true, .dest_size = dsz})
#define MOVSX(l, sz, dsz, r) \
    ((struct mmio_insn){.len = l, .op = MMIO_LOAD, .size = sz, .reg = r, .sign_extend = true, .dest_size = dsz})
#define XCHG(l, sz, r) \
    ((struct mmio_insn){.len = l, .op = MMIO_STORE, .size = sz, .reg = r, .dest_size = sz, .xchg = true})

/* Read-modify-writes and the instructions that only compare: the memory operand OP a
 * register (high byte: AH..BH), an immediate, nothing (unary); or the register OP memory. */
#define ALU(l, sz, o, r) ((struct mmio_insn){.len = l, .kind = MMIO_ALU, .size = sz, .alu = o, .reg = r})
#define ALU_HI(l, o, r) \
    ((struct mmio_insn){.len = l, .kind = MMIO_ALU, .size = 1, .alu = o, .reg = r, .high_byte = true})
#define ALU_IMM(l, sz, o, v) ((struct mmio_insn){.len = l, .kind = MMIO_ALU, .size = sz, .alu = o, .reg = NONE, .imm = v})
#define UNARY(l, sz, o) ALU_IMM(l, sz, o, 0)
#define ALU_RD(l, sz, o, r) ((struct mmio_insn){.len = l, .kind = MMIO_ALU, .size = sz, .alu = o, .reg = r, \
                                                .reg_dest = true, .dest_size = sz})
#define CMPXCHG(l, sz, r) ((struct mmio_insn){.len = l, .kind = MMIO_CMPXCHG, .size = sz, .reg = r, .dest_size = sz})
#define CMPXCHG_HI(l, r) ((struct mmio_insn){.len = l, .kind = MMIO_CMPXCHG, .size = 1, .reg = r, .dest_size = 1, \
                                             .high_byte = true})
#define XADD(l, sz, r) ((struct mmio_insn){.len = l, .kind = MMIO_XADD, .size = sz, .reg = r, .dest_size = sz})
#define XADD_HI(l, r) ((struct mmio_insn){.len = l, .kind = MMIO_XADD, .size = 1, .reg = r, .dest_size = 1, \
                                          .high_byte = true})
/* Strings: element size, REP, address size, source segment. */
#define MOVS(l, sz, rp, as, sg) ((struct mmio_insn){.len = l, .kind = MMIO_MOVS, .size = sz, .reg = NONE, \
                                                    .rep = rp, .addr_size = as, .seg = sg})
#define STOS(l, sz, rp, as) ((struct mmio_insn){.len = l, .kind = MMIO_STOS, .size = sz, .reg = RAX, \
                                                .rep = rp, .addr_size = as, .seg = DS})
#define LODS(l, sz, rp, as) ((struct mmio_insn){.len = l, .kind = MMIO_LODS, .size = sz, .reg = RAX, \
                                                .dest_size = sz, .rep = rp, .addr_size = as, .seg = DS})
/* SSE: load or store of sz bytes of XMM register x; align16 for the aligned forms. */
#define SSE_LOAD(l, sz, x, al) ((struct mmio_insn){.len = l, .kind = MMIO_SSE, .op = MMIO_LOAD, .size = sz, \
                                                   .reg = x, .align16 = al})
#define SSE_STORE(l, sz, x, al) ((struct mmio_insn){.len = l, .kind = MMIO_SSE, .op = MMIO_STORE, .size = sz, \
                                                    .reg = x, .align16 = al})
#define PUSH(l, sz) ((struct mmio_insn){.len = l, .kind = MMIO_PUSH, .size = sz})
#define POP(l, sz) ((struct mmio_insn){.len = l, .kind = MMIO_POP, .size = sz})

/* SETcc (a 1-byte store), CMOVcc (a load), shifts and rotates by imm/1 (reg NONE) or CL,
 * MUL/DIV, IMUL r, r/m (, imm), the bit counts, CMPS/SCAS, CMPXCHG8B/16B. */
#define SETCC(l, c) ((struct mmio_insn){.len = l, .kind = MMIO_SETCC, .op = MMIO_STORE, .size = 1, .reg = NONE, .cond = c})
#define CMOV(l, sz, r, c) ((struct mmio_insn){.len = l, .kind = MMIO_CMOV, .op = MMIO_LOAD, .size = sz, .reg = r, \
                                              .dest_size = sz, .cond = c})
#define SHIFT(l, sz, o, n) ((struct mmio_insn){.len = l, .kind = MMIO_ALU, .size = sz, .alu = o, .reg = NONE, .imm = n})
#define SHIFT_CL(l, sz, o) ((struct mmio_insn){.len = l, .kind = MMIO_ALU, .size = sz, .alu = o, .reg = RCX})
#define MULDIV(l, sz, o) ((struct mmio_insn){.len = l, .kind = MMIO_MULDIV, .size = sz, .alu = o, .reg = NONE})
#define IMUL3(l, sz, r, v) ((struct mmio_insn){.len = l, .kind = MMIO_ALU, .size = sz, .alu = EMU_IMUL, .reg = r, \
                                               .reg_dest = true, .dest_size = sz, .three_op = true, .imm = v})
#define CMPS(l, sz, rp, ne, as) ((struct mmio_insn){.len = l, .kind = MMIO_CMPS, .size = sz, .reg = NONE, \
                                                    .rep = rp, .repne = ne, .addr_size = as, .seg = DS})
#define SCAS(l, sz, rp, ne, as) ((struct mmio_insn){.len = l, .kind = MMIO_SCAS, .size = sz, .reg = RAX, \
                                                    .rep = rp, .repne = ne, .addr_size = as, .seg = DS})
#define CX8B(l, sz) ((struct mmio_insn){.len = l, .kind = MMIO_CMPXCHG8B, .size = sz, .reg = NONE})

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
enum { ES, CS, SS, DS, FS, GS };

/* What Linux 6.1 x86_64 emits for xAPIC (fixmap at 0xffffffffff5fd000) and IOAPIC accesses. */
static void test_linux64_apic_accesses(void **state)
{
    (void)state;
    DECODES(M64, STORE(7, 4, RAX), 0x89, 0x04, 0x25, 0xb0, 0xd0, 0x5f, 0xff);  /* mov %eax,0xffffffffff5fd0b0 */
    DECODES(M64, LOAD(7, 4, RAX), 0x8b, 0x04, 0x25, 0x20, 0xd0, 0x5f, 0xff);   /* mov 0xffffffffff5fd020,%eax */
    DECODES(M64, STORE(2, 4, RDX), 0x89, 0x10);                                /* mov %edx,(%rax) */
    DECODES(M64, LOAD(2, 4, RAX), 0x8b, 0x07);                                 /* mov (%rdi),%eax */
    DECODES(M64, STORE(3, 4, RSI), 0x89, 0x70, 0x10);                          /* mov %esi,0x10(%rax) */
    DECODES(M64, STORE_IMM(10, 4, 0), 0xc7, 0x80, 0xb0, 0, 0, 0, 0, 0, 0, 0);  /* movl $0x0,0xb0(%rax) */
    DECODES(M64, STORE(7, 4, R8), 0x44, 0x89, 0x81, 0x00, 0x03, 0x00, 0x00);   /* mov %r8d,0x300(%rcx) */
    DECODES(M64, LOAD(6, 4, RAX), 0x8b, 0x05, 0x00, 0x00, 0x00, 0x00);         /* mov 0x0(%rip),%eax */
    DECODES(M64, STORE(3, 8, RAX), 0x48, 0x89, 0x02);                          /* movq %rax,(%rdx) */
    DECODES(M64, STORE_IMM(3, 1, 1), 0xc6, 0x00, 0x01);                        /* movb $1,(%rax) */
    DECODES(M64, MOVZX(3, 1, 4, RAX), 0x0f, 0xb6, 0x00);                       /* movzbl (%rax),%eax */
    DECODES(M64, STORE(3, 2, RAX), 0x66, 0x89, 0x03);                          /* movw %ax,(%rbx) */
    DECODES(M64, XCHG(2, 4, RAX), 0x87, 0x02);                                 /* xchg %eax,(%rdx) */
}

/* ModRM/SIB/displacement lengths in 64-bit addressing, including REX.B/X, which never
 * change the form: r12 still needs a SIB, r13 still needs a displacement. */
static void test_addressing_64(void **state)
{
    (void)state;
    DECODES(M64, LOAD(4, 4, RAX), 0x41, 0x8b, 0x04, 0x24);                     /* mov (%r12),%eax */
    DECODES(M64, LOAD(4, 4, RAX), 0x41, 0x8b, 0x45, 0x00);                     /* mov 0x0(%r13),%eax */
    DECODES(M64, LOAD(7, 4, RCX), 0x8b, 0x0c, 0x9d, 0x78, 0x56, 0x34, 0x12);   /* mov 0x12345678(,%rbx,4),%ecx */
    DECODES(M64, STORE(7, 4, RAX), 0x89, 0x84, 0x24, 0x80, 0x00, 0x00, 0x00);  /* mov %eax,0x80(%rsp) */
    DECODES(M64, STORE(3, 4, RAX), 0x89, 0x45, 0xf0);                          /* mov %eax,-0x10(%rbp) */
    DECODES(M64, LOAD(4, 4, RAX), 0x8b, 0x44, 0x05, 0x10);                     /* mov 0x10(%rbp,%rax,1),%eax */
    DECODES(M64, STORE(7, 4, RAX), 0x89, 0x84, 0x48, 0x00, 0x10, 0x00, 0x00);  /* mov %eax,0x1000(%rax,%rcx,2) */
    DECODES(M64, LOAD(5, 8, R15), 0x4e, 0x8b, 0x7c, 0xe4, 0x10);               /* mov 0x10(%rsp,%r12,8),%r15 */
    /* SIB base 101 with mod 00 and REX.B: still [disp32], no base. */
    DECODES(M64, LOAD(8, 4, RAX), 0x41, 0x8b, 0x04, 0x25, 0xb0, 0x00, 0xe0, 0xfe);
    /* 0x67: 32-bit addressing, same forms; mod 00 rm 101 is EIP-relative. */
    DECODES(M64, LOAD(3, 4, RCX), 0x67, 0x8b, 0x08);                           /* mov (%eax),%ecx */
    DECODES(M64, LOAD(7, 4, RAX), 0x67, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00);   /* mov 0x10(%eip),%eax */
    /* RIP-relative followed by an immediate. */
    DECODES(M64, STORE_IMM(10, 4, 0x12345678), 0xc7, 0x05, 0, 0, 0, 0, 0x78, 0x56, 0x34, 0x12);
}

static void test_moffs_64(void **state)
{
    (void)state;
    DECODES(M64, LOAD(9, 4, RAX), 0xa1, 0x20, 0x00, 0xe0, 0xfe, 0, 0, 0, 0);          /* movabs 0xfee00020,%eax */
    DECODES(M64, STORE(10, 8, RAX), 0x48, 0xa3, 0x30, 0x00, 0xe0, 0xfe, 0, 0, 0, 0);  /* movabs %rax,0xfee00030 */
    DECODES(M64, LOAD(6, 4, RAX), 0x67, 0xa1, 0x20, 0x00, 0xe0, 0xfe);                /* addr32 mov 0xfee00020,%eax */
    DECODES(M64, LOAD(9, 1, RAX), 0xa0, 0x20, 0x00, 0xe0, 0xfe, 0, 0, 0, 0);          /* hand: movabs ..,%al */
    DECODES(M64, STORE(10, 2, RAX), 0x66, 0xa3, 0x20, 0x00, 0xe0, 0xfe, 0, 0, 0, 0); /* hand: movabs %ax,.. */
}

/* Byte registers: AH..BH without REX, SPL..DIL with any REX, and the widening loads. */
static void test_sizes_and_byte_registers(void **state)
{
    (void)state;
    DECODES(M64, STORE(3, 1, RSI), 0x40, 0x88, 0x30);                          /* mov %sil,(%rax) */
    DECODES(M64, STORE_HI(2, RAX), 0x88, 0x20);                                /* mov %ah,(%rax) */
    DECODES(M64, STORE(2, 1, RAX), 0x88, 0x03);                                /* mov %al,(%rbx) */
    DECODES(M64, LOAD_HI(2, RBX), 0x8a, 0x3b);                                 /* mov (%rbx),%bh */
    DECODES(M64, MOVSX(5, 1, 8, R9), 0x4c, 0x0f, 0xbe, 0x48, 0x04);            /* movsbq 0x4(%rax),%r9 */
    DECODES(M64, MOVSX(3, 2, 4, RDX), 0x0f, 0xbf, 0x11);                       /* movswl (%rcx),%edx */
    DECODES(M64, MOVZX(5, 2, 4, R10), 0x44, 0x0f, 0xb7, 0x57, 0x02);           /* movzwl 0x2(%rdi),%r10d */
    DECODES(M64, MOVSX(4, 1, 2, RAX), 0x66, 0x0f, 0xbe, 0x00);                 /* movsbw (%rax),%ax */
    DECODES(M64, STORE_IMM(5, 2, 0x1234), 0x66, 0xc7, 0x00, 0x34, 0x12);       /* movw $0x1234,(%rax) */
    DECODES(M64, STORE_IMM(8, 8, ~0ull), 0x48, 0xc7, 0x40, 0x08, 0xff, 0xff, 0xff, 0xff); /* movq $-1,0x8(%rax) */
    DECODES(M64, XCHG(2, 1, RCX), 0x86, 0x0a);                                 /* xchg %cl,(%rdx) */
}

/* Prefix handling: segments, F2/F3 hints, LOCK on XCHG, REX placement, REX.W over 0x66. */
static void test_prefixes(void **state)
{
    (void)state;
    DECODES(M64, LOAD(4, 4, RAX), 0x64, 0x8b, 0x40, 0x20);                     /* mov %fs:0x20(%rax),%eax */
    DECODES(M64, STORE(8, 4, RAX), 0x65, 0x89, 0x04, 0x25, 0x10, 0, 0, 0);     /* mov %eax,%gs:0x10 */
    DECODES(M64, STORE(3, 4, RAX), 0x2e, 0x89, 0x00);                          /* cs mov %eax,(%rax) */
    DECODES(M64, STORE(3, 4, RAX), 0x26, 0x89, 0x00);                          /* es */
    DECODES(M64, STORE(3, 4, RAX), 0x36, 0x89, 0x00);                          /* ss */
    DECODES(M64, LOAD(5, 8, RDX), 0x3e, 0x26, 0x48, 0x8b, 0x10);               /* ds es mov (%rax),%rdx */
    DECODES(M64, XCHG(3, 4, RAX), 0xf0, 0x87, 0x02);                           /* lock xchg %eax,(%rdx) */
    DECODES(M64, XCHG(4, 4, RAX), 0xf2, 0xf0, 0x87, 0x02);                     /* xacquire lock xchg */
    DECODES(M64, STORE_IMM(7, 4, 1), 0xf3, 0xc7, 0x00, 0x01, 0, 0, 0);         /* xrelease movl $1,(%rax) */
    DECODES(M32, STORE(3, 4, RDX), 0xf3, 0x89, 0x10);                          /* xrelease mov %edx,(%eax) */
    DECODES(M32, LOAD(3, 4, RDX), 0xf2, 0x8b, 0x10);                           /* repnz mov (%eax),%edx */
    /* A REX followed by a legacy prefix is ignored (objdump: "rex" / "rex.W" then the insn). */
    DECODES(M64, STORE(4, 2, RAX), 0x40, 0x66, 0x89, 0x03);
    DECODES(M64, STORE(4, 2, RAX), 0x48, 0x66, 0x89, 0x03);
    /* REX.W wins over 0x66 (objdump: data16 movq $0x1,(%rax)). */
    DECODES(M64, STORE_IMM(8, 8, 1), 0x66, 0x48, 0xc7, 0x00, 0x01, 0, 0, 0);
    /* 15 bytes is the limit: 13 redundant 0x66 and a 2-byte MOV fit, 14 do not (hand). */
    DECODES(M64, STORE(15, 2, RDX), 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
            0x66, 0x89, 0x10);
    REFUSED(M64, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
            0x89, 0x10);
}

/* What a 32-bit Linux 6.1 kernel emits (APIC_BASE at its physical address), and 32-bit forms. */
static void test_mode32(void **state)
{
    (void)state;
    DECODES(M32, STORE(5, 4, RAX), 0xa3, 0xb0, 0x00, 0xe0, 0xfe);              /* mov %eax,0xfee000b0 */
    DECODES(M32, LOAD(5, 4, RAX), 0xa1, 0x20, 0x00, 0xe0, 0xfe);               /* mov 0xfee00020,%eax */
    DECODES(M32, STORE(5, 4, RAX), 0xa3, 0x10, 0x00, 0xc0, 0xfe);              /* mov %eax,0xfec00010 */
    DECODES(M32, STORE_HI(2, RAX), 0x88, 0x21);                                /* mov %ah,(%ecx): AH */
    DECODES(M32, STORE(2, 4, RDX), 0x89, 0x10);                                /* mov %edx,(%eax) */
    DECODES(M32, LOAD(3, 4, RCX), 0x8b, 0x4e, 0x20);                           /* mov 0x20(%esi),%ecx */
    DECODES(M32, LOAD(6, 4, RCX), 0x8b, 0x0d, 0xb0, 0x00, 0xe0, 0xfe);         /* mov 0xfee000b0,%ecx: [disp32] */
    DECODES(M32, LOAD(7, 4, RCX), 0x8b, 0x0c, 0x9d, 0x78, 0x56, 0x34, 0x12);   /* mov 0x12345678(,%ebx,4),%ecx */
    DECODES(M32, LOAD(3, 4, RAX), 0x8b, 0x45, 0x00);                           /* mov 0x0(%ebp),%eax */
    DECODES(M32, LOAD(3, 4, RAX), 0x8b, 0x04, 0x24);                           /* mov (%esp),%eax */
    DECODES(M32, STORE_IMM(5, 2, 0x55), 0x66, 0xc7, 0x00, 0x55, 0x00);         /* movw $0x55,(%eax) */
    DECODES(M32, STORE_IMM(10, 4, 0xdeadbeef), 0xc7, 0x82, 0x00, 0x03, 0x00, 0x00, 0xef, 0xbe, 0xad, 0xde);
    /* 0x67 in 32-bit mode: 16-bit addressing, and a 2-byte moffs. */
    DECODES(M32, LOAD(3, 4, RAX), 0x67, 0x8b, 0x00);                           /* mov (%bx,%si),%eax */
    DECODES(M32, LOAD(5, 4, RCX), 0x67, 0x8b, 0x0e, 0x34, 0x12);               /* mov 0x1234,%ecx: rm 110 mod 00 */
    DECODES(M32, LOAD(4, 4, RAX), 0x67, 0x8b, 0x46, 0x10);                     /* mov 0x10(%bp),%eax */
    DECODES(M32, LOAD(5, 4, RAX), 0x67, 0x8b, 0x87, 0x34, 0x12);               /* mov 0x1234(%bx),%eax */
    DECODES(M32, STORE(4, 4, RCX), 0x67, 0x89, 0x49, 0xfe);                    /* mov %ecx,-0x2(%bx,%di) */
    DECODES(M32, LOAD(4, 4, RAX), 0x67, 0xa1, 0x34, 0x12);                     /* addr16 mov 0x1234,%eax */
}

static void test_mode16(void **state)
{
    (void)state;
    DECODES(M16, STORE(3, 4, RAX), 0x66, 0x89, 0x07);                          /* mov %eax,(%bx) */
    DECODES(M16, LOAD(2, 2, RAX), 0x8b, 0x04);                                 /* mov (%si),%ax */
    DECODES(M16, LOAD(3, 2, RAX), 0xa1, 0x34, 0x12);                           /* mov 0x1234,%ax */
    DECODES(M16, LOAD(4, 2, RCX), 0x8b, 0x0e, 0x34, 0x12);                     /* mov 0x1234,%cx: disp16 */
    DECODES(M16, STORE(3, 1, RAX), 0x88, 0x46, 0x12);                          /* mov %al,0x12(%bp) */
    DECODES(M16, LOAD(4, 2, RCX), 0x8b, 0x89, 0x34, 0x12);                     /* mov 0x1234(%bx,%di),%cx */
    DECODES(M16, STORE(4, 1, RDX), 0x88, 0x90, 0xfe, 0x00);                    /* mov %dl,0xfe(%bx,%si) */
    DECODES(M16, STORE(7, 4, RAX), 0x67, 0x66, 0xa3, 0xb0, 0x00, 0xe0, 0xfe);  /* addr32 mov %eax,0xfee000b0 */
    DECODES(M16, LOAD(3, 2, RAX), 0x67, 0x8b, 0x00);                           /* addr32 mov (%eax),%ax */
    DECODES(M16, STORE_IMM(10, 4, 0), 0x67, 0x66, 0xc7, 0x44, 0x51, 0x10, 0, 0, 0, 0); /* movl $0,0x10(%ecx,%edx,2) */
}

/* Read-modify-writes, compares and bit tests: the opcode's operation, direction and sizes,
 * the immediate's width and sign extension (80/81/83, F6/F7, 0F BA). */
static void test_alu_64(void **state)
{
    (void)state;
    DECODES(M64, ALU_IMM(4, 4, EMU_OR, 0x10), 0xf0, 0x83, 0x08, 0x10);           /* lock orl $0x10,(%rax) */
    DECODES(M64, ALU(7, 4, EMU_ADD, RCX), 0xf0, 0x01, 0x8a, 0x80, 0, 0, 0);     /* lock add %ecx,0x80(%rdx) */
    DECODES(M64, ALU_IMM(6, 4, EMU_ADD, 0x12345678), 0x81, 0x00, 0x78, 0x56, 0x34, 0x12); /* addl $0x12345678,(%rax) */
    DECODES(M64, ALU_IMM(3, 1, EMU_AND, 0xf0), 0x80, 0x23, 0xf0);               /* andb $0xf0,(%rbx) */
    DECODES(M64, ALU_IMM(5, 8, EMU_SUB, ~0ull), 0x48, 0x83, 0x68, 0x08, 0xff);  /* subq $-1,0x8(%rax) */
    DECODES(M64, ALU_IMM(4, 8, EMU_OR, 0xffffffffffffff80ull), 0x48, 0x83, 0x08, 0x80); /* orq $-0x80,(%rax) */
    DECODES(M64, ALU(3, 2, EMU_XOR, RAX), 0x66, 0x31, 0x01);                    /* xor %ax,(%rcx) */
    DECODES(M64, ALU_HI(2, EMU_OR, RAX), 0x08, 0x21);                           /* or %ah,(%rcx) */
    DECODES(M64, ALU(4, 1, EMU_AND, R10), 0xf0, 0x44, 0x20, 0x12);              /* lock and %r10b,(%rdx) */
    DECODES(M64, ALU(2, 4, EMU_ADC, RAX), 0x11, 0x00);                          /* adc %eax,(%rax) */
    DECODES(M64, ALU_IMM(3, 4, EMU_SBB, 1), 0x83, 0x18, 0x01);                  /* sbbl $0x1,(%rax) */
    /* Compares and tests only read. */
    DECODES(M64, ALU_IMM(4, 4, EMU_CMP, 0x20), 0x83, 0x78, 0x20, 0x20);         /* cmpl $0x20,0x20(%rax) */
    DECODES(M64, ALU(2, 4, EMU_TEST, RAX), 0x85, 0x02);                         /* test %eax,(%rdx) */
    DECODES(M64, ALU_IMM(3, 1, EMU_TEST, 1), 0xf6, 0x00, 0x01);                 /* testb $0x1,(%rax) */
    DECODES(M64, ALU_IMM(6, 4, EMU_TEST, 0x100), 0xf7, 0x00, 0x00, 0x01, 0x00, 0x00); /* testl $0x100,(%rax) */
    /* OP r, r/m: the register is the destination. */
    DECODES(M64, ALU_RD(2, 4, EMU_CMP, RCX), 0x3b, 0x08);                       /* cmp (%rax),%ecx */
    DECODES(M64, ALU_RD(3, 8, EMU_ADD, R9), 0x4c, 0x03, 0x0f);                  /* add (%rdi),%r9 */
    DECODES(M64, ALU_RD(3, 4, EMU_AND, R8), 0x44, 0x23, 0x00);                  /* and (%rax),%r8d */
    /* Unary. */
    DECODES(M64, UNARY(2, 4, EMU_NOT), 0xf7, 0x10);                             /* notl (%rax) */
    DECODES(M64, UNARY(3, 8, EMU_NEG), 0x48, 0xf7, 0x18);                       /* negq (%rax) */
    DECODES(M64, UNARY(3, 4, EMU_INC), 0xf0, 0xff, 0x00);                       /* lock incl (%rax) */
    DECODES(M64, UNARY(2, 1, EMU_DEC), 0xfe, 0x08);                             /* decb (%rax) */
    DECODES(M64, UNARY(3, 2, EMU_INC), 0x66, 0xff, 0x00);                       /* incw (%rax) */
    /* Bit tests: the offset in an immediate (raw) or a register. */
    DECODES(M64, ALU_IMM(4, 4, EMU_BT, 3), 0x0f, 0xba, 0x20, 0x03);             /* btl $0x3,(%rax) */
    DECODES(M64, ALU_IMM(5, 4, EMU_BTS, 9), 0xf0, 0x0f, 0xba, 0x28, 0x09);      /* lock btsl $0x9,(%rax) */
    DECODES(M64, ALU(3, 4, EMU_BTR, RCX), 0x0f, 0xb3, 0x08);                    /* btr %ecx,(%rax) */
    DECODES(M64, ALU(4, 8, EMU_BTC, RAX), 0x48, 0x0f, 0xbb, 0x02);              /* btc %rax,(%rdx) */
    DECODES(M64, ALU(4, 2, EMU_BT, RAX), 0x66, 0x0f, 0xa3, 0x00);               /* bt %ax,(%rax) */
    /* CMPXCHG and XADD. */
    DECODES(M64, XADD(4, 4, RAX), 0xf0, 0x0f, 0xc1, 0x02);                      /* lock xadd %eax,(%rdx) */
    DECODES(M64, CMPXCHG(4, 4, RCX), 0xf0, 0x0f, 0xb1, 0x0a);                   /* lock cmpxchg %ecx,(%rdx) */
    DECODES(M64, CMPXCHG_HI(3, RAX), 0x0f, 0xb0, 0x22);                         /* cmpxchg %ah,(%rdx) */
    DECODES(M64, CMPXCHG(5, 8, RCX), 0xf0, 0x48, 0x0f, 0xb1, 0x0a);             /* lock cmpxchg %rcx,(%rdx) */
    DECODES(M64, XADD_HI(3, RBX), 0x0f, 0xc0, 0x38);                            /* xadd %bh,(%rax) */
}

/* The same outside 64-bit mode, with 16-bit addressing (0x67 in 32-bit code, or 16-bit code). */
static void test_alu_32_16(void **state)
{
    (void)state;
    DECODES(M32, ALU_IMM(8, 4, EMU_OR, 0x10), 0xf0, 0x83, 0x0d, 0x80, 0x00, 0xe0, 0xfe, 0x10); /* lock orl $0x10,0xfee00080 */
    DECODES(M32, CMPXCHG(4, 4, RCX), 0xf0, 0x0f, 0xb1, 0x08);                   /* lock cmpxchg %ecx,(%eax) */
    DECODES(M32, ALU_IMM(5, 4, EMU_BT, 3), 0x67, 0x0f, 0xba, 0x20, 0x03);       /* btl $0x3,(%bx,%si) */
    DECODES(M32, ALU_IMM(5, 4, EMU_OR, 1), 0x67, 0xf0, 0x83, 0x08, 0x01);       /* lock orl $0x1,(%bx,%si) */
    DECODES(M32, UNARY(2, 4, EMU_INC), 0xff, 0x00);                             /* incl (%eax) */
    DECODES(M32, XCHG(6, 4, RAX), 0x87, 0x05, 0x80, 0x00, 0xe0, 0xfe);          /* xchg %eax,0xfee00080 */
    DECODES(M32, XCHG(3, 4, RAX), 0xf0, 0x87, 0x03);                            /* lock xchg %eax,(%ebx) */
    DECODES(M32, MOVZX(7, 1, 4, RAX), 0x0f, 0xb6, 0x05, 0x80, 0x00, 0xe0, 0xfe); /* movzbl 0xfee00080,%eax */
    DECODES(M32, MOVSX(3, 1, 4, RCX), 0x0f, 0xbe, 0x08);                        /* movsbl (%eax),%ecx */
    DECODES(M32, MOVZX(3, 2, 4, RDX), 0x0f, 0xb7, 0x10);                        /* movzwl (%eax),%edx */
    DECODES(M16, ALU_IMM(4, 2, EMU_OR, 1), 0xf0, 0x83, 0x0f, 0x01);             /* lock orw $0x1,(%bx) */
    DECODES(M16, ALU(4, 4, EMU_ADD, RAX), 0x66, 0x01, 0x43, 0x10);              /* add %eax,0x10(%bp,%di) */
}

/* MOVS, STOS, LODS: element size, REP (F3 or F2), the address size that picks SI/ESI/RSI, and
 * the source segment (an override applies to DS:rSI only). */
static void test_strings(void **state)
{
    (void)state;
    DECODES(M64, MOVS(2, 4, true, 8, DS), 0xf3, 0xa5);                          /* rep movsl */
    DECODES(M64, MOVS(1, 1, false, 8, DS), 0xa4);                               /* movsb */
    DECODES(M64, STOS(3, 8, true, 8), 0xf3, 0x48, 0xab);                        /* rep stos %rax,%es:(%rdi) */
    DECODES(M64, LODS(2, 2, false, 8), 0x66, 0xad);                             /* lods %ds:(%rsi),%ax */
    DECODES(M64, MOVS(3, 4, true, 8, FS), 0x64, 0xf3, 0xa5);                    /* rep movsl %fs:(%rsi),%es:(%rdi) */
    DECODES(M64, STOS(3, 4, true, 4), 0x67, 0xf3, 0xab);                        /* rep stos %eax,%es:(%edi) */
    DECODES(M64, MOVS(2, 1, true, 8, DS), 0xf2, 0xa4);                          /* repnz movsb */
    DECODES(M32, MOVS(2, 4, true, 4, DS), 0xf3, 0xa5);                          /* rep movsl */
    DECODES(M32, MOVS(3, 4, true, 2, DS), 0x67, 0xf3, 0xa5);                    /* rep movsl %ds:(%si),%es:(%di) */
    DECODES(M32, STOS(2, 4, false, 2), 0x67, 0xab);                             /* stos %eax,%es:(%di) */
    DECODES(M32, LODS(2, 4, false, 2), 0x67, 0xad);                             /* lods %ds:(%si),%eax */
    DECODES(M32, MOVS(2, 1, false, 2, DS), 0x67, 0xa4);                         /* movsb %ds:(%si),%es:(%di) */
    DECODES(M32, MOVS(3, 1, true, 4, ES), 0x26, 0xf3, 0xa4);                    /* rep movsb %es:(%esi),%es:(%edi) */
    DECODES(M16, MOVS(2, 2, true, 2, DS), 0xf3, 0xa5);                          /* rep movsw */
    DECODES(M16, MOVS(3, 4, true, 2, DS), 0x66, 0xf3, 0xa5);                    /* rep movsl %ds:(%si),%es:(%di) */
    DECODES(M16, STOS(1, 1, false, 2), 0xaa);                                   /* stos %al,%es:(%di) */
    DECODES(M16, MOVS(4, 4, true, 4, DS), 0x67, 0x66, 0xf3, 0xa5);              /* rep movsl %ds:(%esi),%es:(%edi) */
    DECODES(M16, LODS(1, 1, false, 2), 0xac);                                   /* lods %ds:(%si),%al */
}

/* The SSE moves: the mandatory prefix picks the form and size; REX.R reaches XMM8-15. */
static void test_sse(void **state)
{
    (void)state;
    DECODES(M64, SSE_LOAD(3, 16, 0, false), 0x0f, 0x10, 0x00);                  /* movups (%rax),%xmm0 */
    DECODES(M64, SSE_STORE(3, 16, 1, false), 0x0f, 0x11, 0x08);                 /* movups %xmm1,(%rax) */
    DECODES(M64, SSE_LOAD(6, 16, 9, false), 0xf3, 0x44, 0x0f, 0x6f, 0x48, 0x20); /* movdqu 0x20(%rax),%xmm9 */
    DECODES(M64, SSE_STORE(4, 16, 2, true), 0x66, 0x0f, 0x7f, 0x10);            /* movdqa %xmm2,(%rax) */
    DECODES(M64, SSE_LOAD(4, 16, 15, true), 0x44, 0x0f, 0x28, 0x38);            /* movaps (%rax),%xmm15 */
    DECODES(M64, SSE_LOAD(4, 8, 3, false), 0xf3, 0x0f, 0x7e, 0x18);             /* movq (%rax),%xmm3 */
    DECODES(M64, SSE_STORE(4, 8, 4, false), 0x66, 0x0f, 0xd6, 0x20);            /* movq %xmm4,(%rax) */
    DECODES(M64, SSE_LOAD(4, 4, 5, false), 0x66, 0x0f, 0x6e, 0x28);             /* movd (%rax),%xmm5 */
    DECODES(M64, SSE_STORE(4, 4, 6, false), 0x66, 0x0f, 0x7e, 0x30);            /* movd %xmm6,(%rax) */
    DECODES(M64, SSE_STORE(5, 8, 7, false), 0x66, 0x48, 0x0f, 0x7e, 0x38);      /* hand: movq %xmm7,(%rax) */
    DECODES(M64, SSE_LOAD(5, 8, 8, false), 0xf3, 0x44, 0x0f, 0x7e, 0x00);       /* movq (%rax),%xmm8 */
    DECODES(M64, SSE_LOAD(4, 4, 1, false), 0xf3, 0x0f, 0x10, 0x08);             /* movss (%rax),%xmm1 */
    DECODES(M64, SSE_STORE(4, 8, 1, false), 0xf2, 0x0f, 0x11, 0x08);            /* movsd %xmm1,(%rax) */
    DECODES(M64, SSE_STORE(4, 16, 0, true), 0x66, 0x0f, 0xe7, 0x00);            /* movntdq %xmm0,(%rax) */
    DECODES(M64, SSE_STORE(3, 16, 0, true), 0x0f, 0x2b, 0x00);                  /* movntps %xmm0,(%rax) */
    DECODES(M64, SSE_LOAD(4, 16, 0, false), 0x66, 0x0f, 0x10, 0x00);            /* movupd (%rax),%xmm0 */
    DECODES(M64, SSE_STORE(5, 16, 3, true), 0x66, 0x0f, 0x29, 0x58, 0x10);      /* movapd %xmm3,0x10(%rax) */
    DECODES(M32, SSE_LOAD(3, 16, 0, false), 0x0f, 0x10, 0x00);                  /* movups (%eax),%xmm0 */
    DECODES(M32, SSE_LOAD(4, 16, 7, false), 0xf3, 0x0f, 0x6f, 0x38);            /* movdqu (%eax),%xmm7 */
    /* MOVNTI is a plain store of a general register; MOVSXD a widening load. */
    DECODES(M64, STORE(3, 4, RAX), 0x0f, 0xc3, 0x02);                           /* movnti %eax,(%rdx) */
    DECODES(M64, STORE(4, 8, RAX), 0x48, 0x0f, 0xc3, 0x02);                     /* movnti %rax,(%rdx) */
    DECODES(M64, MOVSX(4, 4, 8, RDX), 0x48, 0x63, 0x50, 0x20);                  /* movslq 0x20(%rax),%rdx */
    DECODES(M64, LOAD(3, 4, RDX), 0x63, 0x50, 0x20);                            /* hand: movsxd 0x20(%rax),%edx */
    DECODES(M64, LOAD(3, 2, RDX), 0x66, 0x63, 0x10);                            /* hand: movsxd (%rax),%dx */
}

/* Issue 10 item 2's remainder (SDM Vol. 2, each instruction). */
static void test_cc_shift_mul_count(void **state)
{
    (void)state;
    DECODES(M64, SETCC(3, 0x4), 0x0f, 0x94, 0x00);                              /* sete (%rax) */
    DECODES(M64, SETCC(4, 0x5), 0x0f, 0x95, 0x42, 0x10);                        /* setne 0x10(%rdx) */
    DECODES(M32, SETCC(7, 0x2), 0x0f, 0x92, 0x05, 0x80, 0x00, 0xe0, 0xfe);      /* setb 0xfee00080 */
    DECODES(M64, CMOV(3, 4, RCX, 0x4), 0x0f, 0x44, 0x08);                       /* cmove (%rax),%ecx */
    DECODES(M64, CMOV(5, 8, R9, 0x5), 0x4c, 0x0f, 0x45, 0x4b, 0x08);            /* cmovne 0x8(%rbx),%r9 */
    DECODES(M64, CMOV(4, 2, RDX, 0x2), 0x66, 0x0f, 0x42, 0x10);                 /* cmovb (%rax),%dx */
    DECODES(M32, CMOV(3, 4, RCX, 0xC), 0x0f, 0x4c, 0x08);                       /* cmovl (%eax),%ecx */
    DECODES(M64, SHIFT(2, 4, EMU_SHL, 1), 0xd1, 0x20);                          /* shll (%rax) */
    DECODES(M64, SHIFT(3, 1, EMU_SHL, 3), 0xc0, 0x20, 0x03);                    /* shlb $0x3,(%rax) */
    DECODES(M64, SHIFT_CL(2, 4, EMU_ROR), 0xd3, 0x0a);                          /* rorl %cl,(%rdx) */
    DECODES(M64, SHIFT(5, 8, EMU_SAR, 5), 0x48, 0xc1, 0x78, 0x08, 0x05);        /* sarq $0x5,0x8(%rax) */
    DECODES(M64, SHIFT(3, 2, EMU_RCL, 1), 0x66, 0xd1, 0x10);                    /* rclw (%rax) */
    DECODES(M64, SHIFT_CL(2, 1, EMU_RCR), 0xd2, 0x18);                          /* rcrb %cl,(%rax) */
    DECODES(M64, SHIFT(2, 4, EMU_ROL, 1), 0xd1, 0x00);                          /* roll (%rax) */
    DECODES(M64, SHIFT(2, 4, EMU_SHL, 1), 0xd1, 0x30);                          /* hand: D1 /6 (SAL) */
    DECODES(M32, SHIFT(4, 4, EMU_SHR, 4), 0xc1, 0x2c, 0x73, 0x04);              /* shrl $0x4,(%ebx,%esi,2) */
    DECODES(M64, MULDIV(2, 4, EMU_MUL), 0xf7, 0x20);                            /* mull (%rax) */
    DECODES(M64, MULDIV(2, 1, EMU_IMUL), 0xf6, 0x28);                           /* imulb (%rax) */
    DECODES(M64, MULDIV(3, 8, EMU_DIV), 0x48, 0xf7, 0x31);                      /* divq (%rcx) */
    DECODES(M64, MULDIV(3, 2, EMU_IDIV), 0x66, 0xf7, 0x38);                     /* idivw (%rax) */
    DECODES(M64, ALU_RD(3, 4, EMU_IMUL, RCX), 0x0f, 0xaf, 0x08);                /* imul (%rax),%ecx */
    DECODES(M64, IMUL3(6, 4, RDX, 0x1234), 0x69, 0x10, 0x34, 0x12, 0x00, 0x00); /* imul $0x1234,(%rax),%edx */
    DECODES(M64, IMUL3(4, 8, R8, ~1ull), 0x4c, 0x6b, 0x00, 0xfe);               /* imul $-2,(%rax),%r8 */
    DECODES(M32, IMUL3(4, 2, RCX, 3), 0x66, 0x6b, 0x08, 0x03);                  /* imul $0x3,(%eax),%cx */
    DECODES(M64, ALU_RD(3, 4, EMU_BSF, RCX), 0x0f, 0xbc, 0x08);                 /* bsf (%rax),%ecx */
    DECODES(M64, ALU_RD(4, 8, EMU_BSR, RDX), 0x48, 0x0f, 0xbd, 0x10);           /* bsr (%rax),%rdx */
    DECODES(M64, ALU_RD(4, 4, EMU_TZCNT, RCX), 0xf3, 0x0f, 0xbc, 0x08);         /* tzcnt (%rax),%ecx */
    DECODES(M64, ALU_RD(4, 4, EMU_LZCNT, RAX), 0xf3, 0x0f, 0xbd, 0x00);         /* lzcnt (%rax),%eax */
    DECODES(M64, ALU_RD(4, 4, EMU_POPCNT, RCX), 0xf3, 0x0f, 0xb8, 0x08);        /* popcnt (%rax),%ecx */
    DECODES(M64, CMPS(1, 4, false, false, 8), 0xa7);                            /* cmpsl */
    DECODES(M64, CMPS(2, 1, true, false, 8), 0xf3, 0xa6);                       /* repz cmpsb */
    DECODES(M64, SCAS(3, 2, true, true, 8), 0x66, 0xf2, 0xaf);                  /* repnz scas %es:(%rdi),%ax */
    DECODES(M64, SCAS(2, 8, false, false, 8), 0x48, 0xaf);                      /* scas %es:(%rdi),%rax */
    DECODES(M32, SCAS(2, 4, true, true, 4), 0xf2, 0xaf);                        /* repnz scas %es:(%edi),%eax */
    DECODES(M32, CMPS(4, 2, true, false, 2), 0x67, 0x66, 0xf3, 0xa7);           /* repz cmpsw %es:(%di),%ds:(%si) */
    DECODES(M64, CX8B(3, 8), 0x0f, 0xc7, 0x08);                                 /* cmpxchg8b (%rax) */
    DECODES(M64, CX8B(5, 16), 0xf0, 0x48, 0x0f, 0xc7, 0x08);                    /* lock cmpxchg16b (%rax) */
    DECODES(M32, CX8B(3, 8), 0x0f, 0xc7, 0x08);                                 /* cmpxchg8b (%eax) */
    /* LOCK: only CMPXCHG8B/16B of these is a read-modify-write that takes it. */
    UD(M64, 0xf0, 0xd1, 0x20);                                                 /* lock shll (%rax) */
    UD(M64, 0xf0, 0x0f, 0x94, 0x00);                                           /* lock sete (%rax) */
    UD(M64, 0xf0, 0x0f, 0x44, 0x08);                                           /* lock cmove (%rax),%ecx */
    UD(M64, 0xf0, 0xf7, 0x20);                                                 /* lock mull (%rax) */
    UD(M64, 0xf0, 0xf3, 0xa7);                                                 /* lock repz cmpsl */
}

/* PUSH and POP of memory: the operand size (64-bit mode: 8, or 2 with 0x66). */
/* The memory operand's effective address (SDM Vol. 2 2.1.5, Tables 2-1 to 2-3) from the register
 * values below, cut to the address size, and its default segment (SS with a BP or SP base, SDM
 * Vol. 1 3.7.5; not with R12 or R13). */
static void test_effective_address(void **state)
{
    (void)state;
    static const uint64_t regs[16] = { [DECODE_RAX] = 0x1000, [DECODE_RCX] = 0x10, [DECODE_RBX] = 0xFEE00000,
                                       [DECODE_RSP] = 0x8000, [DECODE_RBP] = 0xFFF0, [DECODE_RSI] = 0x20,
                                       [DECODE_RDI] = 0x30, [12] = 0x40, [13] = 0xFEE00100 };
    static const struct { int line; enum decode_mode mode; uint8_t b[10]; unsigned n; uint64_t rip, ea; int seg; } cases[] = {
        { __LINE__, M64, { 0x8b, 0x44, 0x8b, 0x10 }, 4, 0, 0xFEE00050, DS },           /* 0x10(%rbx,%rcx,4) */
        { __LINE__, M64, { 0x8b, 0x05, 0xf0, 0xff, 0xff, 0xff }, 6, 0x7000, 0x6FF0, DS },    /* -0x10(%rip) */
        { __LINE__, M64, { 0x67, 0x8b, 0x05, 0x00, 0x10, 0x00, 0x00 }, 7, 0x1FFFFF000ull, 0, DS }, /* (%eip) wraps */
        { __LINE__, M64, { 0x42, 0x8b, 0x04, 0x25, 0x80, 0x00, 0x00, 0x00 }, 8, 0, 0xC0, DS },    /* 0x80(,%r12,1) */
        { __LINE__, M64, { 0x41, 0x8b, 0x45, 0x00 }, 4, 0, 0xFEE00100, DS },           /* 0x0(%r13) */
        { __LINE__, M64, { 0x8b, 0x45, 0x08 }, 3, 0, 0xFFF8, SS },                     /* 0x8(%rbp) */
        { __LINE__, M64, { 0x8b, 0x04, 0x24 }, 3, 0, 0x8000, SS },                     /* (%rsp) */
        { __LINE__, M64, { 0x48, 0xa1, 0x80, 0x00, 0xe0, 0xfe, 0, 0, 0, 0 }, 10, 0, 0xFEE00080, DS },  /* moffs */
        { __LINE__, M64, { 0x26, 0x8b, 0x45, 0x00 }, 4, 0, 0xFFF0, ES },               /* %es:0x0(%rbp) */
        { __LINE__, M32, { 0x8b, 0x05, 0x80, 0x00, 0xe0, 0xfe }, 6, 0, 0xFEE00080, DS },    /* [disp32] (hand) */
        { __LINE__, M32, { 0x8b, 0x84, 0xb3, 0x00, 0x01, 0x00, 0x00 }, 7, 0, 0xFEE00180, DS }, /* 0x100(%ebx,%esi,4) */
        { __LINE__, M32, { 0x8b, 0x04, 0x8d, 0x00, 0x00, 0xe0, 0xfe }, 7, 0, 0xFEE00040, DS }, /* -0x1200000(,%ecx,4) */
        { __LINE__, M32, { 0x8b, 0x44, 0x24, 0xfc }, 4, 0, 0x7FFC, SS },               /* -0x4(%esp) */
        { __LINE__, M32, { 0x67, 0x8b, 0x00 }, 3, 0, 0x20, DS },                       /* (%bx,%si) */
        { __LINE__, M16, { 0x8b, 0x42, 0x10 }, 3, 0, 0x20, SS },                       /* 0x10(%bp,%si) wraps */
        { __LINE__, M16, { 0x8b, 0x06, 0x34, 0x12 }, 4, 0, 0x1234, DS },               /* [disp16] (hand) */
        { __LINE__, M16, { 0x8b, 0x47, 0xfe }, 3, 0, 0xFFFE, DS },                     /* -0x2(%bx) */
        { __LINE__, M16, { 0x8b, 0x46, 0x00 }, 3, 0, 0xFFF0, SS },                     /* 0x0(%bp) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mmio_insn in;
        if (decode_mmio(cases[i].b, cases[i].n, cases[i].mode, &in) != 0 || in.len != cases[i].n)
            fail_msg("line %d: not decoded whole", cases[i].line);
        uint64_t base = in.base == DECODE_RIP ? cases[i].rip : in.base >= 0 ? regs[in.base] : 0;
        uint64_t ea = mmio_ea(&in, base, in.index >= 0 ? regs[in.index] : 0);
        if (ea != cases[i].ea || in.seg != cases[i].seg)
            fail_msg("line %d: EA 0x%llx seg %d, want 0x%llx seg %d", cases[i].line, (unsigned long long)ea,
                     in.seg, (unsigned long long)cases[i].ea, cases[i].seg);
    }
}

/* BT* r/m, reg: the byte displacement of the operand accessed, signed (SDM Vol. 2 BT); the
 * immediate forms and other instructions have none. */
static void test_bit_string_delta(void **state)
{
    (void)state;
    static const struct { enum decode_mode mode; uint8_t b[5]; unsigned n; uint64_t reg; int64_t delta; } cases[] = {
        { M32, { 0x0f, 0xa3, 0x08 }, 3, 33, 4 },                    /* bt %ecx,(%eax) */
        { M32, { 0x0f, 0xab, 0x08 }, 3, 0xFFFFFFFF, -4 },           /* bts %ecx,(%eax): -1 */
        { M32, { 0x66, 0x0f, 0xb3, 0x08 }, 4, 0x12340010, 2 },      /* btr %cx,(%eax): 16 of CX */
        { M64, { 0x48, 0x0f, 0xbb, 0x08 }, 4, 0x8000000000000000ull, INT64_MIN / 8 },  /* btc, 64-bit */
        { M32, { 0x0f, 0xba, 0x20, 0x21 }, 4, 0, 0 },               /* bt $33,(%eax): none */
        { M32, { 0x01, 0x08 }, 2, 64, 0 },                          /* add: none */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mmio_insn in;
        assert_int_equal(decode_mmio(cases[i].b, cases[i].n, cases[i].mode, &in), 0);
        if (mmio_bit_string_delta(&in, cases[i].reg) != cases[i].delta)
            fail_msg("case %zu: %lld, want %lld", i, (long long)mmio_bit_string_delta(&in, cases[i].reg),
                     (long long)cases[i].delta);
    }
}

static void test_push_pop(void **state)
{
    (void)state;
    DECODES(M64, PUSH(2, 8), 0xff, 0x30);                                       /* push (%rax) */
    DECODES(M64, POP(3, 8), 0x8f, 0x40, 0x10);                                  /* pop 0x10(%rax) */
    DECODES(M64, PUSH(3, 2), 0x66, 0xff, 0x30);                                 /* pushw (%rax) */
    DECODES(M32, PUSH(6, 4), 0xff, 0x35, 0x20, 0x00, 0xe0, 0xfe);               /* push 0xfee00020 */
    DECODES(M32, POP(2, 4), 0x8f, 0x00);                                        /* pop (%eax) */
    DECODES(M32, PUSH(3, 2), 0x66, 0xff, 0x30);                                 /* pushw (%eax) */
    DECODES(M16, PUSH(2, 2), 0xff, 0x37);                                       /* push (%bx) */
    DECODES(M16, POP(3, 4), 0x66, 0x8f, 0x07);                                  /* popl (%bx) */
}

static void test_refused(void **state)
{
    (void)state;
    struct mmio_insn got;
    assert_int_equal(decode_mmio(NULL, 0, M64, &got), -1);
    /* Indirect branches, MMX, VEX. */
    REFUSED(M64, 0xff, 0x10);                                                  /* call *(%rax) */
    REFUSED(M64, 0xff, 0x20);                                                  /* jmp *(%rax) */
    REFUSED(M64, 0x0f, 0x6f, 0x00);                                            /* movq (%rax),%mm0 */
    REFUSED(M64, 0x0f, 0x7e, 0x00);                                            /* hand: movd %mm0,(%rax) */
    REFUSED(M64, 0xf3, 0x0f, 0x28, 0x00);                                      /* hand: (bad) */
    REFUSED(M64, 0xc5, 0xfe, 0x6f, 0x00);                                      /* vmovdqu (%rax),%ymm0 */
    /* Register operands (mod 11) touch no memory. */
    REFUSED(M64, 0x89, 0xc2);                                                  /* mov %eax,%edx */
    REFUSED(M64, 0x0f, 0xb6, 0xc0);                                            /* movzbl %al,%eax */
    REFUSED(M64, 0xc7, 0xc0, 0, 0, 0, 0);                                      /* movl $0,%eax (C7 /0 form) */
    REFUSED(M64, 0x87, 0xd0);                                                  /* xchg %edx,%eax */
    REFUSED(M64, 0x01, 0xc2);                                                  /* add %eax,%edx */
    REFUSED(M64, 0x0f, 0x10, 0xc8);                                            /* movups %xmm0,%xmm1 */
    REFUSED(M64, 0x0f, 0xa3, 0xc2);                                            /* bt %eax,%edx */
    /* Other opcodes and encodings. */
    REFUSED(M64, 0xc6, 0x08, 0x01);                                            /* C6 /1: (bad) */
    REFUSED(M64, 0x48, 0x8d, 0x00);                                            /* lea (%rax),%rax */
    REFUSED(M64, 0xb8, 0, 0, 0, 0);                                            /* mov $0,%eax */
    REFUSED(M64, 0x92);                                                        /* xchg %eax,%edx */
    REFUSED(M64, 0x0f, 0xb8, 0x00);                                            /* hand: 0F B8 (not POPCNT) */
    REFUSED(M64, 0x0f, 0xc7, 0x30);                                            /* vmptrld (%rax) */
    REFUSED(M64, 0x0f, 0xc7, 0xf0);                                            /* rdrand %eax */
    REFUSED(M64, 0xd1, 0xe0);                                                  /* shl %eax */
    REFUSED(M64, 0x0f, 0x94, 0xc0);                                            /* sete %al */
    REFUSED(M64, 0xf7, 0xe1);                                                  /* mul %ecx */
    REFUSED(M64, 0x8f, 0x08);                                                  /* hand: 8F /1 (XOP) */
    REFUSED(M64, 0x0f, 0x0b);                                                  /* ud2 (a lone 0F padded with NOPs is SETO) */
    /* Outside 64-bit mode 0x40-0x4F are INC/DEC, not REX, and 0x63 is ARPL. */
    REFUSED(M32, 0x48, 0x89, 0x10);
    REFUSED(M16, 0x41, 0x8b, 0x04);
    REFUSED(M32, 0x63, 0x50, 0x20);
}

/* LOCK with an instruction that is not a read-modify-write of memory is #UD (SDM Vol. 2 "LOCK"). */
static void test_lock_ud(void **state)
{
    (void)state;
    UD(M64, 0xf0, 0x89, 0x02);                                                 /* lock mov %eax,(%rdx) */
    UD(M64, 0xf0, 0x83, 0x38, 0x01);                                           /* lock cmpl $0x1,(%rax) */
    UD(M64, 0xf0, 0x0f, 0xba, 0x20, 0x01);                                     /* lock btl $0x1,(%rax) */
    UD(M64, 0xf0, 0x03, 0x00);                                                 /* lock add (%rax),%eax */
    UD(M64, 0xf0, 0x85, 0x00);                                                 /* lock test %eax,(%rax) */
    UD(M64, 0xf0, 0x0f, 0x10, 0x00);                                           /* lock movups (%rax),%xmm0 */
    UD(M64, 0xf0, 0xf3, 0xa5);                                                 /* lock rep movsl */
    UD(M64, 0xf0, 0xff, 0x30);                                                 /* lock push (%rax) */
}

static void test_store_data(void **state)
{
    (void)state;
    struct mmio_insn i;
    assert_int_equal(decode_mmio(BYTES(0x89, 0x10), M64, &i), 0);              /* 4 bytes of rdx */
    assert_int_equal(mmio_store_data(&i, 0xAABBCCDD11223344ull), 0x11223344u);
    assert_int_equal(decode_mmio(BYTES(0x48, 0x89, 0x02), M64, &i), 0);
    assert_int_equal(mmio_store_data(&i, 0xAABBCCDD11223344ull), 0xAABBCCDD11223344ull);
    assert_int_equal(decode_mmio(BYTES(0x88, 0x21), M32, &i), 0);              /* %ah */
    assert_int_equal(mmio_store_data(&i, 0x1234), 0x12);
    assert_int_equal(decode_mmio(BYTES(0x40, 0x88, 0x30), M64, &i), 0);        /* %sil */
    assert_int_equal(mmio_store_data(&i, 0x1234), 0x34);
    assert_int_equal(decode_mmio(BYTES(0x66, 0xc7, 0x00, 0x34, 0x12), M64, &i), 0);
    assert_int_equal(mmio_store_data(&i, 0xFFFF), 0x1234);
    assert_int_equal(decode_mmio(BYTES(0x48, 0xc7, 0x40, 0x08, 0x00, 0x00, 0x00, 0x80), M64, &i), 0);
    assert_int_equal(mmio_store_data(&i, 0), 0xFFFFFFFF80000000ull);
    assert_int_equal(decode_mmio(BYTES(0xc7, 0x00, 0x00, 0x00, 0x00, 0x80), M64, &i), 0);
    assert_int_equal(mmio_store_data(&i, 0), 0x80000000u);
}

static void test_load_result(void **state)
{
    (void)state;
    const uint64_t old = 0x1111222233334444ull;
    struct mmio_insn i;
    /* A 32-bit load zero-extends into 63:32. */
    assert_int_equal(decode_mmio(BYTES(0x8b, 0x07), M64, &i), 0);
    assert_int_equal(mmio_load_result(&i, old, 0xFFFFFFFF12345678ull), 0x12345678u);
    /* 16- and 8-bit loads keep the rest of the register; AH is bits 15:8. */
    assert_int_equal(decode_mmio(BYTES(0x8b, 0x04), M16, &i), 0);
    assert_int_equal(mmio_load_result(&i, old, 0xABCD), 0x111122223333ABCDull);
    assert_int_equal(decode_mmio(BYTES(0x8a, 0x3b), M64, &i), 0);              /* mov (%rbx),%bh */
    assert_int_equal(mmio_load_result(&i, old, 0x99), 0x1111222233339944ull);
    assert_int_equal(decode_mmio(BYTES(0xa0, 0, 0, 0, 0, 0, 0, 0, 0), M64, &i), 0);
    assert_int_equal(mmio_load_result(&i, old, 0x99), 0x1111222233334499ull);
    /* Widening loads. */
    assert_int_equal(decode_mmio(BYTES(0x4c, 0x0f, 0xbe, 0x48, 0x04), M64, &i), 0);  /* movsbq */
    assert_int_equal(mmio_load_result(&i, old, 0x80), 0xFFFFFFFFFFFFFF80ull);
    assert_int_equal(mmio_load_result(&i, old, 0x17F), 0x7F);
    assert_int_equal(decode_mmio(BYTES(0x0f, 0xbf, 0x11), M64, &i), 0);              /* movswl */
    assert_int_equal(mmio_load_result(&i, old, 0x8000), 0xFFFF8000u);
    assert_int_equal(decode_mmio(BYTES(0x66, 0x0f, 0xbe, 0x00), M64, &i), 0);        /* movsbw */
    assert_int_equal(mmio_load_result(&i, old, 0xFF), 0x111122223333FFFFull);
    assert_int_equal(decode_mmio(BYTES(0x0f, 0xb6, 0x00), M64, &i), 0);              /* movzbl */
    assert_int_equal(mmio_load_result(&i, old, 0x1FF), 0xFF);
    assert_int_equal(decode_mmio(BYTES(0x48, 0x8b, 0x10), M64, &i), 0);              /* 64-bit */
    assert_int_equal(mmio_load_result(&i, old, 0x8877665544332211ull), 0x8877665544332211ull);
    /* XCHG: the register's value goes out, the device's old value comes back. */
    assert_int_equal(decode_mmio(BYTES(0x87, 0x02), M64, &i), 0);
    assert_true(i.xchg);
    assert_int_equal(mmio_store_data(&i, old), 0x33334444u);
    assert_int_equal(mmio_load_result(&i, old, 0xCAFE), 0xCAFE);
}

/* ---- emulate.c: results and flags, against this host's CPU executing the same instruction. */

#define STATUS EMU_STATUS_FLAGS

/* Runs "insn src, dst" (AT&T order) of type T on the host with the status flags of *flags in,
 * and returns dst and the flags out. IF stays as user mode has it (POPF ignores it there). */
#define HOST2(insn, T)                                                                       \
    do {                                                                                     \
        T dd = (T)d, ss = (T)s;                                                              \
        uint64_t f = (*flags & STATUS) | 0x202;                                              \
        __asm__ volatile("push %[f]\n\tpopfq\n\t" insn " %[s], %[d]\n\tpushfq\n\tpop %[f]"    \
                         : [d] "+r"(dd), [f] "+r"(f) : [s] "r"(ss) : "cc");                  \
        *flags = f & STATUS;                                                                 \
        return (uint64_t)dd;                                                                 \
    } while (0)
#define HOST1(insn, T)                                                                       \
    do {                                                                                     \
        T dd = (T)d;                                                                         \
        uint64_t f = (*flags & STATUS) | 0x202;                                              \
        __asm__ volatile("push %[f]\n\tpopfq\n\t" insn " %[d]\n\tpushfq\n\tpop %[f]"          \
                         : [d] "+r"(dd), [f] "+r"(f) : : "cc");                              \
        *flags = f & STATUS;                                                                 \
        return (uint64_t)dd;                                                                 \
    } while (0)
#define HOST_SIZES(HOST, insn)                                                               \
    switch (size) {                                                                          \
    case 1: HOST(insn, uint8_t);                                                             \
    case 2: HOST(insn, uint16_t);                                                            \
    case 4: HOST(insn, uint32_t);                                                            \
    default: HOST(insn, uint64_t);                                                           \
    }
/* BT* have no byte form. */
#define HOST_WIDE(insn)                                                                      \
    switch (size) {                                                                          \
    case 2: HOST2(insn, uint16_t);                                                           \
    case 4: HOST2(insn, uint32_t);                                                           \
    default: HOST2(insn, uint64_t);                                                          \
    }

static uint64_t host_alu(enum emu_op op, unsigned size, uint64_t d, uint64_t s, uint64_t *flags)
{
    switch (op) {
    case EMU_ADD: HOST_SIZES(HOST2, "add");
    case EMU_OR: HOST_SIZES(HOST2, "or");
    case EMU_ADC: HOST_SIZES(HOST2, "adc");
    case EMU_SBB: HOST_SIZES(HOST2, "sbb");
    case EMU_AND: HOST_SIZES(HOST2, "and");
    case EMU_SUB: HOST_SIZES(HOST2, "sub");
    case EMU_XOR: HOST_SIZES(HOST2, "xor");
    case EMU_CMP: HOST_SIZES(HOST2, "cmp");
    case EMU_TEST: HOST_SIZES(HOST2, "test");
    case EMU_INC: HOST_SIZES(HOST1, "inc");
    case EMU_DEC: HOST_SIZES(HOST1, "dec");
    case EMU_NOT: HOST_SIZES(HOST1, "not");
    case EMU_NEG: HOST_SIZES(HOST1, "neg");
    case EMU_BT: HOST_WIDE("bt");
    case EMU_BTS: HOST_WIDE("bts");
    case EMU_BTR: HOST_WIDE("btr");
    default: HOST_WIDE("btc");
    }
}

/* The flags the SDM defines for op (the rest are "undefined" and not compared). */
static uint64_t defined_flags(enum emu_op op)
{
    switch (op) {
    case EMU_AND: case EMU_OR: case EMU_XOR: case EMU_TEST:
        return STATUS & ~(uint64_t)EMU_AF;
    case EMU_NOT:
        return STATUS;                  /* none affected: all must be kept */
    case EMU_BT: case EMU_BTS: case EMU_BTR: case EMU_BTC:
        return EMU_CF | EMU_ZF;         /* CF is the bit, ZF is kept */
    default:
        return STATUS;
    }
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Every operation at every size, on edge values and random ones, with CF both ways: the same
 * result and defined flags as the CPU; the other bits of RFLAGS untouched. */
static void test_alu_against_cpu(void **state)
{
    (void)state;
    static const uint64_t edges[] = {
        0, 1, 2, 0x0F, 0x10, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
        0xFFFFFFFF, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, ~0ull, 0x5555555555555555ull,
    };
    const size_t n_edges = sizeof edges / sizeof edges[0];
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    uint64_t x = 0x9E3779B97F4A7C15ull;
    unsigned checked = 0;
    for (int op = EMU_ADD; op <= EMU_BTC; op++) {
        for (size_t si = 0; si < 4; si++) {
            unsigned size = sizes[si];
            if (size == 1 && op >= EMU_BT)
                continue;
            for (size_t i = 0; i < n_edges * n_edges + 2000; i++) {
                uint64_t d = i < n_edges * n_edges ? edges[i / n_edges] : next_random(&x);
                uint64_t s = i < n_edges * n_edges ? edges[i % n_edges] : next_random(&x);
                if (i >= n_edges * n_edges && (i & 1))
                    s &= 0x3F;          /* small bit offsets and addends too */
                for (uint64_t cf = 0; cf <= 1; cf++) {
                    uint64_t in = (next_random(&x) & STATUS) | (cf ? EMU_CF : 0);
                    uint64_t want_f = in, got_f = in | 0xFFFF0000ull;   /* other bits: kept */
                    uint64_t want = host_alu((enum emu_op)op, size, d, s, &want_f);
                    uint64_t got = emu_alu((enum emu_op)op, size, d, s, &got_f);
                    uint64_t mask = defined_flags((enum emu_op)op);
                    if (op == EMU_CMP || op == EMU_TEST || op == EMU_BT)
                        want = emu_low(d, size);
                    if (got != emu_low(want, size) || (got_f & mask) != (want_f & mask) ||
                        (got_f & ~(uint64_t)STATUS) != 0xFFFF0000ull)
                        fail_msg("op %d size %u d 0x%llx s 0x%llx flags 0x%llx: got 0x%llx/0x%llx, cpu 0x%llx/0x%llx",
                                 op, size, (unsigned long long)d, (unsigned long long)s, (unsigned long long)in,
                                 (unsigned long long)got, (unsigned long long)got_f,
                                 (unsigned long long)want, (unsigned long long)want_f);
                    if (op >= EMU_BT && (got_f & (EMU_OF | EMU_SF | EMU_AF | EMU_PF)) !=
                                        (in & (EMU_OF | EMU_SF | EMU_AF | EMU_PF)))
                        fail_msg("BT* changed an undefined flag");
                    checked++;
                }
            }
        }
    }
    assert_true(checked > 100000);
}

/* ---- Shifts, rotates, IMUL, bit counts, MUL/DIV and conditions against this host's CPU: the
 * flags the SDM defines must agree; the undefined ones are Bochs's (emulate.h) and not compared. */

/* "insn %cl, dst" of type T with the status flags of *flags. */
#define HOSTSH(insn, T)                                                                      \
    do {                                                                                     \
        T dd = (T)d;                                                                         \
        uint8_t cl = (uint8_t)s;                                                             \
        uint64_t f = (*flags & STATUS) | 0x202;                                              \
        __asm__ volatile("push %[f]\n\tpopfq\n\t" insn " %%cl, %[d]\n\tpushfq\n\tpop %[f]"    \
                         : [d] "+r"(dd), [f] "+r"(f) : "c"(cl) : "cc");                      \
        *flags = f & STATUS;                                                                 \
        return (uint64_t)dd;                                                                 \
    } while (0)

static uint64_t host_shift(enum emu_op op, unsigned size, uint64_t d, uint64_t s, uint64_t *flags)
{
    switch (op) {
    case EMU_ROL: HOST_SIZES(HOSTSH, "rol");
    case EMU_ROR: HOST_SIZES(HOSTSH, "ror");
    case EMU_RCL: HOST_SIZES(HOSTSH, "rcl");
    case EMU_RCR: HOST_SIZES(HOSTSH, "rcr");
    case EMU_SHL: HOST_SIZES(HOSTSH, "shl");
    case EMU_SHR: HOST_SIZES(HOSTSH, "shr");
    default: HOST_SIZES(HOSTSH, "sar");
    }
}

/* "insn src, dst" for the register-destination forms (no byte size). */
static uint64_t host_reg_dest(enum emu_op op, unsigned size, uint64_t d, uint64_t s, uint64_t *flags)
{
    switch (op) {
    case EMU_IMUL: HOST_WIDE("imul");
    case EMU_BSF: HOST_WIDE("bsf");
    case EMU_BSR: HOST_WIDE("bsr");
    case EMU_TZCNT: HOST_WIDE("tzcnt");
    case EMU_LZCNT: HOST_WIDE("lzcnt");
    default: HOST_WIDE("popcnt");
    }
}

static const uint64_t edge_values[] = {
    0, 1, 2, 0x0F, 0x10, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
    0xFFFFFFFF, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, ~0ull, 0x5555555555555555ull, 0xFF00,
};
#define N_EDGES (sizeof edge_values / sizeof edge_values[0])

static void test_shifts_against_cpu(void **state)
{
    (void)state;
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int op = EMU_ROL; op <= EMU_SAR; op++) {
        for (size_t si = 0; si < 4; si++) {
            unsigned size = sizes[si], bits = 8 * size;
            for (size_t i = 0; i < N_EDGES + 300; i++) {
                uint64_t d = i < N_EDGES ? edge_values[i] : next_random(&x);
                for (uint64_t count = 0; count < 80; count++) {
                    uint64_t in = next_random(&x) & STATUS, want_f = in, got_f = in | 0xFFFF0000ull;
                    uint64_t want = emu_low(host_shift((enum emu_op)op, size, d, count, &want_f), size);
                    uint64_t got = emu_alu((enum emu_op)op, size, d, count, &got_f);
                    unsigned n = emu_shift_count(size, count);
                    bool shift = op >= EMU_SHL;
                    uint64_t mask = STATUS;                         /* count 0: nothing changes */
                    if (n != 0) {
                        mask = shift ? (EMU_SF | EMU_ZF | EMU_PF) : (EMU_SF | EMU_ZF | EMU_AF | EMU_PF);
                        if (!shift || op == EMU_SAR || n < bits)
                            mask |= EMU_CF;                         /* SHL/SHR: undefined from the width on */
                        if (n == 1)
                            mask |= EMU_OF;
                    }
                    if (got != want || (got_f & mask) != (want_f & mask) || (got_f & ~(uint64_t)STATUS) != 0xFFFF0000ull)
                        fail_msg("op %d size %u d 0x%llx count %llu flags 0x%llx: got 0x%llx/0x%llx, cpu 0x%llx/0x%llx",
                                 op, size, (unsigned long long)d, (unsigned long long)count,
                                 (unsigned long long)in, (unsigned long long)got, (unsigned long long)got_f,
                                 (unsigned long long)want, (unsigned long long)want_f);
                }
            }
        }
    }
}

static void test_reg_dest_against_cpu(void **state)
{
    (void)state;
    static const unsigned sizes[] = { 2, 4, 8 };
    uint64_t x = 0x13198A2E03707344ull;
    for (int op = EMU_IMUL; op <= EMU_POPCNT; op++) {
        for (size_t si = 0; si < 3; si++) {
            unsigned size = sizes[si];
            for (size_t i = 0; i < N_EDGES * N_EDGES + 3000; i++) {
                uint64_t d = i < N_EDGES * N_EDGES ? edge_values[i / N_EDGES] : next_random(&x);
                uint64_t s = i < N_EDGES * N_EDGES ? edge_values[i % N_EDGES] : next_random(&x);
                if (i & 1)
                    s >>= next_random(&x) & 63;
                uint64_t in = next_random(&x) & STATUS, want_f = in, got_f = in;
                uint64_t want = host_reg_dest((enum emu_op)op, size, d, s, &want_f);
                uint64_t got = emu_alu((enum emu_op)op, size, d, s, &got_f);
                uint64_t mask;
                switch (op) {
                case EMU_IMUL: mask = EMU_CF | EMU_OF; break;
                case EMU_BSF: case EMU_BSR: mask = EMU_ZF; break;
                case EMU_TZCNT: case EMU_LZCNT: mask = EMU_CF | EMU_ZF; break;
                default: mask = STATUS; break;
                }
                if (got != emu_low(want, size) || (got_f & mask) != (want_f & mask))
                    fail_msg("op %d size %u d 0x%llx s 0x%llx: got 0x%llx/0x%llx, cpu 0x%llx/0x%llx", op, size,
                             (unsigned long long)d, (unsigned long long)s, (unsigned long long)got,
                             (unsigned long long)got_f, (unsigned long long)want, (unsigned long long)want_f);
            }
        }
    }
}

/* MUL IMUL DIV IDIV on the host with RAX, RDX in and out; only called where the CPU does not
 * raise #DE (decided independently in 128-bit C). */
#define HOSTMD(insn, T)                                                                      \
    do {                                                                                     \
        T ss = (T)s;                                                                         \
        uint64_t f = (*flags & STATUS) | 0x202;                                              \
        __asm__ volatile("push %[f]\n\tpopfq\n\t" insn " %[s]\n\tpushfq\n\tpop %[f]"          \
                         : "+a"(*rax), "+d"(*rdx), [f] "+r"(f) : [s] "r"(ss) : "cc");        \
        *flags = f & STATUS;                                                                 \
        return;                                                                              \
    } while (0)

static void host_muldiv(enum emu_op op, unsigned size, uint64_t s, uint64_t *rax, uint64_t *rdx, uint64_t *flags)
{
    switch (op) {
    case EMU_MUL: HOST_SIZES(HOSTMD, "mul");
    case EMU_IMUL: HOST_SIZES(HOSTMD, "imul");
    case EMU_DIV: HOST_SIZES(HOSTMD, "div");
    default: HOST_SIZES(HOSTMD, "idiv");
    }
}

/* Whether DIV/IDIV of size raise #DE (SDM Vol. 2 DIV, IDIV pseudo-code, in 128-bit C). */
static bool divide_error(bool sign, unsigned size, uint64_t s, uint64_t rax, uint64_t rdx)
{
    unsigned bits = 8 * size;
    __int128 q;
    if (!sign) {
        unsigned __int128 n = size == 1 ? (rax & 0xFFFF)
                              : size == 8 ? ((unsigned __int128)rdx << 64 | rax)
                                          : (unsigned __int128)emu_low(rdx << bits | emu_low(rax, size), 2 * size);
        uint64_t dv = emu_low(s, size);
        if (dv == 0)
            return true;
        return n / dv > emu_low(~0ull, size);
    }
    __int128 n;
    if (size == 8)
        n = (__int128)((unsigned __int128)rdx << 64 | rax);
    else {
        uint64_t raw = size == 1 ? (rax & 0xFFFF) : emu_low(rdx << bits | emu_low(rax, size), 2 * size);
        n = (int64_t)(raw << (64 - 2 * bits)) >> (64 - 2 * bits);
    }
    int64_t dv = (int64_t)(emu_low(s, size) << (64 - bits)) >> (64 - bits);
    if (dv == 0)
        return true;
    if (size == 8 && n == -((__int128)1 << 127) && dv == -1)
        return true;
    q = n / dv;
    return q > (__int128)(((uint64_t)1 << (bits - 1)) - 1) || q < -(__int128)((uint64_t)1 << (bits - 1));
}

static void test_muldiv_against_cpu(void **state)
{
    (void)state;
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    uint64_t x = 0xA4093822299F31D0ull;
    unsigned faults = 0, ran = 0;
    static const enum emu_op ops[4] = { EMU_MUL, EMU_IMUL, EMU_DIV, EMU_IDIV };
    for (size_t oi = 0; oi < 4; oi++) {
        enum emu_op op = ops[oi];
        for (size_t si = 0; si < 4; si++) {
            unsigned size = sizes[si];
            for (size_t i = 0; i < N_EDGES * N_EDGES + 5000; i++) {
                uint64_t a = i < N_EDGES * N_EDGES ? edge_values[i / N_EDGES] : next_random(&x);
                uint64_t s = i < N_EDGES * N_EDGES ? edge_values[i % N_EDGES] : next_random(&x);
                uint64_t dx = (i & 1) ? next_random(&x) >> (next_random(&x) & 63) : 0;
                if (i & 2)
                    dx = (a >> 63) ? ~0ull : 0;         /* sign-extended dividends too */
                uint64_t in = next_random(&x) & STATUS;
                uint64_t got_a = a, got_d = dx, got_f = in;
                int rc = emu_muldiv(op, size, s, &got_a, &got_d, &got_f);
                bool de = (op == EMU_DIV || op == EMU_IDIV) && divide_error(op == EMU_IDIV, size, s, a, dx);
                if (de) {
                    if (rc != -1 || got_a != a || got_d != dx || got_f != in)
                        fail_msg("op %d size %u rax 0x%llx rdx 0x%llx s 0x%llx: want #DE and nothing changed",
                                 op, size, (unsigned long long)a, (unsigned long long)dx, (unsigned long long)s);
                    faults++;
                    continue;
                }
                uint64_t want_a = a, want_d = dx, want_f = in;
                host_muldiv(op, size, s, &want_a, &want_d, &want_f);
                uint64_t mask = op == EMU_MUL || op == EMU_IMUL ? EMU_CF | EMU_OF : 0;
                if (rc != 0 || got_a != want_a || got_d != want_d || (got_f & mask) != (want_f & mask) ||
                    (mask == 0 && got_f != in))
                    fail_msg("op %d size %u rax 0x%llx rdx 0x%llx s 0x%llx: got %d 0x%llx 0x%llx 0x%llx, cpu 0x%llx "
                             "0x%llx 0x%llx", op, size, (unsigned long long)a, (unsigned long long)dx,
                             (unsigned long long)s, rc, (unsigned long long)got_a, (unsigned long long)got_d,
                             (unsigned long long)got_f, (unsigned long long)want_a, (unsigned long long)want_d,
                             (unsigned long long)want_f);
                ran++;
            }
        }
    }
    assert_true(faults > 1000 && ran > 10000);
}

/* Every condition code on every combination of the flags it reads, against SETcc. */
static void test_cond_against_cpu(void **state)
{
    (void)state;
    for (uint64_t bits = 0; bits < 32; bits++) {
        uint64_t f = (bits & 1 ? EMU_CF : 0) | (bits & 2 ? EMU_ZF : 0) | (bits & 4 ? EMU_SF : 0) |
                     (bits & 8 ? EMU_OF : 0) | (bits & 16 ? EMU_PF : 0);
        uint8_t r[16];
#define SETCC_HOST(i, cc) \
        __asm__ volatile("push %[f]\n\tpopfq\n\tset" cc " %[r]" : [r] "=m"(r[i]) : [f] "r"(f | 0x202) : "cc");
        SETCC_HOST(0, "o") SETCC_HOST(1, "no") SETCC_HOST(2, "b") SETCC_HOST(3, "ae")
        SETCC_HOST(4, "e") SETCC_HOST(5, "ne") SETCC_HOST(6, "be") SETCC_HOST(7, "a")
        SETCC_HOST(8, "s") SETCC_HOST(9, "ns") SETCC_HOST(10, "p") SETCC_HOST(11, "np")
        SETCC_HOST(12, "l") SETCC_HOST(13, "ge") SETCC_HOST(14, "le") SETCC_HOST(15, "g")
#undef SETCC_HOST
        for (unsigned cc = 0; cc < 16; cc++)
            if (emu_cond(cc, f) != (r[cc] != 0))
                fail_msg("cc %u flags 0x%llx: got %d, cpu %d", cc, (unsigned long long)f, emu_cond(cc, f), r[cc]);
    }
}

/* The rules by name, so a failure says which (SDM Vol. 1 3.4.3.1, Vol. 2 each instruction). */
static void test_alu_rules(void **state)
{
    (void)state;
    uint64_t f;
#define FLAGS_AFTER(op, size, d, s, in, result, out)                                          \
    do {                                                                                      \
        f = (in);                                                                             \
        assert_int_equal(emu_alu(op, size, d, s, &f), result);                                \
        assert_int_equal(f, out);                                                             \
    } while (0)
    /* ADD: 0x7F + 1 overflows a signed byte, carries out of bit 3, sets SF; no carry out. */
    FLAGS_AFTER(EMU_ADD, 1, 0x7F, 1, 0, 0x80, EMU_OF | EMU_SF | EMU_AF);
    /* ADD: 0xFF + 1 = 0 with CF, ZF, AF, PF (zero has even parity). */
    FLAGS_AFTER(EMU_ADD, 1, 0xFF, 1, 0, 0, EMU_CF | EMU_ZF | EMU_AF | EMU_PF);
    /* ADC adds CF; SBB subtracts it. */
    FLAGS_AFTER(EMU_ADC, 4, 1, 1, EMU_CF, 3, EMU_PF);
    FLAGS_AFTER(EMU_SBB, 4, 0, 0, EMU_CF, 0xFFFFFFFF, EMU_CF | EMU_SF | EMU_AF | EMU_PF);
    /* SUB/CMP: a borrow sets CF; CMP leaves the destination. */
    FLAGS_AFTER(EMU_CMP, 4, 0x10, 0x20, 0, 0x10, EMU_CF | EMU_SF | EMU_PF);
    FLAGS_AFTER(EMU_CMP, 2, 0x8000, 1, 0, 0x8000, EMU_OF | EMU_AF | EMU_PF);
    /* INC/DEC keep CF. */
    FLAGS_AFTER(EMU_INC, 4, 0xFFFFFFFF, 0, EMU_CF, 0, EMU_CF | EMU_ZF | EMU_AF | EMU_PF);
    FLAGS_AFTER(EMU_DEC, 1, 0x80, 0, 0, 0x7F, EMU_OF | EMU_AF);
    /* NEG: CF = (operand != 0); NEG of the most negative number overflows. */
    FLAGS_AFTER(EMU_NEG, 4, 0, 0, EMU_CF, 0, EMU_ZF | EMU_PF);
    FLAGS_AFTER(EMU_NEG, 1, 0x80, 0, 0, 0x80, EMU_CF | EMU_OF | EMU_SF);
    /* AND/OR/XOR/TEST clear CF and OF. */
    FLAGS_AFTER(EMU_OR, 4, 0x20, 0x10, EMU_CF | EMU_OF, 0x30, EMU_PF);
    FLAGS_AFTER(EMU_AND, 4, 0xF0, 0x0F, EMU_CF, 0, EMU_ZF | EMU_PF);
    FLAGS_AFTER(EMU_TEST, 8, 0x8000000000000000ull, ~0ull, 0, 0x8000000000000000ull, EMU_SF | EMU_PF);
    /* NOT changes no flag. */
    FLAGS_AFTER(EMU_NOT, 2, 0x00FF, 0, EMU_ZF | EMU_CF, 0xFF00, EMU_ZF | EMU_CF);
    /* BT*: CF is the bit (offset modulo the operand width); ZF kept. */
    FLAGS_AFTER(EMU_BT, 4, 0x10, 4, EMU_ZF, 0x10, EMU_CF | EMU_ZF);
    FLAGS_AFTER(EMU_BTS, 4, 0x10, 36, 0, 0x10, EMU_CF);
    FLAGS_AFTER(EMU_BTS, 2, 0, 15, EMU_CF, 0x8000, 0);
    FLAGS_AFTER(EMU_BTR, 8, ~0ull, 63, 0, 0x7FFFFFFFFFFFFFFFull, EMU_CF);
    FLAGS_AFTER(EMU_BTC, 4, 0, 0, 0, 1, 0);
#undef FLAGS_AFTER
    /* Which ops write their result, which take LOCK. */
    assert_false(emu_writes_result(EMU_CMP));
    assert_false(emu_writes_result(EMU_TEST));
    assert_false(emu_writes_result(EMU_BT));
    assert_true(emu_writes_result(EMU_BTS));
    assert_true(emu_lockable(EMU_NEG));
    assert_false(emu_lockable(EMU_CMP));
}

/* Writing part of a register (SDM Vol. 1 3.4.1.1). */
static void test_reg_merge(void **state)
{
    (void)state;
    const uint64_t old = 0x1111222233334444ull;
    assert_int_equal(emu_reg_merge(old, 0xAB, 1, false), 0x11112222333344ABull);
    assert_int_equal(emu_reg_merge(old, 0xAB, 1, true), 0x111122223333AB44ull);
    assert_int_equal(emu_reg_merge(old, 0xABCDEF, 2, false), 0x111122223333CDEFull);
    assert_int_equal(emu_reg_merge(old, 0xFFFFFFFF89ABCDEFull, 4, false), 0x89ABCDEFull);
    assert_int_equal(emu_reg_merge(old, 0xFFFFFFFF89ABCDEFull, 8, false), 0xFFFFFFFF89ABCDEFull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux64_apic_accesses),
        cmocka_unit_test(test_addressing_64),
        cmocka_unit_test(test_moffs_64),
        cmocka_unit_test(test_sizes_and_byte_registers),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_mode32),
        cmocka_unit_test(test_mode16),
        cmocka_unit_test(test_alu_64),
        cmocka_unit_test(test_alu_32_16),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_effective_address),
        cmocka_unit_test(test_bit_string_delta),
        cmocka_unit_test(test_push_pop),
        cmocka_unit_test(test_cc_shift_mul_count),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_lock_ud),
        cmocka_unit_test(test_store_data),
        cmocka_unit_test(test_load_result),
        cmocka_unit_test(test_alu_against_cpu),
        cmocka_unit_test(test_alu_rules),
        cmocka_unit_test(test_shifts_against_cpu),
        cmocka_unit_test(test_reg_dest_against_cpu),
        cmocka_unit_test(test_muldiv_against_cpu),
        cmocka_unit_test(test_cond_against_cpu),
        cmocka_unit_test(test_reg_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

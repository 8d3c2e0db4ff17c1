/* Host unit tests for the MMIO instruction decoder (vmx/decode.c). Every byte sequence was
 * produced by GNU as (--64, --32, .code16) and checked with objdump -d; those marked "hand" were
 * written as .byte lines and checked the same way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmx/decode.c"

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

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define DECODES(mode, want, ...) check(__LINE__, mode, BYTES(__VA_ARGS__), want)
#define REFUSED(mode, ...) check_refused(__LINE__, mode, BYTES(__VA_ARGS__))

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

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

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

static void test_refused(void **state)
{
    (void)state;
    struct mmio_insn got;
    assert_int_equal(decode_mmio(NULL, 0, M64, &got), -1);
    /* String instructions: emulated elsewhere or not at all. */
    REFUSED(M64, 0xf3, 0xa4);                                                  /* rep movsb */
    REFUSED(M64, 0xa5);                                                        /* movsl */
    REFUSED(M64, 0xf3, 0x48, 0xab);                                            /* rep stos %rax */
    REFUSED(M64, 0xaa);                                                        /* stosb */
    REFUSED(M32, 0xa4);                                                        /* movsb */
    REFUSED(M32, 0xab);                                                        /* stosl */
    /* Register operands (mod 11) touch no memory. */
    REFUSED(M64, 0x89, 0xc2);                                                  /* mov %eax,%edx */
    REFUSED(M64, 0x0f, 0xb6, 0xc0);                                            /* movzbl %al,%eax */
    REFUSED(M64, 0xc7, 0xc0, 0, 0, 0, 0);                                      /* movl $0,%eax (C7 /0 form) */
    REFUSED(M64, 0x87, 0xd0);                                                  /* xchg %edx,%eax */
    /* Other opcodes and encodings. */
    REFUSED(M64, 0xc6, 0x08, 0x01);                                            /* C6 /1: (bad) */
    REFUSED(M64, 0x01, 0x00);                                                  /* add %eax,(%rax) */
    REFUSED(M64, 0x48, 0x63, 0x00);                                            /* movslq (%rax),%rax */
    REFUSED(M64, 0x48, 0x8d, 0x00);                                            /* lea (%rax),%rax */
    REFUSED(M64, 0xb8, 0, 0, 0, 0);                                            /* mov $0,%eax */
    REFUSED(M64, 0x92);                                                        /* xchg %eax,%edx */
    REFUSED(M64, 0xf0, 0x89, 0x10);                                            /* lock mov: #UD */
    REFUSED(M64, 0x0f, 0xb8, 0x00);                                            /* hand: 0F B8 */
    REFUSED(M64, 0x0f);
    /* Outside 64-bit mode 0x40-0x4F are INC/DEC, not REX. */
    REFUSED(M32, 0x48, 0x89, 0x10);
    REFUSED(M16, 0x41, 0x8b, 0x04);
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
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_store_data),
        cmocka_unit_test(test_load_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

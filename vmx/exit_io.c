/* I/O instruction exits (SDM 28.2.1 Table 28-5): IN/OUT and their string and REP forms. The
 * CPU side describes the access (port, size, direction, the values of an OUT) in a request;
 * the VM layer's port table answers it; io_complete() then finishes the instruction. */
#include "vmx/exits.h"
#include "kernel/cpu.h"

/* Exit qualification of an I/O instruction (SDM Table 28-5). */
static inline unsigned io_qual_size(uint64_t q) { return (unsigned)(q & 7) + 1; }
static inline bool io_qual_in(uint64_t q) { return q & (1u << 3); }
static inline bool io_qual_string(uint64_t q) { return q & (1u << 4); }
static inline bool io_qual_rep(uint64_t q) { return q & (1u << 5); }
static inline uint16_t io_qual_port(uint64_t q) { return (uint16_t)(q >> 16); }

/* VM-exit instruction information of INS/OUTS (SDM Table 28-8). */
static inline unsigned insn_info_addr_size(uint32_t info) { return (info >> 7) & 7; }
static inline unsigned insn_info_segment(uint32_t info) { return (info >> 15) & 7; }

static uint64_t addr_mask(uint32_t info)
{
    unsigned as = insn_info_addr_size(info);
    return as == 0 ? 0xFFFFull : as == 1 ? 0xFFFFFFFFull : ~0ull;
}

/* The string form: the elements of this request (at most VCPU_IO_BATCH; the guest
 * re-executes the REP instruction for the rest), each step of RSI/RDI by DF. */
struct string_op {
    uint64_t mask, base, index;     /* the segment base, RSI or RDI */
    int64_t step;
    bool rep;
    bool checked;                   /* protected mode outside IA-32e: segment checks apply */
    unsigned seg;                   /* 0 ES ... 5 GS, as in the instruction information */
    uint32_t limit, ar;             /* the segment's effective limit and access rights */
};

/* The linear address of element i: the index register wraps at the address size. */
static uint64_t element_addr(const struct string_op *op, unsigned i)
{
    return op->base + ((op->index + (uint64_t)((int64_t)i * op->step)) & op->mask);
}

static struct string_op string_op(struct vcpu *vcpu, unsigned size, bool in, bool rep)
{
    static const struct vmcs_fieldNAT bases[6] = {
        GUEST_ES_BASE, GUEST_CS_BASE, GUEST_SS_BASE, GUEST_DS_BASE, GUEST_FS_BASE, GUEST_GS_BASE,
    };
    struct guest_regs *r = &vcpu->regs;
    uint32_t info = vmcs_read32(VMX_INSTRUCTION_INFO);
    struct string_op op = { .mask = addr_mask(info), .rep = rep };
    op.step = (vmcs_readnat(GUEST_RFLAGS) & RFLAGS_DF) ? -(int64_t)size : (int64_t)size;
    static const struct vmcs_field32 limits[6] = {
        GUEST_ES_LIMIT, GUEST_CS_LIMIT, GUEST_SS_LIMIT, GUEST_DS_LIMIT, GUEST_FS_LIMIT, GUEST_GS_LIMIT,
    };
    static const struct vmcs_field32 rights[6] = {
        GUEST_ES_AR_BYTES, GUEST_CS_AR_BYTES, GUEST_SS_AR_BYTES, GUEST_DS_AR_BYTES,
        GUEST_FS_AR_BYTES, GUEST_GS_AR_BYTES,
    };
    if (in) {                       /* INS writes ES:RDI (no override) */
        op.seg = 0;
        op.index = r->rdi;
    } else {                        /* OUTS reads DS:RSI unless overridden */
        unsigned seg = insn_info_segment(info);
        op.seg = seg < 6 ? seg : 3;
        op.index = r->rsi;
    }
    op.base = vmcs_readnat(bases[op.seg]);
    op.checked = (vcpu->cr0_shadow & CR0_PE) && !(vmcs_read64(GUEST_IA32_EFER) & EFER_LMA);
    if (op.checked) {
        op.limit = vmcs_read32(limits[op.seg]);
        op.ar = vmcs_read32(rights[op.seg]);
    }
    return op;
}

/* Segment access rights (SDM Vol. 3C Table 25-2): type bits, D/B, unusable. */
#define AR_TYPE_WRITABLE (1u << 1)  /* data; for code: readable */
#define AR_TYPE_DOWN     (1u << 2)  /* data: expand-down */
#define AR_TYPE_CODE     (1u << 3)
#define AR_DB            (1u << 14)
#define AR_UNUSABLE      (1u << 16)

/* Whether element i of a string I/O may touch its memory operand in protected mode (SDM
 * Vol. 3A 5.3-5.4, Vol. 2B INS/OUTS): -1, or the vector: #GP(0) for a segment that cannot
 * be written (INS) or read (OUTS), or an access past the limit; #SS(0) when it is SS. */
static int element_fault(const struct string_op *op, uint64_t i, unsigned size, bool write)
{
    if (!op->checked)
        return -1;
    int vec = op->seg == 2 ? 12 : 13;
    bool code = op->ar & AR_TYPE_CODE;
    if ((op->ar & AR_UNUSABLE) ||
        (write ? code || !(op->ar & AR_TYPE_WRITABLE) : code && !(op->ar & AR_TYPE_WRITABLE)))
        return vec;
    uint64_t off = (op->index + (uint64_t)((int64_t)i * op->step)) & op->mask;
    uint64_t last = off + size - 1, top = (op->ar & AR_DB) ? 0xFFFFFFFFull : 0xFFFFull;
    bool down = !code && (op->ar & AR_TYPE_DOWN);
    return (down ? off <= op->limit || last > top : last > op->limit) ? vec : -1;
}

static enum exit_action string_io(struct vcpu *vcpu, struct string_op *op)
{
    struct vcpu_req *q = &vcpu->req;
    uint64_t count = op->rep ? (vcpu->regs.rcx & op->mask) : 1;
    if (count == 0) {               /* REP with RCX=0: nothing at all */
        vcpu_skip_instruction(vcpu);
        return EXIT_CONTINUE;
    }
    q->io.count = count > VCPU_IO_BATCH ? VCPU_IO_BATCH : (uint16_t)count;
    /* The elements before a faulting one complete; the REP instruction then faults when the
     * guest re-executes it with that element first. */
    for (uint16_t i = 0; i < q->io.count; i++) {
        int vec = element_fault(op, i, q->io.size, q->io.in);
        if (vec < 0)
            continue;
        if (i == 0) {
            vcpu_inject_exception(vcpu, (uint8_t)vec, true, 0);
            return EXIT_CONTINUE;
        }
        q->io.count = i;
        break;
    }
    if (!q->io.in) {
        for (unsigned i = 0; i < q->io.count; i++) {
            uint32_t value = 0;
            uint64_t addr = element_addr(op, i);
            if (guest_read(vcpu, addr, &value, q->io.size) < 0)
                return exit_crash(vcpu, "OUTS from an unmapped guest address 0x%lx", addr);
            q->io.data[i] = value;
        }
    }
    return EXIT_REQUEST;
}

enum exit_action exit_io(struct vcpu *vcpu)
{
    uint64_t qual = vcpu->exit_qual;
    struct vcpu_req *q = &vcpu->req;
    q->kind = VCPU_REQ_IO;
    q->io.port = io_qual_port(qual);
    q->io.size = (uint8_t)io_qual_size(qual);
    q->io.in = io_qual_in(qual);
    q->io.count = 1;
    if (io_qual_string(qual)) {
        struct string_op op = string_op(vcpu, q->io.size, q->io.in, io_qual_rep(qual));
        return string_io(vcpu, &op);
    }
    if (!q->io.in)
        q->io.data[0] = (uint32_t)vcpu->regs.rax & (q->io.size == 4 ? 0xFFFFFFFF : (1u << (q->io.size * 8)) - 1);
    return EXIT_REQUEST;
}

static void advance(uint64_t *reg, uint64_t mask, int64_t by)
{
    *reg = (*reg & ~mask) | ((*reg + (uint64_t)by) & mask);
}

enum exit_action io_complete(struct vcpu *vcpu)
{
    const struct vcpu_req *q = &vcpu->req;
    struct guest_regs *r = &vcpu->regs;
    uint64_t qual = vcpu->exit_qual;
    if (!io_qual_string(qual)) {
        if (q->io.in) {
            uint32_t v = q->io.data[0];
            if (q->io.size == 1)
                r->rax = (r->rax & ~0xFFull) | (v & 0xFF);
            else if (q->io.size == 2)
                r->rax = (r->rax & ~0xFFFFull) | (v & 0xFFFF);
            else
                r->rax = v;                 /* a 32-bit write zero-extends */
        }
        vcpu_skip_instruction(vcpu);
        return EXIT_CONTINUE;
    }
    struct string_op op = string_op(vcpu, q->io.size, q->io.in, io_qual_rep(qual));
    for (unsigned i = 0; i < q->io.count; i++) {
        if (q->io.in) {
            uint64_t addr = element_addr(&op, i);
            if (guest_write(vcpu, addr, &q->io.data[i], q->io.size) < 0)
                return exit_crash(vcpu, "INS to an unmapped guest address 0x%lx", addr);
            advance(&r->rdi, op.mask, op.step);
        } else {
            advance(&r->rsi, op.mask, op.step);
        }
        if (op.rep)
            advance(&r->rcx, op.mask, -1);
    }
    if (!op.rep || (r->rcx & op.mask) == 0)
        vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

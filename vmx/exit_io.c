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
 * re-executes the REP instruction for the rest), each step of RSI/RDI by DF. Memory goes
 * through the checked path (guest_mem.h): the segment, canonical form, paging permissions
 * of the guest's CPL, as the CPU applies them to INS and OUTS (SDM Vol. 2B INS/OUTS). */
struct string_op {
    uint64_t mask;                  /* the address size */
    uint64_t index;                 /* RSI (OUTS) or RDI (INS) */
    int64_t step;
    bool rep;
    unsigned seg;                   /* 0 ES ... 5 GS, as in the instruction information */
    unsigned access;                /* GUEST_WRITE for INS */
};

static struct string_op string_op(struct vcpu *vcpu, unsigned size, bool in, bool rep)
{
    struct guest_regs *r = &vcpu->regs;
    uint32_t info = vmcs_read32(VMX_INSTRUCTION_INFO);
    struct string_op op = { .mask = addr_mask(info), .rep = rep };
    op.step = (vmcs_readnat(GUEST_RFLAGS) & RFLAGS_DF) ? -(int64_t)size : (int64_t)size;
    if (in) {                       /* INS writes ES:RDI (no override) */
        op.seg = 0;
        op.index = r->rdi;
        op.access = GUEST_WRITE;
    } else {                        /* OUTS reads DS:RSI unless overridden */
        unsigned seg = insn_info_segment(info);
        op.seg = seg < 6 ? seg : 3;
        op.index = r->rsi;
        op.access = GUEST_READ;
    }
    return op;
}

/* The checked linear address of element i (its offset wraps at the address size). */
static int element_addr(struct vcpu *vcpu, const struct string_op *op, unsigned i, unsigned size,
                        uint64_t *gla, struct guest_fault *fault)
{
    uint64_t off = (op->index + (uint64_t)((int64_t)i * op->step)) & op->mask;
    return guest_seg_linear(vcpu, op->seg, off, size, op->access, gla, fault);
}

/* Whether INS may write its element at gla: every page it touches, with the CPU's permission
 * checks (the port is read only once the memory is known to take the value). */
static int element_writable(struct vcpu *vcpu, uint64_t gla, unsigned size, struct guest_fault *fault)
{
    uint64_t gpa;
    if (guest_translate(vcpu, gla, GUEST_WRITE, &gpa, fault) < 0)
        return GUEST_MEM_FAULT;
    return guest_translate(vcpu, gla + size - 1, GUEST_WRITE, &gpa, fault);
}

/* An element whose memory is not RAM (memory of nothing: all-ones read, writes dropped) is
 * noted in the request, so that the VM layer counts it as any access to nothing, or stops
 * the guest under on_bad_access=crash before the port is touched. */
static void note_nothing(struct vcpu *vcpu, uint64_t gla, unsigned size, unsigned access)
{
    struct vcpu_req *q = &vcpu->req;
    struct guest_fault fault;
    uint64_t gpa;
    for (uint64_t a = gla;; a = gla + size - 1) {
        if (!q->io.nothing && guest_translate(vcpu, a, access, &gpa, &fault) == 0 &&
            !guest_ram_ptr(vcpu->ram, gpa, 1)) {
            q->io.nothing = true;
            q->io.nothing_gpa = gpa;
        }
        if (a == gla + size - 1)
            return;
    }
}

/* Under RFLAGS.TF a REP string instruction traps after each iteration (SDM Vol. 3B 18.3.1.4):
 * one element per exit. */
static bool single_step(void)
{
    return vmcs_readnat(GUEST_RFLAGS) & RFLAGS_TF;
}

static enum exit_action string_io(struct vcpu *vcpu, struct string_op *op)
{
    struct vcpu_req *q = &vcpu->req;
    uint64_t count = op->rep ? (vcpu->regs.rcx & op->mask) : 1;
    if (count == 0) {               /* REP with RCX=0: nothing at all */
        vcpu_skip_instruction(vcpu);
        return EXIT_CONTINUE;
    }
    if (single_step())
        count = 1;
    q->io.count = count > VCPU_IO_BATCH ? VCPU_IO_BATCH : (uint16_t)count;
    q->io.nothing = false;
    /* The elements before a faulting one complete; the REP instruction then faults when the
     * guest re-executes it with that element first. OUTS reads its values now; bytes at no
     * RAM read all-ones, as on a PC. */
    for (uint16_t i = 0; i < q->io.count; i++) {
        struct guest_fault fault;
        uint64_t gla;
        uint32_t value = 0;
        int rc = element_addr(vcpu, op, i, q->io.size, &gla, &fault);
        if (rc == 0 && q->io.in)
            rc = element_writable(vcpu, gla, q->io.size, &fault);
        else if (rc == 0)
            rc = guest_mem_read(vcpu, gla, &value, q->io.size, GUEST_NOTHING, &fault);
        if (rc < 0) {
            if (i == 0) {
                guest_fault_inject(vcpu, &fault);
                return EXIT_CONTINUE;
            }
            q->io.count = i;
            break;
        }
        note_nothing(vcpu, gla, q->io.size, op->access);
        q->io.data[i] = value;
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
            /* Checked again: another vCPU may have changed the page tables meanwhile. */
            struct guest_fault fault;
            uint64_t gla;
            if (element_addr(vcpu, &op, 0, q->io.size, &gla, &fault) < 0 ||
                guest_mem_write(vcpu, gla, &q->io.data[i], q->io.size, GUEST_NOTHING, &fault) < 0) {
                guest_fault_inject(vcpu, &fault);
                return EXIT_CONTINUE;
            }
            r->rdi = index_advance(r->rdi, op.mask, op.step);
            op.index = r->rdi;
        } else {
            r->rsi = index_advance(r->rsi, op.mask, op.step);
        }
        if (op.rep)
            r->rcx = index_advance(r->rcx, op.mask, -1);
    }
    if (!op.rep || (r->rcx & op.mask) == 0)
        vcpu_skip_instruction(vcpu);
    else if (single_step())
        vcpu_inject_single_step(vcpu);  /* RIP stays on the instruction for the next one */
    return EXIT_CONTINUE;
}

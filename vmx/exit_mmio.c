/* Memory-mapped device emulation: an EPT violation outside the guest's RAM at an address a
 * virtual device claims (the LAPIC and IOAPIC pages), or at nothing, is an access to that
 * device. The exit gives the address but not the data (SDM 28.2.1), so the faulting
 * instruction is fetched through the guest's page tables and decoded (vmx/decode.c), then
 * carried out here one device access at a time: each is a request the VM layer answers, and
 * mmio_complete() either asks for the next access of the same instruction (the second half
 * of a read-modify-write, the next element of a string, the next piece of an SSE access) or
 * finishes the instruction (registers, RFLAGS, RIP). RAM operands of the same instruction
 * (the other side of MOVS, the stack of PUSH/POP) go through guest_read/guest_write. */
#include "vmx/exits.h"
#include "vmx/decode.h"
#include "vmx/emulate.h"
#include "kernel/cpu.h"
#include "kernel/string.h"

/* String elements emulated per exit; the guest re-executes a REP instruction for the rest
 * (RIP stays on it while RCX is not 0), as exit_io.c does for string I/O. */
#define MMIO_STRING_BATCH 256

/* What the request being answered was (struct mmio_progress.phase). A string element goes
 * STR_READ, (STR_READ_WAIT), STR_WRITE, (STR_WRITE_WAIT), STR_NEXT; the waits are requests. */
enum {
    PH_ONE,                 /* the single access of MMIO_MOV */
    PH_LOAD,                /* the load of a read-modify-write, PUSH, or an SSE piece */
    PH_STORE,               /* its store */
    STR_READ, STR_READ_WAIT, STR_WRITE, STR_WRITE_WAIT, STR_NEXT,
};

/* CS access rights: L (bit 13) and D/B (bit 14) give the default sizes. */
static enum decode_mode code_mode(void)
{
    uint32_t ar = vmcs_read32(GUEST_CS_AR_BYTES);
    if ((vmcs_read64(GUEST_IA32_EFER) & EFER_LMA) && (ar & (1u << 13)))
        return DECODE_64;
    return (ar & (1u << 14)) ? DECODE_32 : DECODE_16;
}

/* Fetches up to 15 bytes at the guest's RIP; the instruction may end before a page that is
 * not mapped, so a shorter fetch is retried byte by byte. Returns the bytes fetched. */
static unsigned fetch(struct vcpu *vcpu, uint8_t *buf)
{
    uint64_t rip = vmcs_readnat(GUEST_CS_BASE) + vcpu->rip;
    if (code_mode() != DECODE_64)
        rip &= 0xFFFFFFFFull;
    if (guest_read(vcpu, rip, buf, 15) == 0)
        return 15;
    unsigned n = 0;
    while (n < 15 && guest_read(vcpu, rip + n, buf + n, 1) == 0)
        n++;
    return n;
}

/* Asks the VM layer for one device access: a load of size bytes at gpa, or a store of data. */
static enum exit_action mmio_access(struct vcpu *vcpu, unsigned phase, uint64_t gpa, unsigned size,
                                    bool store, uint64_t data)
{
    struct vcpu_req *q = &vcpu->req;
    q->kind = VCPU_REQ_MMIO;
    q->mmio.gpa = gpa;
    q->mmio.size = (uint8_t)size;
    q->mmio.write = store;
    q->mmio.decoded = true;
    q->mmio.load = !store;
    q->mmio.store = store;
    q->mmio.data = store ? emu_low(data, size) : 0;
    vcpu->mmio_insn.progress.phase = phase;
    return EXIT_REQUEST;
}

/* The answer to a load, size bytes of it (memory of nothing answers all-ones in 64 bits). */
static uint64_t mmio_answer(struct vcpu *vcpu)
{
    return emu_low(vcpu->req.mmio.data, vcpu->req.mmio.size);
}

static enum exit_action mmio_finish(struct vcpu *vcpu)
{
    vcpu_advance_rip(vcpu, vcpu->mmio_insn.len);
    return EXIT_CONTINUE;
}

static void mmio_set_flags(uint64_t rflags)
{
    vmcs_writenat(GUEST_RFLAGS, rflags);
}

/* ---- Faults of the accesses the instruction makes besides the one that exited. */

static bool mmio_canonical(uint64_t gla)
{
    return (uint64_t)((int64_t)(gla << 16) >> 16) == gla;
}

/* #PF for a linear address the guest's page tables do not map (SDM 4.7: P = 0, W/R, U/S). */
static enum exit_action mmio_page_fault(struct vcpu *vcpu, uint64_t gla, bool write)
{
    bool user = ((vmcs_read32(GUEST_SS_AR_BYTES) >> 5) & 3) == 3;
    vcpu->regs.cr2 = gla;
    vcpu_inject_exception(vcpu, 14, true, (write ? 2u : 0u) | (user ? 4u : 0u));
    return EXIT_CONTINUE;
}

/* #GP(0), or #SS(0) for a stack access: a non-canonical address (SDM Vol. 3A 6.15). */
static enum exit_action mmio_general_fault(struct vcpu *vcpu, bool stack)
{
    vcpu_inject_exception(vcpu, stack ? 12 : 13, true, 0);
    return EXIT_CONTINUE;
}

static uint64_t mmio_segment_base(int seg, enum decode_mode mode)
{
    static const struct vmcs_fieldNAT bases[6] = {
        GUEST_ES_BASE, GUEST_CS_BASE, GUEST_SS_BASE, GUEST_DS_BASE, GUEST_FS_BASE, GUEST_GS_BASE,
    };
    if (mode == DECODE_64 && seg < DECODE_FS)
        return 0;                       /* 64-bit mode ignores these bases (SDM Vol. 1 3.4.2.1) */
    return vmcs_readnat(bases[seg]);
}

/* The linear address of segment:offset; outside 64-bit mode it wraps at 4 GiB. */
static uint64_t mmio_linear(int seg, uint64_t offset, enum decode_mode mode)
{
    uint64_t gla = mmio_segment_base(seg, mode) + offset;
    return mode == DECODE_64 ? gla : gla & 0xFFFFFFFFull;
}

static uint64_t mmio_addr_mask(unsigned addr_size)
{
    return addr_size == 2 ? 0xFFFFull : addr_size == 4 ? 0xFFFFFFFFull : ~0ull;
}

/* An index register (RSI, RDI, RCX, RSP) moved by `by` at the address size: a 16-bit one
 * keeps bits 63:16, a 32-bit one is written as a 32-bit register (zero-extended). */
static uint64_t mmio_advance(uint64_t reg, unsigned addr_size, int64_t by)
{
    uint64_t mask = mmio_addr_mask(addr_size), v = (reg + (uint64_t)by) & mask;
    return addr_size == 2 ? (reg & ~mask) | v : v;
}

/* Where a RAM-or-device operand of a string instruction is. */
enum operand_where { OPERAND_RAM, OPERAND_DEVICE, OPERAND_FAULT };

/* Reads (or writes) the size bytes at linear gla in *value: directly if they are RAM, else by
 * asking the VM layer (a request in phase `wait`), else a fault injected. */
static enum operand_where mmio_operand(struct vcpu *vcpu, uint64_t gla, unsigned size, bool write,
                                       uint64_t *value, unsigned wait, enum decode_mode mode)
{
    uint64_t gpa;
    if (mode == DECODE_64 && !mmio_canonical(gla)) {
        mmio_general_fault(vcpu, false);
        return OPERAND_FAULT;
    }
    if (guest_linear_to_phys(vcpu, gla, &gpa) < 0) {
        mmio_page_fault(vcpu, gla, write);
        return OPERAND_FAULT;
    }
    if (guest_ram_ptr(vcpu->ram, gpa, size)) {
        uint64_t v = write ? emu_low(*value, size) : 0;
        int rc = write ? guest_write(vcpu, gla, &v, size) : guest_read(vcpu, gla, &v, size);
        if (rc < 0) {                   /* the element crosses into an unmapped page */
            mmio_page_fault(vcpu, (gla | 0xFFF) + 1, write);
            return OPERAND_FAULT;
        }
        *value = v;
        return OPERAND_RAM;
    }
    mmio_access(vcpu, wait, gpa, size, write, *value);
    return OPERAND_DEVICE;
}

/* ---- MOVS, STOS, LODS (SDM Vol. 2): element by element from RSI/RDI, stepping by DF. */

static enum exit_action mmio_string(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    struct mmio_progress *p = &in->progress;
    struct guest_regs *r = &vcpu->regs;
    enum decode_mode mode = code_mode();
    uint64_t amask = mmio_addr_mask(in->addr_size);
    enum operand_where w;
    for (;;) {
        switch (p->phase) {
        case STR_READ:
            if (in->rep && (r->rcx & amask) == 0)
                return mmio_finish(vcpu);
            if (p->done == MMIO_STRING_BATCH)
                return EXIT_CONTINUE;   /* RIP stays: the guest re-executes it for the rest */
            if (in->kind == MMIO_STOS) {
                p->value = emu_low(r->rax, in->size);
                p->phase = STR_WRITE;
                break;
            }
            w = mmio_operand(vcpu, mmio_linear(in->seg, r->rsi & amask, mode), in->size, false,
                             &p->value, STR_READ_WAIT, mode);
            if (w != OPERAND_RAM)
                return w == OPERAND_DEVICE ? EXIT_REQUEST : EXIT_CONTINUE;
            p->phase = STR_WRITE;
            break;
        case STR_READ_WAIT:
            p->value = mmio_answer(vcpu);
            p->phase = STR_WRITE;
            break;
        case STR_WRITE:
            if (in->kind == MMIO_LODS) {
                r->rax = emu_reg_merge(r->rax, p->value, in->size, false);
                p->phase = STR_NEXT;
                break;
            }
            w = mmio_operand(vcpu, mmio_linear(DECODE_ES, r->rdi & amask, mode), in->size, true,
                             &p->value, STR_WRITE_WAIT, mode);
            if (w != OPERAND_RAM)
                return w == OPERAND_DEVICE ? EXIT_REQUEST : EXIT_CONTINUE;
            p->phase = STR_NEXT;
            break;
        case STR_WRITE_WAIT:
            p->phase = STR_NEXT;
            break;
        default: {                      /* STR_NEXT: the element is done */
            int64_t step = (vmcs_readnat(GUEST_RFLAGS) & EMU_DF) ? -(int64_t)in->size : (int64_t)in->size;
            if (in->kind != MMIO_STOS)
                r->rsi = mmio_advance(r->rsi, in->addr_size, step);
            if (in->kind != MMIO_LODS)
                r->rdi = mmio_advance(r->rdi, in->addr_size, step);
            p->done++;
            if (!in->rep)
                return mmio_finish(vcpu);
            r->rcx = mmio_advance(r->rcx, in->addr_size, -1);
            p->phase = STR_READ;
            break;
        }
        }
    }
}

/* ---- SSE loads and stores: the device sees pieces of at most 8 bytes (a device register is
 * at most that wide), each naturally aligned; the XMM register is the CPU's (emulate.c). */

/* The next piece at gpa with left bytes to go: the widest of 8, 4, 2, 1 that fits and that
 * gpa is aligned to. */
static unsigned mmio_piece(uint64_t gpa, unsigned left)
{
    unsigned n = 8;
    while (n > left || (gpa & (n - 1)))
        n /= 2;
    return n;
}

static enum exit_action mmio_sse_next(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    struct mmio_progress *p = &in->progress;
    if (p->done == in->size) {
        if (in->op == MMIO_LOAD)
            emu_xmm_write((unsigned)in->reg, p->xmm);   /* the bytes past size stay zero */
        return mmio_finish(vcpu);
    }
    uint64_t gpa = p->gpa + p->done, data = 0;
    unsigned n = mmio_piece(gpa, in->size - p->done);
    if (in->op == MMIO_LOAD)
        return mmio_access(vcpu, PH_LOAD, gpa, n, false, 0);
    memcpy(&data, p->xmm + p->done, n);
    return mmio_access(vcpu, PH_STORE, gpa, n, true, data);
}

static enum exit_action mmio_sse_complete(struct vcpu *vcpu)
{
    struct mmio_progress *p = &vcpu->mmio_insn.progress;
    unsigned n = vcpu->req.mmio.size;
    if (p->phase == PH_LOAD) {
        uint64_t data = mmio_answer(vcpu);
        memcpy(p->xmm + p->done, &data, n);
    }
    p->done += n;
    return mmio_sse_next(vcpu);
}

/* ---- PUSH r/m and POP r/m: the stack is RAM at SS:RSP, with SS's width (SDM Vol. 2 PUSH, POP). */

static unsigned mmio_stack_size(enum decode_mode mode)
{
    if (mode == DECODE_64)
        return 8;
    return (vmcs_read32(GUEST_SS_AR_BYTES) & (1u << 14)) ? 4 : 2;
}

/* The stack slot of size bytes at offset sp: its linear address in *gla, and 0 if it is RAM;
 * else -1 and *fault is what the guest gets (#SS, #PF, or a crash for a stack outside RAM). */
static int mmio_stack_slot(struct vcpu *vcpu, uint64_t sp, unsigned size, bool write, uint64_t *gla,
                           enum exit_action *fault)
{
    enum decode_mode mode = code_mode();
    uint64_t gpa;
    *gla = mmio_linear(DECODE_SS, sp & mmio_addr_mask(mmio_stack_size(mode)), mode);
    if (mode == DECODE_64 && !mmio_canonical(*gla))
        *fault = mmio_general_fault(vcpu, true);
    else if (guest_linear_to_phys(vcpu, *gla, &gpa) < 0)
        *fault = mmio_page_fault(vcpu, *gla, write);
    else if (!guest_ram_ptr(vcpu->ram, gpa, size))
        *fault = exit_crash(vcpu, "PUSH/POP of device memory with its stack outside RAM (0x%lx)", gpa);
    else
        return 0;
    return -1;
}

/* The operand is read first, but a stack that would fault is checked before the device sees
 * anything. */
static enum exit_action mmio_push_start(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    unsigned ss = mmio_stack_size(code_mode());
    uint64_t rsp = mmio_advance(vcpu_gpr_read(vcpu, DECODE_RSP), ss, -(int64_t)in->size), gla;
    enum exit_action fault;
    if (mmio_stack_slot(vcpu, rsp, in->size, true, &gla, &fault) < 0)
        return fault;
    return mmio_access(vcpu, PH_LOAD, in->progress.gpa, in->size, false, 0);
}

static enum exit_action mmio_push_complete(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    unsigned ss = mmio_stack_size(code_mode());
    uint64_t rsp = mmio_advance(vcpu_gpr_read(vcpu, DECODE_RSP), ss, -(int64_t)in->size), gla;
    uint64_t value = mmio_answer(vcpu);
    enum exit_action fault;
    if (mmio_stack_slot(vcpu, rsp, in->size, true, &gla, &fault) < 0)
        return fault;
    if (guest_write(vcpu, gla, &value, in->size) < 0)
        return mmio_page_fault(vcpu, gla, true);
    vcpu_gpr_write(vcpu, DECODE_RSP, rsp);
    return mmio_finish(vcpu);
}

static enum exit_action mmio_pop_start(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    uint64_t gla, value = 0;
    enum exit_action fault;
    if (mmio_stack_slot(vcpu, vcpu_gpr_read(vcpu, DECODE_RSP), in->size, false, &gla, &fault) < 0)
        return fault;
    if (guest_read(vcpu, gla, &value, in->size) < 0)
        return mmio_page_fault(vcpu, gla, false);
    return mmio_access(vcpu, PH_STORE, in->progress.gpa, in->size, true, value);
}

static enum exit_action mmio_pop_complete(struct vcpu *vcpu)
{
    unsigned ss = mmio_stack_size(code_mode());
    uint64_t rsp = vcpu_gpr_read(vcpu, DECODE_RSP);
    vcpu_gpr_write(vcpu, DECODE_RSP, mmio_advance(rsp, ss, (int64_t)vcpu->mmio_insn.size));
    return mmio_finish(vcpu);
}

/* ---- The read-modify-writes: the load is answered; compute, set RFLAGS, maybe store. */

static enum exit_action mmio_alu_loaded(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    uint64_t m = mmio_answer(vcpu), flags = vmcs_readnat(GUEST_RFLAGS);
    uint64_t reg = in->reg >= 0 ? vcpu_gpr_read(vcpu, (unsigned)in->reg) : 0;
    uint64_t src = mmio_store_data(in, reg);
    if (in->reg_dest) {                 /* reg = reg OP memory */
        uint64_t result = emu_alu(in->alu, in->size, src, m, &flags);
        mmio_set_flags(flags);
        if (emu_writes_result(in->alu))
            vcpu_gpr_write(vcpu, (unsigned)in->reg, emu_reg_merge(reg, result, in->size, in->high_byte));
        return mmio_finish(vcpu);
    }
    uint64_t result = emu_alu(in->alu, in->size, m, src, &flags);
    mmio_set_flags(flags);
    if (!emu_writes_result(in->alu))
        return mmio_finish(vcpu);
    return mmio_access(vcpu, PH_STORE, in->progress.gpa, in->size, true, result);
}

/* CMPXCHG (SDM Vol. 2): the accumulator compared with the operand as CMP does; equal: the
 * source is stored; not equal: the operand is loaded into the accumulator and the device is
 * not written (the CPU writes the old value back; a device register must not see that). */
static enum exit_action mmio_cmpxchg_loaded(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    uint64_t m = mmio_answer(vcpu), flags = vmcs_readnat(GUEST_RFLAGS);
    uint64_t acc = vcpu->regs.rax;
    emu_alu(EMU_CMP, in->size, acc, m, &flags);
    mmio_set_flags(flags);
    if (emu_low(acc, in->size) != m) {
        vcpu->regs.rax = emu_reg_merge(acc, m, in->size, false);
        return mmio_finish(vcpu);
    }
    uint64_t src = mmio_store_data(in, vcpu_gpr_read(vcpu, (unsigned)in->reg));
    return mmio_access(vcpu, PH_STORE, in->progress.gpa, in->size, true, src);
}

/* XADD (SDM Vol. 2): the sum is stored, the operand's old value goes to the source register. */
static enum exit_action mmio_xadd_loaded(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    uint64_t m = mmio_answer(vcpu), flags = vmcs_readnat(GUEST_RFLAGS);
    uint64_t reg = vcpu_gpr_read(vcpu, (unsigned)in->reg);
    uint64_t sum = emu_alu(EMU_ADD, in->size, m, mmio_store_data(in, reg), &flags);
    mmio_set_flags(flags);
    vcpu_gpr_write(vcpu, (unsigned)in->reg, emu_reg_merge(reg, m, in->size, in->high_byte));
    return mmio_access(vcpu, PH_STORE, in->progress.gpa, in->size, true, sum);
}

/* MOV and MOVZX/MOVSX: the loaded value into the register. XCHG: its load was answered; the
 * old value goes into the register and the register's value out to the device. */
static enum exit_action mmio_mov_complete(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    if (in->op == MMIO_STORE && !in->xchg)
        return mmio_finish(vcpu);
    unsigned reg = (unsigned)in->reg;
    uint64_t old = vcpu_gpr_read(vcpu, reg);
    vcpu_gpr_write(vcpu, reg, mmio_load_result(in, old, mmio_answer(vcpu)));
    if (!in->xchg)
        return mmio_finish(vcpu);
    return mmio_access(vcpu, PH_STORE, in->progress.gpa, in->size, true, mmio_store_data(in, old));
}

/* ---- The exit and the completions. */

/* The first access of the decoded instruction in vcpu->mmio_insn. */
static enum exit_action mmio_start(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    struct vcpu_req *q = &vcpu->req;
    switch (in->kind) {
    case MMIO_MOV:
        if (in->xchg)                   /* two requests: the VM layer's data is the load's answer */
            return mmio_access(vcpu, PH_LOAD, in->progress.gpa, in->size, false, 0);
        q->mmio.size = (uint8_t)in->size;
        q->mmio.load = in->op == MMIO_LOAD;
        q->mmio.store = in->op == MMIO_STORE;
        q->mmio.data = q->mmio.store ? mmio_store_data(in, in->reg >= 0 ? vcpu_gpr_read(vcpu, (unsigned)in->reg) : 0) : 0;
        in->progress.phase = PH_ONE;
        return EXIT_REQUEST;
    case MMIO_ALU: case MMIO_CMPXCHG: case MMIO_XADD:
        return mmio_access(vcpu, PH_LOAD, in->progress.gpa, in->size, false, 0);
    case MMIO_MOVS: case MMIO_STOS: case MMIO_LODS:
        in->progress.phase = STR_READ;
        return mmio_string(vcpu);
    case MMIO_SSE:
        if (in->align16 && (in->progress.gpa & 15))
            return exit_inject_gp(vcpu);    /* SDM Vol. 2 MOVAPS: #GP(0) if not aligned */
        if (in->op == MMIO_STORE)
            emu_xmm_read((unsigned)in->reg, in->progress.xmm);
        return mmio_sse_next(vcpu);
    case MMIO_PUSH:
        return mmio_push_start(vcpu);
    default:
        return mmio_pop_start(vcpu);
    }
}

enum exit_action exit_mmio(struct vcpu *vcpu, uint64_t gpa, bool write)
{
    struct vcpu_req *q = &vcpu->req;
    uint8_t bytes[15] = { 0 };
    unsigned n = fetch(vcpu, bytes);
    struct mmio_insn *in = &vcpu->mmio_insn;
    int r = n > 0 ? decode_mmio(bytes, n, code_mode(), in) : DECODE_REFUSED;
    if (r == DECODE_UD)
        return exit_inject_ud(vcpu);
    q->kind = VCPU_REQ_MMIO;
    q->mmio.gpa = gpa;
    q->mmio.write = write;
    q->mmio.decoded = r == 0;
    memcpy(q->mmio.bytes, bytes, sizeof q->mmio.bytes);
    if (!q->mmio.decoded)
        return EXIT_REQUEST;            /* the VM layer says whether a device was there */
    in->progress.gpa = gpa;
    return mmio_start(vcpu);
}

enum exit_action mmio_complete(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    if (in->progress.phase >= STR_READ)
        return mmio_string(vcpu);
    if (in->kind == MMIO_SSE)
        return mmio_sse_complete(vcpu);
    if (in->progress.phase == PH_STORE)
        return in->kind == MMIO_POP ? mmio_pop_complete(vcpu) : mmio_finish(vcpu);
    switch (in->kind) {
    case MMIO_ALU:
        return mmio_alu_loaded(vcpu);
    case MMIO_CMPXCHG:
        return mmio_cmpxchg_loaded(vcpu);
    case MMIO_XADD:
        return mmio_xadd_loaded(vcpu);
    case MMIO_PUSH:
        return mmio_push_complete(vcpu);
    default:
        return mmio_mov_complete(vcpu);
    }
}

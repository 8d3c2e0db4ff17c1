/* Memory-mapped device emulation: an EPT violation outside the guest's RAM at an address a
 * virtual device claims (the LAPIC and IOAPIC pages), or at nothing, is an access to that
 * device. The exit gives an address but not the data (SDM 28.2.1), so the faulting
 * instruction is fetched through the guest's page tables and decoded (vmx/decode.c), its
 * memory operand located from its effective address (the exit's address is only the first
 * byte that is not RAM), then carried out here one access at a time: the parts of an access
 * that are RAM go through the checked path of guest_mem.h, the others are requests the VM
 * layer answers, and mmio_complete() either asks for the next access of the same instruction
 * (the second half of a read-modify-write, the next element of a string, the next piece of an
 * SSE access) or finishes the instruction (registers, RFLAGS, RIP). RAM operands of the same
 * instruction (the other side of MOVS, the stack of PUSH/POP) and the fetch of the instruction
 * go through the checked path too, with the faults the CPU would give. */
#include "vmx/exits.h"
#include "vmx/cr.h"
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
    PH_LOAD,                /* a load: MOV, a read-modify-write's, PUSH's, an SSE piece */
    PH_STORE,               /* a store: MOV, a read-modify-write's, POP's, an SSE piece */
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

/* Fetches up to 15 bytes at the guest's RIP, as the CPU fetched them (CPL, SMEP, XD); the
 * instruction may end before a page that is not mapped, so a shorter fetch is retried byte
 * by byte. Returns the bytes fetched (0: none could be). */
static unsigned fetch(struct vcpu *vcpu, uint8_t *buf)
{
    struct guest_fault fault;
    uint64_t rip = vmcs_readnat(GUEST_CS_BASE) + vcpu->rip;
    if (code_mode() != DECODE_64)
        rip &= 0xFFFFFFFFull;
    if (guest_mem_read(vcpu, rip, buf, 15, GUEST_FETCH, &fault) == 0)
        return 15;
    unsigned n = 0;
    while (n < 15 && guest_mem_read(vcpu, rip + n, buf + n, 1, GUEST_FETCH, &fault) == 0)
        n++;
    return n;
}

/* Asks the VM layer for one device access: a load of size bytes at gpa, or a store of data. */
static enum exit_action mmio_request(struct vcpu *vcpu, uint64_t gpa, unsigned size, bool store, uint64_t data)
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
    return EXIT_REQUEST;
}

/* Whether the instruction writes its ModRM operand (MOVS and STOS write ES:RDI, PUSH its
 * stack: mmio_insn_writes). */
static bool mmio_writes_operand(const struct mmio_insn *in)
{
    switch (in->kind) {
    case MMIO_MOV: case MMIO_SSE:
        return in->op == MMIO_STORE;
    case MMIO_ALU:
        return !in->reg_dest && emu_writes_result(in->alu);
    case MMIO_CMPXCHG: case MMIO_CMPXCHG8B: case MMIO_XADD: case MMIO_SETCC: case MMIO_POP:
        return true;
    default:                            /* the strings, PUSH, CMOV, MUL and DIV read it */
        return false;
    }
}

/* The access the checks see (SDM Vol. 3A 4.6): a store, or any access of an instruction that
 * writes its operand (a read-modify-write needs write permission from its load on). */
static unsigned mmio_check(const struct mmio_insn *in, bool store)
{
    return store || mmio_writes_operand(in) ? GUEST_WRITE : GUEST_READ;
}

static uint64_t mmio_linear_mask(void)
{
    return guest_in_64bit_mode() ? ~0ull : 0xFFFFFFFFull;
}

/* The guest-physical address of each page (at most two) of the size bytes at linear gla, for
 * access: 0, or GUEST_MEM_FAULT with the fault injected. */
static int mmio_pages(struct vcpu *vcpu, uint64_t gla, unsigned size, unsigned access, uint64_t gpa[2])
{
    struct guest_fault fault;
    uint64_t first = 4096 - (gla & 4095);
    if (guest_translate(vcpu, gla, access, &gpa[0], &fault) == 0 &&
        (size <= first || guest_translate(vcpu, (gla + first) & mmio_linear_mask(), access, &gpa[1], &fault) == 0))
        return 0;
    guest_fault_inject(vcpu, &fault);
    return GUEST_MEM_FAULT;
}

/* ---- One access of the instruction to memory: size bytes (at most 8) at a linear address.
 * An operand may start in RAM and end in a device's page or in nothing, and the EPT violation
 * then names the first byte that is not RAM (SDM Vol. 3C 28.2.1), not the operand's start. As
 * on a PC (and in KVM's emulator_read_write), each page's part goes where it is: RAM through
 * the checked path, the rest to the VM layer, which reads all-ones from nothing and drops
 * writes there; the parts in address order, one that is not 1, 2, 4 or 8 bytes in naturally
 * aligned pieces. The pages are translated before a byte moves, so that a fault leaves RAM
 * and devices as they were. Once the last part is done the access is answered as a single
 * request would be (vcpu->req.mmio.data and size) and the instruction goes on. */

static enum exit_action mmio_continue(struct vcpu *vcpu);
static unsigned mmio_piece(uint64_t gpa, unsigned left);

/* n bytes of the access at RAM: 0, or -1 with the fault injected (a page table that changed
 * meanwhile; RIP stays, so the guest executes the instruction again). */
static int mmio_ram_part(struct vcpu *vcpu, struct mmio_part *a, unsigned n)
{
    struct guest_fault fault;
    uint64_t gla = (a->gla + a->done) & mmio_linear_mask(), v = a->store ? a->data >> (8 * a->done) : 0;
    int rc = a->store ? guest_mem_write(vcpu, gla, &v, n, GUEST_WRITE, &fault)
                      : guest_mem_read(vcpu, gla, &v, n, GUEST_READ, &fault);
    if (rc == GUEST_MEM_FAULT)
        guest_fault_inject(vcpu, &fault);
    if (rc < 0)
        return -1;
    if (!a->store)
        a->data |= emu_low(v, n) << (8 * a->done);
    a->done = (uint8_t)(a->done + n);
    return 0;
}

static enum exit_action mmio_part_next(struct vcpu *vcpu)
{
    struct mmio_part *a = &vcpu->mmio_insn.progress.part;
    unsigned first = 4096 - (unsigned)(a->gla & 4095);
    while (a->done < a->size) {
        bool second = a->done >= first;
        unsigned end = second || a->size < first ? a->size : first, n = end - a->done;
        uint64_t gpa = second ? a->gpa[1] + (a->done - first) : a->gpa[0] + a->done;
        if (!guest_ram_ptr(vcpu->ram, gpa, n))
            return mmio_request(vcpu, gpa, (n & (n - 1)) ? mmio_piece(gpa, n) : n, a->store,
                                a->data >> (8 * a->done));
        if (mmio_ram_part(vcpu, a, n) < 0)
            return EXIT_CONTINUE;
    }
    vcpu->req.mmio.size = a->size;
    vcpu->req.mmio.data = a->data;
    return mmio_continue(vcpu);
}

/* Starts the access of the instruction's phase: a load of size bytes at linear gla, or a store
 * of data. Returns the request for its first part outside RAM, or what the instruction does
 * next if it is all RAM. */
static enum exit_action mmio_access(struct vcpu *vcpu, unsigned phase, uint64_t gla, unsigned size,
                                    bool store, uint64_t data)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    struct mmio_part *a = &in->progress.part;
    in->progress.phase = phase;
    *a = (struct mmio_part){ .gla = gla & mmio_linear_mask(), .size = (uint8_t)size, .store = store,
                             .data = store ? emu_low(data, size) : 0 };
    if (mmio_pages(vcpu, a->gla, size, mmio_check(in, store), a->gpa) < 0)
        return EXIT_CONTINUE;
    return mmio_part_next(vcpu);
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

/* ---- The accesses the instruction makes besides the one that exited: through the checked
 * path (guest_mem.h), which says the fault the CPU would give. */

static uint64_t mmio_addr_mask(unsigned addr_size)
{
    return addr_size == 2 ? 0xFFFFull : addr_size == 4 ? 0xFFFFFFFFull : ~0ull;
}

/* An index register (RSI, RDI, RCX, RSP) moved by `by` at the address size. */
static uint64_t mmio_advance(uint64_t reg, unsigned addr_size, int64_t by)
{
    return index_advance(reg, mmio_addr_mask(addr_size), by);
}

/* Reads (or writes) the size bytes at seg:offset in *value: 0 if they are all RAM; else -1
 * and *action is what the guest gets: a fault injected (EXIT_CONTINUE), or the access in phase
 * `wait` (mmio_access: a request for a part that is not RAM). */
static int mmio_operand(struct vcpu *vcpu, int seg, uint64_t offset, unsigned size, bool write,
                        uint64_t *value, unsigned wait, enum exit_action *action)
{
    struct guest_fault fault;
    unsigned access = write ? GUEST_WRITE : GUEST_READ;
    uint64_t gla, v = write ? emu_low(*value, size) : 0;
    int rc = guest_seg_linear(vcpu, (unsigned)seg, offset, size, access, &gla, &fault);
    if (rc == 0)
        rc = write ? guest_mem_write(vcpu, gla, &v, size, access, &fault)
                   : guest_mem_read(vcpu, gla, &v, size, access, &fault);
    if (rc == 0) {
        *value = v;
        return 0;
    }
    if (rc == GUEST_MEM_FAULT) {
        guest_fault_inject(vcpu, &fault);
        *action = EXIT_CONTINUE;
    } else {
        *action = mmio_access(vcpu, wait, gla, size, write, *value);
    }
    return -1;
}

/* ---- MOVS, STOS, LODS, CMPS, SCAS (SDM Vol. 2): element by element from RSI/RDI, stepping
 * by DF. CMPS and SCAS read their second operand where the others write, and set RFLAGS as
 * CMP does (CMPS: [RSI] - [RDI]; SCAS: the accumulator - [RDI]); REPE stops after an element
 * that clears ZF, REPNE after one that sets it (SDM Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ"). */

static bool mmio_compares(const struct mmio_insn *in)
{
    return in->kind == MMIO_CMPS || in->kind == MMIO_SCAS;
}

static void mmio_string_compare(struct vcpu *vcpu, uint64_t second)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    uint64_t flags = vmcs_readnat(GUEST_RFLAGS);
    emu_alu(EMU_CMP, in->size, in->progress.value, second, &flags);
    mmio_set_flags(flags);
}

/* After an element of REPE/REPNE CMPS or SCAS: whether the repetition ends on ZF. */
static bool mmio_string_stops(const struct mmio_insn *in)
{
    bool zf = vmcs_readnat(GUEST_RFLAGS) & EMU_ZF;
    return mmio_compares(in) && (in->repne ? zf : !zf);
}

static enum exit_action mmio_string(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    struct mmio_progress *p = &in->progress;
    struct guest_regs *r = &vcpu->regs;
    uint64_t amask = mmio_addr_mask(in->addr_size);
    enum exit_action action;
    for (;;) {
        switch (p->phase) {
        case STR_READ:
            if (in->rep && (r->rcx & amask) == 0)
                return mmio_finish(vcpu);
            if (p->done == MMIO_STRING_BATCH)
                return EXIT_CONTINUE;   /* RIP stays: the guest re-executes it for the rest */
            if (p->done && (vmcs_readnat(GUEST_RFLAGS) & RFLAGS_TF)) {
                /* Under TF a REP string traps after each iteration (SDM Vol. 3B 18.3.1.4):
                 * one element per exit, RIP on the instruction for the next. */
                vcpu_inject_single_step(vcpu);
                return EXIT_CONTINUE;
            }
            if (in->kind == MMIO_STOS || in->kind == MMIO_SCAS) {
                p->value = emu_low(r->rax, in->size);
                p->phase = STR_WRITE;
                break;
            }
            if (mmio_operand(vcpu, in->seg, r->rsi & amask, in->size, false, &p->value, STR_READ_WAIT, &action) < 0)
                return action;
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
            if (mmio_compares(in)) {
                uint64_t second = 0;
                if (mmio_operand(vcpu, DECODE_ES, r->rdi & amask, in->size, false, &second, STR_WRITE_WAIT,
                                 &action) < 0)
                    return action;
                mmio_string_compare(vcpu, second);
                p->phase = STR_NEXT;
                break;
            }
            if (mmio_operand(vcpu, DECODE_ES, r->rdi & amask, in->size, true, &p->value, STR_WRITE_WAIT, &action) < 0)
                return action;
            p->phase = STR_NEXT;
            break;
        case STR_WRITE_WAIT:
            if (mmio_compares(in))
                mmio_string_compare(vcpu, mmio_answer(vcpu));
            p->phase = STR_NEXT;
            break;
        default: {                      /* STR_NEXT: the element is done */
            int64_t step = (vmcs_readnat(GUEST_RFLAGS) & EMU_DF) ? -(int64_t)in->size : (int64_t)in->size;
            if (in->kind != MMIO_STOS && in->kind != MMIO_SCAS)
                r->rsi = mmio_advance(r->rsi, in->addr_size, step);
            if (in->kind != MMIO_LODS)
                r->rdi = mmio_advance(r->rdi, in->addr_size, step);
            p->done++;
            if (!in->rep)
                return mmio_finish(vcpu);
            r->rcx = mmio_advance(r->rcx, in->addr_size, -1);
            if (mmio_string_stops(in))
                return mmio_finish(vcpu);
            p->phase = STR_READ;
            break;
        }
        }
    }
}

/* ---- SSE loads and stores: the device sees pieces of at most 8 bytes (a device register is
 * at most that wide), each naturally aligned; the XMM register is the CPU's (emulate.c). */

/* The next piece at addr with left bytes to go: the widest of 8, 4, 2, 1 that fits and that
 * addr is aligned to (the same for a linear and a physical address: pages are aligned). */
static unsigned mmio_piece(uint64_t addr, unsigned left)
{
    unsigned n = 8;
    while (n > left || (addr & (n - 1)))
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
    uint64_t gla = p->gla + p->done, data = 0;
    unsigned n = mmio_piece(gla, in->size - p->done);
    if (in->op == MMIO_LOAD)
        return mmio_access(vcpu, PH_LOAD, gla, n, false, 0);
    memcpy(&data, p->xmm + p->done, n);
    return mmio_access(vcpu, PH_STORE, gla, n, true, data);
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

/* The stack slot of size bytes at offset sp: its linear address in *gla, and 0 if it is RAM
 * the access may touch; else -1 and *action is what the guest gets (#SS, #PF, or a crash for
 * a stack outside RAM). */
static int mmio_stack_slot(struct vcpu *vcpu, uint64_t sp, unsigned size, bool write, uint64_t *gla,
                           enum exit_action *action)
{
    struct guest_fault fault;
    unsigned access = write ? GUEST_WRITE : GUEST_READ;
    uint64_t gpa = 0, off = sp & mmio_addr_mask(mmio_stack_size(code_mode())), probe = 0;
    int rc = guest_seg_linear(vcpu, DECODE_SS, off, size, access, gla, &fault);
    if (rc == 0)                        /* every page of the slot, without writing yet */
        rc = guest_mem_read(vcpu, *gla, &probe, size, access, &fault);
    if (rc == 0)
        return 0;
    if (rc == GUEST_MEM_FAULT) {
        guest_fault_inject(vcpu, &fault);
        *action = EXIT_CONTINUE;
    } else {
        guest_translate(vcpu, *gla, access, &gpa, &fault);
        *action = exit_crash(vcpu, "PUSH/POP of device memory with its stack outside RAM (0x%lx)", gpa);
    }
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
    return mmio_access(vcpu, PH_LOAD, in->progress.gla, in->size, false, 0);
}

static enum exit_action mmio_push_complete(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    unsigned ss = mmio_stack_size(code_mode());
    uint64_t rsp = mmio_advance(vcpu_gpr_read(vcpu, DECODE_RSP), ss, -(int64_t)in->size), gla;
    uint64_t value = mmio_answer(vcpu);
    enum exit_action fault;
    struct guest_fault f;
    if (mmio_stack_slot(vcpu, rsp, in->size, true, &gla, &fault) < 0)
        return fault;
    if (guest_mem_write(vcpu, gla, &value, in->size, GUEST_WRITE, &f) < 0) {
        guest_fault_inject(vcpu, &f);
        return EXIT_CONTINUE;
    }
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
    struct guest_fault f;
    guest_mem_read(vcpu, gla, &value, in->size, GUEST_READ, &f);   /* checked by the slot */
    return mmio_access(vcpu, PH_STORE, in->progress.gla, in->size, true, value);
}

static enum exit_action mmio_pop_complete(struct vcpu *vcpu)
{
    unsigned ss = mmio_stack_size(code_mode());
    uint64_t rsp = vcpu_gpr_read(vcpu, DECODE_RSP);
    vcpu_gpr_write(vcpu, DECODE_RSP, mmio_advance(rsp, ss, (int64_t)vcpu->mmio_insn.size));
    return mmio_finish(vcpu);
}

/* ---- The read-modify-writes: the load is answered; compute, set RFLAGS, maybe store. */

static bool mmio_is_shift(enum emu_op op)
{
    return op >= EMU_ROL && op <= EMU_SAR;
}

/* The ALU forms, shifts and rotates, IMUL r, r/m and the bit scans. A shift whose masked
 * count is 0 changes nothing and is not stored: the CPU's write-back of the same value is
 * not something a device register may see (as CMPXCHG's). BSF/BSR of 0 leave the register. */
static enum exit_action mmio_alu_loaded(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    uint64_t m = mmio_answer(vcpu), flags = vmcs_readnat(GUEST_RFLAGS);
    uint64_t reg = in->reg >= 0 ? vcpu_gpr_read(vcpu, (unsigned)in->reg) : 0;
    uint64_t src = in->three_op ? in->imm : mmio_store_data(in, reg);
    if (in->reg_dest) {                 /* reg = reg OP memory (IMUL r, r/m, imm: imm * memory) */
        uint64_t result = emu_alu(in->alu, in->size, src, m, &flags);
        bool scan_of_zero = (in->alu == EMU_BSF || in->alu == EMU_BSR) && m == 0;
        mmio_set_flags(flags);
        if (emu_writes_result(in->alu) && !scan_of_zero)
            vcpu_gpr_write(vcpu, (unsigned)in->reg, emu_reg_merge(reg, result, in->size, in->high_byte));
        return mmio_finish(vcpu);
    }
    uint64_t result = emu_alu(in->alu, in->size, m, src, &flags);
    mmio_set_flags(flags);
    if (!emu_writes_result(in->alu) || (mmio_is_shift(in->alu) && emu_shift_count(in->size, src) == 0))
        return mmio_finish(vcpu);
    return mmio_access(vcpu, PH_STORE, in->progress.gla, in->size, true, result);
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
    return mmio_access(vcpu, PH_STORE, in->progress.gla, in->size, true, src);
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
    return mmio_access(vcpu, PH_STORE, in->progress.gla, in->size, true, sum);
}

/* CMPXCHG8B/16B (SDM Vol. 2): the operand as two loads of its halves, low first, compared with
 * EDX:EAX (RDX:RAX). Equal: ZF = 1 and ECX:EBX (RCX:RBX) stored, low half first. Not equal:
 * ZF = 0 and the operand loaded into EDX:EAX (32-bit writes, zero-extended), the device not
 * written (as CMPXCHG). The other flags are kept. progress.done counts the accesses. */
static enum exit_action mmio_cmpxchg8b_next(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    struct mmio_progress *p = &in->progress;
    struct guest_regs *r = &vcpu->regs;
    unsigned half = in->size / 2;
    switch (p->done++) {
    case 0:
        p->value = mmio_answer(vcpu);
        return mmio_access(vcpu, PH_LOAD, p->gla + half, half, false, 0);
    case 1: {
        uint64_t lo = p->value, hi = mmio_answer(vcpu), flags = vmcs_readnat(GUEST_RFLAGS);
        bool equal = lo == emu_low(r->rax, half) && hi == emu_low(r->rdx, half);
        mmio_set_flags(equal ? flags | EMU_ZF : flags & ~(uint64_t)EMU_ZF);
        if (equal)
            return mmio_access(vcpu, PH_STORE, p->gla, half, true, r->rbx);
        r->rax = emu_reg_merge(r->rax, lo, half, false);
        r->rdx = emu_reg_merge(r->rdx, hi, half, false);
        return mmio_finish(vcpu);
    }
    case 2:
        return mmio_access(vcpu, PH_STORE, p->gla + half, half, true, r->rcx);
    default:
        return mmio_finish(vcpu);
    }
}

/* CMOVcc (SDM Vol. 2): the operand is read whatever the condition; the register is written
 * only if it holds, but a 32-bit one has bits 63:32 cleared either way (in IA-32e mode; outside
 * it they are not the guest's to see). Flags unchanged. */
static enum exit_action mmio_cmov_loaded(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    unsigned reg = (unsigned)in->reg;
    uint64_t old = vcpu_gpr_read(vcpu, reg);
    if (emu_cond(in->cond, vmcs_readnat(GUEST_RFLAGS)))
        vcpu_gpr_write(vcpu, reg, mmio_load_result(in, old, mmio_answer(vcpu)));
    else if (in->size == 4)
        vcpu_gpr_write(vcpu, reg, emu_low(old, 4));
    return mmio_finish(vcpu);
}

/* MUL, IMUL, DIV, IDIV of the accumulator by the operand (emulate.h); #DE (a fault: RIP stays,
 * no register changed) for a zero divisor or a quotient that does not fit. */
static enum exit_action mmio_muldiv_loaded(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    uint64_t rax = vcpu->regs.rax, rdx = vcpu->regs.rdx, flags = vmcs_readnat(GUEST_RFLAGS);
    if (emu_muldiv(in->alu, in->size, mmio_answer(vcpu), &rax, &rdx, &flags) < 0) {
        vcpu_inject_exception(vcpu, 0, false, 0);
        return EXIT_CONTINUE;
    }
    vcpu->regs.rax = rax;
    vcpu->regs.rdx = rdx;
    mmio_set_flags(flags);
    return mmio_finish(vcpu);
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
    return mmio_access(vcpu, PH_STORE, in->progress.gla, in->size, true, mmio_store_data(in, old));
}

/* ---- The exit and the completions. */

static bool mmio_is_string(const struct mmio_insn *in)
{
    return in->kind == MMIO_MOVS || in->kind == MMIO_STOS || in->kind == MMIO_LODS || mmio_compares(in);
}

/* The ModRM (or moffs) operand's offset: its effective address from the guest's registers. */
static uint64_t mmio_offset(struct vcpu *vcpu, const struct mmio_insn *in)
{
    uint64_t base = 0, index = in->index >= 0 ? vcpu_gpr_read(vcpu, (unsigned)in->index) : 0;
    if (in->base == DECODE_RIP)
        base = vcpu->rip + in->len;     /* the next instruction's address */
    else if (in->base >= 0)
        base = vcpu_gpr_read(vcpu, (unsigned)in->base);
    if (in->kind == MMIO_POP && in->base == DECODE_RSP)
        base += in->size;               /* POP: computed after RSP moved up (SDM Vol. 2 POP) */
    if (in->kind == MMIO_ALU && in->reg >= 0)  /* BT* r/m, reg: the bit string's word, dword, qword */
        base += (uint64_t)mmio_bit_string_delta(in, vcpu_gpr_read(vcpu, (unsigned)in->reg));
    return mmio_ea(in, base, index);
}

/* Where the ModRM (or moffs) operand is: the segment's base plus its offset, with the
 * segment's checks (SDM Vol. 3A 3.4-3.5) and the alignment MOVAPS and CMPXCHG16B demand
 * (#GP(0), SDM Vol. 2). An operand across two pages has both translated now, so that a fault
 * comes before any part of it moves (each access checks its own pages too). 0, or -1 with the
 * fault injected. */
static int mmio_locate(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    struct guest_fault fault;
    unsigned access = mmio_check(in, false);
    uint64_t *gla = &in->progress.gla, gpa[2];
    if (guest_seg_linear(vcpu, (unsigned)in->seg, mmio_offset(vcpu, in), in->size, access, gla, &fault) < 0) {
        guest_fault_inject(vcpu, &fault);
        return -1;
    }
    if (((in->kind == MMIO_SSE && in->align16) || (in->kind == MMIO_CMPXCHG8B && in->size == 16)) && (*gla & 15)) {
        exit_inject_gp(vcpu);
        return -1;
    }
    if ((*gla & 4095) + in->size > 4096)
        return mmio_pages(vcpu, *gla, in->size, access, gpa);
    return 0;
}

/* The first access of the decoded instruction in vcpu->mmio_insn. */
static enum exit_action mmio_start(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    if (!mmio_is_string(in) && mmio_locate(vcpu) < 0)
        return EXIT_CONTINUE;
    uint64_t gla = in->progress.gla;    /* the strings use RSI and RDI instead */
    switch (in->kind) {
    case MMIO_MOV:
        /* XCHG: a load then a store, two requests (the VM layer's data is the load's answer). */
        if (in->op == MMIO_LOAD || in->xchg)
            return mmio_access(vcpu, PH_LOAD, gla, in->size, false, 0);
        return mmio_access(vcpu, PH_STORE, gla, in->size, true,
                           mmio_store_data(in, in->reg >= 0 ? vcpu_gpr_read(vcpu, (unsigned)in->reg) : 0));
    case MMIO_ALU: case MMIO_CMPXCHG: case MMIO_XADD: case MMIO_CMOV: case MMIO_MULDIV:
        return mmio_access(vcpu, PH_LOAD, gla, in->size, false, 0);
    case MMIO_SETCC:
        return mmio_access(vcpu, PH_STORE, gla, 1, true, emu_cond(in->cond, vmcs_readnat(GUEST_RFLAGS)));
    case MMIO_CMPXCHG8B:
        return mmio_access(vcpu, PH_LOAD, gla, in->size / 2, false, 0);
    case MMIO_MOVS: case MMIO_STOS: case MMIO_LODS: case MMIO_CMPS: case MMIO_SCAS:
        in->progress.phase = STR_READ;
        return mmio_string(vcpu);
    case MMIO_SSE:
        if (in->op == MMIO_STORE)
            emu_xmm_read((unsigned)in->reg, in->progress.xmm);
        return mmio_sse_next(vcpu);
    case MMIO_PUSH:
        return mmio_push_start(vcpu);
    default:
        return mmio_pop_start(vcpu);
    }
}

int mmio_insn_writes(struct vcpu *vcpu, uint64_t gla)
{
    uint8_t bytes[DECODE_MAX_LEN];
    struct mmio_insn in;
    unsigned n = fetch(vcpu, bytes);
    if (n == 0)
        return -1;
    if (decode_mmio(bytes, n, code_mode(), &in) != 0)
        return 0;
    switch (in.kind) {
    case MMIO_MOVS: case MMIO_STOS: {   /* the destination is ES:RDI */
        struct guest_fault f;
        uint64_t dst;
        return guest_seg_linear(vcpu, DECODE_ES, vcpu->regs.rdi & mmio_addr_mask(in.addr_size), in.size,
                                GUEST_WRITE, &dst, &f) == 0 && (dst >> 12) == (gla >> 12);
    }
    case MMIO_PUSH:                     /* its stack */
        return 1;
    default:
        return mmio_writes_operand(&in);
    }
}

/* CPUID leaf `leaf` if the CPU has it (basic or extended range), else zeros. */
static struct cpuid_regs mmio_cpuid(uint32_t leaf)
{
    struct cpuid_regs none = { 0, 0, 0, 0 };
    return cpuid(leaf & 0x80000000u, 0).eax >= leaf ? cpuid(leaf, 0) : none;
}

/* The bit-count forms as the guest's CPU runs them. Its CPUID shows the host's BMI1, LZCNT and
 * POPCNT bits unchanged (exit_cpuid.c): without BMI1 (LZCNT) the CPU ignores the F3 of TZCNT
 * (LZCNT) and executes BSF (BSR) (SDM Vol. 2 TZCNT, LZCNT); POPCNT without its bit is #UD. */
static int mmio_cpu_form(struct mmio_insn *in)
{
    if (in->kind != MMIO_ALU)
        return 0;
    if (in->alu == EMU_TZCNT && !(mmio_cpuid(7).ebx & (1u << 3)))
        in->alu = EMU_BSF;
    else if (in->alu == EMU_LZCNT && !(mmio_cpuid(0x80000001u).ecx & (1u << 5)))
        in->alu = EMU_BSR;
    else if (in->alu == EMU_POPCNT && !(mmio_cpuid(1).ecx & (1u << 23)))
        return DECODE_UD;
    return 0;
}

enum exit_action exit_mmio(struct vcpu *vcpu, uint64_t gpa, bool write)
{
    struct vcpu_req *q = &vcpu->req;
    uint8_t bytes[15] = { 0 };
    unsigned n = fetch(vcpu, bytes);
    struct mmio_insn *in = &vcpu->mmio_insn;
    int r = n > 0 ? decode_mmio(bytes, n, code_mode(), in) : DECODE_REFUSED;
    if (r == 0)
        r = mmio_cpu_form(in);
    if (r == DECODE_UD)
        return exit_inject_ud(vcpu);
    q->kind = VCPU_REQ_MMIO;
    q->mmio.gpa = gpa;
    q->mmio.write = write;
    q->mmio.decoded = r == 0;
    memcpy(q->mmio.bytes, bytes, sizeof q->mmio.bytes);
    q->mmio.nbytes = (uint8_t)(n < sizeof q->mmio.bytes ? n : sizeof q->mmio.bytes);
    if (!q->mmio.decoded)
        return EXIT_REQUEST;            /* the VM layer says whether a device was there */
    return mmio_start(vcpu);
}

/* The access of the phase in vcpu->mmio_insn.progress is done (mmio_part_next): the next one,
 * or the end of the instruction. */
static enum exit_action mmio_continue(struct vcpu *vcpu)
{
    struct mmio_insn *in = &vcpu->mmio_insn;
    if (in->progress.phase >= STR_READ)
        return mmio_string(vcpu);
    if (in->kind == MMIO_SSE)
        return mmio_sse_complete(vcpu);
    if (in->kind == MMIO_CMPXCHG8B)
        return mmio_cmpxchg8b_next(vcpu);
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
    case MMIO_CMOV:
        return mmio_cmov_loaded(vcpu);
    case MMIO_MULDIV:
        return mmio_muldiv_loaded(vcpu);
    default:
        return mmio_mov_complete(vcpu);
    }
}

enum exit_action mmio_complete(struct vcpu *vcpu)
{
    struct mmio_part *a = &vcpu->mmio_insn.progress.part;
    unsigned n = vcpu->req.mmio.size;
    if (!a->store)
        a->data |= emu_low(vcpu->req.mmio.data, n) << (8 * a->done);
    a->done = (uint8_t)(a->done + n);
    return mmio_part_next(vcpu);
}

/* I/O instruction exits (SDM 28.2.1 Table 28-5): IN/OUT and their string and REP forms,
 * handed to the VM's port table; the VM layer decides what device, if any, answers. */
#include "vmx/exits.h"
#include "kernel/cpu.h"

/* Address-size mask of the string instruction from the VMX instruction info (SDM 28.2.5). */
static uint64_t addr_mask(void)
{
    unsigned as = (vmcs_read32(VMX_INSTRUCTION_INFO) >> 7) & 7;
    return as == 0 ? 0xFFFFull : as == 1 ? 0xFFFFFFFFull : ~0ull;
}

static enum exit_action string_io(struct vcpu *vcpu, uint16_t port, unsigned size, bool in, bool rep)
{
    struct guest_regs *r = &vcpu->regs;
    uint64_t mask = addr_mask();
    int64_t step = (vmcs_readnat(GUEST_RFLAGS) & (1u << 10)) ? -(int64_t)size : (int64_t)size;
    uint64_t count = rep ? (r->rcx & mask) : 1;
    /* Bound the work of one exit; the guest re-executes the REP instruction for the rest. */
    uint64_t todo = count > 4096 ? 4096 : count;
    for (uint64_t i = 0; i < todo; i++) {
        uint32_t value = 0;
        if (in) {
            /* INS writes to ES:RDI; ES base is 0 in every mode a guest of ours uses it in. */
            uint64_t addr = vmcs_readnat(GUEST_ES_BASE) + (r->rdi & mask);
            value = vm_port_in(vcpu->vm, port, size);
            if (guest_write(vcpu, addr, &value, size) < 0)
                return exit_crash(vcpu, "INS to an unmapped guest address 0x%lx", addr);
            r->rdi = (r->rdi & ~mask) | ((r->rdi + step) & mask);
        } else {
            /* OUTS reads DS:RSI unless overridden; the segment is in the instruction info. */
            static const struct vmcs_fieldNAT bases[6] = {
                GUEST_ES_BASE, GUEST_CS_BASE, GUEST_SS_BASE, GUEST_DS_BASE, GUEST_FS_BASE, GUEST_GS_BASE,
            };
            unsigned seg = (vmcs_read32(VMX_INSTRUCTION_INFO) >> 15) & 7;
            uint64_t addr = vmcs_readnat(bases[seg < 6 ? seg : 3]) + (r->rsi & mask);
            if (guest_read(vcpu, addr, &value, size) < 0)
                return exit_crash(vcpu, "OUTS from an unmapped guest address 0x%lx", addr);
            vm_port_out(vcpu->vm, port, size, value);
            r->rsi = (r->rsi & ~mask) | ((r->rsi + step) & mask);
        }
        if (rep)
            r->rcx = (r->rcx & ~mask) | ((r->rcx - 1) & mask);
    }
    if (!rep || (r->rcx & mask) == 0)
        vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

enum exit_action exit_io(struct vcpu *vcpu)
{
    uint64_t q = vcpu->exit_qual;
    unsigned size = (q & 7) + 1;
    bool in = q & 8, string = q & 16, rep = q & 32;
    uint16_t port = q >> 16;
    if (string)
        return string_io(vcpu, port, size, in, rep);
    struct guest_regs *r = &vcpu->regs;
    if (in) {
        uint32_t v = vm_port_in(vcpu->vm, port, size);
        if (size == 1)
            r->rax = (r->rax & ~0xFFull) | (v & 0xFF);
        else if (size == 2)
            r->rax = (r->rax & ~0xFFFFull) | (v & 0xFFFF);
        else
            r->rax = v;                     /* a 32-bit write zero-extends */
    } else {
        vm_port_out(vcpu->vm, port, size, (uint32_t)r->rax & (size == 4 ? 0xFFFFFFFF : (1u << (size * 8)) - 1));
    }
    vcpu_skip_instruction(vcpu);
    return EXIT_CONTINUE;
}

/* Fault injection from the shell (`inject NAME nmi|irq N|gp|ud|pf ADDR`, `corrupt NAME GPA
 * BIT`): an event delivered to a guest, or one bit of its RAM flipped, so that a student can
 * watch how the guest and the hypervisor react. Everything goes through the guest's own
 * devices, vCPU and RAM, never the host's: an NMI is an edge on the vLAPIC's LINT1 (a PC's
 * NMI button), an IRQ an edge on an ISA line of its 8259 and IOAPIC, an exception the event
 * the next VM entry delivers (as KVM's KVM_SET_VCPU_EVENTS or Xen's `xl trigger`). */
#include "kernel/vm/vm.h"

static bool vm_has_vcpu(const struct vm *vm, const char **why)
{
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
        *why = "is not running";
        return false;
    }
    if (vm_loading(vm)) {
        *why = "is loading (it has no vCPU yet)";
        return false;
    }
    return true;
}

int vm_inject(struct vm *vm, enum vm_inject_kind kind, uint64_t arg, const char **why)
{
    if (!vm_has_vcpu(vm, why))
        return -1;
    struct vcpu *v = &vm->vcpu;
    switch (kind) {
    case INJECT_NMI:
        if (!vlapic_lint_edge(&vm->lapic, 1)) {
            *why = "has LINT1 masked or not in NMI mode: the NMI was dropped, as on hardware";
            return -1;
        }
        return 0;
    case INJECT_IRQ: {
        /* An edge needs the line low: a device holding it high keeps it (IRQ 2 is the
         * cascade, no ISA line). */
        if (arg > 15 || arg == 2) {
            *why = "has no ISA IRQ line by that number (0-15, not 2)";
            return -1;
        }
        const struct vpic_chip *c = &vm->pic.chip[arg / 8];
        if (c->line & (1u << (arg % 8))) {
            *why = "has that IRQ line held high by a device";
            return -1;
        }
        vm->env.set_irq(vm->env.ctx, (unsigned)arg, true);
        vm->env.set_irq(vm->env.ctx, (unsigned)arg, false);
        return 0;
    }
    default:
        break;
    }
    if (v->pending_event) {
        *why = "has an event being delivered; try again";
        return -1;
    }
    if (kind == INJECT_PF)
        v->regs.cr2 = arg;              /* a not-present supervisor read at ADDR: error 0 */
    vcpu_inject_exception(v, kind == INJECT_UD ? 6 : kind == INJECT_GP ? 13 : 14, kind != INJECT_UD, 0);
    v->halted = false;                  /* an event delivered at entry wakes HLT */
    return 0;
}

int vm_corrupt(struct vm *vm, uint64_t gpa, unsigned bit, uint8_t *before, uint8_t *after,
               const char **why)
{
    if (!vm_has_vcpu(vm, why))
        return -1;
    if (bit > 7) {
        *why = "needs a bit number 0-7";
        return -1;
    }
    uint8_t *p = guest_ram_ptr(&vm->ram, gpa, 1);
    if (!p) {
        *why = "has no RAM at that guest-physical address";
        return -1;
    }
    *before = *p;
    *p ^= (uint8_t)(1u << bit);
    *after = *p;
    return 0;
}

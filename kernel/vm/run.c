/* The VM layer's half of the exit path: one time slice of a guest. vmx/ runs the guest and
 * handles what is the CPU's alone; what needs the machine behind the CPU comes back here as
 * a request (struct vcpu_req: a port, a device address, a device MSR, a hypercall), which
 * the guest's devices answer before vcpu_complete() finishes the instruction. Before each
 * entry this layer chooses the interrupt to deliver, from the LAPIC or the 8259. */
#include "kernel/vm/vm.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/log.h"
#include "kernel/printf.h"

static bool (*host_work)(void);

void vm_set_host_work(bool (*pending)(void))
{
    host_work = pending;
}

/* The instruction's first bytes for a report: only those the guest's own memory gave (the
 * fetch may have failed; nothing else may reach a guest-visible line). */
static const char *insn_bytes(const struct vcpu_req *q, char *buf, size_t size)
{
    if (q->mmio.nbytes == 0)
        return "its bytes could not be read";
    size_t n = (size_t)snprintf(buf, size, "bytes");
    for (unsigned i = 0; i < q->mmio.nbytes && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, " %02x", q->mmio.bytes[i]);
    return buf;
}

/* An access to nothing (no RAM, no device): on a PC a read gives all-ones and a write goes
 * nowhere, and kernels probe such addresses; QEMU and KVM answer the same. Counted, and
 * logged once per MiB region (at most VM_BAD_REGIONS lines a run); on_bad_access=crash stops
 * the guest instead, as the memory-isolation test and the crash guest want. */
static enum exit_action nothing_access(struct vm *vm, struct vcpu *vcpu, uint64_t gpa, bool write)
{
    const char *what = write ? "write" : "read";
    if (vm->cfg.on_bad_access == BAD_ACCESS_CRASH)
        return exit_crash(vcpu, "%s outside its RAM at guest-physical 0x%lx", what, gpa);
    vm->bad_accesses++;
    uint64_t region = gpa >> 20;
    bool logged = false;
    for (unsigned i = 0; i < vm->n_bad_regions; i++)
        logged |= vm->bad_regions[i] == region;
    if (!logged && vm->n_bad_regions < VM_BAD_REGIONS) {
        vm->bad_regions[vm->n_bad_regions++] = region;
        hv_info("guest %s: %s of nothing at guest-physical 0x%lx: %s%s", vm->cfg.name, what, gpa,
                write ? "dropped" : "all-ones",
                vm->n_bad_regions == VM_BAD_REGIONS ? " (further regions: counted in stats only)" : "");
    }
    return EXIT_CONTINUE;
}

/* The MMIO side: an instruction that was not decoded cannot be completed. */
static enum exit_action bad_access(struct vm *vm, struct vcpu *vcpu)
{
    struct vcpu_req *q = &vcpu->req;
    char bytes[24];
    if (vm->cfg.on_bad_access != BAD_ACCESS_CRASH && !q->mmio.decoded)
        return exit_crash(vcpu, "%s of nothing at guest-physical 0x%lx by an instruction anfitrion "
                          "does not emulate (%s)", q->mmio.write ? "write" : "read", q->mmio.gpa,
                          insn_bytes(q, bytes, sizeof bytes));
    if (nothing_access(vm, vcpu, q->mmio.gpa, q->mmio.write) == EXIT_CRASH)
        return EXIT_CRASH;
    q->mmio.data = ~0ull;                   /* mmio_complete keeps the load's size */
    return EXIT_CONTINUE;
}

/* A device address: the device's answer; nothing there: bad_access(). */
static enum exit_action mmio_request(struct vm *vm, struct vcpu *vcpu)
{
    struct vcpu_req *q = &vcpu->req;
    uint64_t gpa = q->mmio.gpa;
    if (!vdev_mmio_find(&vm->bus, gpa))
        return bad_access(vm, vcpu);
    char bytes[24];
    if (!q->mmio.decoded)
        return exit_crash(vcpu, "device access at guest-physical 0x%lx by an instruction anfitrion "
                          "does not emulate (%s)", gpa, insn_bytes(q, bytes, sizeof bytes));
    if (q->mmio.load && !vdev_mmio_read(&vm->bus, gpa, q->mmio.size, &q->mmio.data))
        return exit_crash(vcpu, "read outside its RAM at guest-physical 0x%lx", gpa);
    if (q->mmio.store && !vdev_mmio_write(&vm->bus, gpa, q->mmio.size, q->mmio.data))
        return exit_crash(vcpu, "write outside its RAM at guest-physical 0x%lx", gpa);
    return EXIT_CONTINUE;
}

/* The MSRs of the VM's devices: the local APIC's (IA32_APIC_BASE, x2APIC, TSC deadline).
 * CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN (SDM Vol. 3A 11.4.3). */
static void msr_request(struct vm *vm, struct vcpu *vcpu)
{
    struct vcpu_req *q = &vcpu->req;
    if (kvm_pv_msr(vm, q))
        return;                         /* KVM's paravirtual MSRs (pv=on, kernel/vm/kvm_pv.c) */
    if (!vlapic_handles_msr(q->msr.index))
        return;                         /* ok stays false: #GP */
    q->msr.ok = (q->msr.write ? vlapic_wrmsr(&vm->lapic, q->msr.index, q->msr.data)
                              : vlapic_rdmsr(&vm->lapic, q->msr.index, &q->msr.data)) == 0;
    vcpu->cpuid_apic = vlapic_hw_enabled(&vm->lapic);
}

/* Carries out the request in vcpu->req with the VM's devices. */
static enum exit_action request(struct vm *vm, struct vcpu *vcpu)
{
    struct vcpu_req *q = &vcpu->req;
    enum exit_action after = EXIT_CONTINUE;     /* a hypercall's: yield, block */
    switch (q->kind) {
    case VCPU_REQ_IO:
        /* INS/OUTS with memory of nothing: counted, or the guest stopped before the port. */
        if (q->io.nothing && nothing_access(vm, vcpu, q->io.nothing_gpa, q->io.in) == EXIT_CRASH)
            return EXIT_CRASH;
        for (unsigned i = 0; i < q->io.count; i++) {
            if (q->io.in)
                q->io.data[i] = vdev_io_in(&vm->bus, q->io.port, q->io.size);
            else
                vdev_io_out(&vm->bus, q->io.port, q->io.size, q->io.data[i]);
        }
        break;
    case VCPU_REQ_MMIO:
        if (mmio_request(vm, vcpu) == EXIT_CRASH)
            return EXIT_CRASH;
        break;
    case VCPU_REQ_MSR:
        msr_request(vm, vcpu);
        break;
    case VCPU_REQ_HYPERCALL:
        after = vm_hypercall(vm);
        break;
    }
    enum exit_action a = vcpu_complete(vcpu);
    if (a != EXIT_CONTINUE || after == EXIT_CONTINUE)
        return a;
    /* ANF_HC_BLOCK sleeps once its VMCALL is done (unless a single-step #DB is due). */
    if (vm->pv.blocked && !vcpu_halt(vcpu))
        vm->pv.blocked = false;
    return after;
}

/* True if the 8259's IRQ 0 reaches the CPU: unmasked, and the LAPIC passes ExtINT. */
static bool pic_timer_path(struct vm *vm)
{
    return !(vm->pic.chip[0].imr & (1u << VPIT_IRQ)) && vlapic_accepts_pic(&vm->lapic);
}

static void update_devices(struct vm *vm)
{
    /* One PIT tick at a time through the 8259: the next (possibly a late one) only once the
     * guest took the last. Through the IOAPIC, ticks the guest has not taken yet merge in
     * the LAPIC's IRR, as on hardware. */
    if (!(vm->pic.chip[0].irr & (1u << VPIT_IRQ)) || !pic_timer_path(vm))
        vpit_update(&vm->pit);
    vrtc_update(&vm->rtc);
    vlapic_update(&vm->lapic);
    if (vm_pv_busy(&vm->pv, vm->vcpu.tsc_offset))
        vm_pv_update(vm);
}

/* Which controller has an interrupt for the CPU: the LAPIC (its IRR above the PPR), else
 * the 8259 if the LAPIC lets ExtINT through. Returns 1 (LAPIC), 2 (8259) or 0. */
static int interrupt_source(struct vm *vm)
{
    if (vlapic_pending_vector(&vm->lapic) >= 0)
        return 1;
    if (vlapic_accepts_pic(&vm->lapic) && vpic_has_interrupt(&vm->pic))
        return 2;
    return 0;
}

/* Before an entry: the pending interrupt, acknowledged at its controller and queued, if the
 * guest can take it now; else interrupt-window exiting while one is pending. */
static void deliver_interrupt(struct vm *vm)
{
    struct vcpu *vcpu = &vm->vcpu;
    kvm_pv_before_entry(vm);            /* kvm-clock follows a guest TSC write */
    update_devices(vm);
    /* An NMI first: it ignores IF and the PPR, and waits only for the CPU's NMI blocking
     * (the NMI window exit ends that wait). */
    bool nmi = vlapic_nmi_pending(&vm->lapic), nmi_now = nmi && vcpu_nmi_allowed(vcpu);
    vcpu_set_nmi_window(vcpu, nmi && !nmi_now);
    if (nmi_now) {
        vlapic_nmi_ack(&vm->lapic);
        vcpu_inject_nmi(vcpu);
        vm->irqs_injected[2]++;
    }
    /* A paravirtual upcall first (docs/hypercalls.md), then the interrupt controllers. */
    bool upcall = vm->pv.check && vm_pv_upcall_due(vm);
    int source = upcall ? 3 : interrupt_source(vm);
    bool window = source && !vcpu_interruptible(vcpu);
    vcpu_set_interrupt_window(vcpu, window);
    if (!source || window)
        return;
    /* For the latency benchmark: the host timer interrupt that led here, if the last host
     * interrupt was the timer's (a console interrupt may wake the host instead). */
    vm->inject_timer_tsc = idt_last_irq_vector == VEC_TIMER ? idt_last_irq_tsc : 0;
    if (upcall) {
        vm_pv_upcall(vm);
        return;
    }
    int vector;
    if (source == 1) {
        vector = vlapic_pending_vector(&vm->lapic);
        vlapic_ack(&vm->lapic, (uint8_t)vector);
    } else {
        vector = vpic_ack(&vm->pic);
    }
    vm->irqs_injected[vector & 0xFF]++;
    vcpu_inject_interrupt(vcpu, (uint8_t)vector);
}

enum exit_action vm_run_slice(struct vm *vm, uint64_t slice_tsc)
{
    struct vcpu *vcpu = &vm->vcpu;
    kvm_pv_slice_start(vm);             /* steal time (kernel/vm/kvm_pv.c) */
    uint64_t deadline = rdtsc() + slice_tsc;
    for (;;) {
        deliver_interrupt(vm);
        if (vcpu->halted)
            return EXIT_YIELD;          /* nothing to wake it yet */
        enum exit_action a = vcpu_run(vcpu, deadline);
        while (a == EXIT_REQUEST)       /* an instruction may need several (RMW, strings) */
            a = request(vm, vcpu);
        if (a == EXIT_CRASH || a == EXIT_YIELD)
            return a;
        if (vm->machine_event >= 0)
            return EXIT_STOP;
        if (rdtsc() >= deadline || (host_work && host_work()))
            return EXIT_YIELD;
    }
}

bool vm_runnable(struct vm *vm)
{
    if (vm->state != VM_RUNNING)
        return false;
    if (!vm->vcpu.halted)
        return true;
    if (vlapic_nmi_pending(&vm->lapic))
        return true;                    /* an NMI wakes HLT whatever IF says */
    update_devices(vm);                 /* an event ends ANF_HC_BLOCK (vm_pv_update) */
    if (!vm->vcpu.halted)
        return true;
    if (!vm->vcpu.halt_if)
        return false;                   /* HLT with interrupts off: only an NMI wakes it */
    return interrupt_source(vm) != 0 || vm_pv_upcall_due(vm);
}

uint64_t vm_next_event_ns(struct vm *vm)
{
    uint64_t a = vpit_next_event_ns(&vm->pit), b = vrtc_next_event_ns(&vm->rtc);
    uint64_t c = vlapic_next_event_ns(&vm->lapic);
    uint64_t d = vm_pv_next_event_ns(vm);
    uint64_t m = a < b ? a : b, n = c < d ? c : d;
    return m < n ? m : n;
}

/* Memory-mapped device emulation: an EPT violation outside the guest's RAM at an address a
 * virtual device claims (the LAPIC and IOAPIC pages) is an access to that device. The exit
 * gives the address but not the data (SDM 27.2.1), so the faulting instruction is fetched
 * through the guest's page tables, decoded (vmx/decode.c), and carried out here. */
#include "vmx/exits.h"
#include "vmx/decode.h"
#include "kernel/cpu.h"
#include "kernel/string.h"

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

enum exit_action exit_mmio(struct vcpu *vcpu, uint64_t gpa)
{
    uint8_t bytes[15];
    unsigned n = fetch(vcpu, bytes);
    struct mmio_insn in;
    if (n == 0 || decode_mmio(bytes, n, code_mode(), &in) < 0)
        return exit_crash(vcpu, "device access at guest-physical 0x%lx by an instruction anfitrion "
                          "does not emulate (%02x %02x %02x %02x)", gpa, bytes[0], bytes[1], bytes[2], bytes[3]);
    uint64_t *reg = in.reg >= 0 ? vcpu_gpr(vcpu, (unsigned)in.reg) : NULL;
    uint64_t data = 0;
    if (in.op == MMIO_LOAD || in.xchg) {
        if (!vm_mmio_read(vcpu->vm, gpa, in.size, &data))
            return exit_crash(vcpu, "read outside its RAM at guest-physical 0x%lx", gpa);
    }
    if (in.op == MMIO_STORE &&
        !vm_mmio_write(vcpu->vm, gpa, in.size, mmio_store_data(&in, reg ? *reg : 0)))
        return exit_crash(vcpu, "write outside its RAM at guest-physical 0x%lx", gpa);
    if ((in.op == MMIO_LOAD || in.xchg) && reg) {
        *reg = mmio_load_result(&in, *reg, data);
        if (in.reg == 4)
            vmcs_writenat(GUEST_RSP, *reg);     /* RSP lives in the VMCS */
    }
    vmcs_writenat(GUEST_RIP, vcpu->rip + in.len);
    uint32_t intr = vmcs_read32(GUEST_INTERRUPTIBILITY_INFO);
    if (intr & (GUEST_INTR_STI_BLOCKING | GUEST_INTR_MOV_SS_BLOCKING))
        vmcs_write32(GUEST_INTERRUPTIBILITY_INFO, intr & ~(GUEST_INTR_STI_BLOCKING | GUEST_INTR_MOV_SS_BLOCKING));
    return EXIT_CONTINUE;
}

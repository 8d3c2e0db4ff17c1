/* Memory-mapped device emulation: an EPT violation outside the guest's RAM at an address a
 * virtual device claims (the LAPIC and IOAPIC pages) is an access to that device. The exit
 * gives the address but not the data (SDM 27.2.1), so the faulting instruction is fetched
 * through the guest's page tables and decoded (vmx/decode.c) into a request; the VM layer's
 * device answers it and mmio_complete() writes the result back. */
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

enum exit_action exit_mmio(struct vcpu *vcpu, uint64_t gpa, bool write)
{
    struct vcpu_req *q = &vcpu->req;
    uint8_t bytes[15] = { 0 };
    unsigned n = fetch(vcpu, bytes);
    struct mmio_insn in;
    q->kind = VCPU_REQ_MMIO;
    q->mmio.gpa = gpa;
    q->mmio.write = write;
    q->mmio.decoded = n > 0 && decode_mmio(bytes, n, code_mode(), &in) == 0;
    memcpy(q->mmio.bytes, bytes, sizeof q->mmio.bytes);
    if (!q->mmio.decoded)
        return EXIT_REQUEST;            /* the VM layer says whether a device was there */
    q->mmio.size = in.size;
    q->mmio.load = in.op == MMIO_LOAD || in.xchg;
    q->mmio.store = in.op == MMIO_STORE;
    q->mmio.data = q->mmio.store ? mmio_store_data(&in, in.reg >= 0 ? vcpu_gpr_read(vcpu, (unsigned)in.reg) : 0) : 0;
    vcpu->mmio_insn = in;
    return EXIT_REQUEST;
}

enum exit_action mmio_complete(struct vcpu *vcpu)
{
    const struct mmio_insn *in = &vcpu->mmio_insn;
    if (vcpu->req.mmio.load && in->reg >= 0) {
        unsigned reg = (unsigned)in->reg;
        vcpu_gpr_write(vcpu, reg, mmio_load_result(in, vcpu_gpr_read(vcpu, reg), vcpu->req.mmio.data));
    }
    vcpu_advance_rip(vcpu, in->len);
    return EXIT_CONTINUE;
}

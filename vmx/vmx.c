/* VMX bring-up (SDM Vol. 3 Section 24.7-24.8): IA32_FEATURE_CONTROL, CR0/CR4 fixed bits,
 * the VMXON region; plus the name tables for exit reasons, VM-instruction errors, fields. */
#include "vmx/vmx.h"
#include "vmx/caps.h"
#include "vmx/msr.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/paging.h"
#include "kernel/panic.h"
#include "kernel/printf.h"

static bool enabled;

const char *exit_reason_name(uint32_t reason)
{
    switch (reason & 0xFFFF) {
#define REASON(n, name, str) case n: return str;
#include "vmx/exit_reasons.def"
#undef REASON
    default: return "unknown exit reason";
    }
}

const char *vmx_error_name(uint32_t error)
{
    switch (error) {
#define ERROR(n, str) case n: return str;
#include "vmx/vm_errors.def"
#undef ERROR
    default: return "unknown VM-instruction error";
    }
}

const char *vmcs_field_name(uint32_t encoding)
{
    switch (encoding) {
#define FIELD(width, name, enc) case enc: return #name;
#include "vmx/vmcs_fields.def"
#undef FIELD
    default: return "?";
    }
}

uint32_t vmx_instruction_error(void)
{
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"((uint64_t)0x4400) : "cc");
    return (uint32_t)v;
}

void vmx_report_failure(const char *op, enum vmx_status st)
{
    if (st == VMX_FAIL_VALID) {
        uint32_t e = vmx_instruction_error();
        hv_error("vmx: %s failed: error %u, %s", op, e, vmx_error_name(e));
    } else if (st == VMX_FAIL_INVALID) {
        hv_error("vmx: %s failed: VMfailInvalid (no current VMCS or bad operand)", op);
    }
}

uint64_t vmcs_read_raw(uint32_t enc)
{
    uint64_t v;
    uint8_t cf, zf;
    __asm__ volatile("vmread %[enc], %[v]; setc %[cf]; setz %[zf]"
                     : [v] "=r"(v), [cf] "=qm"(cf), [zf] "=qm"(zf) : [enc] "r"((uint64_t)enc) : "cc");
    enum vmx_status st = cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_OK;
    if (st != VMX_OK)
        panic("VMREAD of %s (0x%x) failed: %s", vmcs_field_name(enc), enc,
              st == VMX_FAIL_VALID ? vmx_error_name(vmx_instruction_error()) : "no current VMCS");
    return v;
}

void vmcs_write_raw(uint32_t enc, uint64_t value)
{
    enum vmx_status st = VMX_CHECKED("vmwrite %2, %3", "r"(value), "r"((uint64_t)enc));
    if (st != VMX_OK)
        panic("VMWRITE of %s (0x%x) = 0x%lx failed: %s", vmcs_field_name(enc), enc, value,
              st == VMX_FAIL_VALID ? vmx_error_name(vmx_instruction_error()) : "no current VMCS");
}

bool vmx_enabled(void)
{
    return enabled;
}

const char *vmx_init(void)
{
    const struct vmx_caps *c = &vmx_caps;
    if (!c->vmx)
        return "the CPU does not support VMX (CPUID.1:ECX.VMX=0)";

    /* SDM 24.7: VMXON needs IA32_FEATURE_CONTROL locked with "VMXON outside SMX" set. */
    uint64_t fc = c->feature_control;
    if (fc & FEATURE_CONTROL_LOCKED) {
        if (!(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX))
            return "VMX is disabled by the firmware (IA32_FEATURE_CONTROL locked without "
                   "VMXON outside SMX; enable VT-x in the BIOS setup)";
    } else {
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMXON_OUTSIDE_SMX);
    }
    if (!vmx_has_ept())
        return "the CPU's VT-x has no EPT (extended page tables), which anfitrion requires";
    if (!vmx_has_unrestricted_guest())
        return "the CPU's VT-x has no unrestricted guest mode, which anfitrion requires";
    if (((c->basic >> 50) & 0xF) != 6)
        return "the VMCS must be write-back cacheable (IA32_VMX_BASIC memory type)";

    /* SDM 24.8: CR0 and CR4 must honour the VMX fixed bits. */
    uint64_t cr0 = (read_cr0() | c->cr0_fixed0) & c->cr0_fixed1;
    uint64_t cr4 = read_cr4() | CR4_VMXE | CR4_OSFXSR | CR4_OSXMMEXCPT | c->cr4_fixed0;
    if (cpuid(1, 0).ecx & (1u << 26))
        cr4 |= CR4_OSXSAVE;         /* the host switches guests' XCR0 and XSAVE state */
    cr4 &= c->cr4_fixed1;
    write_cr0(cr0);
    write_cr4(cr4);

    uint32_t *region = page_alloc_zeroed();
    if (!region)
        return "out of memory for the VMXON region";
    region[0] = (uint32_t)(c->basic & 0x7FFFFFFF);     /* VMCS revision identifier */
    enum vmx_status st = vmxon((uint64_t)region);
    if (st != VMX_OK) {
        vmx_report_failure("VMXON", st);
        return "VMXON failed";
    }
    enabled = true;
    hv_info("vmx: VMX root operation entered (VMCS revision 0x%x, preemption timer 1/%u TSC)",
            region[0], 1u << vmx_preemption_timer_shift());
    return NULL;
}

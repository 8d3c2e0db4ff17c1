/* VT-x instructions with their flags checked, width-typed VMCS accessors, and VMX bring-up.
 * Every VMX instruction reports VMfailInvalid (CF=1) or VMfailValid (ZF=1, error number
 * in the VMCS) as SDM Vol. 3 Section 31.2 describes; the wrappers turn them into names. */
#ifndef VMX_VMX_H
#define VMX_VMX_H

#include <stdint.h>
#include <stdbool.h>
#include "vmx/vmcs_fields.h"

enum vmx_status { VMX_OK = 0, VMX_FAIL_INVALID = 1, VMX_FAIL_VALID = 2 };

/* Exit reasons as an enum with their printable names from exit_reasons.def. */
enum exit_reason {
#define REASON(n, name, str) EXIT_REASON_##name = n,
#include "vmx/exit_reasons.def"
#undef REASON
};
/* One more than the largest basic exit reason of the table, derived from it: the size of a
 * union is its largest member's. The bound of every array indexed by exit reason. */
union exit_reason_bound {
#define REASON(n, name, str) char name[(n) + 1];
#include "vmx/exit_reasons.def"
#undef REASON
};
#define EXIT_REASON_MAX ((unsigned)sizeof(union exit_reason_bound))
const char *exit_reason_name(uint32_t reason);
/* The VM-instruction error's description (SDM 31.4), "unknown error N" otherwise. */
const char *vmx_error_name(uint32_t error);

/* Enters VMX root operation on this CPU. Returns NULL on success, or why VT-x is unusable. */
const char *vmx_init(void);
bool vmx_enabled(void);

#define VMX_CHECKED(insn, ...)                                                          \
    ({ uint8_t cf_, zf_;                                                                \
       __asm__ volatile(insn "; setc %0; setz %1" : "=qm"(cf_), "=qm"(zf_) : __VA_ARGS__ : "cc", "memory"); \
       cf_ ? VMX_FAIL_INVALID : zf_ ? VMX_FAIL_VALID : VMX_OK; })

static inline enum vmx_status vmxon(uint64_t pa) { return VMX_CHECKED("vmxon %2", "m"(pa)); }
static inline enum vmx_status vmclear(uint64_t pa) { return VMX_CHECKED("vmclear %2", "m"(pa)); }
static inline enum vmx_status vmptrld(uint64_t pa) { return VMX_CHECKED("vmptrld %2", "m"(pa)); }

static inline enum vmx_status invept(uint64_t type, uint64_t eptp)
{
    struct { uint64_t eptp, reserved; } desc = { eptp, 0 };
    return VMX_CHECKED("invept %2, %3", "m"(desc), "r"(type));
}

static inline enum vmx_status invvpid(uint64_t type, uint16_t vpid, uint64_t gla)
{
    struct { uint64_t vpid, gla; } desc = { vpid, gla };
    return VMX_CHECKED("invvpid %2, %3", "m"(desc), "r"(type));
}

/* Raw VMREAD/VMWRITE; a failure is a host bug (unsupported field) and panics with its name. */
uint64_t vmcs_read_raw(uint32_t enc);
void vmcs_write_raw(uint32_t enc, uint64_t value);

static inline uint16_t vmcs_read16(struct vmcs_field16 f) { return (uint16_t)vmcs_read_raw(f.enc); }
static inline uint32_t vmcs_read32(struct vmcs_field32 f) { return (uint32_t)vmcs_read_raw(f.enc); }
static inline uint64_t vmcs_read64(struct vmcs_field64 f) { return vmcs_read_raw(f.enc); }
static inline uint64_t vmcs_readnat(struct vmcs_fieldNAT f) { return vmcs_read_raw(f.enc); }
static inline void vmcs_write16(struct vmcs_field16 f, uint16_t v) { vmcs_write_raw(f.enc, v); }
static inline void vmcs_write32(struct vmcs_field32 f, uint32_t v) { vmcs_write_raw(f.enc, v); }
static inline void vmcs_write64(struct vmcs_field64 f, uint64_t v) { vmcs_write_raw(f.enc, v); }
static inline void vmcs_writenat(struct vmcs_fieldNAT f, uint64_t v) { vmcs_write_raw(f.enc, v); }

/* Reads the VM-instruction error field of the current VMCS. */
uint32_t vmx_instruction_error(void);
/* Logs "vmx: OP failed: ERROR NAME" for a failed VMX instruction. */
void vmx_report_failure(const char *op, enum vmx_status st);

#define INVEPT_SINGLE_CONTEXT 1
#define INVEPT_ALL_CONTEXT    2
#define INVVPID_SINGLE_CONTEXT 1

#endif

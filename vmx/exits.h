/* The exit handlers' shared helpers and the handlers that live in their own files. */
#ifndef VMX_EXITS_H
#define VMX_EXITS_H

#include "vmx/vcpu.h"

/* Queues #GP(0) (RIP stays on the faulting instruction) and returns EXIT_CONTINUE. */
enum exit_action exit_inject_gp(struct vcpu *vcpu);
enum exit_action exit_inject_ud(struct vcpu *vcpu);
/* General-purpose register n in the encoding of exit qualifications (0 RAX ... 15 R15);
 * RSP (4) is the VMCS's. (cr.c) */
uint64_t vcpu_gpr_read(struct vcpu *vcpu, unsigned n);
void vcpu_gpr_write(struct vcpu *vcpu, unsigned n, uint64_t v);
/* Advances RIP by len and ends STI/MOV SS blocking (vcpu_skip_instruction uses the exit's
 * instruction length). (run.c) */
void vcpu_advance_rip(struct vcpu *vcpu, uint64_t len);

/* The CPU's DR0-DR3 and DR6 (n = 0-3, 6), which hold the state owner's values. (debugreg.c) */
uint64_t dr_hw_read(unsigned n);
void dr_hw_write(unsigned n, uint64_t v);

/* Exit qualification of a control-register access (SDM Table 28-3). */
enum { CR_ACCESS_MOV_TO, CR_ACCESS_MOV_FROM, CR_ACCESS_CLTS, CR_ACCESS_LMSW };
static inline unsigned cr_qual_number(uint64_t q) { return q & 15; }
static inline unsigned cr_qual_type(uint64_t q) { return (q >> 4) & 3; }
static inline unsigned cr_qual_gpr(uint64_t q) { return (q >> 8) & 15; }
static inline uint64_t cr_qual_lmsw_source(uint64_t q) { return (q >> 16) & 0xFFFF; }

/* Exit qualification of a debug-register access (SDM Table 28-4). */
static inline unsigned dr_qual_number(uint64_t q) { return q & 7; }
static inline bool dr_qual_to_gpr(uint64_t q) { return q & (1u << 4); }   /* MOV from DR */
static inline unsigned dr_qual_gpr(uint64_t q) { return (q >> 8) & 15; }

/* Exit qualification of an EPT violation (SDM Table 28-7). */
static inline bool ept_qual_read(uint64_t q) { return q & 1; }
static inline bool ept_qual_write(uint64_t q) { return q & 2; }
static inline bool ept_qual_fetch(uint64_t q) { return q & 4; }

enum exit_action exit_cr_access(struct vcpu *vcpu);
enum exit_action exit_cpuid(struct vcpu *vcpu);
/* The emulated MSRs at reset: IA32_MISC_ENABLE, the TSC's offset and adjust, TSC_AUX. */
void msr_reset(struct vcpu *vcpu);
enum exit_action exit_rdmsr(struct vcpu *vcpu);
enum exit_action exit_wrmsr(struct vcpu *vcpu);
enum exit_action exit_io(struct vcpu *vcpu);
/* A data access at gpa (not RAM): decoded into an MMIO request (exit_mmio.c). */
enum exit_action exit_mmio(struct vcpu *vcpu, uint64_t gpa, bool write);
/* A hardware task switch, emulated on the VMCS's guest state (task_switch.c, SDM Vol. 3A 7.3). */
enum exit_action exit_task_switch(struct vcpu *vcpu);

/* Completions of a request the VM layer answered: finish the instruction. */
enum exit_action io_complete(struct vcpu *vcpu);
enum exit_action mmio_complete(struct vcpu *vcpu);
enum exit_action msr_complete(struct vcpu *vcpu);
/* Dispatches the exit in vcpu->exit_reason through the handler table. */
enum exit_action exit_dispatch(struct vcpu *vcpu);

/* Guest memory by linear address, through the guest's own page tables. Return 0 or -1. */
int guest_linear_to_phys(struct vcpu *vcpu, uint64_t gla, uint64_t *gpa);
int guest_read(struct vcpu *vcpu, uint64_t gla, void *dst, uint64_t len);
int guest_write(struct vcpu *vcpu, uint64_t gla, const void *src, uint64_t len);

#endif

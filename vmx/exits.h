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
/* The single-step trap of RFLAGS.TF: #DB with DR6.BS (SDM Vol. 3B 18.3.1.4), and the B0-B3 of
 * breakpoints a MOV SS held pending; ends STI and MOV SS blocking. (run.c) */
void vcpu_inject_single_step(struct vcpu *vcpu);

/* An index register (RSI, RDI, RCX, RSP) moved by `by` at the address size `mask`: a 16-bit
 * one keeps bits 63:16, a 32-bit one is written as a 32-bit register, zero-extended. */
static inline uint64_t index_advance(uint64_t reg, uint64_t mask, int64_t by)
{
    uint64_t v = (reg + (uint64_t)by) & mask;
    return mask == 0xFFFFull ? (reg & ~mask) | v : v;
}

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
/* Whether the instruction at RIP writes memory (1) or not (0; also when it cannot be
 * decoded), the operand at linear gla for a string one: the access type of a page walk the
 * CPU made for it (exit.c), never carried out. -1: it cannot be fetched, so the walk was the
 * fetch's. (exit_mmio.c) */
int mmio_insn_writes(struct vcpu *vcpu, uint64_t gla);
/* A hardware task switch, emulated on the VMCS's guest state (task_switch.c, SDM Vol. 3A 7.3). */
enum exit_action exit_task_switch(struct vcpu *vcpu);

/* Completions of a request the VM layer answered: finish the instruction. */
enum exit_action io_complete(struct vcpu *vcpu);
enum exit_action mmio_complete(struct vcpu *vcpu);
enum exit_action msr_complete(struct vcpu *vcpu);
/* Dispatches the exit in vcpu->exit_reason through the handler table. */
enum exit_action exit_dispatch(struct vcpu *vcpu);

#endif

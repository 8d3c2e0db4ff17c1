/* The exit handlers' shared helpers and the handlers that live in their own files. */
#ifndef VMX_EXITS_H
#define VMX_EXITS_H

#include "vmx/vcpu.h"

/* Records a crash reason (printf-style) and returns EXIT_CRASH. */
enum exit_action exit_crash(struct vcpu *vcpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queues #GP(0) (RIP stays on the faulting instruction) and returns EXIT_CONTINUE. */
enum exit_action exit_inject_gp(struct vcpu *vcpu);
enum exit_action exit_inject_ud(struct vcpu *vcpu);
/* General-purpose register n in the encoding of exit qualifications (0 RAX ... 15 R15). */
uint64_t *vcpu_gpr(struct vcpu *vcpu, unsigned n);

enum exit_action exit_cr_access(struct vcpu *vcpu);
enum exit_action exit_cpuid(struct vcpu *vcpu);
enum exit_action exit_rdmsr(struct vcpu *vcpu);
enum exit_action exit_wrmsr(struct vcpu *vcpu);
enum exit_action exit_io(struct vcpu *vcpu);
/* A data access at gpa (not RAM): a memory-mapped device's, else a crash. (exit_mmio.c) */
enum exit_action exit_mmio(struct vcpu *vcpu, uint64_t gpa);
/* Dispatches the exit in vcpu->exit_reason through the handler table. */
enum exit_action exit_dispatch(struct vcpu *vcpu);

/* Guest memory by linear address, through the guest's own page tables. Return 0 or -1. */
int guest_linear_to_phys(struct vcpu *vcpu, uint64_t gla, uint64_t *gpa);
int guest_read(struct vcpu *vcpu, uint64_t gla, void *dst, uint64_t len);
int guest_write(struct vcpu *vcpu, uint64_t gla, const void *src, uint64_t len);

#endif

/* Exit tracing for the shell's `trace NAME on|off [REASON...]`: each traced exit printed
 * decoded (reason, RIP, qualification, what the hypervisor did), at most a few lines per
 * second per guest so that the console never floods; what is held back is counted. */
#ifndef VMX_TRACE_H
#define VMX_TRACE_H

#include "vmx/vcpu.h"

#define TRACE_LINES_PER_SEC 20

/* Turns tracing of vcpu on (for the reasons in mask, all if mask is all ones) or off. */
void trace_set(struct vcpu *vcpu, bool on, const uint64_t mask[VCPU_TRACE_WORDS]);
/* Called by the run loop after each handled exit of a traced vCPU. */
void trace_exit(struct vcpu *vcpu, const char *name, enum exit_action action);
/* Looks up an exit reason by its SDM name ("CPUID", "IO_INSTRUCTION", "io_instruction",
 * or the printable name); returns -1 if unknown. */
int trace_reason_lookup(const char *name);

#endif

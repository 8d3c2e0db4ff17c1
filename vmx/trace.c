/* Exit tracing: one decoded line per exit, rate-limited per guest. */
#include "vmx/trace.h"
#include "vmx/exits.h"
#include "kernel/log.h"
#include "kernel/printf.h"
#include "kernel/string.h"
#include "kernel/time.h"

static const struct { const char *name; uint32_t n; } reason_names[] = {
#define REASON(n, name, str) { #name, n },
#include "vmx/exit_reasons.def"
#undef REASON
};

static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? *a - 32 : *a, y = *b >= 'a' && *b <= 'z' ? *b - 32 : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

int trace_reason_lookup(const char *name)
{
    for (unsigned i = 0; i < sizeof reason_names / sizeof reason_names[0]; i++)
        if (same_name(name, reason_names[i].name) || same_name(name, exit_reason_name(reason_names[i].n)))
            return (int)reason_names[i].n;
    return -1;
}

void trace_set(struct vcpu *vcpu, bool on, const uint64_t mask[VCPU_TRACE_WORDS])
{
    vcpu->trace_on = on;
    for (unsigned i = 0; i < VCPU_TRACE_WORDS; i++)
        vcpu->trace_mask[i] = mask[i];
    vcpu->trace_window_ns = 0;
    vcpu->trace_lines = 0;
    vcpu->trace_suppressed = 0;
}

static const char *action_name(enum exit_action a)
{
    switch (a) {
    case EXIT_CONTINUE: case EXIT_REQUEST: case EXIT_EVENTS: return "resume";
    case EXIT_YIELD: return "yield";
    case EXIT_STOP: return "stop";
    default: return "crash";
    }
}

/* What the exit was about, decoded from the qualification and registers (SDM 28.2.1). */
static void describe(struct vcpu *vcpu, char *buf, size_t size)
{
    uint64_t q = vcpu->exit_qual;
    const struct guest_regs *r = &vcpu->regs;
    buf[0] = '\0';
    switch (vcpu->exit_reason & 0xFFFF) {
    case EXIT_REASON_IO_INSTRUCTION:
        snprintf(buf, size, "%s%s port 0x%lx size %lu%s value 0x%lx", q & 8 ? "in" : "out",
                 q & 16 ? "s" : "", q >> 16, (q & 7) + 1, q & 32 ? " rep" : "",
                 r->rax & (0xFFFFFFFFul >> (32 - 8 * ((q & 7) + 1))));
        break;
    case EXIT_REASON_CPUID:
        snprintf(buf, size, "-> eax=%lx ebx=%lx ecx=%lx edx=%lx", r->rax, r->rbx, r->rcx, r->rdx);
        break;
    case EXIT_REASON_RDMSR:
    case EXIT_REASON_WRMSR:
        snprintf(buf, size, "msr 0x%lx edx:eax=%lx:%lx%s", r->rcx & 0xFFFFFFFF, r->rdx & 0xFFFFFFFF,
                 r->rax & 0xFFFFFFFF, vcpu->pending_event ? " -> #GP" : "");
        break;
    case EXIT_REASON_CR_ACCESS:
        snprintf(buf, size, "cr%u %s", cr_qual_number(q), (const char *[]){ "write", "read", "clts", "lmsw" }[cr_qual_type(q)]);
        break;
    case EXIT_REASON_EXTERNAL_INTERRUPT:
        snprintf(buf, size, "host interrupt");
        break;
    case EXIT_REASON_HLT:
        snprintf(buf, size, "guest idles");
        break;
    default:
        if (vcpu->pending_event)
            snprintf(buf, size, "inject vector %u", vcpu->pending_event & 0xFF);
        break;
    }
}

void trace_exit(struct vcpu *vcpu, const char *name, enum exit_action action)
{
    uint32_t reason = vcpu->exit_reason & 0xFFFF;
    if (reason >= EXIT_REASON_MAX || !(vcpu->trace_mask[reason / 64] & (1ull << (reason % 64))))
        return;
    uint64_t now = time_ns();
    if (now - vcpu->trace_window_ns >= 1000000000ull) {
        if (vcpu->trace_suppressed)
            hv_info("trace %s: %lu exits not shown (more than %u a second)", name,
                    vcpu->trace_suppressed, TRACE_LINES_PER_SEC);
        vcpu->trace_window_ns = now;
        vcpu->trace_lines = 0;
        vcpu->trace_suppressed = 0;
    }
    if (vcpu->trace_lines >= TRACE_LINES_PER_SEC) {
        vcpu->trace_suppressed++;
        return;
    }
    vcpu->trace_lines++;
    char what[128];
    describe(vcpu, what, sizeof what);
    hv_info("trace %s: %s rip=0x%lx qual=0x%lx %s%s%s", name, exit_reason_name(reason), vcpu->rip,
            vcpu->exit_qual, what, what[0] ? "; " : "", action_name(action));
}

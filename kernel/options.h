/* Command-line parsing: the hypervisor's own options and the helpers that guest options share. */
#ifndef KERNEL_OPTIONS_H
#define KERNEL_OPTIONS_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define OPT_TOKEN_MAX 256

enum debug_fault { FAULT_NONE, FAULT_PF, FAULT_UD, FAULT_GP, FAULT_DE, FAULT_PANIC };

struct hv_options {
    int loglevel;                   /* enum log_level */
    enum debug_fault debug_fault;   /* debug_fault=pf|ud|gp|de|panic: provoke a host fault */
    uint64_t slice_us;              /* slice=: scheduler time slice */
    uint32_t timer_hz;              /* hz=: host timer rate */
    uint32_t bench_host_iters;      /* bench_host=: host-side benchmark iterations, 0 = off */
};
/* The hypervisor's options, parsed once at boot (kernel/main.c). */
extern struct hv_options hv_options;


/* Called with one complete message per problem ("option \"x=y\": unknown, ignored"). */
typedef void (*opt_report_fn)(const char *msg);

/* Sets defaults, then applies each space-separated option of cmdline; reports and
 * ignores anything unknown or malformed. Returns the number of problems reported. */
int options_parse(const char *cmdline, struct hv_options *opt, opt_report_fn report);

/* Splits off the next space-separated token of *p into tok (truncated to OPT_TOKEN_MAX-1)
 * and advances *p. Returns false at the end of the string. */
bool opt_next_token(const char **p, char *tok, size_t tok_size);
/* Splits "key=value" in place; *value is NULL when there is no '='. */
void opt_split(char *tok, char **value);
/* Parses a decimal or 0x-hex integer; returns 0 or -1. */
int opt_parse_uint(const char *s, uint64_t *out);
/* Parses a size with an optional K/M/G suffix (bytes without one); returns 0 or -1. */
int opt_parse_size(const char *s, uint64_t *bytes);
/* Parses a duration with a us/ms/s suffix (ms without one); returns 0 or -1. */
int opt_parse_duration_us(const char *s, uint64_t *us);

#endif

/* Command-line parsing for the hypervisor (loglevel=, debug_fault=, slice=, hz=, bench_host=) and shared helpers. */
#include "kernel/options.h"
#include "kernel/log.h"
#include "kernel/printf.h"
#include "kernel/string.h"

struct hv_options hv_options;

bool opt_next_token(const char **p, char *tok, size_t tok_size)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s) {
        *p = s;
        return false;
    }
    size_t n = 0;
    while (*s && *s != ' ' && *s != '\t') {
        if (n + 1 < tok_size)
            tok[n++] = *s;
        s++;
    }
    tok[n] = '\0';
    *p = s;
    return true;
}

void opt_split(char *tok, char **value)
{
    char *eq = strchr(tok, '=');
    *value = NULL;
    if (eq) {
        *eq = '\0';
        *value = eq + 1;
    }
}

int opt_parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return -1;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            return -1;
        if (v > (~0ull - d) / base)
            return -1;                  /* overflow */
        v = v * base + d;
    }
    *out = v;
    return 0;
}

/* Parses digits followed by one of the given suffixes; mults[i] is the factor of suffix i. */
static int parse_scaled(const char *s, const char *const *suffixes, const uint64_t *mults,
                        unsigned n, uint64_t default_mult, uint64_t *out)
{
    char digits[32];
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9' && i + 1 < sizeof digits) {
        digits[i] = s[i];
        i++;
    }
    digits[i] = '\0';
    uint64_t v, mult = default_mult;
    if (i == 0 || opt_parse_uint(digits, &v) < 0)
        return -1;
    const char *suffix = s + i;
    if (*suffix) {
        unsigned k;
        for (k = 0; k < n; k++)
            if (strcmp(suffix, suffixes[k]) == 0)
                break;
        if (k == n)
            return -1;
        mult = mults[k];
    }
    if (v > ~0ull / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int opt_parse_size(const char *s, uint64_t *bytes)
{
    static const char *const suffixes[] = { "K", "k", "M", "m", "G", "g" };
    static const uint64_t mults[] = { 1ull << 10, 1ull << 10, 1ull << 20, 1ull << 20, 1ull << 30, 1ull << 30 };
    return parse_scaled(s, suffixes, mults, 6, 1, bytes);
}

int opt_parse_duration_us(const char *s, uint64_t *us)
{
    static const char *const suffixes[] = { "us", "ms", "s" };
    static const uint64_t mults[] = { 1, 1000, 1000000 };
    return parse_scaled(s, suffixes, mults, 3, 1000, us);
}

static void report_problem(opt_report_fn report, const char *key, const char *value, const char *why)
{
    char msg[OPT_TOKEN_MAX + 96];
    if (value)
        snprintf(msg, sizeof msg, "option \"%s=%s\": %s, ignored", key, value, why);
    else
        snprintf(msg, sizeof msg, "option \"%s\": %s, ignored", key, why);
    report(msg);
}

int options_parse(const char *cmdline, struct hv_options *opt, opt_report_fn report)
{
    static const char *const faults[] = { "", "pf", "ud", "gp", "de", "panic" };
    char tok[OPT_TOKEN_MAX];
    int problems = 0;

    opt->loglevel = LOG_INFO;
    opt->debug_fault = FAULT_NONE;
    opt->slice_us = 10000;
    opt->timer_hz = 1000;
    opt->bench_host_iters = 0;

    while (opt_next_token(&cmdline, tok, sizeof tok)) {
        char *value;
        opt_split(tok, &value);
        const char *why = NULL;
        uint64_t v;

        if (strcmp(tok, "loglevel") == 0) {
            int level = value ? log_level_parse(value) : -1;
            if (level < 0)
                why = "bad value (error, warn, info, debug or trace)";
            else
                opt->loglevel = level;
        } else if (strcmp(tok, "debug_fault") == 0) {
            unsigned k;
            for (k = 1; k < sizeof faults / sizeof faults[0]; k++)
                if (value && strcmp(value, faults[k]) == 0)
                    break;
            if (k == sizeof faults / sizeof faults[0])
                why = "bad value (pf, ud, gp, de or panic)";
            else
                opt->debug_fault = (enum debug_fault)k;
        } else if (strcmp(tok, "slice") == 0) {
            if (!value || opt_parse_duration_us(value, &v) < 0 || v < 100 || v > 1000000)
                why = "bad value (a duration from 100us to 1s, e.g. 10ms)";
            else
                opt->slice_us = v;
        } else if (strcmp(tok, "hz") == 0) {
            if (!value || opt_parse_uint(value, &v) < 0 || v < 10 || v > 10000)
                why = "bad value (10 to 10000)";
            else
                opt->timer_hz = (uint32_t)v;
        } else if (strcmp(tok, "bench_host") == 0) {
            if (!value || opt_parse_uint(value, &v) < 0 || v < 1 || v > 10000000)
                why = "bad value (an iteration count from 1 to 10000000)";
            else
                opt->bench_host_iters = (uint32_t)v;
        } else {
            why = "unknown";
        }
        if (why) {
            report_problem(report, tok, value, why);
            problems++;
        }
    }
    return problems;
}

/*
 * Helpers for guests written for anfitrion's hypercalls (docs/hypercalls.md): discovery,
 * the virtual interrupt flag (the shared page's mask), event bits, the time page and a
 * line-buffered console. Everything here is memory or VMCALL: no port I/O, no CLI/STI.
 */
#ifndef GUEST_PV_H
#define GUEST_PV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypercall.h"

/* What CPUID 0x40000000-1 said. */
struct pv_discovery {
    bool hypervisor;            /* CPUID.1:ECX bit 31 */
    char signature[13];         /* leaf 0x40000000's EBX, ECX, EDX as text */
    uint32_t max_leaf;          /* its EAX */
    uint32_t version;           /* 0x40000001 EAX, when the signature is anfitrion's */
    uint32_t features;          /* 0x40000001 EBX */
};

/* Reads the hypervisor leaves into d; true if they say "anfitrion" (VMCALL is then ours). */
bool pv_discover(struct pv_discovery *d);
/* The feature bits' names, space-separated ("console time events ..."), into buf. */
void pv_feature_names(uint32_t features, char *buf, size_t size);
/* A short name for a hypercall result: "ok", "EPERM", "ENOENT", ..., "error -N". */
const char *pv_strerror(int32_t err);

/* The virtual interrupt flag. pv_events_init registers this guest's shared page (the
 * hypervisor then sets mask = 1); pv_bind routes an event to an upcall vector. */
int32_t pv_events_init(void);
int32_t pv_bind(unsigned event, unsigned vector);
/* The shared page (NULL before pv_events_init). */
volatile struct anf_shared *pv_shared(void);
/* "Disable interrupts": mask = 1. */
void pv_mask(void);
/* "Enable interrupts": mask = 0, and if a bound event is pending, an ANF_HC_NOP so that its
 * upcall comes now rather than at the next exit. */
void pv_unmask(void);
/* True if an upcall is waiting for mask = 0 (a bound event is pending). */
bool pv_upcall_waiting(void);
/* Takes every pending event (an atomic exchange with 0) and returns their bits. */
uint64_t pv_take_events(void);
/* ANF_HC_BLOCK: returns once an event is pending, masked or not. */
void pv_block(void);
/* Idles for good: timer off, masked, blocking; events are taken and dropped. */
void pv_halt_forever(void) __attribute__((noreturn));

/* The guest time in ns: from the time page once pv_time_init registered it (no exit),
 * else by ANF_HC_TIME. */
int32_t pv_time_init(void);
uint64_t pv_time_ns(void);
/* True once the time page is registered. */
bool pv_time_paged(void);

/* The console, one ANF_HC_CONSOLE_WRITE per line: '\n' goes out as "\r\n" (as a UART
 * guest's does), and pv_flush sends a partial line (echoed keystrokes). */
void pv_putc(char c);
void pv_write(const char *s, size_t n);
void pv_flush(void);
int pv_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ANF_HC_CONSOLE_READ: up to n bytes of console input, 0 if none, or an error. */
int32_t pv_console_read(char *buf, size_t n);

#endif

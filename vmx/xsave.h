/* The guests' extended processor state (x87, SSE, AVX, AVX-512, ...): which XCR0 values a
 * guest may load (XSETBV), and moving that state between vCPUs with XSAVE/XRSTOR. */
#ifndef VMX_XSAVE_H
#define VMX_XSAVE_H

#include <stdint.h>
#include <stdbool.h>

/* XCR0 state components (SDM Vol. 1 13.1). */
#define XFEATURE_X87        (1ull << 0)
#define XFEATURE_SSE        (1ull << 1)
#define XFEATURE_YMM        (1ull << 2)     /* AVX: upper halves of YMM0-15 */
#define XFEATURE_BNDREGS    (1ull << 3)     /* MPX */
#define XFEATURE_BNDCSR     (1ull << 4)
#define XFEATURE_OPMASK     (1ull << 5)     /* AVX-512: k0-k7 */
#define XFEATURE_ZMM_HI256  (1ull << 6)
#define XFEATURE_HI16_ZMM   (1ull << 7)
#define XFEATURE_PKRU       (1ull << 9)
#define XFEATURE_XTILECFG   (1ull << 17)    /* AMX */
#define XFEATURE_XTILEDATA  (1ull << 18)

#define XFEATURE_MPX    (XFEATURE_BNDREGS | XFEATURE_BNDCSR)
#define XFEATURE_AVX512 (XFEATURE_OPMASK | XFEATURE_ZMM_HI256 | XFEATURE_HI16_ZMM)
#define XFEATURE_AMX    (XFEATURE_XTILECFG | XFEATURE_XTILEDATA)

/* Size of each vCPU's save area (struct vcpu's fpu_area): one page. */
#define XSAVE_AREA_SIZE 4096u

/* Pure: whether XSETBV may load v into XCR0, given the components a guest may enable
 * (allowed). The rules of XSETBV (SDM Vol. 2C) and 13.3 of Vol. 1: x87 always set; no bit
 * outside allowed; AVX needs SSE; MPX's two bits together; AVX-512's three bits together
 * and with AVX; AMX's two bits together. Anything else would #GP in the host's own XSETBV. */
bool xcr0_valid(uint64_t v, uint64_t allowed);

/* The components a guest may enable: what the CPU supports in XCR0 whose state fits in
 * XSAVE_AREA_SIZE (standard format); 0 without XSAVE. Computed once. */
uint64_t xsave_guest_features(void);

/* CPUID.(EAX=0DH,ECX=0):ECX for the guest: the save-area size of every allowed component. */
uint32_t xsave_guest_max_size(void);

struct vcpu;

/* Saves from's extended state (if from is not NULL) and loads to's: XSAVE/XRSTOR with every
 * guest component, under an XCR0 that holds them all (see xsave.c). */
void xsave_switch(struct vcpu *from, struct vcpu *to);

/* Puts the guest's XCR0 in the CPU before an entry (XSETBV only when it differs). */
void xsave_enter(const struct vcpu *vcpu);

#endif

/* The guests' extended state. A guest chooses its XCR0 with XSETBV, which always exits; the
 * host checks the value as the CPU would and loads it before every entry, so the guest runs
 * with exactly the XCR0 it asked for.
 *
 * Switching vCPUs saves and restores their state with XSAVE/XRSTOR. Both run with the real
 * XCR0 set to every component a guest may enable (xsave_guest_features), and the same set as
 * the requested-feature bitmap, whatever the outgoing or incoming guest's own XCR0 is:
 *  - XSAVE then keeps the state of a component the guest has turned off while it was in use
 *    (XCR0 7 -> 3 with dirty YMM halves), as the CPU itself keeps it;
 *  - XRSTOR #GPs when the area's XSTATE_BV has a bit that XCR0 lacks (SDM Vol. 1 13.8.1), and
 *    the area's XSTATE_BV only ever comes from an XSAVE under the same XCR0, or from
 *    xsave_switch's reset image; the guest never writes the area. */
#include "vmx/xsave.h"
#include "vmx/vcpu.h"
#include "kernel/cpu.h"
#include "kernel/string.h"

#define XSTATE_BV_OFFSET 512            /* the XSAVE header follows the legacy 512 bytes */

bool xcr0_valid(uint64_t v, uint64_t allowed)
{
    if (!(v & XFEATURE_X87) || (v & ~allowed))
        return false;
    if ((v & XFEATURE_YMM) && !(v & XFEATURE_SSE))
        return false;
    if ((v & XFEATURE_MPX) && (v & XFEATURE_MPX) != XFEATURE_MPX)
        return false;
    if ((v & XFEATURE_AVX512) &&
        ((v & XFEATURE_AVX512) != XFEATURE_AVX512 || !(v & XFEATURE_YMM)))
        return false;
    if ((v & XFEATURE_AMX) && (v & XFEATURE_AMX) != XFEATURE_AMX)
        return false;
    return true;
}

static uint64_t guest_features;
static uint32_t guest_max_size;
static bool features_known;

/* Components whose standard-format offset and size (CPUID.(0DH,i)) fit in the area. */
static void features_init(void)
{
    features_known = true;
    if (!(read_cr4() & CR4_OSXSAVE) || cpuid(0, 0).eax < 0xD)
        return;                         /* vmx_init sets OSXSAVE where the CPU has XSAVE */
    struct cpuid_regs d = cpuid(0xD, 0);
    uint64_t cpu = ((uint64_t)d.edx << 32) | d.eax;
    guest_features = cpu & (XFEATURE_X87 | XFEATURE_SSE);
    guest_max_size = 512 + 64;
    for (unsigned i = 2; i < 63; i++) {
        if (!(cpu >> i & 1))
            continue;
        struct cpuid_regs c = cpuid(0xD, i);
        if ((uint64_t)c.ebx + c.eax > XSAVE_AREA_SIZE)
            continue;
        guest_features |= 1ull << i;
        if (c.ebx + c.eax > guest_max_size)
            guest_max_size = c.ebx + c.eax;
    }
    /* A component that did not fit must not strand its partners (xcr0_valid's groups). */
    if (!(guest_features & XFEATURE_SSE))
        guest_features &= ~XFEATURE_YMM;
    if ((guest_features & XFEATURE_AVX512) != XFEATURE_AVX512 || !(guest_features & XFEATURE_YMM))
        guest_features &= ~XFEATURE_AVX512;
    if ((guest_features & XFEATURE_MPX) != XFEATURE_MPX)
        guest_features &= ~XFEATURE_MPX;
    if ((guest_features & XFEATURE_AMX) != XFEATURE_AMX)
        guest_features &= ~XFEATURE_AMX;
}

uint64_t xsave_guest_features(void)
{
    if (!features_known)
        features_init();
    return guest_features;
}

uint32_t xsave_guest_max_size(void)
{
    xsave_guest_features();
    return guest_max_size;
}

static uint64_t real_xcr0;              /* what the CPU's XCR0 holds; 0 until first read */

static void xcr0_load(uint64_t v)
{
    if (!real_xcr0)
        real_xcr0 = xgetbv(0);
    if (v == real_xcr0)
        return;
    __asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
    real_xcr0 = v;
}

void xsave_enter(const struct vcpu *vcpu)
{
    if (xsave_guest_features())
        xcr0_load(vcpu->xcr0);
}

/* A vCPU's first state: x87 and SSE at their reset values (FCW 0x37F, MXCSR 0x1F80), every
 * other component in its initial configuration (XSTATE_BV bit clear). */
static void fpu_reset_image(struct vcpu *v, uint64_t mask)
{
    memset(v->fpu_area, 0, XSAVE_AREA_SIZE);
    *(uint16_t *)v->fpu_area = 0x37F;
    *(uint32_t *)(v->fpu_area + 24) = 0x1F80;
    if (mask)
        *(uint64_t *)(v->fpu_area + XSTATE_BV_OFFSET) = mask & (XFEATURE_X87 | XFEATURE_SSE);
    v->fpu_ready = true;
}

void xsave_switch(struct vcpu *from, struct vcpu *to)
{
    uint64_t mask = xsave_guest_features();
    uint32_t lo = (uint32_t)mask, hi = (uint32_t)(mask >> 32);
    if (mask)
        xcr0_load(mask);
    if (from) {
        if (mask)
            __asm__ volatile("xsave64 (%0)" :: "r"(from->fpu_area), "a"(lo), "d"(hi) : "memory");
        else
            __asm__ volatile("fxsave64 (%0)" :: "r"(from->fpu_area) : "memory");
    }
    if (!to->fpu_ready)
        fpu_reset_image(to, mask);
    if (mask)
        __asm__ volatile("xrstor64 (%0)" :: "r"(to->fpu_area), "a"(lo), "d"(hi) : "memory");
    else
        __asm__ volatile("fxrstor64 (%0)" :: "r"(to->fpu_area) : "memory");
}

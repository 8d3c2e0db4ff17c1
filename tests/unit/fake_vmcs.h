/* A fake VMCS, so that the exit handlers of vmx/ run on the host (unit tests only).
 *
 * On the target every VMREAD/VMWRITE goes through vmcs_read_raw()/vmcs_write_raw() (vmx/vmx.c,
 * not included here). This file implements both over a table of (encoding -> value): a test
 * sets the fields an exit would hold, runs a handler, and asserts on what it wrote. A read of
 * a field nobody set returns 0 and is counted, every write is counted, and a VMWRITE behaves as
 * the CPU's: 16- and 32-bit fields keep the low bits (SDM 31.3 VMWRITE), and a write to a
 * read-only exit-information field or to an encoding SDM Appendix B does not list fails the test
 * (on the CPU it is VMfailValid and a host panic).
 *
 * The CPU side is one closure (vcpu_run calls every handler and completion, every handler
 * calls run.c), so this file also includes all of its pure sources and stands in for the rest:
 * VM entry (vmx_enter runs a test's hook), the capability MSRs (vmx_caps), the host's XSAVE
 * features, INT n to host handlers (int_n_stubs records the vector), tracing and the console.
 * It ends with the shared test state: the vCPU `v` and a 2 MiB guest RAM (paging off).
 * Include it after cmocka.h. */
#ifndef TESTS_UNIT_FAKE_VMCS_H
#define TESTS_UNIT_FAKE_VMCS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vmx/vmx.h"

#define FAKE_VMCS_SLOTS 96

static struct {
    struct { uint32_t enc; bool set; uint64_t value; unsigned reads, writes; } f[FAKE_VMCS_SLOTS];
    unsigned n;
    unsigned unset_reads;           /* reads of fields nobody set (they returned 0) */
    uint32_t last_unset_read;
} fake_vmcs;

const char *vmcs_field_name(uint32_t encoding)
{
    switch (encoding) {
#define FIELD(width, name, enc) case enc: return #name;
#include "vmx/vmcs_fields.def"
#undef FIELD
    default: return "?";
    }
}

/* The slot of enc, created on first use; an encoding Appendix B does not list fails the test. */
static unsigned fake_vmcs_slot(uint32_t enc)
{
    for (unsigned i = 0; i < fake_vmcs.n; i++)
        if (fake_vmcs.f[i].enc == enc)
            return i;
    if (strcmp(vmcs_field_name(enc), "?") == 0)
        fail_msg("VMCS access to unknown encoding 0x%x", enc);
    assert_true(fake_vmcs.n < FAKE_VMCS_SLOTS);
    fake_vmcs.f[fake_vmcs.n].enc = enc;
    return fake_vmcs.n++;
}

uint64_t vmcs_read_raw(uint32_t enc)
{
    unsigned i = fake_vmcs_slot(enc);
    fake_vmcs.f[i].reads++;
    if (!fake_vmcs.f[i].set) {
        fake_vmcs.unset_reads++;
        fake_vmcs.last_unset_read = enc;
    }
    return fake_vmcs.f[i].value;
}

void vmcs_write_raw(uint32_t enc, uint64_t value)
{
    static const uint64_t width_mask[4] = { 0xFFFF, ~0ull, 0xFFFFFFFF, ~0ull };  /* bits 14:13 */
    if (((enc >> 10) & 3) == 1)
        fail_msg("VMWRITE to the read-only field %s", vmcs_field_name(enc));
    unsigned i = fake_vmcs_slot(enc);
    fake_vmcs.f[i].writes++;
    fake_vmcs.f[i].set = true;
    fake_vmcs.f[i].value = value & width_mask[(enc >> 13) & 3];
}

/* What an exit left in the VMCS, set by a test (not counted as a handler's write). */
static void fake_vmcs_set_raw(uint32_t enc, uint64_t value)
{
    unsigned i = fake_vmcs_slot(enc);
    fake_vmcs.f[i].set = true;
    fake_vmcs.f[i].value = value;
}

/* These take any width's field (GUEST_RIP, VM_EXIT_INSTRUCTION_LEN...). */
#define fake_vmcs_set(field, value) fake_vmcs_set_raw((field).enc, (value))
#define fake_vmcs_get(field) fake_vmcs.f[fake_vmcs_slot((field).enc)].value
#define fake_vmcs_reads(field) fake_vmcs.f[fake_vmcs_slot((field).enc)].reads
#define fake_vmcs_writes(field) fake_vmcs.f[fake_vmcs_slot((field).enc)].writes

/* ---- Stand-ins for what the CPU side calls outside its pure sources. */

#include "vmx/caps.h"
#include "vmx/vcpu.h"

struct vmx_caps vmx_caps;
static unsigned fake_vcpu_loads;
static uint64_t fake_xsave_features;        /* what xsave_guest_features() answers */
static enum vmx_status (*fake_entry_hook)(struct guest_regs *regs, unsigned n);
static unsigned fake_entries;
unsigned char fake_int_vector;              /* int_n_stubs: the last vector called, and how often */
unsigned fake_int_calls;

void vcpu_load(struct vcpu *vcpu) { (void)vcpu; fake_vcpu_loads++; }
/* VMLAUNCH/VMRESUME: the hook plays the guest and leaves its exit in the fake VMCS. */
enum vmx_status vmx_enter(struct guest_regs *regs, bool launched)
{
    (void)launched;
    return fake_entry_hook ? fake_entry_hook(regs, fake_entries++) : VMX_OK;
}
uint32_t vmx_instruction_error(void) { return 0; }
unsigned vmx_preemption_timer_shift(void) { return 5; }
uint64_t time_tsc_hz(void) { return 2000000000ull; }
void trace_exit(struct vcpu *vcpu, const char *name, enum exit_action action) { (void)vcpu, (void)name, (void)action; }
void kprintf(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vfprintf(stderr, fmt, ap); va_end(ap); }

const char *exit_reason_name(uint32_t reason)
{
    switch (reason & 0xFFFF) {
#define REASON(n, name, str) case n: return str;
#include "vmx/exit_reasons.def"
#undef REASON
    default: return "unknown exit reason";
    }
}

const char *vmx_error_name(uint32_t error) { (void)error; return "fake VM-instruction error"; }

/* int_n_stubs[v * 4]: "movb $v, %al; jmp" (4 bytes, as the real "int $v; ret"), the jumps
 * chained 31 slots at a time (rel8 reach) to a tail that records AL in fake_int_vector. */
__asm__(".pushsection .text\n.altmacro\n"
        ".macro fake_intstub v\n movb $\\v, %al\n"
        " .if \\v < 225\n .byte 0xEB, 122\n .else\n .byte 0xEB, 1020 - 4 * \\v\n .endif\n.endm\n"
        ".globl int_n_stubs\n.balign 16\nint_n_stubs:\n"
        ".set fake_i, 0\n.rept 256\n fake_intstub %fake_i\n .set fake_i, fake_i + 1\n.endr\n"
        "movb %al, fake_int_vector(%rip)\nincl fake_int_calls(%rip)\nret\n"
        ".noaltmacro\n.popsection\n");

/* ---- The CPU side: every pure source of vmx/, xsave.c's CPU accesses (CPUID and CR4 probe,
 * XSETBV, XSAVE/XRSTOR) replaced. */

#define xsave_guest_features xsave_guest_features_of_the_cpu
#define xsave_enter xsave_enter_on_the_cpu
#define xsave_switch xsave_switch_on_the_cpu
#include "vmx/xsave.c"
#undef xsave_guest_features
#undef xsave_enter
#undef xsave_switch
static uint64_t fake_entry_xcr0;            /* the XCR0 of the last entry */
uint64_t xsave_guest_features(void) { return fake_xsave_features; }
void xsave_enter(const struct vcpu *vcpu) { fake_entry_xcr0 = vcpu->xcr0; }
void xsave_switch(struct vcpu *from, struct vcpu *to) { (void)from, (void)to; fail_msg("FPU switch"); }
/* The CPU's debug registers (privileged on the host): an array the tests can look at. */
static uint64_t fake_dr[8];
uint64_t dr_hw_read(unsigned n) { return fake_dr[n & 7]; }
void dr_hw_write(unsigned n, uint64_t v) { fake_dr[n & 7] = v; }

#include "vmx/cr.c"
#include "vmx/decode.c"
/* emulate.c: the guest's XMM registers are fake_xmm (the test's own are the compiler's). */
#define emu_xmm_read emu_xmm_read_on_the_cpu
#define emu_xmm_write emu_xmm_write_on_the_cpu
#include "vmx/emulate.c"
#undef emu_xmm_read
#undef emu_xmm_write
static uint8_t fake_xmm[16][16];
void emu_xmm_read(unsigned n, uint8_t out[16]) { memcpy(out, fake_xmm[n & 15], 16); }
void emu_xmm_write(unsigned n, const uint8_t in[16]) { memcpy(fake_xmm[n & 15], in, 16); }
#include "vmx/exit.c"
#include "vmx/exit_cpuid.c"
#include "vmx/exit_io.c"
#include "vmx/exit_mmio.c"
#include "vmx/exit_msr.c"
#include "vmx/guest_mem.c"
#include "vmx/run.c"
#include "vmx/task_switch.c"

/* ---- The shared test state: one vCPU in 32-bit protected mode, paging off, at RIP 0x1000,
 * its RAM one 2 MiB chunk at guest-physical 0 (host buffer `ram`, zeroed). */

#define RAM_SIZE GUEST_RAM_CHUNK
#define START_RIP 0x1000ull

static struct vcpu v;
static struct guest_ram ram_map;
static uint8_t *ram;

/* Resets the fake VMCS, the stand-ins and the vCPU; allocates a fresh RAM. */
static int fake_setup(void **state)
{
    (void)state;
    memset(&fake_vmcs, 0, sizeof fake_vmcs);
    memset(&v, 0, sizeof v);
    memset(fake_dr, 0, sizeof fake_dr);
    vmx_caps = (struct vmx_caps){ .cr0_fixed0 = 0x80000021, .cr0_fixed1 = 0xFFFFFFFF,
                                  .cr4_fixed0 = CR4_VMXE, .cr4_fixed1 = 0x3727FF };
    fake_vcpu_loads = fake_entries = fake_int_calls = 0;
    fake_int_vector = 0;
    memset(fake_xmm, 0, sizeof fake_xmm);
    fake_entry_xcr0 = 0;
    fake_entry_hook = NULL;
    fake_xsave_features = XFEATURE_X87 | XFEATURE_SSE | XFEATURE_YMM;
    free(ram);                              /* a table test calls this once per row */
    ram = aligned_alloc(GUEST_RAM_CHUNK, RAM_SIZE);
    assert_non_null(ram);
    memset(ram, 0, RAM_SIZE);
    ram_map = (struct guest_ram){ .size = RAM_SIZE, .n_chunks = 1 };
    ram_map.chunks[0] = (uint64_t)(uintptr_t)ram;
    v.ram = &ram_map;
    v.cr0_shadow = CR0_PE | CR0_ET;
    v.rip = START_RIP;
    state_owner = &v;                       /* vcpu_run's MSR/FPU switch is the CPU's */
    fake_vmcs_set(GUEST_RIP, START_RIP);
    fake_vmcs_set(GUEST_RFLAGS, 0x2);
    /* Flat 4 GiB read/write data segments, as a protected-mode guest has them (string I/O
     * checks them, SDM 5.3); CS is left to each test (it sets the decoder's mode). */
    fake_vmcs_set(GUEST_ES_LIMIT, 0xFFFFFFFF), fake_vmcs_set(GUEST_ES_AR_BYTES, 0xC093);
    fake_vmcs_set(GUEST_SS_LIMIT, 0xFFFFFFFF), fake_vmcs_set(GUEST_SS_AR_BYTES, 0xC093);
    fake_vmcs_set(GUEST_DS_LIMIT, 0xFFFFFFFF), fake_vmcs_set(GUEST_DS_AR_BYTES, 0xC093);
    fake_vmcs_set(GUEST_FS_LIMIT, 0xFFFFFFFF), fake_vmcs_set(GUEST_FS_AR_BYTES, 0xC093);
    fake_vmcs_set(GUEST_GS_LIMIT, 0xFFFFFFFF), fake_vmcs_set(GUEST_GS_AR_BYTES, 0xC093);
    fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 2);
    fake_vmcs_set(GUEST_INTERRUPTIBILITY_INFO, 0);
    fake_vmcs_set(GUEST_PENDING_DBG_EXCEPTIONS, 0);  /* no #DB held (the CPU saves it at every exit) */
    /* Every CR0 bit host-owned: v.cr0_shadow is the guest's CR0 (a test may hand bits over). */
    fake_vmcs_set(CR0_GUEST_HOST_MASK, ~0ull);
    fake_vmcs_set(GUEST_CR0, CR0_PE | CR0_ET | CR0_NE);
    fake_vmcs_set(IDT_VECTORING_INFO_FIELD, 0);      /* no event was being delivered */
    return 0;
}

static int fake_teardown(void **state)
{
    (void)state;
    free(ram);
    ram = NULL;
    state_owner = NULL;
    return 0;
}

#define FAKE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fake_setup, fake_teardown)

/* RIP after the handler: advanced by len from the exit's RIP, or never written. */
#define assert_rip_advanced(len) do {                                       \
        assert_int_equal(fake_vmcs_writes(GUEST_RIP), 1);                   \
        assert_int_equal(fake_vmcs_get(GUEST_RIP), START_RIP + (len));      \
    } while (0)
#define assert_rip_kept() assert_int_equal(fake_vmcs_writes(GUEST_RIP), 0)

/* The handler read only fields the test (or fake_setup) set: none it did not think of. */
#define assert_no_unset_reads() do {                                                    \
        if (fake_vmcs.unset_reads)                                                      \
            fail_msg("%u read(s) of fields never set, the last %s", fake_vmcs.unset_reads, \
                     vmcs_field_name(fake_vmcs.last_unset_read));                        \
    } while (0)

/* The event queued for the next entry: a hardware exception, with or without error code 0. */
#define GP_EVENT (INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | INTR_INFO_DELIVER_CODE | 13)
#define UD_EVENT (INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 6)

#endif

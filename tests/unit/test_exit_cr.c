/* Host unit tests for control- and debug-register exits: vmx/cr.c (exit_cr_access, the GPR
 * numbering of exit qualifications) and exit_dr_access of vmx/exit.c (reached through
 * exit_dispatch). Rules: MOV CR/CLTS/LMSW/MOV DR in SDM Vol. 2, the qualifications in SDM
 * Tables 28-3 and 28-4, CR0/CR4 virtualization in SDM 25.6.6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/fake_vmcs.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };    /* Table 28-3's register numbers */

static uint64_t cr_qual(unsigned cr, unsigned type, unsigned reg, uint16_t lmsw)
{
    return cr | type << 4 | reg << 8 | (uint64_t)lmsw << 16;
}

/* Register n of Table 28-3 in struct guest_regs (RSP is the VMCS's: NULL). */
static uint64_t *reg_slot(unsigned n)
{
    struct guest_regs *r = &v.regs;
    uint64_t *slots[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, NULL, &r->rbp, &r->rsi, &r->rdi,
                            &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15 };
    return slots[n];
}

/* The local APIC's TPR, which CR8 is (the VM layer points vcpu->tpr at its vLAPIC's). */
static uint8_t tpr;

/* MOV to CR8: TPR[7:4] = CR8[3:0] and TPR[3:0] = 0; #GP(0) for any bit above 3 (SDM Vol. 2B
 * MOV CR, Vol. 3A 11.8.6.1). A lower priority class ends vcpu_run (EXIT_EVENTS) so that the VM
 * layer offers a pending interrupt the old TPR held back. */
static void test_mov_to_cr8(void **state)
{
    static const struct { uint8_t before; uint64_t value; bool gp; uint8_t after; enum exit_action a; } cases[] = {
        { 0x35, 0, false, 0x00, EXIT_EVENTS },
        { 0x35, 0x3, false, 0x30, EXIT_CONTINUE },      /* same class: nothing new can come in */
        { 0x35, 0x2, false, 0x20, EXIT_EVENTS },
        { 0x35, 0xF, false, 0xF0, EXIT_CONTINUE },
        { 0x35, 0x10, true, 0x35, EXIT_CONTINUE },
        { 0x35, 1ull << 63, true, 0x35, EXIT_CONTINUE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        tpr = cases[i].before;
        v.tpr = &tpr;
        v.regs.rdx = cases[i].value;
        v.exit_qual = cr_qual(8, CR_ACCESS_MOV_TO, RDX, 0);
        assert_int_equal(exit_cr_access(&v), cases[i].a);
        assert_int_equal(tpr, cases[i].after);
        if (cases[i].gp) {
            assert_int_equal(v.pending_event, GP_EVENT);
            assert_rip_kept();
        } else {
            assert_int_equal(v.pending_event, 0);
            assert_rip_advanced(2);
            assert_no_unset_reads();
        }
    }
}

/* Register 4 of the qualification is RSP, which VMX keeps in the guest-state area (SDM 25.4.1). */
static void test_mov_to_cr8_from_rsp(void **state)
{
    (void)state;
    tpr = 0;
    v.tpr = &tpr;
    fake_vmcs_set(GUEST_RSP, 7);
    v.regs.r15 = 9;
    v.exit_qual = cr_qual(8, CR_ACCESS_MOV_TO, RSP, 0);
    assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
    assert_int_equal(tpr, 0x70);
    assert_int_equal(fake_vmcs_reads(GUEST_RSP), 1);
}

/* MOV from CR8 reads TPR[7:4], zero-extended (SDM 11.8.6.1), into each of the 16 registers in
 * Table 28-3's order; RSP goes to the VMCS, and no other register changes. A TPR the guest wrote
 * through the xAPIC page or the x2APIC MSR is the same byte. */
static void test_mov_from_cr8_every_register(void **state)
{
    for (unsigned n = 0; n < 16; n++) {
        fake_setup(state);
        for (unsigned k = 0; k < 16; k++)
            if (reg_slot(k))
                *reg_slot(k) = 0x100 + k;
        fake_vmcs_set(GUEST_RSP, 0x104);
        tpr = 0xA7;
        v.tpr = &tpr;
        v.exit_qual = cr_qual(8, CR_ACCESS_MOV_FROM, n, 0);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        for (unsigned k = 0; k < 16; k++) {
            uint64_t got = reg_slot(k) ? *reg_slot(k) : fake_vmcs_get(GUEST_RSP);
            if (got != (k == n ? 0xA : 0x100 + k))
                fail_msg("MOV from CR8 into register %u: register %u = 0x%llx", n, k, (unsigned long long)got);
        }
        assert_int_equal(tpr, 0xA7);
        assert_rip_advanced(2);
    }
}

/* Without a TPR to point at, CR8 is a hypervisor bug: the guest stops, the host does not. */
static void test_cr8_without_lapic(void **state)
{
    (void)state;
    v.exit_qual = cr_qual(8, CR_ACCESS_MOV_FROM, RAX, 0);
    assert_int_equal(exit_cr_access(&v), EXIT_CRASH);
}

/* A guest CR0 as the VMCS holds it: the shadow (host-owned bits), GUEST_CR0 (the real value,
 * where the guest-owned bits live) and the mask that tells them apart. */
static void set_guest_cr0(uint64_t cr0)
{
    v.cr0_shadow = cr0;
    fake_vmcs_set(CR0_GUEST_HOST_MASK, cr0_host_owned());
    fake_vmcs_set(CR0_READ_SHADOW, cr0);
    fake_vmcs_set(GUEST_CR0, cr0_real(cr0));
}

/* CLTS clears CR0.TS and nothing else (SDM Vol. 2 CLTS); the guest reads the shadow. */
static void test_clts(void **state)
{
    (void)state;
    set_guest_cr0(CR0_PE | CR0_ET | CR0_NE | CR0_MP | CR0_TS);
    v.exit_qual = cr_qual(0, CR_ACCESS_CLTS, 0, 0);
    assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
    assert_int_equal(v.cr0_shadow, CR0_PE | CR0_ET | CR0_NE | CR0_MP);
    assert_int_equal(fake_vmcs_get(CR0_READ_SHADOW), CR0_PE | CR0_ET | CR0_NE | CR0_MP);
    assert_int_equal(fake_vmcs_get(GUEST_CR0) & CR0_TS, 0);
    assert_rip_advanced(2);
}

/* LMSW loads CR0 bits 3:0 from the source, but cannot clear PE (SDM Vol. 2 LMSW). */
static void test_lmsw(void **state)
{
    static const struct { uint64_t before; uint16_t source; uint64_t after; } cases[] = {
        { CR0_PE | CR0_ET | CR0_MP, 0, CR0_PE | CR0_ET },
        { CR0_ET, CR0_PE | CR0_TS, CR0_PE | CR0_ET | CR0_TS },
        { CR0_PE | CR0_ET, 0xFFF0, CR0_PE | CR0_ET },
        { CR0_PE | CR0_ET | CR0_NE | CR0_WP, CR0_MP | CR0_EM, CR0_ET | CR0_NE | CR0_WP | CR0_PE | CR0_MP | CR0_EM },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        set_guest_cr0(cases[i].before);
        v.exit_qual = cr_qual(0, CR_ACCESS_LMSW, 0, cases[i].source);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        assert_int_equal(v.cr0_shadow, cases[i].after);
        assert_int_equal(fake_vmcs_get(CR0_READ_SHADOW), cases[i].after);
        assert_rip_advanced(2);
    }
}

/* CR0 bits clear in the guest/host mask (WP here) belong to the guest: it changes them with
 * MOV to CR0 without an exit (SDM 26.1.3), so their value is GUEST_CR0's, not the shadow's;
 * LMSW leaves CR0 bits above 3 unchanged (SDM Vol. 2 LMSW). Real mode sets WP, then LMSW
 * enters protected mode (exits: PE is the host's). */
static void test_lmsw_keeps_guest_owned_bits(void **state)
{
    (void)state;
    v.cr0_shadow = CR0_ET;
    fake_vmcs_set(CR0_GUEST_HOST_MASK, cr0_host_owned());
    fake_vmcs_set(CR0_READ_SHADOW, CR0_ET);
    fake_vmcs_set(GUEST_CR0, cr0_real(CR0_ET) | CR0_WP);
    v.exit_qual = cr_qual(0, CR_ACCESS_LMSW, 0, CR0_PE);
    assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
    assert_int_equal(fake_vmcs_get(GUEST_CR0) & (CR0_PE | CR0_WP), CR0_PE | CR0_WP);
}

/* MOV to CR0: #GP for PG without PE, NW without CD, or PG with EFER.LME and CR4.PAE clear;
 * PG with LME activates long mode (EFER.LMA, the IA-32e mode entry control, SDM 10.8.5). */
static void test_mov_to_cr0(void **state)
{
    static const struct { uint64_t cr0, cr4, efer; bool gp; uint64_t efer_after; bool ia32e; } cases[] = {
        { CR0_PG | CR0_PE, CR4_PAE, EFER_LME, false, EFER_LME | EFER_LMA, true },
        { CR0_PG | CR0_PE, 0, EFER_LME, true, 0, false },
        { CR0_PG, CR4_PAE, 0, true, 0, false },
        { CR0_PE | CR0_NW, 0, 0, true, 0, false },
        { CR0_PE | CR0_NE, 0, EFER_LME, false, EFER_LME, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.cr4_shadow = cases[i].cr4;
        fake_vmcs_set(GUEST_IA32_EFER, cases[i].efer);
        fake_vmcs_set(VM_ENTRY_CONTROLS, 0);
        v.regs.rax = cases[i].cr0;
        v.exit_qual = cr_qual(0, CR_ACCESS_MOV_TO, RAX, 0);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        if (cases[i].gp) {
            assert_int_equal(v.pending_event, GP_EVENT);
            assert_int_equal(fake_vmcs_writes(GUEST_CR0), 0);
            assert_rip_kept();
            continue;
        }
        assert_int_equal(fake_vmcs_get(CR0_READ_SHADOW), cases[i].cr0 | CR0_ET);
        assert_int_equal(fake_vmcs_get(GUEST_IA32_EFER), cases[i].efer_after);
        assert_int_equal(fake_vmcs_get(VM_ENTRY_CONTROLS) & VM_ENTRY_IA32E_MODE,
                         cases[i].ia32e ? VM_ENTRY_IA32E_MODE : 0);
        assert_rip_advanced(2);
    }
}

/* PAE paging outside long mode: with EPT the CPU does not read the PDPTEs, MOV to CR0 loads
 * them into the VMCS (SDM 4.4.1, 26.3.2.4). */
static void test_pae_paging_loads_pdptes(void **state)
{
    (void)state;
    static const uint64_t pdpte[4] = { 0x6001, 0x7001, 0, 0x8001 };
    memcpy(ram + 0x5000, pdpte, sizeof pdpte);
    fake_vmcs_set(GUEST_CR3, 0x5000);
    v.cr4_shadow = CR4_PAE;
    v.regs.rax = CR0_PG | CR0_PE;
    v.exit_qual = cr_qual(0, CR_ACCESS_MOV_TO, RAX, 0);
    assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
    assert_int_equal(fake_vmcs_get(GUEST_PDPTE0), 0x6001);
    assert_int_equal(fake_vmcs_get(GUEST_PDPTE1), 0x7001);
    assert_int_equal(fake_vmcs_writes(GUEST_PDPTE2), 1);
    assert_int_equal(fake_vmcs_get(GUEST_PDPTE3), 0x8001);
}

/* A present PDPTE with a reserved bit (2:1, 8:5, or above MAXPHYADDR) makes the MOV that would
 * load it #GP, and nothing changes (SDM 4.4.1, Table 4-8); a not-present one may hold anything;
 * PDPTEs outside RAM read all-ones, so they fault too. */
static void test_pae_reserved_pdpte(void **state)
{
    static const struct { uint64_t pdpte0, cr3; bool gp; } cases[] = {
        { 0x6001 | 1u << 1, 0x5000, true },         /* bit 1 */
        { 0x6001 | 1u << 7, 0x5000, true },         /* bit 7 (PS is reserved here) */
        { 0x6001 | 1ull << 62, 0x5000, true },      /* above any MAXPHYADDR */
        { 0xFFFFFFFFFFFFFFFEull, 0x5000, false },   /* not present: ignored */
        { 0x6001, 0x7FFFFFE0, true },               /* CR3 outside RAM: all-ones */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        const uint64_t pdpte[4] = { cases[i].pdpte0, 0, 0, 0 };
        memcpy(ram + 0x5000, pdpte, sizeof pdpte);
        fake_vmcs_set(GUEST_CR3, cases[i].cr3);
        v.cr4_shadow = CR4_PAE;
        v.regs.rax = CR0_PG | CR0_PE;
        v.exit_qual = cr_qual(0, CR_ACCESS_MOV_TO, RAX, 0);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, cases[i].gp ? GP_EVENT : 0);
        assert_int_equal(v.cr0_shadow & CR0_PG, cases[i].gp ? 0 : CR0_PG);
        assert_int_equal(fake_vmcs_writes(GUEST_PDPTE0), cases[i].gp ? 0 : 1);
    }
}

/* MOV to CR4: #GP for VMXE/SMXE (VMX and SMX are hidden), a bit the CPU lacks, or PAE clear in
 * long mode (SDM Vol. 2 MOV CR); otherwise the shadow is the value and the CPU runs it with
 * VMXE set (SDM 24.8 fixed bits). */
static void test_mov_to_cr4(void **state)
{
    static const struct { uint64_t cr4, efer; bool gp; } cases[] = {
        { CR4_VMXE, 0, true },
        { CR4_SMXE | CR4_PAE, 0, true },
        { 1u << 12, 0, true },                      /* LA57: not in this CPU's CR4_FIXED1 */
        { CR4_PSE, EFER_LME | EFER_LMA, true },
        { CR4_PAE | CR4_PSE | CR4_OSFXSR, 0, false },
        { CR4_PAE | CR4_OSXSAVE, EFER_LME | EFER_LMA, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.cr4_shadow = CR4_PAE;
        fake_vmcs_set(GUEST_IA32_EFER, cases[i].efer);
        v.regs.rsi = cases[i].cr4;
        v.exit_qual = cr_qual(4, CR_ACCESS_MOV_TO, RSI, 0);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        if (cases[i].gp) {
            assert_int_equal(v.pending_event, GP_EVENT);
            assert_int_equal(v.cr4_shadow, CR4_PAE);
            assert_int_equal(fake_vmcs_writes(GUEST_CR4) + fake_vmcs_writes(CR4_READ_SHADOW), 0);
            assert_rip_kept();
        } else {
            assert_int_equal(fake_vmcs_get(CR4_READ_SHADOW), cases[i].cr4);
            assert_int_equal(fake_vmcs_get(GUEST_CR4), cases[i].cr4 | CR4_VMXE);
            assert_rip_advanced(2);
        }
    }
}

/* CR4.PCIDE (SDM Vol. 2B MOV CR): setting it #GPs outside IA-32e mode or with CR3[11:0]
 * not 0; clearing CR0.PG while it is set #GPs. A write let through here would fail the
 * VM entry ("CR4.PCIDE set in 32-bit guest"), stopping the guest instead of faulting it. */
static void test_pcide(void **state)
{
    static const struct { uint64_t efer, cr3; bool gp; } cases[] = {
        { EFER_LME | EFER_LMA, 0x1000, false },
        { EFER_LME | EFER_LMA, 0x1005, true },
        { 0, 0x1000, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.cr4_shadow = CR4_PAE;
        fake_vmcs_set(GUEST_IA32_EFER, cases[i].efer);
        fake_vmcs_set(GUEST_CR3, cases[i].cr3);
        v.regs.rsi = CR4_PAE | CR4_PCIDE;
        v.exit_qual = cr_qual(4, CR_ACCESS_MOV_TO, RSI, 0);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, cases[i].gp ? GP_EVENT : 0);
        assert_int_equal(v.cr4_shadow, cases[i].gp ? CR4_PAE : CR4_PAE | CR4_PCIDE);
    }
    fake_setup(state);
    v.cr0_shadow = CR0_PE | CR0_PG | CR0_ET;
    v.cr4_shadow = CR4_PAE | CR4_PCIDE;
    fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    v.regs.rsi = CR0_PE | CR0_ET;
    v.exit_qual = cr_qual(0, CR_ACCESS_MOV_TO, RSI, 0);
    assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, GP_EVENT);
    assert_int_equal(v.cr0_shadow, CR0_PE | CR0_PG | CR0_ET);
    assert_rip_kept();
}

/* MOV DR: DR0-3 and DR6 (DR4 its alias) are the vCPU's and live in the CPU while it runs (the
 * fake's fake_dr; vcpu->dr keeps DR0-3 for the next switch), DR7 (DR5 its alias) the VMCS's with
 * bit 10 reading as 1 and bits 63:32 clear (SDM 18.2, Vol. 2 MOV DR); exit qualification
 * Table 28-4. */
static void test_dr_access(void **state)
{
    enum { TO_DR = 0, FROM_DR = 1 << 4 };
    static const struct { unsigned dr, dir, reg; uint64_t value; } cases[] = {
        { 0, TO_DR, RBX, 0x1000 }, { 1, TO_DR, RBX, 0x2000 }, { 2, TO_DR, RBX, 0x3000 }, { 3, TO_DR, RBX, 0x4000 },
        { 6, TO_DR, RAX, 0xFFFF4FF1 }, { 4, TO_DR, RAX, 0xFFFF0FF2 },
        { 7, TO_DR, RAX, 0xFFFFFFFF00000155ull }, { 5, TO_DR, RAX, 0x2 },
        { 0, FROM_DR, RDX, 0 }, { 3, FROM_DR, RDX, 0 }, { 6, FROM_DR, RSI, 0 }, { 7, FROM_DR, RSP, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        for (int k = 0; k < 4; k++)
            v.dr[k] = fake_dr[k] = 0xD0 + k;
        fake_dr[6] = 0xFFFF0FF0;
        fake_vmcs_set(GUEST_DR7, 0x400);
        fake_vmcs_set(GUEST_RSP, 0x8000);
        fake_vmcs_set(VM_EXIT_INSTRUCTION_LEN, 3);
        const unsigned dr = cases[i].dr, reg = cases[i].reg;
        if (reg != RSP)
            *reg_slot(reg) = cases[i].value;
        v.exit_reason = EXIT_REASON_DR_ACCESS;
        v.exit_qual = dr | cases[i].dir | reg << 8;
        assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
        assert_rip_advanced(3);
        if (cases[i].dir == FROM_DR) {
            uint64_t want = dr < 4 ? 0xD0u + dr : dr == 6 ? 0xFFFF0FF0 : 0x400;
            assert_int_equal(reg == RSP ? fake_vmcs_get(GUEST_RSP) : *reg_slot(reg), want);
            continue;
        }
        for (unsigned k = 0; k < 4; k++) {
            assert_int_equal(v.dr[k], k == dr ? cases[i].value : 0xD0u + k);
            assert_int_equal(fake_dr[k], k == dr ? cases[i].value : 0xD0u + k);
        }
        assert_int_equal(fake_dr[6], dr == 6 || dr == 4 ? cases[i].value : 0xFFFF0FF0);
        assert_int_equal(fake_vmcs_get(GUEST_DR7), dr == 7 || dr == 5 ? (cases[i].value & 0xFFFFFFFF) | 0x400 : 0x400);
    }
}

/* DR4 and DR5 alias DR6 and DR7 only while CR4.DE=0; with DE=1 a MOV to or from them is #UD
 * (SDM 18.2.2). */
static void test_dr4_dr5_with_de(void **state)
{
    for (unsigned dr = 4; dr <= 5; dr++) {
        fake_setup(state);
        v.cr4_shadow = CR4_DE;
        v.exit_reason = EXIT_REASON_DR_ACCESS;
        v.exit_qual = dr | (1u << 4) | (RAX << 8);
        assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, UD_EVENT);
        assert_rip_kept();
    }
}

/* Clearing CR0.PG in 64-bit mode (IA-32e mode, CS.L=1) is #GP(0) and changes nothing (SDM
 * Vol. 2B MOV CR, 64-bit mode exceptions); IA-32e mode is left from compatibility mode (CS.L=0),
 * where the same MOV deactivates it: EFER.LMA and the IA-32e mode entry control clear (Vol. 3A
 * 10.8.5.4). */
static void test_clear_pg_in_64bit_mode(void **state)
{
    static const struct { uint32_t cs_ar; bool gp; } cases[] = {
        { 0xA09B, true },           /* L=1: 64-bit mode */
        { 0xC09B, false },          /* L=0, D=1: compatibility mode */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        v.cr0_shadow = CR0_PE | CR0_PG | CR0_ET;
        v.cr4_shadow = CR4_PAE;
        fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
        fake_vmcs_set(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
        fake_vmcs_set(GUEST_CS_AR_BYTES, cases[i].cs_ar);
        v.regs.rax = CR0_PE | CR0_ET;
        v.exit_qual = cr_qual(0, CR_ACCESS_MOV_TO, RAX, 0);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        if (cases[i].gp) {
            assert_int_equal(v.pending_event, GP_EVENT);
            assert_int_equal(v.cr0_shadow, CR0_PE | CR0_PG | CR0_ET);
            assert_int_equal(fake_vmcs_writes(GUEST_CR0) + fake_vmcs_writes(GUEST_IA32_EFER), 0);
            assert_rip_kept();
        } else {
            assert_int_equal(v.pending_event, 0);
            assert_int_equal(v.cr0_shadow, CR0_PE | CR0_ET);
            assert_int_equal(fake_vmcs_get(GUEST_IA32_EFER), EFER_LME);
            assert_int_equal(fake_vmcs_get(VM_ENTRY_CONTROLS) & VM_ENTRY_IA32E_MODE, 0);
            assert_rip_advanced(2);
        }
    }
}

/* What the guest's CPUID (the emulated one, through its exit) answers. */
static void guest_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
    struct guest_regs saved = v.regs;
    uint64_t rip_writes = fake_vmcs_writes(GUEST_RIP);
    v.regs.rax = leaf, v.regs.rcx = subleaf;
    v.exit_reason = EXIT_REASON_CPUID;
    assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
    r[0] = (uint32_t)v.regs.rax, r[1] = (uint32_t)v.regs.rbx, r[2] = (uint32_t)v.regs.rcx, r[3] = (uint32_t)v.regs.rdx;
    v.regs = saved;
    fake_vmcs_set(GUEST_RIP, START_RIP);
    fake_vmcs.f[fake_vmcs_slot(GUEST_RIP.enc)].writes = (unsigned)rip_writes;
}

/* Every CR4 bit a guest can set is one its CPUID reports; any other is reserved and MOV to CR4
 * #GPs (SDM Vol. 2B MOV CR; Vol. 3A 2.5 names each bit's CPUID flag). Checked against the
 * guest's own CPUID answers, with a CPU that would allow every bit in VMX operation
 * (CR4_FIXED1 all ones), one bit at a time. MCE (CPUID.1:EDX[7], always hidden) and VMXE
 * (CPUID.1:ECX[5], hidden) must fault whatever the host CPU is. */
static void test_cr4_bits_follow_cpuid(void **state)
{
    enum { EBX = 1, ECX = 2, EDX = 3 };
    static const struct { unsigned bit; uint32_t leaf; unsigned reg, flag; } table[] = {
        { 0, 1, EDX, 1 }, { 1, 1, EDX, 1 }, { 2, 1, EDX, 4 }, { 3, 1, EDX, 2 }, { 4, 1, EDX, 3 },
        { 5, 1, EDX, 6 }, { 6, 1, EDX, 7 }, { 7, 1, EDX, 13 }, { 9, 1, EDX, 24 }, { 10, 1, EDX, 25 },
        { 11, 7, ECX, 2 }, { 12, 7, ECX, 16 }, { 13, 1, ECX, 5 }, { 14, 1, ECX, 6 }, { 16, 7, EBX, 0 },
        { 18, 1, ECX, 26 }, { 19, 7, ECX, 23 }, { 20, 7, EBX, 7 }, { 21, 7, EBX, 20 },
        { 22, 7, ECX, 3 }, { 24, 7, ECX, 31 }, { 25, 7, EDX, 5 },
    };
    unsigned checked_mce = 0;
    for (unsigned bit = 0; bit < 64; bit++) {
        if (bit == 17 || bit == 23)
            continue;               /* PCIDE and CET have conditions of their own: below */
        fake_setup(state);
        vmx_caps.cr4_fixed1 = ~0ull;
        uint32_t l1[4], l7[4];
        guest_cpuid(1, 0, l1);
        guest_cpuid(7, 0, l7);
        bool allowed = bit == 8;    /* PCE: no CPUID flag */
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
            if (table[i].bit == bit)
                allowed = ((table[i].leaf == 1 ? l1 : l7)[table[i].reg] >> table[i].flag) & 1;
        if (bit == 6 || bit == 13) {
            assert_false(allowed);
            checked_mce++;
        }
        fake_vmcs_set(GUEST_IA32_EFER, 0);
        v.regs.rsi = 1ull << bit;
        v.exit_qual = cr_qual(4, CR_ACCESS_MOV_TO, RSI, 0);
        assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
        if (v.pending_event != (allowed ? 0u : GP_EVENT))
            fail_msg("MOV to CR4 with bit %u alone: %s expected (CPUID %s it)", bit,
                     allowed ? "no fault" : "#GP", allowed ? "reports" : "does not report");
    }
    assert_int_equal(checked_mce, 2);
}

/* CR4.MCE while CPUID.1:EDX.MCE reads 0: #GP, even on a CPU whose CR4_FIXED1 allows it (the
 * fake's 0x3727FF does). */
static void test_cr4_mce_reserved(void **state)
{
    (void)state;
    v.regs.rax = CR4_MCE;
    v.exit_qual = cr_qual(4, CR_ACCESS_MOV_TO, RAX, 0);
    assert_int_equal(exit_cr_access(&v), EXIT_CONTINUE);
    assert_int_equal(v.pending_event, GP_EVENT);
    assert_int_equal(v.cr4_shadow, 0);
    assert_rip_kept();
}

/* MOV DR at CPL > 0: #GP(0). The exit comes before the CPU's own privilege check (SDM Vol. 3C
 * 26.1.3, MOV DR), so the handler makes it; a GD that is set does not turn it into #DB (the
 * privilege check comes first), and stays set. */
static void test_dr_access_cpl3(void **state)
{
    for (unsigned dir = 0; dir < 2; dir++) {
        for (unsigned gd = 0; gd < 2; gd++) {
            fake_setup(state);
            fake_vmcs_set(GUEST_SS_AR_BYTES, 0xC0F3);       /* DPL 3 */
            fake_vmcs_set(GUEST_DR7, 0x400 | (gd ? 1u << 13 : 0));
            v.regs.rax = 0x1000;
            fake_dr[0] = 0xD0;
            v.exit_reason = EXIT_REASON_DR_ACCESS;
            v.exit_qual = 0 | dir << 4 | RAX << 8;
            assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
            assert_int_equal(v.pending_event, GP_EVENT);
            assert_int_equal(fake_dr[0], 0xD0);
            assert_int_equal(v.regs.rax, 0x1000);
            assert_int_equal(fake_vmcs_get(GUEST_DR7), 0x400 | (gd ? 1u << 13 : 0));
            assert_rip_kept();
        }
    }
}

/* DR7.GD: the next MOV to or from any debug register faults with #DB (no error code, RIP on the
 * MOV), DR6.BD set and the rest of DR6 kept, DR7.GD cleared for the handler, nothing moved
 * (SDM Vol. 3B 18.2.4, 18.3.1.2). */
static void test_dr7_general_detect(void **state)
{
    static const struct { unsigned dr, dir; } cases[] = { { 0, 0 }, { 7, 1 << 4 }, { 7, 0 }, { 6, 1 << 4 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        fake_vmcs_set(GUEST_DR7, 0x400 | (1u << 13) | 0x3);
        fake_dr[0] = 0xD0;
        fake_dr[6] = 0xFFFF0FF1;
        v.regs.rbx = 0x1234;
        v.exit_reason = EXIT_REASON_DR_ACCESS;
        v.exit_qual = cases[i].dr | cases[i].dir | RBX << 8;
        assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
        assert_int_equal(v.pending_event, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | 1);
        assert_int_equal(fake_dr[6], 0xFFFF0FF1 | (1u << 13));
        assert_int_equal(fake_vmcs_get(GUEST_DR7), 0x400 | 0x3);
        assert_int_equal(fake_dr[0], 0xD0);
        assert_int_equal(v.regs.rbx, 0x1234);
        assert_rip_kept();
    }
}

/* In 64-bit mode a 1 in bits 63:32 of the value for DR6 or DR7 is #GP(0) (SDM Vol. 2B MOV DR,
 * 64-bit mode exceptions); outside it the operand is 32 bits and the upper half is not seen.
 * DR0-DR3 take all 64 bits in 64-bit mode. */
static void test_dr_upper_bits(void **state)
{
    static const struct { unsigned dr; uint64_t value; bool mode64, gp; } cases[] = {
        { 7, 0x1ull << 32 | 0x1, true, true },
        { 6, 0x1ull << 63, true, true },
        { 5, 0x1ull << 40, true, true },                /* DR5 is DR7 with CR4.DE=0 */
        { 7, 0x1ull << 32 | 0x1, false, false },
        { 0, 0xFFFF800000001000ull, true, false },
        { 0, 0xFFFF800000001000ull, false, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_setup(state);
        if (cases[i].mode64) {
            fake_vmcs_set(GUEST_IA32_EFER, EFER_LME | EFER_LMA);
            fake_vmcs_set(GUEST_CS_AR_BYTES, 0xA09B);
        }
        fake_vmcs_set(GUEST_DR7, 0x400);
        fake_dr[6] = 0xFFFF0FF0;
        v.regs.rcx = cases[i].value;
        v.exit_reason = EXIT_REASON_DR_ACCESS;
        v.exit_qual = cases[i].dr | RCX << 8;
        assert_int_equal(exit_dispatch(&v), EXIT_CONTINUE);
        if (cases[i].gp) {
            assert_int_equal(v.pending_event, GP_EVENT);
            assert_int_equal(fake_vmcs_get(GUEST_DR7), 0x400);
            assert_int_equal(fake_dr[6], 0xFFFF0FF0);
            assert_rip_kept();
            continue;
        }
        uint64_t want = cases[i].mode64 ? cases[i].value : (uint32_t)cases[i].value;
        if (cases[i].dr == 7)
            assert_int_equal(fake_vmcs_get(GUEST_DR7), want | 0x400);
        else
            assert_int_equal(fake_dr[0], want);
        assert_rip_advanced(2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_mov_to_cr8),
        FAKE_TEST(test_mov_to_cr8_from_rsp),
        FAKE_TEST(test_mov_from_cr8_every_register),
        FAKE_TEST(test_cr8_without_lapic),
        FAKE_TEST(test_clear_pg_in_64bit_mode),
        FAKE_TEST(test_cr4_bits_follow_cpuid),
        FAKE_TEST(test_cr4_mce_reserved),
        FAKE_TEST(test_clts),
        FAKE_TEST(test_lmsw),
        FAKE_TEST(test_lmsw_keeps_guest_owned_bits),
        FAKE_TEST(test_mov_to_cr0),
        FAKE_TEST(test_pae_paging_loads_pdptes),
        FAKE_TEST(test_pae_reserved_pdpte),
        FAKE_TEST(test_mov_to_cr4),
        FAKE_TEST(test_pcide),
        FAKE_TEST(test_dr_access),
        FAKE_TEST(test_dr4_dr5_with_de),
        FAKE_TEST(test_dr_access_cpl3),
        FAKE_TEST(test_dr7_general_detect),
        FAKE_TEST(test_dr_upper_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Hardware task switches (SDM Vol. 3A 7.3): the state machine over struct ts_cpu, pure, and
 * the exit handler that runs it on the VMCS's guest state.
 *
 * Overview. A CALL or JMP to a TSS or task gate, an IRET with EFLAGS.NT=1, and an interrupt or
 * exception through a task gate of the IDT all switch tasks, and in VMX non-root operation
 * each exits (TASK_SWITCH, SDM Vol. 3C 26.4.2) once the CPU has checked the gate and the new
 * TSS descriptor. task_switch() then does what the CPU would: the checks again (step 2-4),
 * the busy flags and the old task's state in its TSS (steps 6-10, before the commit point:
 * a fault there leaves everything as it was and belongs to the old task), then TR, CR0.TS,
 * CR3, the registers and the LDTR and segments of the new task, whose descriptor checks fault
 * in the new task (steps 11-13, Table 7-1), and an exception's error code on its stack. */
#include "vmx/task_switch.h"
#include "vmx/exits.h"
#include "kernel/cpu.h"
#include "kernel/string.h"

#define TS_VEC_DB 1
#define TS_VEC_DF 8
#define TS_VEC_TS 10
#define TS_VEC_NP 11
#define TS_VEC_SS 12
#define TS_VEC_GP 13
#define TS_VEC_PF 14

#define TS_EFLAGS_NT (1u << 14)
#define TS_EFLAGS_VM (1u << 17)
/* The defined flags, CF to ID (SDM Vol. 1 3.4.3); bit 1 is always 1, the rest are 0. */
#define TS_EFLAGS_DEFINED 0x3F7FD5u
/* DR7's local enables L0-L3 and LE, which a task switch clears (SDM Vol. 3A 18.2.4). */
#define TS_DR7_LOCAL 0x155u
#define TS_CR0_TS 8u
#define TS_CR0_PG 0x80000000u

/* ---- Descriptors (SDM Vol. 3A 3.4.5 Figure 3-8; system types Table 3-2). */

#define TS_DESC_S    (1ull << 44)
#define TS_DESC_P    (1ull << 47)
#define TS_DESC_G    (1ull << 55)
#define TS_TYPE_ACCESSED 1u
#define TS_TYPE_RW       2u         /* readable code, writable data; in a TSS type: busy */
#define TS_TYPE_CONFORMING 4u
#define TS_TYPE_CODE     8u         /* in a TSS type: the 32-bit TSS */
#define TS_TYPE_LDT      2u
#define TS_AR_DB         (1u << 14)

static unsigned ts_desc_type(uint64_t d) { return (unsigned)(d >> 40) & 15; }
static unsigned ts_desc_dpl(uint64_t d) { return (unsigned)(d >> 45) & 3; }

static uint32_t ts_desc_base(uint64_t d)
{
    return (uint32_t)((d >> 16) & 0xFFFFFF) | (uint32_t)((d >> 32) & 0xFF000000);
}

/* The limit in bytes: 4 KiB units with G=1. */
static uint32_t ts_desc_limit(uint64_t d)
{
    uint32_t l = (uint32_t)(d & 0xFFFF) | (uint32_t)((d >> 32) & 0xF0000);
    return (d & TS_DESC_G) ? l << 12 | 0xFFF : l;
}

/* A segment register loaded from descriptor d: its bytes 5-6 are the VMCS access rights. */
static struct ts_seg ts_seg_from_desc(uint16_t sel, uint64_t d)
{
    return (struct ts_seg){ sel, ts_desc_base(d), ts_desc_limit(d), (uint32_t)(d >> 40) & 0xF0FF };
}

static struct ts_seg ts_seg_unusable(uint16_t sel)
{
    return (struct ts_seg){ sel, 0, 0, TS_AR_UNUSABLE };
}

/* ---- The two TSS formats: 32-bit (SDM 7.2.1 Figure 7-2) and 16-bit (7.6 Figure 7-11). */

struct ts_format {
    uint8_t size;           /* what the CPU reads: the smallest valid limit + 1 */
    uint8_t dyn_end;        /* end of the dynamic fields it saves, the old TSS's limit + 1 at least */
    uint8_t width;          /* bytes of EIP, EFLAGS and each general register */
    uint8_t eip, eflags, gpr, seg, nseg, ldt;
    int8_t cr3, trap;       /* -1: not in this format */
};

static const struct ts_format ts_tss32 = {
    .size = 0x68, .dyn_end = 0x60, .width = 4, .eip = 0x20, .eflags = 0x24, .gpr = 0x28,
    .seg = 0x48, .nseg = 6, .ldt = 0x60, .cr3 = 0x1C, .trap = 0x64,
};
static const struct ts_format ts_tss16 = {
    .size = 0x2C, .dyn_end = 0x2A, .width = 2, .eip = 0x0E, .eflags = 0x10, .gpr = 0x12,
    .seg = 0x22, .nseg = 4, .ldt = 0x2A, .cr3 = -1, .trap = -1,
};

static uint32_t ts_get(const uint8_t *p, unsigned off, unsigned width)
{
    uint32_t v = 0;
    memcpy(&v, p + off, width);
    return v;
}

static void ts_put(uint8_t *p, unsigned off, uint32_t v, unsigned width)
{
    memcpy(p + off, &v, width);
}

/* ---- One run: the state, the guest's memory and the outcome. */

struct ts_run {
    struct ts_cpu *cpu;
    const struct ts_ops *ops;
    const struct ts_request *req;
    struct ts_outcome *out;
};

/* Records the fault and returns false, so that a check reads `return ts_fault(...)`. EXT is set
 * in the error code when an external event caused the switch (SDM Vol. 3A 6.13). */
static bool ts_fault(struct ts_run *r, uint8_t vector, uint32_t error, const char *rule)
{
    struct ts_outcome *o = r->out;
    o->fault = true;
    o->vector = vector;
    o->has_error = true;
    o->error = error | (r->req->ext ? 1u : 0u);
    o->rule = rule;
    return false;
}

static bool ts_sel_fault(struct ts_run *r, uint8_t vector, uint16_t sel, const char *rule)
{
    return ts_fault(r, vector, sel & 0xFFFCu, rule);
}

/* Reads or writes guest linear memory. An access the guest's paging refuses is a #PF (CR2 the
 * address), one outside the guest's RAM stops the guest. */
static bool ts_mem(struct ts_run *r, uint32_t gla, void *buf, unsigned len, bool write)
{
    const struct ts_ops *ops = r->ops;
    int rc = write ? ops->write(ops->ctx, gla, buf, len) : ops->read(ops->ctx, gla, buf, len);
    if (rc == 0)
        return true;
    if (rc == TS_MEM_NOT_RAM) {
        r->out->crash = true;
        r->out->rule = "a TSS or descriptor outside the guest's RAM";
        return false;
    }
    r->out->fault = true;
    r->out->vector = TS_VEC_PF;
    r->out->has_error = true;
    r->out->error = ops->pf_error ? *ops->pf_error : write ? 2 : 0;
    r->out->cr2 = gla;
    r->out->rule = "#PF: a TSS or descriptor the guest's paging refuses";
    return false;
}

/* The descriptor of sel in the GDT, or for TI=1 in the LDT, and its linear address.
 * Returns 0, 1 when sel is beyond its table's limit (or the LDT is unusable), -1 on a
 * memory fault (recorded). */
static int ts_fetch_desc(struct ts_run *r, uint16_t sel, uint64_t *d, uint32_t *at)
{
    const struct ts_cpu *c = r->cpu;
    uint32_t base = c->gdt_base, limit = c->gdt_limit;
    if (sel & 4) {
        if (c->seg[TS_LDTR].ar & TS_AR_UNUSABLE)
            return 1;
        base = c->seg[TS_LDTR].base;
        limit = c->seg[TS_LDTR].limit;
    }
    if ((sel | 7u) > limit)
        return 1;
    *at = base + (sel & ~7u);
    return ts_mem(r, *at, d, 8, false) ? 0 : -1;
}

/* Loading a segment register sets the descriptor's accessed bit in memory (SDM 3.4.5.1). */
static bool ts_touch(struct ts_run *r, uint32_t at, uint64_t *d)
{
    if (*d & (1ull << 40))
        return true;
    *d |= 1ull << 40;
    uint8_t b = (uint8_t)(*d >> 40);
    return ts_mem(r, at + 5, &b, 1, true);
}

/* Steps 2-4 of SDM 7.3 on the new TSS descriptor. The CPU made them before it exited (SDM Vol.
 * 3C 26.4.2); they are made again, on the descriptor in memory now. IRET reads its selector from
 * the back link and faults #TS where CALL, JMP and events fault #GP (SDM Vol. 2 IRET). */
static bool ts_check_new(struct ts_run *r, uint64_t *d, const struct ts_format **f)
{
    uint16_t sel = r->req->sel;
    bool iret = r->req->source == TS_SRC_IRET;
    uint8_t bad = iret ? TS_VEC_TS : TS_VEC_GP;
    uint32_t at;
    if ((sel & 4) || !(sel & 0xFFFC))
        return ts_sel_fault(r, bad, sel, "a TSS selector must be a non-null GDT selector (SDM 7.2.2)");
    int rc = ts_fetch_desc(r, sel, d, &at);
    if (rc < 0)
        return false;
    if (rc > 0)
        return ts_sel_fault(r, bad, sel, "the TSS selector must be within the GDT limit (SDM 7.3 step 2)");
    unsigned type = ts_desc_type(*d);
    if ((*d & TS_DESC_S) || (type & 5) != 1)            /* 1, 3, 9, 11: a 16- or 32-bit TSS */
        return ts_sel_fault(r, bad, sel, "the selector must name a TSS descriptor (SDM 7.2.2)");
    if (iret && !(type & TS_TYPE_RW))
        return ts_sel_fault(r, TS_VEC_TS, sel, "IRET: the previous task's TSS must be busy (SDM 7.3 step 4)");
    if (!iret && (type & TS_TYPE_RW))
        return ts_sel_fault(r, TS_VEC_GP, sel, "CALL, JMP, events: the new TSS must not be busy (SDM 7.3 step 4)");
    if (!(*d & TS_DESC_P))
        return ts_sel_fault(r, TS_VEC_NP, sel, "the new TSS descriptor must be present (SDM 7.3 step 3)");
    *f = (type & TS_TYPE_CODE) ? &ts_tss32 : &ts_tss16;
    if (ts_desc_limit(*d) < (uint32_t)(*f)->size - 1)
        return ts_sel_fault(r, TS_VEC_TS, sel, "the new TSS limit must be >= 67H, 2BH if 16-bit (SDM 7.3 step 3)");
    return true;
}

/* The old task's dynamic state into its TSS image (SDM 7.3 step 8): EIP, EFLAGS, the general
 * registers and the selectors, each in a field of the format's width (the upper halves of
 * the 32-bit TSS's selector fields are left as they were). */
static void ts_save(uint8_t *img, const struct ts_format *f, const struct ts_cpu *c, uint32_t eflags)
{
    ts_put(img, f->eip, c->eip, f->width);
    ts_put(img, f->eflags, eflags, f->width);
    for (unsigned i = 0; i < 8; i++)
        ts_put(img, f->gpr + i * f->width, c->gpr[i], f->width);
    for (unsigned s = 0; s < f->nseg; s++)
        ts_put(img, f->seg + s * f->width, c->seg[s].sel, 2);
}

/* The new task's LDTR: a null selector leaves it unusable; else a present LDT descriptor in
 * the GDT, each failure #TS(LDT selector) (SDM Table 7-1, checks 5 and 10). */
static bool ts_load_ldtr(struct ts_run *r, uint16_t sel)
{
    uint64_t d;
    uint32_t at;
    if (sel & 4)
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new LDT selector must be in the GDT (SDM Table 7-1)");
    if (!(sel & 0xFFFC))
        return true;
    int rc = ts_fetch_desc(r, sel, &d, &at);
    if (rc < 0)
        return false;
    if (rc > 0 || (d & TS_DESC_S) || ts_desc_type(d) != TS_TYPE_LDT)
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new LDT selector must name an LDT descriptor (SDM Table 7-1)");
    if (!(d & TS_DESC_P))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new LDT must be present (SDM Table 7-1)");
    r->cpu->seg[TS_LDTR] = ts_seg_from_desc(sel, d);
    return true;
}

/* SS: a present writable data segment with DPL = CS.RPL = SS.RPL; #SS when not present, #TS
 * for the rest (SDM Table 7-1, checks 7-9 and 13). */
static bool ts_load_ss(struct ts_run *r, uint16_t sel, unsigned cpl)
{
    uint64_t d;
    uint32_t at;
    if (!(sel & 0xFFFC))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new task's SS must not be null (SDM Table 7-1)");
    int rc = ts_fetch_desc(r, sel, &d, &at);
    if (rc < 0)
        return false;
    unsigned type = ts_desc_type(d);
    if (rc > 0 || !(d & TS_DESC_S) || (type & TS_TYPE_CODE) || !(type & TS_TYPE_RW))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new SS must be a writable data segment (SDM Table 7-1)");
    if (!(d & TS_DESC_P))
        return ts_sel_fault(r, TS_VEC_SS, sel, "#SS: the new stack segment must be present (SDM Table 7-1)");
    if (ts_desc_dpl(d) != cpl || ts_desc_dpl(d) != (sel & 3u))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new SS's DPL must equal CS.RPL and SS.RPL (SDM Table 7-1)");
    if (!ts_touch(r, at, &d))
        return false;
    r->cpu->seg[TS_SS] = ts_seg_from_desc(sel, d);
    return true;
}

/* DS, ES, FS, GS: null is fine (unusable); else data or readable code, DPL >= CPL and RPL
 * unless conforming code, and present (#NP); the rest #TS (SDM Table 7-1, checks 14-17). */
static bool ts_load_data(struct ts_run *r, enum ts_sreg s, uint16_t sel, unsigned cpl)
{
    uint64_t d;
    uint32_t at;
    if (!(sel & 0xFFFC))
        return true;                                    /* left unusable by the caller */
    int rc = ts_fetch_desc(r, sel, &d, &at);
    if (rc < 0)
        return false;
    unsigned type = ts_desc_type(d), dpl = ts_desc_dpl(d);
    bool code = type & TS_TYPE_CODE;
    if (rc > 0 || !(d & TS_DESC_S) || (code && !(type & TS_TYPE_RW)))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: a new data segment must be data or readable code (SDM Table 7-1)");
    if ((!code || !(type & TS_TYPE_CONFORMING)) && ((sel & 3u) > dpl || cpl > dpl))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: a new data segment's DPL must be >= CPL and RPL (SDM Table 7-1)");
    if (!(d & TS_DESC_P))
        return ts_sel_fault(r, TS_VEC_NP, sel, "#NP: a new data segment must be present (SDM Table 7-1)");
    if (!ts_touch(r, at, &d))
        return false;
    r->cpu->seg[s] = ts_seg_from_desc(sel, d);
    return true;
}

/* CS: a present code segment, DPL = RPL if non-conforming, DPL <= RPL if conforming; #NP when
 * not present, #TS for the rest (SDM Table 7-1, checks 6, 11 and 12). */
static bool ts_load_cs(struct ts_run *r, uint16_t sel)
{
    uint64_t d;
    uint32_t at;
    if (!(sel & 0xFFFC))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new task's CS must not be null (SDM Table 7-1)");
    int rc = ts_fetch_desc(r, sel, &d, &at);
    if (rc < 0)
        return false;
    unsigned type = ts_desc_type(d), dpl = ts_desc_dpl(d), rpl = sel & 3u;
    if (rc > 0 || !(d & TS_DESC_S) || !(type & TS_TYPE_CODE))
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new CS must be a code segment (SDM Table 7-1)");
    if ((type & TS_TYPE_CONFORMING) ? dpl > rpl : dpl != rpl)
        return ts_sel_fault(r, TS_VEC_TS, sel, "#TS: the new CS's DPL must match its RPL (SDM Table 7-1)");
    if (!(d & TS_DESC_P))
        return ts_sel_fault(r, TS_VEC_NP, sel, "#NP: the new code segment must be present (SDM Table 7-1)");
    if (!ts_touch(r, at, &d))
        return false;
    r->cpu->seg[TS_CS] = ts_seg_from_desc(sel, d);
    return true;
}

/* The exception's error code on the new task's stack, 4 bytes for a 32-bit TSS and 2 for a
 * 16-bit one, with ESP or SP as SS.B says. */
static bool ts_push_error(struct ts_run *r, unsigned size)
{
    struct ts_cpu *c = r->cpu;
    const struct ts_seg *ss = &c->seg[TS_SS];
    uint32_t esp = c->gpr[4] - size;
    if (!(ss->ar & TS_AR_DB))
        esp = (c->gpr[4] & 0xFFFF0000u) | (esp & 0xFFFF);
    uint32_t v = r->req->error;
    if (!ts_mem(r, ss->base + ((ss->ar & TS_AR_DB) ? esp : esp & 0xFFFF), &v, size, true))
        return false;
    c->gpr[4] = esp;
    return true;
}

/* Step 13: the LDTR first (TI=1 selectors use it), then SS, the data segments and CS of the
 * new task, checked at the new CPL (CS.RPL), or virtual-8086 segments for EFLAGS.VM=1. */
static bool ts_load_segments(struct ts_run *r, const uint16_t sel[6], uint16_t ldt, bool is32)
{
    struct ts_cpu *c = r->cpu;
    if (!ts_load_ldtr(r, ldt))
        return false;
    if (is32 && (c->eflags & TS_EFLAGS_VM)) {           /* SDM 20.2.1 */
        for (unsigned s = TS_ES; s <= TS_GS; s++)
            c->seg[s] = (struct ts_seg){ sel[s], (uint32_t)sel[s] << 4, 0xFFFF, 0xF3 };
        return true;
    }
    static const enum ts_sreg data[4] = { TS_DS, TS_ES, TS_FS, TS_GS };
    unsigned cpl = sel[TS_CS] & 3u;
    if (!ts_load_ss(r, sel[TS_SS], cpl))
        return false;
    for (unsigned i = 0; i < 4; i++)
        if (!ts_load_data(r, data[i], sel[data[i]], cpl))
            return false;
    return ts_load_cs(r, sel[TS_CS]);
}

/* Steps 12-13 and the error code: the new task's registers from its TSS image, CR3, then its
 * LDTR and segments with their checks. A fault here is the new task's (out->committed). */
static void ts_load_new(struct ts_run *r, const uint8_t *img, const struct ts_format *f)
{
    struct ts_cpu *c = r->cpu;
    bool is32 = f == &ts_tss32;
    uint16_t sel[6] = { 0 };

    c->eip = ts_get(img, f->eip, f->width);
    c->eflags = (ts_get(img, f->eflags, f->width) & TS_EFLAGS_DEFINED) | 2u;
    if (r->req->source == TS_SRC_CALL || r->req->source == TS_SRC_GATE)
        c->eflags |= TS_EFLAGS_NT;                      /* step 9: a nested task */
    /* A 16-bit TSS holds the low halves; the upper ones are all ones, as Bochs and QEMU make
     * them (EIP's and EFLAGS' are zero). */
    for (unsigned i = 0; i < 8; i++)
        c->gpr[i] = is32 ? ts_get(img, f->gpr + 4 * i, 4) : 0xFFFF0000u | ts_get(img, f->gpr + 2 * i, 2);
    for (unsigned s = 0; s < f->nseg; s++)
        sel[s] = (uint16_t)ts_get(img, f->seg + s * f->width, 2);
    uint16_t ldt = (uint16_t)ts_get(img, f->ldt, 2);

    /* Until each is loaded and checked, a data segment or the LDTR is unusable with its new
     * selector; CS and SS keep the old task's descriptors (VM entry needs a usable CS). */
    for (unsigned s = TS_ES; s <= TS_GS; s++)
        if (s != TS_CS && s != TS_SS)
            c->seg[s] = ts_seg_unusable(sel[s]);
    c->seg[TS_LDTR] = ts_seg_unusable(ldt);

    if (is32 && (c->cr0 & TS_CR0_PG)) {                 /* CR3 only with paging (as Bochs does) */
        uint32_t cr3 = ts_get(img, (unsigned)f->cr3, 4);
        if (r->ops->load_cr3(r->ops->ctx, cr3) < 0) {
            ts_fault(r, TS_VEC_GP, 0, "#GP(0): a reserved bit in a PDPTE of the new CR3 (as MOV to CR3, SDM 4.4.1)");
            return;
        }
        c->cr3 = cr3;
    }
    if (!ts_load_segments(r, sel, ldt, is32))
        return;
    if (r->req->has_error && !ts_push_error(r, f->width))
        return;
    if (c->eip > c->seg[TS_CS].limit) {
        ts_fault(r, TS_VEC_GP, 0, "#GP(0): the new EIP must be within the CS limit (SDM 7.3)");
        return;
    }
    if (f->trap >= 0 && (ts_get(img, (unsigned)f->trap, 2) & 1))
        r->out->debug_trap = true;
}

/* Steps 6-10, the last before the commit point. JMP and IRET leave the old task (its busy
 * flag cleared), CALL and events nest the new one in it (back link); IRET saves the old task
 * with NT clear; all but IRET mark the new TSS busy. old is the old TSS's image as read, up to
 * its dynamic fields' end; old_hi the high half of its descriptor (JMP and IRET). */
static void ts_leave_old(struct ts_run *r, const struct ts_format *of, uint8_t *old, uint32_t old_hi,
                         uint64_t nd)
{
    struct ts_cpu *cpu = r->cpu;
    enum ts_source src = r->req->source;
    const struct ts_seg *tr = &cpu->seg[TS_TR];
    uint32_t nbase = ts_desc_base(nd), new_hi = (uint32_t)(nd >> 32), eflags = cpu->eflags;
    if (src == TS_SRC_JMP || src == TS_SRC_IRET) {
        old_hi &= ~(1u << 9);
        ts_mem(r, cpu->gdt_base + (tr->sel & ~7u) + 4, &old_hi, 4, true);
    }
    if (src == TS_SRC_IRET)
        eflags &= ~TS_EFLAGS_NT;
    ts_save(old, of, cpu, eflags);
    ts_mem(r, tr->base + of->eip, old + of->eip, of->dyn_end - of->eip, true);
    if (src == TS_SRC_CALL || src == TS_SRC_GATE) {
        uint16_t link = tr->sel;
        ts_mem(r, nbase, &link, 2, true);
    }
    if (src != TS_SRC_IRET) {
        new_hi |= 1u << 9;
        ts_mem(r, cpu->gdt_base + (r->req->sel & ~7u) + 4, &new_hi, 4, true);
    }
}

void task_switch(struct ts_cpu *cpu, const struct ts_ops *ops, const struct ts_request *req,
                 struct ts_outcome *out)
{
    struct ts_run run = { cpu, ops, req, out }, *r = &run;
    const struct ts_format *nf;
    uint64_t nd;
    memset(out, 0, sizeof *out);
    if (!ts_check_new(r, &nd, &nf))
        return;
    struct ts_seg *tr = &cpu->seg[TS_TR];
    const struct ts_format *of = (tr->ar & TS_TYPE_CODE) ? &ts_tss32 : &ts_tss16;
    if (tr->limit < of->dyn_end - 1u) {
        ts_sel_fault(r, TS_VEC_TS, tr->sel, "#TS: the old TSS's limit must hold its dynamic fields (SDM 7.2.1)");
        return;
    }
    /* Step 5: whatever is written before the commit point is read first, so that a #PF there
     * leaves the old task and memory as they were. */
    uint32_t nbase = ts_desc_base(nd), old_hi = 0;
    uint8_t old[0x68], img[0x68];
    if (!ts_mem(r, tr->base, old, of->dyn_end, false) || !ts_mem(r, nbase, img, nf->size, false))
        return;
    if ((req->source == TS_SRC_JMP || req->source == TS_SRC_IRET) &&
        !ts_mem(r, cpu->gdt_base + (tr->sel & ~7u) + 4, &old_hi, 4, false))
        return;
    ts_leave_old(r, of, old, old_hi, nd);
    ts_mem(r, nbase, img, nf->size, false);             /* the new TSS may overlap the old one */

    /* The commit point: from here on the switch completes and faults are the new task's. */
    out->committed = true;
    *tr = ts_seg_from_desc(req->sel, nd);
    tr->ar |= TS_TYPE_RW;                               /* busy */
    cpu->cr0 |= TS_CR0_TS;
    cpu->dr7 &= ~TS_DR7_LOCAL;
    ts_load_new(r, img, nf);
}

static bool ts_contributory(uint8_t v)
{
    return v == 0 || (v >= TS_VEC_TS && v <= TS_VEC_GP);
}

int ts_nested_exception(uint8_t first, uint8_t second)
{
    bool serious = ts_contributory(second) || second == TS_VEC_PF;
    if (first == TS_VEC_DF && serious)
        return -1;
    if ((ts_contributory(first) && ts_contributory(second)) || (first == TS_VEC_PF && serious))
        return TS_VEC_DF;
    return second;
}

/* ---- The exit handler: the guest state from the VMCS, task_switch(), and back. */

/* Exit qualification of a task switch (SDM Vol. 3C Table 28-2). */
static uint16_t ts_qual_selector(uint64_t q) { return (uint16_t)q; }
static enum ts_source ts_qual_source(uint64_t q) { return (enum ts_source)((q >> 30) & 3); }

struct ts_seg_fields {
    struct vmcs_field16 sel;
    struct vmcs_fieldNAT base;
    struct vmcs_field32 limit, ar;
};

static const struct ts_seg_fields *ts_fields(enum ts_sreg s)
{
    static const struct ts_seg_fields f[TS_NSREG] = {
        [TS_ES] = { GUEST_ES_SELECTOR, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR_BYTES },
        [TS_CS] = { GUEST_CS_SELECTOR, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_AR_BYTES },
        [TS_SS] = { GUEST_SS_SELECTOR, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR_BYTES },
        [TS_DS] = { GUEST_DS_SELECTOR, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR_BYTES },
        [TS_FS] = { GUEST_FS_SELECTOR, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR_BYTES },
        [TS_GS] = { GUEST_GS_SELECTOR, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR_BYTES },
        [TS_LDTR] = { GUEST_LDTR_SELECTOR, GUEST_LDTR_BASE, GUEST_LDTR_LIMIT, GUEST_LDTR_AR_BYTES },
        [TS_TR] = { GUEST_TR_SELECTOR, GUEST_TR_BASE, GUEST_TR_LIMIT, GUEST_TR_AR_BYTES },
    };
    return &f[s];
}

static void ts_cpu_read(struct vcpu *vcpu, struct ts_cpu *c)
{
    for (unsigned i = 0; i < 8; i++)
        c->gpr[i] = (uint32_t)vcpu_gpr_read(vcpu, i);
    c->eip = (uint32_t)vmcs_readnat(GUEST_RIP);
    c->eflags = (uint32_t)vmcs_readnat(GUEST_RFLAGS);
    c->cr0 = (uint32_t)vcpu->cr0_shadow;                /* PG, which matters here, is the host's */
    c->cr3 = (uint32_t)vmcs_readnat(GUEST_CR3);
    c->dr7 = (uint32_t)vmcs_readnat(GUEST_DR7);
    for (unsigned s = 0; s < TS_NSREG; s++) {
        const struct ts_seg_fields *f = ts_fields(s);
        c->seg[s] = (struct ts_seg){ vmcs_read16(f->sel), (uint32_t)vmcs_readnat(f->base),
                                     vmcs_read32(f->limit), vmcs_read32(f->ar) };
    }
    c->gdt_base = (uint32_t)vmcs_readnat(GUEST_GDTR_BASE);
    c->gdt_limit = vmcs_read32(GUEST_GDTR_LIMIT);
}

/* The new task into the VMCS. CR0.TS is the guest's bit (not in the guest/host mask), set in
 * GUEST_CR0; the shadow follows in case it is not. CR3 went in already (ts_load_cr3). */
static void ts_cpu_write(struct vcpu *vcpu, const struct ts_cpu *c)
{
    for (unsigned i = 0; i < 8; i++)
        vcpu_gpr_write(vcpu, i, c->gpr[i]);
    vmcs_writenat(GUEST_RIP, c->eip);
    vmcs_writenat(GUEST_RFLAGS, c->eflags);
    for (unsigned s = 0; s < TS_NSREG; s++) {
        const struct ts_seg_fields *f = ts_fields(s);
        vmcs_write16(f->sel, c->seg[s].sel);
        vmcs_writenat(f->base, c->seg[s].base);
        vmcs_write32(f->limit, c->seg[s].limit);
        vmcs_write32(f->ar, c->seg[s].ar);
    }
    vmcs_writenat(GUEST_CR0, vmcs_readnat(GUEST_CR0) | CR0_TS);
    vcpu->cr0_shadow |= CR0_TS;
    vmcs_writenat(CR0_READ_SHADOW, vcpu->cr0_shadow);
    vmcs_writenat(GUEST_DR7, c->dr7);
}

/* The error code of the last refused access (a vCPU runs on one CPU at a time, and a task
 * switch runs to its end without yielding it). */
static uint32_t ts_pf_error;

/* The TSS and descriptor accesses of a task switch are implicit supervisor accesses (SDM
 * Vol. 3A 4.6): the checked path, whatever the CPL. */
static int ts_vcpu_mem(struct vcpu *vcpu, uint32_t gla, void *buf, unsigned len, bool write)
{
    struct guest_fault fault;
    int rc = write ? guest_mem_write(vcpu, gla, buf, len, GUEST_IMPLICIT, &fault)
                   : guest_mem_read(vcpu, gla, buf, len, GUEST_IMPLICIT, &fault);
    if (rc == GUEST_MEM_FAULT) {
        ts_pf_error = fault.error;
        return TS_MEM_UNMAPPED;
    }
    return rc == 0 ? 0 : TS_MEM_NOT_RAM;
}

static int ts_read(void *ctx, uint32_t gla, void *dst, unsigned len)
{
    return ts_vcpu_mem(ctx, gla, dst, len, false);
}

static int ts_write(void *ctx, uint32_t gla, const void *src, unsigned len)
{
    return ts_vcpu_mem(ctx, gla, (void *)src, len, true);
}

/* CR3 from the new TSS. With PAE paging a changed CR3 loads the four PDPTEs (SDM 4.4.1), which
 * VM entry takes from the VMCS; memory of nothing reads all-ones, as cr.c's do. The guest's
 * TLB entries of the old address space go, as with MOV to CR3 (its VPID is flushed). */
static int ts_load_cr3(void *ctx, uint32_t cr3)
{
    struct vcpu *vcpu = ctx;
    if (cr3 != (uint32_t)vmcs_readnat(GUEST_CR3) && (vcpu->cr4_shadow & CR4_PAE)) {
        static const struct vmcs_field64 pdptes[4] = { GUEST_PDPTE0, GUEST_PDPTE1, GUEST_PDPTE2, GUEST_PDPTE3 };
        uint64_t e[4] = { ~0ull, ~0ull, ~0ull, ~0ull };
        const uint64_t *p = guest_ram_ptr(vcpu->ram, cr3 & 0xFFFFFFE0u, 32);
        for (int i = 0; i < 4; i++) {
            if (p)
                e[i] = p[i];
            if ((e[i] & 1) && (e[i] & guest_pdpte_reserved()))
                return -1;
        }
        for (int i = 0; i < 4; i++)
            vmcs_write64(pdptes[i], e[i]);
    }
    vmcs_writenat(GUEST_CR3, cr3);
    if (vcpu->vpid)
        invvpid(INVVPID_SINGLE_CONTEXT, vcpu->vpid, 0);
    return 0;
}

/* The fault task_switch() gave. During the delivery of an exception through a task gate it
 * combines with that exception as a second one would (#DF, or a triple fault). */
static enum exit_action ts_raise(struct vcpu *vcpu, int first, const struct ts_outcome *o)
{
    int v = first >= 0 ? ts_nested_exception((uint8_t)first, o->vector) : o->vector;
    if (v < 0)
        return exit_crash(vcpu, "triple fault (vector %u in a task switch for #DF)", o->vector);
    if (v == TS_VEC_DF) {
        vcpu_inject_exception(vcpu, TS_VEC_DF, true, 0);
        return EXIT_CONTINUE;
    }
    if (o->vector == TS_VEC_PF)
        vcpu->regs.cr2 = o->cr2;
    vcpu_inject_exception(vcpu, o->vector, o->has_error, o->error);
    return EXIT_CONTINUE;
}

/* Interruptibility after the switch: STI and MOV SS blocking end; an NMI delivered through a
 * task gate blocks NMIs until the next IRET, and the IRET that switched tasks ends it (SDM
 * Vol. 3A 6.7.1). */
static void ts_interruptibility(bool nmi, bool iret)
{
    uint32_t old = vmcs_read32(GUEST_INTERRUPTIBILITY_INFO), v = old;
    v &= ~(GUEST_INTR_STI_BLOCKING | GUEST_INTR_MOV_SS_BLOCKING);
    if (nmi)
        v |= GUEST_INTR_NMI_BLOCKING;
    if (iret)
        v &= ~GUEST_INTR_NMI_BLOCKING;
    if (v != old)
        vmcs_write32(GUEST_INTERRUPTIBILITY_INFO, v);
}

#define TS_DR6_BT (1u << 15)

enum exit_action exit_task_switch(struct vcpu *vcpu)
{
    if (vmcs_read64(GUEST_IA32_EFER) & EFER_LMA)        /* the CPU gives #GP first (SDM 7.7) */
        return exit_crash(vcpu, "task switch in IA-32e mode");
    struct ts_request req = { .sel = ts_qual_selector(vcpu->exit_qual), .source = ts_qual_source(vcpu->exit_qual) };
    uint32_t event = req.source == TS_SRC_GATE ? vmcs_read32(IDT_VECTORING_INFO_FIELD) : 0;
    uint32_t type = event & INTR_TYPE_MASK;
    bool hw_event = (event & INTR_INFO_VALID) &&
                    (type == INTR_TYPE_EXT_INTR || type == INTR_TYPE_NMI || type == INTR_TYPE_HW_EXCEPTION);
    if (event & INTR_INFO_VALID) {
        vcpu->pending_event = 0;                        /* vcpu_run requeued it: the switch delivers it */
        vcpu->pending_insn_len = 0;
        req.ext = hw_event;
        if (type == INTR_TYPE_HW_EXCEPTION && (event & INTR_INFO_DELIVER_CODE)) {
            req.has_error = true;
            req.error = vmcs_read32(IDT_VECTORING_ERROR_CODE);
        }
    }
    struct ts_cpu cpu;
    ts_cpu_read(vcpu, &cpu);
    if (!hw_event)                                      /* CALL, JMP, IRET, INT n: resume past it */
        cpu.eip += vmcs_read32(VM_EXIT_INSTRUCTION_LEN);
    const struct ts_ops ops = { vcpu, ts_read, ts_write, ts_load_cr3, &ts_pf_error };
    struct ts_outcome out;
    task_switch(&cpu, &ops, &req, &out);
    if (out.crash)
        return exit_crash(vcpu, "task switch to TSS 0x%x: %s", req.sel, out.rule);
    if (out.committed) {
        ts_cpu_write(vcpu, &cpu);
        ts_interruptibility(hw_event && type == INTR_TYPE_NMI, req.source == TS_SRC_IRET);
    }
    if (out.fault)
        return ts_raise(vcpu, hw_event && type == INTR_TYPE_HW_EXCEPTION ? (int)(event & 0xFF) : -1, &out);
    if (out.debug_trap) {
        dr_hw_write(6, dr_hw_read(6) | TS_DR6_BT);
        vcpu_inject_exception(vcpu, TS_VEC_DB, false, 0);
    }
    return EXIT_CONTINUE;
}

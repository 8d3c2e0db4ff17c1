/* Hardware task switches (SDM Vol. 3A 7.3): the state machine, pure over the structs below so
 * that a host test drives it without a VMCS, and the exit handler that runs it on the VMCS's
 * guest state (exit_task_switch, declared in vmx/exits.h).
 *
 * In VMX non-root operation every task switch exits (SDM Vol. 3C 26.4.2), after the CPU has
 * made its own checks on the task gate and on the new TSS descriptor: the hypervisor does the
 * rest exactly as the CPU would, saving the old task in its TSS and loading the new one. */
#ifndef VMX_TASK_SWITCH_H
#define VMX_TASK_SWITCH_H

#include <stdbool.h>
#include <stdint.h>

/* The segment registers in the order of their VMCS encodings (SDM Appendix B.1.2) and of the
 * selectors in a 32-bit TSS (ES CS SS DS FS GS, Figure 7-2). */
enum ts_sreg { TS_ES, TS_CS, TS_SS, TS_DS, TS_FS, TS_GS, TS_LDTR, TS_TR, TS_NSREG };

/* A segment register as the VMCS holds it: limit in bytes, access rights in the format of
 * SDM Vol. 3C Table 25-2 (type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15,
 * unusable 16). */
struct ts_seg {
    uint16_t sel;
    uint32_t base, limit, ar;
};
#define TS_AR_UNUSABLE (1u << 16)

/* The guest state a task switch reads and writes. gpr[] is in the order of the instruction
 * encoding and of the TSS: EAX ECX EDX EBX ESP EBP ESI EDI. eip is where the old task resumes:
 * past a CALL, JMP, IRET or INT n; the faulting instruction for an exception. */
struct ts_cpu {
    uint32_t gpr[8];
    uint32_t eip, eflags;
    uint32_t cr0, cr3, dr7;
    struct ts_seg seg[TS_NSREG];
    uint32_t gdt_base, gdt_limit;
};

/* What caused the switch: bits 31:30 of the exit qualification (SDM Vol. 3C Table 28-2). */
enum ts_source { TS_SRC_CALL = 0, TS_SRC_IRET = 1, TS_SRC_JMP = 2, TS_SRC_GATE = 3 };

struct ts_request {
    uint16_t sel;               /* the new TSS's selector */
    enum ts_source source;
    bool ext;                   /* an event external to the program (EXT, bit 0 of error codes) */
    bool has_error;             /* an exception's error code, pushed on the new task's stack */
    uint32_t error;
};

/* The guest's linear memory, and its CR3. read/write return 0, TS_MEM_UNMAPPED (refused by
 * the guest's paging: a #PF, its error code in *pf_error when that is not NULL, else a
 * not-present one) or TS_MEM_NOT_RAM (translated to memory the guest does not have).
 * load_cr3 returns 0, or -1 when a PAE PDPTE of the new CR3 has a reserved bit set. */
#define TS_MEM_UNMAPPED (-1)
#define TS_MEM_NOT_RAM  (-2)
struct ts_ops {
    void *ctx;
    int (*read)(void *ctx, uint32_t gla, void *dst, unsigned len);
    int (*write)(void *ctx, uint32_t gla, const void *src, unsigned len);
    int (*load_cr3)(void *ctx, uint32_t cr3);
    uint32_t *pf_error;
};

/* What came of it. Not committed: nothing changed (memory nor *cpu), and the fault, if any,
 * belongs to the old task. Committed: *cpu is the new task (TR, LDTR, segments, registers,
 * CR0.TS, DR7), and the fault, if any, is raised in the new task before its first
 * instruction (SDM 7.3, the notes after step 13). */
struct ts_outcome {
    bool committed;
    bool fault;
    uint8_t vector;
    bool has_error;
    uint32_t error;
    uint32_t cr2;               /* the linear address of a #PF */
    bool crash;                 /* a TSS or descriptor outside the guest's RAM: stop it */
    bool debug_trap;            /* the new TSS's T flag: #DB with DR6.BT first (SDM 7.2.1) */
    const char *rule;           /* the rule that gave the fault, for traces and reports */
};

/* Switches from the task in cpu->seg[TS_TR] to the TSS req->sel, steps 2-13 of SDM 7.3:
 * CALL, JMP, IRET (NT=1) and events through a task gate; 32-bit and 16-bit TSSs; the new task
 * in protected or virtual-8086 mode. */
void task_switch(struct ts_cpu *cpu, const struct ts_ops *ops, const struct ts_request *req,
                 struct ts_outcome *out);

/* The exception the CPU delivers when exception second arises while it delivers exception
 * first (SDM Vol. 3A 6.15, Table 6-5): second, 8 (#DF) or -1 (shutdown: a triple fault). */
int ts_nested_exception(uint8_t first, uint8_t second);

#endif

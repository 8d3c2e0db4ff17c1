/* VMCS field encodings as width-typed constants, and the VM-execution control bits.
 * Each field is a one-member struct of its width's type, so vmcs_read32(GUEST_RIP)
 * does not compile: the accessor's width must match the field's (SDM Appendix B). */
#ifndef VMX_VMCS_FIELDS_H
#define VMX_VMCS_FIELDS_H

#include <stdint.h>

struct vmcs_field16 { uint32_t enc; };
struct vmcs_field32 { uint32_t enc; };
struct vmcs_field64 { uint32_t enc; };
struct vmcs_fieldNAT { uint32_t enc; };

#define FIELD(width, name, encoding) \
    static const struct vmcs_field##width name = { encoding };
#include "vmx/vmcs_fields.def"
#undef FIELD

/* Name of a field by encoding, for dumps ("GUEST_RIP"); "?" if unknown. */
const char *vmcs_field_name(uint32_t encoding);

/* 25.6.1 Pin-based VM-execution controls */
#define PIN_BASED_EXT_INTR_EXITING        (1u << 0)
#define PIN_BASED_NMI_EXITING             (1u << 3)
#define PIN_BASED_VIRTUAL_NMIS            (1u << 5)
#define PIN_BASED_PREEMPTION_TIMER        (1u << 6)
/* 25.6.2 Primary processor-based VM-execution controls */
#define CPU_BASED_INTR_WINDOW_EXITING     (1u << 2)
#define CPU_BASED_USE_TSC_OFFSETTING      (1u << 3)
#define CPU_BASED_HLT_EXITING             (1u << 7)
#define CPU_BASED_INVLPG_EXITING          (1u << 9)
#define CPU_BASED_MWAIT_EXITING           (1u << 10)
#define CPU_BASED_RDPMC_EXITING           (1u << 11)
#define CPU_BASED_RDTSC_EXITING           (1u << 12)
#define CPU_BASED_CR3_LOAD_EXITING        (1u << 15)
#define CPU_BASED_CR3_STORE_EXITING       (1u << 16)
#define CPU_BASED_CR8_LOAD_EXITING        (1u << 19)
#define CPU_BASED_CR8_STORE_EXITING       (1u << 20)
#define CPU_BASED_USE_TPR_SHADOW          (1u << 21)
#define CPU_BASED_NMI_WINDOW_EXITING      (1u << 22)
#define CPU_BASED_MOV_DR_EXITING          (1u << 23)
#define CPU_BASED_UNCOND_IO_EXITING       (1u << 24)
#define CPU_BASED_USE_IO_BITMAPS          (1u << 25)
#define CPU_BASED_MONITOR_TRAP_FLAG       (1u << 27)
#define CPU_BASED_USE_MSR_BITMAPS         (1u << 28)
#define CPU_BASED_MONITOR_EXITING         (1u << 29)
#define CPU_BASED_PAUSE_EXITING           (1u << 30)
#define CPU_BASED_ACTIVATE_SECONDARY      (1u << 31)
/* 25.6.2 Secondary processor-based VM-execution controls */
#define SECONDARY_VIRTUALIZE_APIC         (1u << 0)
#define SECONDARY_ENABLE_EPT              (1u << 1)
#define SECONDARY_DESC_TABLE_EXITING      (1u << 2)
#define SECONDARY_ENABLE_RDTSCP           (1u << 3)
#define SECONDARY_ENABLE_VPID             (1u << 5)
#define SECONDARY_WBINVD_EXITING          (1u << 6)
#define SECONDARY_UNRESTRICTED_GUEST      (1u << 7)
#define SECONDARY_RDRAND_EXITING          (1u << 11)
#define SECONDARY_ENABLE_INVPCID          (1u << 12)
#define SECONDARY_RDSEED_EXITING          (1u << 16)
#define SECONDARY_ENABLE_XSAVES           (1u << 20)
/* 25.7.1 VM-exit controls */
#define VM_EXIT_SAVE_DEBUG_CONTROLS       (1u << 2)
#define VM_EXIT_HOST_ADDR_SPACE_SIZE      (1u << 9)
#define VM_EXIT_ACK_INTR_ON_EXIT          (1u << 15)
#define VM_EXIT_SAVE_IA32_PAT             (1u << 18)
#define VM_EXIT_LOAD_IA32_PAT             (1u << 19)
#define VM_EXIT_SAVE_IA32_EFER            (1u << 20)
#define VM_EXIT_LOAD_IA32_EFER            (1u << 21)
#define VM_EXIT_SAVE_PREEMPTION_TIMER     (1u << 22)
/* 25.8.1 VM-entry controls */
#define VM_ENTRY_LOAD_DEBUG_CONTROLS      (1u << 2)
#define VM_ENTRY_IA32E_MODE               (1u << 9)
#define VM_ENTRY_LOAD_IA32_PAT            (1u << 14)
#define VM_ENTRY_LOAD_IA32_EFER           (1u << 15)

/* 25.8.3 VM-entry interruption-information field (also exit and IDT-vectoring info) */
#define INTR_INFO_VALID                   (1u << 31)
#define INTR_INFO_DELIVER_CODE            (1u << 11)
#define INTR_INFO_NMI_UNBLOCKED_IRET      (1u << 12)
#define INTR_TYPE_EXT_INTR                (0u << 8)
#define INTR_TYPE_NMI                     (2u << 8)
#define INTR_TYPE_HW_EXCEPTION            (3u << 8)
#define INTR_TYPE_SW_INTR                 (4u << 8)
#define INTR_TYPE_PRIV_SW_EXCEPTION       (5u << 8)
#define INTR_TYPE_SW_EXCEPTION            (6u << 8)
#define INTR_TYPE_MASK                    (7u << 8)

/* 25.4.2 Guest interruptibility state */
#define GUEST_INTR_STI_BLOCKING           (1u << 0)
#define GUEST_INTR_MOV_SS_BLOCKING        (1u << 1)
#define GUEST_INTR_SMI_BLOCKING           (1u << 2)
#define GUEST_INTR_NMI_BLOCKING           (1u << 3)

/* 25.4.2 Guest activity state */
#define GUEST_ACTIVITY_ACTIVE             0
#define GUEST_ACTIVITY_HLT                1

#endif

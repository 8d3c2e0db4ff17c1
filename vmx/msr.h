/* The VMX capability MSRs (SDM Vol. 3 Appendix A) and IA32_FEATURE_CONTROL bits. */
#ifndef VMX_MSR_H
#define VMX_MSR_H

#define IA32_VMX_BASIC                 0x480
#define IA32_VMX_PINBASED_CTLS         0x481
#define IA32_VMX_PROCBASED_CTLS        0x482
#define IA32_VMX_EXIT_CTLS             0x483
#define IA32_VMX_ENTRY_CTLS            0x484
#define IA32_VMX_MISC                  0x485
#define IA32_VMX_CR0_FIXED0            0x486
#define IA32_VMX_CR0_FIXED1            0x487
#define IA32_VMX_CR4_FIXED0            0x488
#define IA32_VMX_CR4_FIXED1            0x489
#define IA32_VMX_VMCS_ENUM             0x48A
#define IA32_VMX_PROCBASED_CTLS2       0x48B
#define IA32_VMX_EPT_VPID_CAP          0x48C
#define IA32_VMX_TRUE_PINBASED_CTLS    0x48D
#define IA32_VMX_TRUE_PROCBASED_CTLS   0x48E
#define IA32_VMX_TRUE_EXIT_CTLS        0x48F
#define IA32_VMX_TRUE_ENTRY_CTLS       0x490

#define FEATURE_CONTROL_LOCKED         (1ull << 0)
#define FEATURE_CONTROL_VMXON_IN_SMX   (1ull << 1)
#define FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1ull << 2)

#define VMX_BASIC_TRUE_CTLS            (1ull << 55)

#endif

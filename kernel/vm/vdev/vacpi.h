/* The ACPI fixed-hardware power-management registers (PM1 event and control blocks, PM
 * timer) at the ports the guest's FADT announces: how a guest powers itself off. */
#ifndef KERNEL_VM_VDEV_VACPI_H
#define KERNEL_VM_VDEV_VACPI_H

/*
 * Model notes (ACPI 6.0, 4.8 "ACPI Hardware Features").
 * - The machine is always in ACPI mode: PM1_CNT.SCI_EN reads 1 and the FADT has no
 *   SMI_CMD port, so there is no legacy (SMM) mode to switch from.
 * - Powering off: the guest writes SLP_TYP = ACPI_SLP_TYP_S5 (the value in the DSDT's
 *   \_S5 package) with SLP_EN set to PM1_CNT. The device then calls
 *   env->machine(ctx, VDEV_POWER_OFF, 0); the VM must stop before the guest runs again
 *   (ACPICA spins on WAK_STS after the write). There are no sleep states: the DSDT
 *   offers no \_S1..\_S4, and SLP_EN with any other SLP_TYP is ignored.
 * - PM1_STS is write-1-to-clear. Only PWRBTN_STS is ever set, by vacpi_power_button();
 *   TMR_STS (timer carry), GBL_STS, RTC_STS and WAK_STS stay 0. PM1_EN keeps what the
 *   guest writes; the SCI (ISA IRQ 9, level, active high) is asserted while
 *   PM1_STS & PM1_EN & PWRBTN is non-zero.
 * - The PM timer is a free-running 24-bit count at 3.579545 MHz computed from
 *   env->now_ns() at each read (TMR_VAL_EXT = 0 in the FADT); writes are ignored.
 * - The reset register (port ACPI_RESET_PORT, 0xCF9) is not part of this device.
 * - Registers take 1-, 2- or 4-byte accesses at any offset in their block.
 */

#include "kernel/vm/vdev/vdev.h"

/* The fixed-hardware I/O ports (the FADT of kernel/vm/loader/acpi_tables.c announces them). */
#define ACPI_PM1A_EVT_PORT 0x600   /* 4 bytes: PM1_STS (2), PM1_EN (2) */
#define ACPI_PM1A_CNT_PORT 0x604   /* 2 bytes */
#define ACPI_PM_TMR_PORT   0x608   /* 4 bytes, 24-bit timer at 3.579545 MHz */
#define ACPI_RESET_PORT    0xCF9   /* FADT RESET_REG: system I/O, value 0x06 */
#define ACPI_RESET_VALUE   0x06
#define ACPI_SCI_IRQ       9
#define ACPI_SLP_TYP_S5    5       /* in \_S5; PM1a_CNT.SLP_TYP must hold it to power off */

#define ACPI_PM1_EVT_LEN   4
#define ACPI_PM1_CNT_LEN   2
#define ACPI_PM_TMR_LEN    4


#define VACPI_PM_TIMER_HZ 3579545u
#define VACPI_PM_TIMER_MASK 0xFFFFFFu

/* PM1_STS and PM1_EN bits (4.8.3.1). */
#define VACPI_PM1_TMR           (1u << 0)
#define VACPI_PM1_GBL           (1u << 5)
#define VACPI_PM1_PWRBTN        (1u << 8)
#define VACPI_PM1_SLPBTN        (1u << 9)
#define VACPI_PM1_RTC           (1u << 10)
#define VACPI_PM1_PCIEXP_WAKE   (1u << 14)
#define VACPI_PM1_STS_WAK       (1u << 15)

/* PM1_CNT bits (4.8.3.2.1). */
#define VACPI_PM1_CNT_SCI_EN    (1u << 0)
#define VACPI_PM1_CNT_BM_RLD    (1u << 1)
#define VACPI_PM1_CNT_GBL_RLS   (1u << 2)   /* write-only */
#define VACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define VACPI_PM1_CNT_SLP_TYP   (7u << VACPI_PM1_CNT_SLP_TYP_SHIFT)
#define VACPI_PM1_CNT_SLP_EN    (1u << 13)  /* write-only */

struct vacpi {
    struct vdev_env *env;
    uint16_t pm1_sts;      /* status bits that are set */
    uint16_t pm1_en;
    uint16_t pm1_cnt;      /* BM_RLD and SLP_TYP as last written (SCI_EN is added at read) */
    bool sci_level;        /* what we last drove on ACPI_SCI_IRQ */
};

/* Sets up the device in the vacpi_reset() state; env->now_ns and env->set_irq are used. */
void vacpi_init(struct vacpi *a, struct vdev_env *env);

/* Power-on state: no status, nothing enabled, SLP_TYP 0; lowers the SCI if it was raised. */
void vacpi_reset(struct vacpi *a);

/* Claims ACPI_PM1A_EVT_PORT (4 ports), ACPI_PM1A_CNT_PORT (2) and ACPI_PM_TMR_PORT (4).
 * Returns 0, or -1 if a range could not be claimed. */
int vacpi_attach(struct vacpi *a, struct vdev_bus *bus);

/* The PM timer's current 24-bit count. */
uint32_t vacpi_pm_timer(const struct vacpi *a);

/* A press of the fixed-feature power button: sets PWRBTN_STS, raising the SCI if the
 * guest enabled PWRBTN_EN. What the guest does then is up to it (Linux reports
 * KEY_POWER to user space; a daemon such as acpid may shut down). */
void vacpi_power_button(struct vacpi *a);

#endif

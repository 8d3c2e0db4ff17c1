/* The IOAPICs: every input masked except the ISA IRQs the hypervisor itself uses. */
#ifndef DRIVERS_IOAPIC_H
#define DRIVERS_IOAPIC_H

#include "drivers/acpi.h"

#define IOAPIC_DEFAULT_BASE 0xFEC00000u

/* Takes the IOAPICs from the MADT (or one at the default address) and masks all inputs. */
void ioapic_init(const struct madt_info *madt);
/* Routes ISA IRQ `irq` (through the MADT's overrides) to `vector` on the CPU with `apic_id`.
 * Returns the GSI used, or -1 if no IOAPIC serves it. */
int ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t apic_id);
unsigned ioapic_count(void);

#endif

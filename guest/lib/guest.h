/* Everything the guest runtime offers; each guest defines guest_main(). */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apic.h"
#include "arch.h"
#include "desc.h"
#include "multiboot.h"
#include "paging.h"
#include "pic.h"
#include "pit.h"
#include "printf.h"
#include "rtc.h"
#include "str.h"
#include "test.h"
#include "uart.h"

/* Linker-script symbols: the loaded image, bss included. */
extern char guest_image_start[], guest_image_end[];

/*
 * The guest's own code, entered with the UART, GDT and IDT set up, IF=0, and
 * the Multiboot magic already checked. Returning halts the CPU.
 */
void guest_main(uint32_t magic, const struct mb_info *mbi);

#endif

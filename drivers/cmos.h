/* The real CMOS clock, read once at boot: the host's wall-clock time for the guests' RTCs. */
#ifndef DRIVERS_CMOS_H
#define DRIVERS_CMOS_H

#include "kernel/time.h"

/* Reads the date and time (waits out an update in progress). */
void cmos_read_time(struct datetime *dt);
/* The wall-clock time now: the boot reading advanced by the time since boot. */
void cmos_now(struct datetime *dt);

#endif

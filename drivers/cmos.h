/* The real CMOS clock, read once at boot: the host's wall-clock time for the guests' RTCs. */
#ifndef DRIVERS_CMOS_H
#define DRIVERS_CMOS_H

#include "kernel/vdev/vdev.h"

/* Reads the date and time (waits out an update in progress). */
void cmos_read_time(struct vdev_datetime *dt);
/* The wall-clock time now: the boot reading advanced by the time since boot. */
void cmos_now(struct vdev_datetime *dt);

#endif

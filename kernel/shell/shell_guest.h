/* The shell's guest commands (kernel/shell/shell_guest.c): list, info, lifecycle, console, stats, trace. */
#ifndef KERNEL_SHELL_SHELL_GUEST_H
#define KERNEL_SHELL_SHELL_GUEST_H

int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_corrupt(int argc, char **argv);
/* Ends a console session whose guest is no longer running (powered off, exited, stopped,
 * crashed for good), with "hv: console: detached from NAME (it is STATE)". A reboot or a
 * restart by policy keeps the session. Called by the scheduler loop. */
void shell_console_check(void);
/* Per-guest lines of the `mem` command. */
void shell_guest_mem(void);

#endif

/* The shell's command table (kernel/shell/shell_cmds.c), terminated by an entry with a NULL name. */
#ifndef KERNEL_SHELL_SHELL_CMDS_H
#define KERNEL_SHELL_SHELL_CMDS_H

#include "kernel/shell/shell.h"

extern const struct shell_command shell_commands[];

#endif

/*
 * pvos: tinyos paravirtualized. The same tasks, status lines, shell and options as
 * guest/tinyos, but no PIC, PIT, UART, RTC, CLI, STI or HLT: its tick is the one-shot
 * timer hypercall, its console the console hypercalls, its interrupt flag the shared
 * page's mask byte, its idle ANF_HC_BLOCK (docs/hypercalls.md). Task 0 is the console
 * and idle task; tasks 1..N only count. The upcall switches tasks by swapping saved
 * frames, as tinyos's timer interrupt does: the tasks, the shell's line editor and common
 * commands, and the options are the runtime's (guest/lib/tasks.c, tshell.c), shared with
 * tinyos, which print through pv_printf here.
 *
 * What differs from tinyos, for its user: with no RTC, the `rtc HH:MM:SS` field of the
 * status line (kept, so that what parses tinyos's lines parses these) and the `date`
 * command show the guest time, which starts at 00:00:00; `info` shows the ABI and the
 * guest; options peer=NAME and pingpong=N and the command `ping [N]` exchange events with
 * another guest (peer.c). Not on anfitrion, it prints one line on the UART and halts.
 */
#ifndef PVOS_H
#define PVOS_H

#include "guest.h"
#include "pv.h"
#include "tasks.h"
#include "tshell.h"

#define PVOS_UPCALL_VECTOR  0x40    /* every event's upcall: past the PIC's 32..47, no EOI */
#define PVOS_EV_PING        8       /* a peer asks for a pong */
#define PVOS_EV_PONG        9       /* the answer to our ping */

/* Start the tick: ANF_EV_TIMER every 1/hz s from now, on absolute deadlines. */
void sched_start_timer(uint32_t hz);
/* The upcall (PVOS_UPCALL_VECTOR): take the events, tick, pick the next task, unmask. */
struct int_frame *sched_upcall(struct int_frame *f);
/* True once after console input was signalled (clears the flag). Call masked. */
bool sched_take_console(void);
/* Pings and pongs received so far (counted by the upcall). */
uint32_t sched_pings(void);
uint32_t sched_pongs(void);

/* Ping-pong with the guest named by peer=NAME (events PVOS_EV_PING and PVOS_EV_PONG). */
void peer_init(const char *cmdline, const char *self);
/* Send n pings, one at a time, each after the previous pong; prints progress lines. */
void peer_start(uint32_t n);
/* True if received pings or pongs, or a retry or timeout, wait for peer_poll. Call masked. */
bool peer_work(void);
/* Task 0: answer pings, count pongs and send the next ping. */
void peer_poll(void);
/* One line on the peer and the ping-pong's state. */
void peer_report(void);

/* The console: status lines and the command shell; never returns. */
void shell_run(uint32_t hz, bool echo, const struct pv_discovery *d) __attribute__((noreturn));

#endif

/* A guest's configuration from its GRUB module line:
 *   /boot/guests/tinyos.elf name=alpha mem=16M on_crash=restart -- hz=100 tasks=3
 * Options before "--" are the hypervisor's; the rest is the guest's own command line. */
#ifndef KERNEL_VM_LOADER_CONFIG_H
#define KERNEL_VM_LOADER_CONFIG_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define GUEST_NAME_MAX   16
#define GUEST_CMDLINE_MAX 448
#define GUEST_PATH_MAX   128
#define GUEST_PEERS_MAX  8
#define GUEST_MEM_DEFAULT (16ull << 20)
#define GUEST_MEM_MIN     (2ull << 20)
#define GUEST_MEM_MAX     (1ull << 30)

enum crash_policy { ON_CRASH_STOP, ON_CRASH_RESTART };
/* An access to a guest-physical address with neither RAM nor a device behind it: what a PC
 * does (reads all-ones, writes dropped), or stop the guest (on_bad_access=crash). */
enum bad_access_policy { BAD_ACCESS_IGNORE, BAD_ACCESS_CRASH };
/* What the module is: found from its header (AUTO), or forced with kind=. */
enum guest_kind { KIND_AUTO, KIND_MULTIBOOT, KIND_LINUX };

struct guest_config {
    char name[GUEST_NAME_MAX + 1];
    char path[GUEST_PATH_MAX];          /* the module's path, when the loader passed it */
    uint64_t mem;                       /* bytes of guest RAM */
    enum crash_policy on_crash;
    enum bad_access_policy on_bad_access;
    char cmdline[GUEST_CMDLINE_MAX];    /* everything after "--" */
    enum guest_kind kind;               /* kind=multiboot|linux, else AUTO */
    char for_guest[GUEST_NAME_MAX + 1]; /* for=NAME: not a guest but a module of guest NAME */
    bool testdev;                       /* testdev=on: QEMU's pc-testdev (default off) */
    bool pv_off;                        /* pv=off: no KVM paravirtual interface (default on) */
    /* peers=NAME,...: the guests that may send this one events (docs/hypercalls.md) */
    char peers[GUEST_PEERS_MAX][GUEST_NAME_MAX + 1];
    unsigned n_peers;
};

/* Parses a module command line. A module with for=NAME is not a guest but belongs to
 * guest NAME (its initrd, or an entry of its Multiboot module list); it takes no other
 * hypervisor option. On error returns -1 with a one-line reason in why
 * (e.g. "bad mem=\"16Q\" (a size like 16M, from 2M to 1G)"); cfg->name is still set
 * (or "module") so the caller can name the module it refuses. */
int guest_config_parse(const char *module_cmdline, struct guest_config *cfg, char *why, size_t why_size);
/* True if name matches [a-z0-9_-]{1,16}. */
bool guest_name_valid(const char *name);

#endif

/* QEMU's firmware configuration device (fw_cfg), legacy I/O interface at ports 0x510-0x511. */
#ifndef KERNEL_VM_VDEV_FWCFG_H
#define KERNEL_VM_VDEV_FWCFG_H

/*
 * Model notes (QEMU docs/specs/fw_cfg.rst and hw/nvram/fw_cfg.c, "comb" I/O region;
 * the access-width cases checked against QEMU 7.2 with KVM).
 * - 0x510-0x511 is one 2-byte register pair, decoded by access width as QEMU does:
 *   a 16-bit OUT at 0x510 selects an item (little-endian) and rewinds the offset;
 *   an 8-bit IN at 0x510 or 0x511 returns the next byte of the selected item, 0 past
 *   its end. An 8-bit OUT (either port) is a legacy data write: ignored, as in QEMU
 *   since v2.4 (it does NOT select). A 16-bit IN at 0x510 is an access QEMU
 *   rejects: it reads 0 and consumes nothing.
 * - Wider or misaligned accesses are trimmed by the bus: a 16-bit IN/OUT at 0x511 is
 *   one data byte plus unclaimed 0x512 (as QEMU/KVM). The difference: a 32-bit
 *   access at 0x510 reaches us as a 16-bit one plus unclaimed 0x512-0x513, so OUTL
 *   selects with its low half and INL reads 0xFFFF0000, where QEMU ignores the OUTL
 *   and reads 0 (and QEMU/TCG rejects any misaligned access outright).
 * - Only the traditional interface: FW_CFG_ID = 1 and the DMA ports 0x514-0x51B
 *   are left unclaimed, so guests that probe them read all-ones and no signature.
 * - Selector bit 14 (write channel) is ignored, as in QEMU; bit 15 selects the
 *   architecture-specific items, of which we have none (they read as 0 bytes).
 *   Unknown items read as 0 bytes.
 * - Items: SIGNATURE "QEMU", ID, RAM_SIZE (le64), NOGRAPHIC (le16 1), NB_CPUS and
 *   MAX_CPUS (le16), FILE_DIR (be32 count, then 64-byte big-endian entries). Files
 *   get selectors from 0x0020 in the order they are added; "etc/anfitrion/name"
 *   holds the guest's name (no trailing NUL, like QEMU's -fw_cfg string=).
 */

#include "kernel/vm/vdev/vdev.h"

#define FWCFG_PORT_SELECT 0x510
#define FWCFG_PORT_DATA 0x511

/* Selector keys, QEMU's names (include/standard-headers/linux/qemu_fw_cfg.h). */
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID 0x0001
#define FW_CFG_UUID 0x0002
#define FW_CFG_RAM_SIZE 0x0003
#define FW_CFG_NOGRAPHIC 0x0004
#define FW_CFG_NB_CPUS 0x0005
#define FW_CFG_MAX_CPUS 0x000F
#define FW_CFG_FILE_DIR 0x0019
#define FW_CFG_FILE_FIRST 0x0020
#define FW_CFG_WRITE_CHANNEL 0x4000
#define FW_CFG_ARCH_LOCAL 0x8000
#define FW_CFG_ENTRY_MASK 0x3FFF

/* FW_CFG_ID feature bits. */
#define FW_CFG_VERSION 0x01     /* traditional interface: always set */
#define FW_CFG_VERSION_DMA 0x02 /* DMA interface: we don't offer it */

#define FWCFG_FILE_NAME_SIZE 56 /* bytes of a directory entry's name, NUL included */
#define FWCFG_FILE_ENTRY_SIZE 64
#define FWCFG_MAX_FILES 8
#define FWCFG_NAME_MAX 63       /* longest guest name kept in etc/anfitrion/name */
#define FWCFG_NAME_FILE "etc/anfitrion/name"

struct fwcfg_config {
    uint64_t ram_size;          /* bytes of guest RAM */
    uint16_t nb_cpus, max_cpus;
    const char *name;           /* guest name, or NULL for no etc/anfitrion/name file */
};

struct fwcfg_file {
    const uint8_t *data;        /* not owned: must outlive the device */
    uint32_t size;
};

struct fwcfg {
    uint16_t selector;
    uint32_t offset;            /* next byte of the selected item */
    uint8_t signature[4], id[4], ram_size[8], nographic[2], nb_cpus[2], max_cpus[2];
    char name[FWCFG_NAME_MAX + 1];
    struct fwcfg_file files[FWCFG_MAX_FILES];
    unsigned n_files;
    uint8_t file_dir[4 + FWCFG_MAX_FILES * FWCFG_FILE_ENTRY_SIZE];
};

/* Fills the items from cfg (copying the name, truncated to FWCFG_NAME_MAX) and selects
 * the signature. f must not move afterwards: the name file points into it. */
void fwcfg_init(struct fwcfg *f, const struct fwcfg_config *cfg);

/* Adds a read-only file item of size bytes at data (kept by reference) to the directory.
 * Returns its selector key (0x0020 + n), or -1 if the directory is full, the name is
 * empty, longer than 55 characters or already present. */
int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t size);

/* Claims ports 0x510-0x511 (only the traditional interface; no DMA ports). Returns 0 or -1. */
int fwcfg_attach(struct fwcfg *f, struct vdev_bus *bus);

/* The bytes and length of item key as the data port returns them (NULL, 0 if unknown). */
const uint8_t *fwcfg_item(const struct fwcfg *f, uint16_t key, uint32_t *size);

#endif

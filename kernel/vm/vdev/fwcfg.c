/* QEMU's fw_cfg device, traditional I/O interface: a selector and a byte-wide data port. */
#include "kernel/vm/vdev/fwcfg.h"
#include "kernel/string.h"

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static uint32_t file_dir_size(const struct fwcfg *f)
{
    return 4 + f->n_files * FWCFG_FILE_ENTRY_SIZE;
}

const uint8_t *fwcfg_item(const struct fwcfg *f, uint16_t key, uint32_t *size)
{
    const uint8_t *data = NULL;
    uint32_t n = 0;
    /* The write-channel bit picks the same item; arch-local (x86) items we have none. */
    if (!(key & FW_CFG_ARCH_LOCAL)) {
        uint16_t k = key & FW_CFG_ENTRY_MASK;
        switch (k) {
        case FW_CFG_SIGNATURE: data = f->signature; n = sizeof(f->signature); break;
        case FW_CFG_ID: data = f->id; n = sizeof(f->id); break;
        case FW_CFG_RAM_SIZE: data = f->ram_size; n = sizeof(f->ram_size); break;
        case FW_CFG_NOGRAPHIC: data = f->nographic; n = sizeof(f->nographic); break;
        case FW_CFG_NB_CPUS: data = f->nb_cpus; n = sizeof(f->nb_cpus); break;
        case FW_CFG_MAX_CPUS: data = f->max_cpus; n = sizeof(f->max_cpus); break;
        case FW_CFG_FILE_DIR: data = f->file_dir; n = file_dir_size(f); break;
        default:
            if (k >= FW_CFG_FILE_FIRST && (unsigned)(k - FW_CFG_FILE_FIRST) < f->n_files) {
                data = f->files[k - FW_CFG_FILE_FIRST].data;
                n = f->files[k - FW_CFG_FILE_FIRST].size;
            }
            break;
        }
    }
    if (!data)
        n = 0;
    *size = n;
    return data;
}

int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t size)
{
    size_t len = name ? strnlen(name, FWCFG_FILE_NAME_SIZE) : 0;
    if (f->n_files >= FWCFG_MAX_FILES || len == 0 || len >= FWCFG_FILE_NAME_SIZE)
        return -1;
    for (unsigned i = 0; i < f->n_files; i++) {
        const char *other = (const char *)&f->file_dir[4 + i * FWCFG_FILE_ENTRY_SIZE + 8];
        if (strncmp(other, name, FWCFG_FILE_NAME_SIZE) == 0)
            return -1;
    }
    unsigned i = f->n_files++;
    uint16_t key = (uint16_t)(FW_CFG_FILE_FIRST + i);
    f->files[i].data = data;
    f->files[i].size = size;

    /* struct FWCfgFile: be32 size, be16 select, be16 reserved, char name[56]. */
    uint8_t *e = &f->file_dir[4 + i * FWCFG_FILE_ENTRY_SIZE];
    memset(e, 0, FWCFG_FILE_ENTRY_SIZE);
    put_be(e, size, 4);
    put_be(e + 4, key, 2);
    memcpy(e + 8, name, len);
    put_be(f->file_dir, f->n_files, 4);
    return key;
}

void fwcfg_init(struct fwcfg *f, const struct fwcfg_config *cfg)
{
    memset(f, 0, sizeof(*f));
    memcpy(f->signature, "QEMU", 4);
    put_le(f->id, FW_CFG_VERSION, 4);
    put_le(f->ram_size, cfg->ram_size, 8);
    put_le(f->nographic, 1, 2);
    put_le(f->nb_cpus, cfg->nb_cpus, 2);
    put_le(f->max_cpus, cfg->max_cpus, 2);
    if (cfg->name) {
        size_t len = strnlen(cfg->name, FWCFG_NAME_MAX);
        memcpy(f->name, cfg->name, len);
        fwcfg_add_file(f, FWCFG_NAME_FILE, f->name, (uint32_t)len);
    }
    f->selector = FW_CFG_SIGNATURE;
}

static uint8_t data_read(struct fwcfg *f)
{
    uint32_t size;
    const uint8_t *data = fwcfg_item(f, f->selector, &size);
    if (f->offset >= size)
        return 0;
    return data[f->offset++];
}

static uint32_t fwcfg_io_read(void *dev, uint16_t port, unsigned size)
{
    (void)port; /* QEMU decodes the pair by width only: a byte IN at 0x510 reads data too */
    if (size != 1)
        return 0; /* 16-bit IN at 0x510: QEMU rejects it, reading 0 */
    return data_read(dev);
}

static void fwcfg_io_write(void *dev, uint16_t port, unsigned size, uint32_t value)
{
    struct fwcfg *f = dev;
    /* The bus splits at 0x511, so a 16-bit write always starts at 0x510. Byte writes
     * are legacy data writes, which QEMU has ignored since v2.4. */
    if (size == 2 && port == FWCFG_PORT_SELECT) {
        f->selector = (uint16_t)value;
        f->offset = 0;
    }
}

int fwcfg_attach(struct fwcfg *f, struct vdev_bus *bus)
{
    return vdev_register_io_sized(bus, FWCFG_PORT_SELECT, FWCFG_PORT_DATA, 2, "fw_cfg",
                                  fwcfg_io_read, fwcfg_io_write, f);
}

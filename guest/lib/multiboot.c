/* Helpers to read the Multiboot 1 boot information and the command line. */
#include "multiboot.h"
#include "str.h"

const char *mb_cmdline(const struct mb_info *mbi)
{
    if (!mbi || !(mbi->flags & MB_INFO_CMDLINE) || !mbi->cmdline)
        return "";
    return (const char *)mbi->cmdline;
}

const struct mb_mmap_entry *mb_mmap_next(const struct mb_info *mbi, const struct mb_mmap_entry *e)
{
    if (!mbi || !(mbi->flags & MB_INFO_MMAP))
        return NULL;
    uint32_t start = mbi->mmap_addr, end = start + mbi->mmap_length;
    uint32_t next = e ? (uint32_t)e + e->size + 4 : start;
    if (next + sizeof(*e) > end)
        return NULL;
    return (const struct mb_mmap_entry *)next;
}

uint64_t mb_usable_bytes(const struct mb_info *mbi)
{
    uint64_t total = 0;
    bool any = false;
    for (const struct mb_mmap_entry *e = mb_mmap_next(mbi, NULL); e; e = mb_mmap_next(mbi, e)) {
        any = true;
        if (e->type == MB_MMAP_AVAILABLE)
            total += e->length;
    }
    if (!any && mbi && (mbi->flags & MB_INFO_MEMORY))
        total = ((uint64_t)mbi->mem_lower + mbi->mem_upper) << 10;
    return total;
}

uint64_t mb_ram_end(const struct mb_info *mbi)
{
    uint64_t end = 0;
    bool any = false;
    for (const struct mb_mmap_entry *e = mb_mmap_next(mbi, NULL); e; e = mb_mmap_next(mbi, e)) {
        any = true;
        if (e->type == MB_MMAP_AVAILABLE && e->base + e->length > end)
            end = e->base + e->length;
    }
    if (!any && mbi && (mbi->flags & MB_INFO_MEMORY))
        end = (1ull << 20) + ((uint64_t)mbi->mem_upper << 10);
    return end;
}

const char *cmdline_find(const char *cmdline, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    const char *p = cmdline;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *word = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t wlen = (size_t)(p - word);
        if (wlen >= klen && strncmp(word, key, klen) == 0) {
            if (wlen == klen) {
                *len = 0;
                return word + klen;
            }
            if (word[klen] == '=') {
                *len = wlen - klen - 1;
                return word + klen + 1;
            }
        }
    }
    return NULL;
}

uint32_t cmdline_u32(const char *cmdline, const char *key, uint32_t def)
{
    size_t len;
    uint32_t v;
    const char *s = cmdline_find(cmdline, key, &len);
    if (!s || !parse_u32(s, len, &v))
        return def;
    return v;
}

bool cmdline_str(const char *cmdline, const char *key, char *buf, size_t size)
{
    size_t len;
    const char *s = cmdline_find(cmdline, key, &len);
    if (!s || size == 0)
        return false;
    if (len >= size)
        len = size - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

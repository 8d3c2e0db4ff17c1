/* Guest memory: the RAM map (guest_ram_ptr), and the checked path every emulated access
 * takes (guest_mem.h): segmentation (SDM Vol. 3A 3.4, 5.3-5.4), then the guest's own paging
 * (none, 32-bit, PAE, 4- or 5-level: 4.3-4.5) with its permissions (4.6), faults (4.7) and
 * accessed/dirty flags (4.8), then the VM's RAM. */
#include "vmx/exits.h"
#include "vmx/cr.h"
#include "kernel/cpu.h"
#include "kernel/string.h"

void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa || gpa + len > ram->size)
        return 0;
    uint64_t first = gpa / GUEST_RAM_CHUNK, last = (gpa + len - 1) / GUEST_RAM_CHUNK;
    /* A range crossing chunks is contiguous on the host only if the chunks are. */
    for (uint64_t c = first; c < last; c++)
        if (ram->chunks[c + 1] != ram->chunks[c] + GUEST_RAM_CHUNK)
            return 0;
    return (void *)(ram->chunks[first] + (gpa & (GUEST_RAM_CHUNK - 1)));
}

unsigned guest_cpl(void)
{
    return (vmcs_read32(GUEST_SS_AR_BYTES) >> 5) & 3;
}

/* ---- Segmentation */

/* Segment access rights (SDM Vol. 3C Table 25-2): type bits, D/B, unusable. */
#define SAR_WRITABLE (1u << 1)  /* data; for code: readable */
#define SAR_DOWN     (1u << 2)  /* data: expand-down */
#define SAR_CODE     (1u << 3)
#define SAR_DB            (1u << 14)
#define SAR_UNUSABLE      (1u << 16)

#define LSEG_SS 2
#define LSEG_FS 4

static const struct vmcs_fieldNAT seg_bases[6] = {
    GUEST_ES_BASE, GUEST_CS_BASE, GUEST_SS_BASE, GUEST_DS_BASE, GUEST_FS_BASE, GUEST_GS_BASE,
};
static const struct vmcs_field32 seg_limits[6] = {
    GUEST_ES_LIMIT, GUEST_CS_LIMIT, GUEST_SS_LIMIT, GUEST_DS_LIMIT, GUEST_FS_LIMIT, GUEST_GS_LIMIT,
};
static const struct vmcs_field32 seg_rights[6] = {
    GUEST_ES_AR_BYTES, GUEST_CS_AR_BYTES, GUEST_SS_AR_BYTES, GUEST_DS_AR_BYTES,
    GUEST_FS_AR_BYTES, GUEST_GS_AR_BYTES,
};

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Whether the segment refuses the access: unusable, a type that cannot be written (code, or
 * read-only data) or read (execute-only code), an offset outside the limit (for expand-down
 * data: at or below it, or above the top its D/B gives). Protected-mode types only with
 * `typed` (real and virtual-8086 mode check the limit alone). */
static bool seg_refuses(uint32_t ar, uint32_t limit, uint64_t off, unsigned size, unsigned access, bool typed)
{
    bool code = typed && (ar & SAR_CODE);
    if (typed) {
        if (ar & SAR_UNUSABLE)
            return true;
        if ((access & GUEST_WRITE) ? code || !(ar & SAR_WRITABLE)
                                   : code && !(access & GUEST_FETCH) && !(ar & SAR_WRITABLE))
            return true;
    }
    uint64_t last = off + size - 1, top = (ar & SAR_DB) ? 0xFFFFFFFFull : 0xFFFFull;
    if (typed && !code && (ar & SAR_DOWN))
        return off <= limit || last > top;
    return last > limit;
}

int guest_seg_linear(struct vcpu *vcpu, unsigned seg, uint64_t offset, unsigned size, unsigned access,
                     uint64_t *gla, struct guest_fault *fault)
{
    fault->vector = seg == LSEG_SS ? 12 : 13;
    fault->error = 0;
    if (guest_in_64bit_mode()) {
        /* 64-bit mode ignores the bases but FS's and GS's, and the limits (SDM Vol. 1 3.4.2.1);
         * a non-canonical address is #GP(0), or #SS(0) through SS (Vol. 3A 6.15). */
        uint64_t a = (seg >= LSEG_FS ? vmcs_readnat(seg_bases[seg]) : 0) + offset;
        if (!canonical(a) || !canonical(a + size - 1))
            return GUEST_MEM_FAULT;
        *gla = a;
        return 0;
    }
    bool prot = (vcpu->cr0_shadow & CR0_PE) && !(vmcs_readnat(GUEST_RFLAGS) & RFLAGS_VM);
    if (seg_refuses(vmcs_read32(seg_rights[seg]), vmcs_read32(seg_limits[seg]), offset, size, access, prot))
        return GUEST_MEM_FAULT;
    *gla = (vmcs_readnat(seg_bases[seg]) + offset) & 0xFFFFFFFFull;
    return 0;
}

/* ---- Paging */

#define PG_P   (1ull << 0)
#define PG_RW  (1ull << 1)
#define PG_US  (1ull << 2)
#define PG_A   (1ull << 5)
#define PG_D   (1ull << 6)
#define PG_PS  (1ull << 7)
#define PG_XD  (1ull << 63)
#define PG_ADDR 0x000FFFFFFFFFF000ull

unsigned guest_maxphyaddr(void)
{
    static unsigned m;
    if (!m)
        m = cpuid(0x80000000, 0).eax >= 0x80000008 ? cpuid(0x80000008, 0).eax & 0xFF : 36;
    return m;
}

uint64_t guest_phys_reserved(void)
{
    return ((1ull << 52) - 1) & ~((1ull << guest_maxphyaddr()) - 1);
}

uint64_t guest_pdpte_reserved(void)
{
    return 0x1E6ull | guest_phys_reserved() | ~((1ull << 52) - 1);
}

/* One paging-structure entry: its host address (NULL when it is not RAM) and value. */
struct entry {
    void *host;
    uint64_t v;
};

static struct entry read_entry(struct vcpu *vcpu, uint64_t gpa, unsigned width)
{
    struct entry e = { guest_ram_ptr(vcpu->ram, gpa, width), 0 };
    if (e.host)
        memcpy(&e.v, e.host, width);
    return e;
}

/* Sets flag bits in an entry as the CPU does, atomically (another vCPU may use it). */
static void set_flags(const struct entry *e, unsigned width, uint64_t bits)
{
    if (!e->host || (e->v & bits) == bits)
        return;
    if (width == 4)
        __atomic_fetch_or((uint32_t *)e->host, (uint32_t)bits, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_or((uint64_t *)e->host, bits, __ATOMIC_SEQ_CST);
}

#define MAX_LEVELS 5

int guest_translate(struct vcpu *vcpu, uint64_t gla, unsigned access, uint64_t *gpa, struct guest_fault *fault)
{
    uint64_t cr0 = guest_cr0(vcpu), cr4 = vcpu->cr4_shadow, efer = vmcs_read64(GUEST_IA32_EFER);
    if (!(cr0 & CR0_PG)) {
        *gpa = gla & 0xFFFFFFFFull;
        return 0;
    }
    bool write = access & GUEST_WRITE, fetch = access & GUEST_FETCH;
    bool user = !(access & GUEST_IMPLICIT) && guest_cpl() == 3;
    bool pae = cr4 & CR4_PAE, nxe = pae && (efer & EFER_NXE);
    unsigned width = pae ? 8 : 4, levels, shift;
    uint64_t table, xd_rsvd = nxe ? 0 : PG_XD;
    struct entry used[MAX_LEVELS];
    unsigned n = 0;

    fault->vector = 14;
    fault->cr2 = gla;
    fault->error = (write ? PF_W : 0) | (user ? PF_U : 0) |
                   (fetch && (nxe || (cr4 & CR4_SMEP)) ? PF_I : 0);

    if (!pae) {
        levels = 2;
        table = vmcs_readnat(GUEST_CR3) & 0xFFFFF000ull;
    } else if (efer & EFER_LMA) {
        levels = (cr4 & CR4_LA57) ? 5 : 4;
        table = vmcs_readnat(GUEST_CR3) & PG_ADDR;
    } else {                        /* PAE: the PDPTE comes from the VMCS, checked when loaded */
        static const struct vmcs_field64 pdptes[4] = { GUEST_PDPTE0, GUEST_PDPTE1, GUEST_PDPTE2, GUEST_PDPTE3 };
        uint64_t pdpte = vmcs_read64(pdptes[(gla >> 30) & 3]);
        if (!(pdpte & PG_P))
            return GUEST_MEM_FAULT;
        levels = 2;
        table = pdpte & PG_ADDR;
    }

    bool all_user = true, all_writable = true, xd = false;
    uint64_t leaf_mask = 0;
    for (unsigned level = levels;; level--) {
        shift = pae ? 12 + 9 * (level - 1) : 12 + 10 * (level - 1);
        unsigned index = pae ? (gla >> shift) & 511 : (gla >> shift) & 1023;
        struct entry e = read_entry(vcpu, table + index * width, width);
        used[n++] = e;
        if (!e.host) {
            /* An entry in memory that is not RAM (a device's page, or nothing, which reads
             * all-ones): a reserved-bit fault, in every paging mode, as exit.c gives when
             * the CPU's own walk reaches such an entry. */
            fault->error |= PF_P | PF_RSVD;
            return GUEST_MEM_FAULT;
        }
        if (!(e.v & PG_P))
            return GUEST_MEM_FAULT;
        bool large = level > 1 && (e.v & PG_PS) && (pae ? level <= 3 : (cr4 & CR4_PSE) != 0);
        uint64_t rsvd = 0;
        if (pae) {
            /* Bits MAXPHYADDR-51, and XD without EFER.NXE; PAE paging also reserves 62:52;
             * PS in a PML4E/PML5E; a large page's address bits below its size (Tables 4-8 to 4-20). */
            rsvd = guest_phys_reserved() | xd_rsvd | ((efer & EFER_LMA) ? 0 : 0x7FF0000000000000ull);
            if (level >= 4)
                rsvd |= PG_PS;
            if (large)
                rsvd |= ((1ull << shift) - 1) & ~0x1FFFull;
        } else if (large) {
            rsvd = 1ull << 21;      /* a 4-MByte page's bit 21 (Table 4-4) */
        }
        if (e.v & rsvd) {
            fault->error |= PF_P | PF_RSVD;
            return GUEST_MEM_FAULT;
        }
        all_user &= (e.v & PG_US) != 0;
        all_writable &= (e.v & PG_RW) != 0;
        xd |= nxe && (e.v & PG_XD);
        if (level == 1 || large) {
            uint64_t page = (1ull << shift) - 1;
            if (pae)
                leaf_mask = e.v & PG_ADDR & ~page;
            else if (large)         /* PSE-36: bits 20:13 are address bits 39:32 */
                leaf_mask = (e.v & 0xFFC00000ull) | ((e.v & 0x1FE000ull) << 19);
            else
                leaf_mask = e.v & 0xFFFFF000ull;
            *gpa = leaf_mask | (gla & page);
            break;
        }
        table = e.v & (pae ? PG_ADDR : 0xFFFFF000ull);
    }

    /* Access rights (SDM Vol. 3A 4.6.1): a user-mode access needs U/S in every entry, and
     * R/W for a write; a supervisor write needs R/W only with CR0.WP; XD forbids fetches;
     * SMEP forbids supervisor fetches from user pages, SMAP supervisor data accesses to them
     * (explicit ones only with RFLAGS.AC clear). */
    bool denied;
    if (user)
        denied = !all_user || (write && !all_writable);
    else if (fetch)
        denied = all_user && (cr4 & CR4_SMEP);
    else
        denied = (write && !all_writable && (cr0 & CR0_WP)) ||
                 (all_user && (cr4 & CR4_SMAP) &&
                  ((access & GUEST_IMPLICIT) || !(vmcs_readnat(GUEST_RFLAGS) & RFLAGS_AC)));
    if (denied || (fetch && xd)) {
        fault->error |= PF_P;
        return GUEST_MEM_FAULT;
    }
    for (unsigned i = 0; i < n; i++)
        set_flags(&used[i], width, PG_A | (i == n - 1 && write ? PG_D : 0));
    return 0;
}

/* ---- Copies */

static int guest_copy(struct vcpu *vcpu, uint64_t gla, uint8_t *buf, uint64_t len, unsigned access,
                      struct guest_fault *fault)
{
    bool write = access & GUEST_WRITE;
    uint64_t wrap = guest_in_64bit_mode() ? ~0ull : 0xFFFFFFFFull;
    /* First every page, so that a fault leaves guest memory as it was. The first pages'
     * translations are kept (an operand spans at most two); a longer copy walks again. */
    uint64_t kept[2];
    unsigned n = 0;
    for (uint64_t a = gla, left = len; left; n++) {
        uint64_t chunk = 4096 - (a & 4095), gpa;
        if (chunk > left)
            chunk = left;
        if (guest_translate(vcpu, a, access, &gpa, fault) < 0)
            return GUEST_MEM_FAULT;
        if (!(access & GUEST_NOTHING) && !guest_ram_ptr(vcpu->ram, gpa, chunk))
            return GUEST_MEM_NOT_RAM;
        if (n < 2)
            kept[n] = gpa;
        a = (a + chunk) & wrap, left -= chunk;
    }
    for (n = 0; len; n++) {
        uint64_t chunk = 4096 - (gla & 4095), gpa;
        if (chunk > len)
            chunk = len;
        if (n < 2)
            gpa = kept[n];
        else
            guest_translate(vcpu, gla, access, &gpa, fault);
        /* A page is RAM or not as a whole (RAM ends on a chunk boundary); nothing reads
         * all-ones and takes no writes. */
        uint8_t *h = guest_ram_ptr(vcpu->ram, gpa, chunk);
        if (h && write)
            memcpy(h, buf, chunk);
        else if (h)
            memcpy(buf, h, chunk);
        else if (!write)
            memset(buf, 0xFF, chunk);
        gla = (gla + chunk) & wrap, buf += chunk, len -= chunk;
    }
    return 0;
}

int guest_mem_read(struct vcpu *vcpu, uint64_t gla, void *dst, uint64_t len, unsigned access,
                   struct guest_fault *fault)
{
    return guest_copy(vcpu, gla, dst, len, access & ~GUEST_WRITE, fault);
}

int guest_mem_write(struct vcpu *vcpu, uint64_t gla, const void *src, uint64_t len, unsigned access,
                    struct guest_fault *fault)
{
    return guest_copy(vcpu, gla, (uint8_t *)src, len, access | GUEST_WRITE, fault);
}

void guest_fault_inject(struct vcpu *vcpu, const struct guest_fault *fault)
{
    if (fault->vector == 14)
        vcpu->regs.cr2 = fault->cr2;
    vcpu_inject_exception(vcpu, fault->vector, true, fault->error);
}

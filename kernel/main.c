/* kmain: the boot sequence, from the loader's hand-off to the shell.
 * Order matters: console first (so everything after can report), then memory, then
 * interrupts and the real devices the hypervisor owns, then VT-x and the guests. */
#include "boot/boot.h"
#include "drivers/acpi.h"
#include "drivers/ioapic.h"
#include "drivers/lapic.h"
#include "drivers/pic.h"
#include "drivers/timer.h"
#include "drivers/uart.h"
#include "kernel/bench.h"
#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/gdt.h"
#include "kernel/idt.h"
#include "kernel/log.h"
#include "kernel/options.h"
#include "kernel/paging.h"
#include "kernel/panic.h"
#include "kernel/shell/shell.h"
#include "kernel/string.h"
#include "kernel/hv.h"
#include "vmx/caps.h"

struct boot_info boot_info;

static const void *identity_map(uint64_t phys, size_t len, void *ctx)
{
    (void)ctx;
    if (phys + len < phys || phys + len > (4ull << 30))
        return NULL;                    /* the boot page tables map the first 4 GiB */
    return (const void *)phys;
}

static void report_option(const char *msg)
{
    hv_warn("%s", msg);
}

static void print_memory_map(const struct boot_info *bi)
{
    hv_info("memory map:");
    for (unsigned i = 0; i < bi->n_regions; i++)
        hv_info("  0x%016lx-0x%016lx %s", bi->regions[i].start, bi->regions[i].end - 1,
                mem_type_name(bi->regions[i].type));
    hv_info("memory: %lu MiB usable", bootinfo_usable_bytes(bi) >> 20);
}

static void print_modules(const struct boot_info *bi)
{
    for (unsigned i = 0; i < bi->n_modules; i++)
        hv_info("module %u: %s (%lu bytes at 0x%016lx)", i, bi->modules[i].cmdline,
                bi->modules[i].end - bi->modules[i].start, bi->modules[i].start);
    if (bi->modules_dropped)
        hv_warn("%u modules beyond the first %u ignored", bi->modules_dropped, BOOT_MAX_MODULES);
}

static void setup_interrupts(const struct boot_info *bi)
{
    pic_disable();
    lapic_init();
    struct madt_info madt;
    const char *why = "";
    acpi_find_madt(bi->has_rsdp_copy ? bi->rsdp_copy : NULL, bi->ebda, &madt, &why);
    if (madt.found)
        hv_info("acpi: MADT: %u cpus, %u ioapics, lapic at 0x%lx", madt.n_cpus, madt.n_ioapics,
                madt.lapic_address);
    else
        hv_warn("acpi: %s; using the default IOAPIC address 0x%08x", why, IOAPIC_DEFAULT_BASE);
    hv_info("lapic: id %u, %s mode", lapic_id(), lapic_is_x2apic() ? "x2APIC" : "xAPIC");
    ioapic_init(&madt);
    int gsi = ioapic_route_isa(COM1_IRQ, VEC_UART, lapic_id());
    if (gsi < 0)
        hv_error("ioapic: no IOAPIC input for the UART's IRQ %u: console input disabled", COM1_IRQ);
    else
        uart_enable_irq(VEC_UART);
}

/* Provokes the host fault asked for by debug_fault= (for the panic test). */
static void debug_fault(enum debug_fault f)
{
    hv_warn("debug_fault: provoking a host fault on purpose");
    /* Through a volatile pointer so the compiler cannot see the address it will fault on. */
    volatile uint64_t *volatile bad = (uint64_t *)8;
    switch (f) {
    case FAULT_PF:
        *bad = 0xDEAD;                  /* page 0 is not mapped */
        break;
    case FAULT_UD:
        __asm__ volatile("ud2");
        break;
    case FAULT_GP:
        bad = (uint64_t *)0x8000000000000000ull;      /* non-canonical */
        *bad = 1;
        break;
    case FAULT_DE: {
        volatile uint32_t zero = 0;
        volatile uint32_t x = 1 / zero;
        (void)x;
        break;
    }
    case FAULT_PANIC:
        panic("debug_fault=panic asked for a panic");
    case FAULT_NONE:
        break;
    }
}

void kmain(uint32_t magic, uint32_t info);
void kmain(uint32_t magic, uint32_t info)
{
    uart_init();
    kprintf("\n");
    hv_info("anfitrion %s", ANFITRION_VERSION);
    gdt_init();
    idt_init();
    write_cr0(read_cr0() & ~(CR0_CD | CR0_NW));    /* some firmware leaves caching off */

    if (bootinfo_parse(&boot_info, magic, info, identity_map, NULL) < 0)
        panic("unknown boot protocol (magic 0x%08x): boot anfitrion with GRUB's multiboot2 "
              "or as a Multiboot 1 kernel", magic);
    hv_info("boot: multiboot%d%s%s, cmdline \"%s\"", boot_info.protocol,
            boot_info.loader[0] ? " from " : "", boot_info.loader, boot_info.cmdline);
    /* The BIOS data area's EBDA segment lives in page 0, which mm_init unmaps. */
    boot_info.ebda = (uint64_t)(*(const uint16_t *)phys_ptr(0x40E)) << 4;
    options_parse(boot_info.cmdline, &hv_options, report_option);
    log_level = hv_options.loglevel;

    vmx_caps_read();
    print_memory_map(&boot_info);
    mm_init(&boot_info);
    print_modules(&boot_info);

    setup_interrupts(&boot_info);
    timer_calibrate();
    timer_start(hv_options.timer_hz);
    if (hv_options.bench_host_iters)
        bench_host_run(hv_options.bench_host_iters);

    hv_start_guests(&boot_info);

    if (hv_options.debug_fault != FAULT_NONE)
        debug_fault(hv_options.debug_fault);

    shell_init();
    hv_main_loop();
}

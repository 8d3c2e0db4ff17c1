# anfitrion: a bare-metal type-1 hypervisor for x86-64 (VT-x + EPT).
# Targets: make (build/anfitrion.elf), make iso, make run [EMU=qemu] [ENTRY=linux|pvos], make linux,
# make check, make test, make bench, make clean, make lab-start LAB=NAME DIR=PATH, make grade [LAB=NAME].

BUILD   := build
CC      := gcc
HOSTCC  := gcc
LD      := ld
PYTHON  := python3
VERSION := 0.1.0
EMU     ?= bochs

# Kernel: identity-mapped below 2 GiB, so the small code model without PIC suffices.
KCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -I. \
	-ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-builtin \
	-mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-avx -mno-80387 -mcmodel=small \
	-fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-strict-aliasing \
	-DANFITRION_VERSION='"$(VERSION)"'
KASFLAGS := -I. -D__ASSEMBLY__
KLDFLAGS := -nostdlib -z max-page-size=0x1000 -z noexecstack -T linker.ld

# Explicit object lists, one line per subsystem.
BOOT_OBJS    := boot/multiboot.o boot/entry.o
KERNEL_OBJS  := kernel/main.o kernel/hv.o kernel/string.o kernel/printf.o kernel/log.o kernel/console.o \
	kernel/bootinfo.o kernel/options.o kernel/frame.o kernel/paging.o kernel/gdt.o kernel/idt.o \
	kernel/isr.o kernel/panic.o kernel/time.o kernel/bench.o
SHELL_OBJS   := kernel/shell/shell.o kernel/shell/lineedit.o kernel/shell/shell_cmds.o \
	kernel/shell/shell_guest.o
VM_OBJS      := kernel/vm/vm.o kernel/vm/run.o kernel/vm/vm_devices.o kernel/vm/sched.o kernel/vm/inject.o \
	kernel/vm/hypercall.o kernel/vm/pvclock.o kernel/vm/kvm_pv.o
DRIVER_OBJS  := drivers/uart.o drivers/pic.o drivers/lapic.o drivers/ioapic.o drivers/acpi.o \
	drivers/timer.o drivers/cmos.o
VMX_OBJS     := vmx/caps.o vmx/vmx.o vmx/vmcs.o vmx/ept.o vmx/entry.o vmx/int_stubs.o vmx/run.o \
	vmx/exit.o vmx/trace.o vmx/exit_cpuid.o vmx/exit_msr.o vmx/exit_io.o vmx/exit_mmio.o \
	vmx/decode.o vmx/emulate.o vmx/cr.o vmx/guest_mem.o vmx/xsave.o vmx/debugreg.o \
	vmx/task_switch.o
VDEV_OBJS    := kernel/vm/vdev/vdev.o kernel/vm/vdev/vuart.o kernel/vm/vdev/vpic.o kernel/vm/vdev/vpit.o \
	kernel/vm/vdev/vrtc.o kernel/vm/vdev/vlapic.o kernel/vm/vdev/vioapic.o kernel/vm/vdev/vpci.o \
	kernel/vm/vdev/vacpi.o kernel/vm/vdev/fwcfg.o kernel/vm/vdev/debugexit.o \
	kernel/vm/vdev/testdev.o
LOADER_OBJS  := kernel/vm/loader/config.o kernel/vm/loader/util.o kernel/vm/loader/multiboot.o \
	kernel/vm/loader/linux.o kernel/vm/loader/acpi_tables.o kernel/vm/loader/smbios.o

KOBJS := $(addprefix $(BUILD)/,$(BOOT_OBJS) $(KERNEL_OBJS) $(SHELL_OBJS) $(VM_OBJS) $(DRIVER_OBJS) \
	$(VMX_OBJS) $(VDEV_OBJS) $(LOADER_OBJS))

all: $(BUILD)/anfitrion.elf guests

# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/anfitrion.elf: $(KOBJS) linker.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KOBJS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) $(KASFLAGS) -MMD -MP -c -o $@ $<

-include $(KOBJS:.o=.d)

include guest/guest.mk
include tests/unit/unit.mk

guests: $(GUEST_ELFS)

# The Linux guest: Debian's kernel and busybox-static, fetched with apt-get download and
# packed by guest/linux/build.sh. Nothing of it is committed; it lives under build/.
LINUX_FILES := $(BUILD)/guests/vmlinuz $(BUILD)/guests/rootfs.cpio.gz
LINUX_SRCS := guest/linux/build.sh guest/linux/mkinitramfs.py $(shell find guest/linux/rootfs -type f)
linux: $(LINUX_FILES)
$(BUILD)/guests/rootfs.cpio.gz: $(BUILD)/guests/vmlinuz
$(BUILD)/guests/vmlinuz: $(LINUX_SRCS)
	guest/linux/build.sh $(BUILD)/guests $(BUILD)/linux

# ISO images: the default one from iso/grub.cfg, and one per tests/iso/NAME.cfg. An image
# whose grub.cfg names vmlinuz also carries the Linux guest.
ISO_FILES := $(BUILD)/anfitrion.elf $(GUEST_ELFS)
define make_iso
	@rm -rf $@.d && mkdir -p $@.d/boot/grub $@.d/boot/guests $@.d/boot/tests
	cp $(BUILD)/anfitrion.elf $@.d/boot/
	cp $(filter $(BUILD)/guests/%,$(GUEST_ELFS)) $@.d/boot/guests/ 2>/dev/null || true
	cp $(filter $(BUILD)/tests/guests/%,$(GUEST_ELFS)) $@.d/boot/tests/ 2>/dev/null || true
	if grep -q vmlinuz $(1); then cp $(LINUX_FILES) $@.d/boot/guests/; fi
	cp $(1) $@.d/boot/grub/grub.cfg
	$(2)
	grub-mkrescue -o $@ $@.d >$@.log 2>&1 || (cat $@.log; false)
	@rm -rf $@.d
endef

iso: $(BUILD)/anfitrion.iso
$(BUILD)/anfitrion.iso: iso/grub.cfg $(ISO_FILES) $(LINUX_FILES)
	$(call make_iso,iso/grub.cfg)

# make run ENTRY=linux: the same grub.cfg with its Linux entry as the default.
$(BUILD)/anfitrion-linux.iso: iso/grub.cfg $(ISO_FILES) $(LINUX_FILES)
	$(call make_iso,iso/grub.cfg,sed -i 's/^set default=.*/set default=1/' $@.d/boot/grub/grub.cfg)

# make run ENTRY=pvos: its third entry, the paravirtual guests.
$(BUILD)/anfitrion-pvos.iso: iso/grub.cfg $(ISO_FILES) $(LINUX_FILES)
	$(call make_iso,iso/grub.cfg,sed -i 's/^set default=.*/set default=2/' $@.d/boot/grub/grub.cfg)

# Test ISOs are the ones a test boots; bench*.cfg are make bench's own.
TEST_ISOS := $(patsubst tests/iso/%.cfg,$(BUILD)/tests/iso/%.iso,$(filter-out tests/iso/bench%,$(wildcard tests/iso/*.cfg)))
$(BUILD)/tests/iso/%.iso: tests/iso/%.cfg $(ISO_FILES)
	@mkdir -p $(dir $@)
	$(call make_iso,$<)
$(patsubst tests/iso/%.cfg,$(BUILD)/tests/iso/%.iso,$(shell grep -l vmlinuz tests/iso/*.cfg)): $(LINUX_FILES)

deps:
	@.ci/deps

# ENTRY picks the GRUB menu entry: default (tinyos alpha, beta, crash guest gamma), linux or
# pvos.
ENTRY ?= default
RUN_ISO_default := $(BUILD)/anfitrion.iso
RUN_ISO_linux := $(BUILD)/anfitrion-linux.iso
RUN_ISO_pvos := $(BUILD)/anfitrion-pvos.iso
RUN_ISO := $(RUN_ISO_$(ENTRY))
# Emulated RAM, and how long a run without a terminal goes on after the prompt: the Linux
# entry's guests need 240 MiB, and about three minutes to reach their shells in Bochs.
RUN_ARGS_default := --mem 256
RUN_ARGS_linux := --mem 512 --linger 240
RUN_ARGS_pvos := --mem 256
run: deps
	@test -n "$(RUN_ISO)" || { echo "make run: ENTRY=$(ENTRY) is not an entry (default, linux or pvos)" >&2; exit 2; }
	$(MAKE) --no-print-directory $(RUN_ISO)
	$(PYTHON) tests/emu.py run --emu $(EMU) --iso $(RUN_ISO) $(RUN_ARGS_$(ENTRY))

# make check: the host unit tests and the layering check; seconds, no emulator, no download.
check: $(BUILD)/anfitrion.elf $(UNIT_BINS)
	$(PYTHON) tests/layers.py
	$(PYTHON) tests/labs.py check
	$(PYTHON) tests/run.py --unit-only $(TESTFLAGS)

# make test: everything. The unit tests run first and do not wait for the Linux guest.
test: deps
	$(MAKE) --no-print-directory check
	$(MAKE) --no-print-directory all $(BUILD)/anfitrion.iso $(TEST_ISOS)
	$(PYTHON) tests/run.py --emulated $(TESTFLAGS)

bench: deps all iso $(addprefix $(BUILD)/tests/iso/,bench.iso bench_many16.iso bench_many32.iso \
	bench_linux.iso bench_linux_pvoff.iso bench_linux_direct.iso bench_rebootloop.iso bench_pvos.iso)
	$(PYTHON) tests/bench.py

clean:
	rm -rf $(BUILD)

# The course labs (docs/labs/README.md). make lab-start LAB=NAME DIR=PATH: a student's tree at
# PATH, a git repository with the lab's regions cut out (tests/labs.py). make grade [LAB=NAME]:
# that lab's checks, or every lab's, with points and a `lab NAME: SCORE/100` line
# (tests/grade.py); in the reference tree or a student's. GRADEFLAGS=--json=FILE also saves them.
lab-start:
	@test -n "$(LAB)" -a -n "$(DIR)" || { echo "usage: make lab-start LAB=NAME DIR=PATH" >&2; exit 2; }
	$(PYTHON) tests/labs.py start $(LAB) $(DIR)

LAB_UNIT_BINS := $(filter $(BUILD)/tests/unit/test_lab_%,$(UNIT_BINS))
grade: deps $(BUILD)/anfitrion.elf guests $(LAB_UNIT_BINS)
	$(PYTHON) tests/grade.py $(GRADEFLAGS) $(LAB)

.PHONY: all guests iso linux deps run check test bench clean soak lab-start grade

# make soak: the adversarial guest (tests/guests/chaos.c) for many seeds and more steps than
# make test gives it, one line per seed (tests/soak.py). SOAK_SEEDS=1..8, 3,5,9 or a mix.
SOAK_SEEDS ?= 1..8
SOAK_STEPS ?= 20000
soak: deps $(BUILD)/anfitrion.elf $(BUILD)/tests/guests/chaos.elf
	$(PYTHON) tests/soak.py --seeds $(SOAK_SEEDS) --steps $(SOAK_STEPS)

# Guest kernels: the guests we ship (build/guests/NAME.elf) and the guest test
# kernels (build/tests/guests/NAME.elf). 32-bit freestanding Multiboot 1 images
# linked at 1 MiB against the small runtime in guest/lib.
# Included by the top Makefile; also works alone:
#   make -f guest/guest.mk BUILD=build CC=gcc guests

# Alone, make the guests the default goal; included, leave the includer's default alone
# (restored at the end of this file, so including us before "all:" is fine too).
GUEST_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),yes)
GUEST_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

BUILD ?= build
CC ?= gcc
GUEST_LD ?= ld

GUEST_CFLAGS := -std=gnu11 -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables \
	-mgeneral-regs-only -nostdlib -O2 -g -Wall -Wextra -Werror -Iguest/lib
GUEST_ASFLAGS := -m32 -march=i686 -fno-pic -fno-pie -Iguest/lib
GUEST_LDFLAGS := -m elf_i386 -nostdlib -static --build-id=none -z noexecstack \
	-T guest/lib/guest.ld

GUEST_LIB_NAMES := apic desc multiboot paging pic pit printf pv rtc start str tasks test tshell uart
GUEST_LIB_OBJS := $(GUEST_LIB_NAMES:%=$(BUILD)/guest/lib/%.o)
GUEST_ENTRY_OBJ := $(BUILD)/guest/lib/entry.o
GUEST_LIB := $(BUILD)/guest/libguest.a

# Shipped guests: guest/NAME/*.c -> build/guests/NAME.elf
GUEST_NAMES := hello tinyos crash bench pvos
GUEST_hello_SRCS := guest/hello/hello.c
GUEST_tinyos_SRCS := guest/tinyos/main.c guest/tinyos/sched.c guest/tinyos/shell.c
GUEST_crash_SRCS := guest/crash/crash.c
GUEST_bench_SRCS := guest/bench/bench.c
# pvos defines its own guest_start: the runtime's start.c (which sets up the UART) stays out.
GUEST_pvos_SRCS := guest/pvos/main.c guest/pvos/sched.c guest/pvos/shell.c guest/pvos/peer.c

# Guest test kernels: every tests/guests/NAME.c -> build/tests/guests/NAME.elf (the runner
# boots those listed in tests/guests/MANIFEST).
GUEST_TEST_NAMES := $(sort $(patsubst tests/guests/%.c,%,$(wildcard tests/guests/*.c)))
# A test kernel's own link flags, before the script: where it loads (GUEST_LOAD_ADDR, guest/lib/guest.ld).
GUEST_LDFLAGS_lowload := --defsym=GUEST_LOAD_ADDR=0x8000

GUEST_SHIPPED_ELFS := $(GUEST_NAMES:%=$(BUILD)/guests/%.elf)
GUEST_TEST_ELFS := $(GUEST_TEST_NAMES:%=$(BUILD)/tests/guests/%.elf)
GUEST_ELFS := $(GUEST_SHIPPED_ELFS) $(GUEST_TEST_ELFS)

GUEST_SHIPPED_OBJS := $(foreach g,$(GUEST_NAMES),$(GUEST_$(g)_SRCS:%.c=$(BUILD)/%.o))
GUEST_TEST_OBJS := $(GUEST_TEST_NAMES:%=$(BUILD)/tests/guests/%.o)
GUEST_C_OBJS := $(GUEST_LIB_OBJS) $(GUEST_SHIPPED_OBJS) $(GUEST_TEST_OBJS)

.PHONY: guests
guests: $(GUEST_ELFS)

$(GUEST_C_OBJS): $(BUILD)/%.o: %.c guest/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<

$(GUEST_ENTRY_OBJ): $(BUILD)/%.o: %.S guest/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_ASFLAGS) -MMD -MP -c -o $@ $<

$(GUEST_LIB): $(GUEST_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# One link rule per shipped guest: its own objects, then the runtime.
define GUEST_LINK_RULE
$(BUILD)/guests/$(1).elf: $(GUEST_$(1)_SRCS:%.c=$(BUILD)/%.o) $(GUEST_ENTRY_OBJ) $(GUEST_LIB) guest/lib/guest.ld
	@mkdir -p $$(dir $$@)
	$(GUEST_LD) $(GUEST_LDFLAGS) -o $$@ $(GUEST_ENTRY_OBJ) $(GUEST_$(1)_SRCS:%.c=$(BUILD)/%.o) $(GUEST_LIB)
endef
$(foreach g,$(GUEST_NAMES),$(eval $(call GUEST_LINK_RULE,$(g))))

$(GUEST_TEST_ELFS): $(BUILD)/tests/guests/%.elf: $(BUILD)/tests/guests/%.o $(GUEST_ENTRY_OBJ) $(GUEST_LIB) guest/lib/guest.ld
	@mkdir -p $(dir $@)
	$(GUEST_LD) $(GUEST_LDFLAGS_$*) $(GUEST_LDFLAGS) -o $@ $(GUEST_ENTRY_OBJ) $< $(GUEST_LIB)

-include $(GUEST_C_OBJS:.o=.d) $(GUEST_ENTRY_OBJ:.o=.d)

ifeq ($(GUEST_STANDALONE),yes)
.DEFAULT_GOAL := guests
else
.DEFAULT_GOAL := $(GUEST_SAVED_DEFAULT_GOAL)
endif

# Host unit tests: each tests/unit/test_NAME.c is one cmocka program that
# #includes the pure-logic sources it tests. No registration needed.
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
UNIT_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -I. -DHOST_TEST \
	-fsanitize=address,undefined -fno-omit-frame-pointer

$(BUILD)/tests/unit/%: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(HOSTCC) $(UNIT_CFLAGS) -MMD -MP -o $@ $< -lcmocka

-include $(UNIT_BINS:=.d)

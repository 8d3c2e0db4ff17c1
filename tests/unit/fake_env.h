/* A fake struct vdev_env for the host unit tests of the virtual devices (unit tests only).
 * A device sees the VM only through its vdev_env (kernel/vm/vdev/vdev.h): the clocks, the
 * ISA interrupt lines, the IOAPIC<->LAPIC messages and machine events. This header is that
 * VM for every device test, so they share one fake instead of each keeping its own:
 *   - clocks: now_ns and now_tsc return values the test sets or advances; they stand still
 *     between the test's moves;
 *   - set_irq: each line's current level, its rising edges and calls, and the last call;
 *   - lapic_irq: a log of the messages delivered (vector, level-triggered);
 *   - lapic_eoi: how many EOIs, and the last vector;
 *   - machine: how many events of each kind, and the last event and status.
 * One fake per test program (a static, like fake_ram.h's RAM). fake_env_init() empties it and
 * wires every hook; a test that wants a hook missing sets it to NULL afterwards, or hands the
 * device a zeroed vdev_env of its own. Include it after cmocka.h. */
#ifndef TESTS_UNIT_FAKE_ENV_H
#define TESTS_UNIT_FAKE_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "kernel/vm/vdev/vdev.h"

#define FAKE_ENV_IRQS 16        /* ISA lines 0..15 */
#define FAKE_ENV_MAX_LAPIC 32   /* lapic_irq messages kept; one more fails the test */
#define FAKE_ENV_EVENTS (VDEV_EXIT + 1)

struct fake_env {
    uint64_t now_ns, tsc;
    struct {
        bool level;             /* as last driven */
        unsigned rises;         /* low -> high changes */
        unsigned calls;         /* set_irq calls for this line, changing it or not */
    } line[FAKE_ENV_IRQS];
    unsigned irq_calls;         /* set_irq calls, all lines */
    int last_irq;               /* line of the last set_irq call, -1 before the first */
    bool last_level;
    unsigned n_lapic;
    struct {
        uint8_t vector;
        bool level_triggered;
    } lapic[FAKE_ENV_MAX_LAPIC];
    unsigned n_eoi;
    uint8_t last_eoi;
    unsigned n_machine;                     /* machine events, all kinds */
    unsigned machine_count[FAKE_ENV_EVENTS];
    enum vdev_machine_event last_event;
    uint32_t last_status;
};

static struct fake_env fake;

/* ---- The hooks. */

static inline uint64_t fake_env_now_ns(void *ctx) { return ((struct fake_env *)ctx)->now_ns; }
static inline uint64_t fake_env_now_tsc(void *ctx) { return ((struct fake_env *)ctx)->tsc; }

static inline void fake_env_set_irq(void *ctx, unsigned irq, bool level)
{
    struct fake_env *f = ctx;
    assert_true(irq < FAKE_ENV_IRQS);
    if (level && !f->line[irq].level)
        f->line[irq].rises++;
    f->line[irq].level = level;
    f->line[irq].calls++;
    f->irq_calls++;
    f->last_irq = (int)irq;
    f->last_level = level;
}

static inline void fake_env_lapic_irq(void *ctx, uint8_t vector, bool level_triggered)
{
    struct fake_env *f = ctx;
    assert_true(f->n_lapic < FAKE_ENV_MAX_LAPIC);
    f->lapic[f->n_lapic].vector = vector;
    f->lapic[f->n_lapic].level_triggered = level_triggered;
    f->n_lapic++;
}

static inline void fake_env_lapic_eoi(void *ctx, uint8_t vector)
{
    struct fake_env *f = ctx;
    f->n_eoi++;
    f->last_eoi = vector;
}

static inline void fake_env_machine(void *ctx, enum vdev_machine_event event, uint32_t status)
{
    struct fake_env *f = ctx;
    assert_true((unsigned)event < FAKE_ENV_EVENTS);
    f->n_machine++;
    f->machine_count[event]++;
    f->last_event = event;
    f->last_status = status;
}

/* ---- Set-up. */

/* Empties the record: clocks at 0, every line low, nothing delivered. */
static inline void fake_env_reset(void)
{
    memset(&fake, 0, sizeof(fake));
    fake.last_irq = -1;
}

/* Resets the fake and points every hook of env at it. */
static inline void fake_env_init(struct vdev_env *env)
{
    fake_env_reset();
    *env = (struct vdev_env){
        .ctx = &fake,
        .now_ns = fake_env_now_ns,
        .set_irq = fake_env_set_irq,
        .now_tsc = fake_env_now_tsc,
        .lapic_irq = fake_env_lapic_irq,
        .lapic_eoi = fake_env_lapic_eoi,
        .machine = fake_env_machine,
    };
}

/* ---- Accessors. */

static inline uint64_t fake_ns(void) { return fake.now_ns; }
static inline void fake_set_ns(uint64_t ns) { fake.now_ns = ns; }
static inline void fake_advance_ns(uint64_t ns) { fake.now_ns += ns; }
static inline void fake_set_tsc(uint64_t tsc) { fake.tsc = tsc; }

static inline bool fake_irq_level(unsigned irq)
{
    assert_true(irq < FAKE_ENV_IRQS);
    return fake.line[irq].level;
}

static inline unsigned fake_irq_rises(unsigned irq)
{
    assert_true(irq < FAKE_ENV_IRQS);
    return fake.line[irq].rises;
}

static inline unsigned fake_irq_calls(void) { return fake.irq_calls; }

/* lapic_irq messages: how many, and the i-th one's vector and trigger mode. */
static inline unsigned fake_lapic_count(void) { return fake.n_lapic; }

static inline uint8_t fake_lapic_vector(unsigned i)
{
    assert_true(i < fake.n_lapic);
    return fake.lapic[i].vector;
}

static inline bool fake_lapic_level(unsigned i)
{
    assert_true(i < fake.n_lapic);
    return fake.lapic[i].level_triggered;
}

static inline unsigned fake_eoi_count(void) { return fake.n_eoi; }
static inline uint8_t fake_last_eoi(void) { return fake.last_eoi; }

/* Machine events: all of them, or those of one kind. */
static inline unsigned fake_machine_count(void) { return fake.n_machine; }

static inline unsigned fake_machine_count_of(enum vdev_machine_event event)
{
    assert_true((unsigned)event < FAKE_ENV_EVENTS);
    return fake.machine_count[event];
}

static inline enum vdev_machine_event fake_last_event(void) { return fake.last_event; }
static inline uint32_t fake_last_status(void) { return fake.last_status; }

#endif

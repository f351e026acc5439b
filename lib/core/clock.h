/* clock.h: the injected clock. Everything that needs "now" is given a bv_clock; production passes
 * bv_clock_system(), unit tests a bv_fake_clock they advance by hand. The clock is borrowed. */
#ifndef BV_CORE_CLOCK_H
#define BV_CORE_CLOCK_H

#include <stdint.h>

typedef struct bv_clock {
    int64_t (*now_ms)(void *arg);  /* wall clock, ms since the Unix epoch (UTC) */
    int64_t (*mono_ms)(void *arg); /* monotonic ms, for rates and timeouts */
    void *arg;
} bv_clock;

/* The process's real clock (static, never freed). */
const bv_clock *bv_clock_system(void);

/* A clock that moves only when told to: for tests. */
typedef struct bv_fake_clock {
    bv_clock clock;
    int64_t now;
} bv_fake_clock;
void bv_fake_clock_init(bv_fake_clock *fc, int64_t start_ms);
void bv_fake_clock_advance(bv_fake_clock *fc, int64_t ms);

static inline int64_t bv_now_ms(const bv_clock *c)
{
    return c->now_ms(c->arg);
}
static inline int64_t bv_mono_ms(const bv_clock *c)
{
    return c->mono_ms(c->arg);
}

#endif

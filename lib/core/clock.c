/* clock.c: the system clock and a fake clock for tests; see clock.h. */
#include "core/clock.h"

#include <time.h>

static int64_t sys_now(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t sys_mono(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const bv_clock system_clock = {sys_now, sys_mono, NULL};

const bv_clock *bv_clock_system(void)
{
    return &system_clock;
}

static int64_t fake_now(void *arg)
{
    return ((bv_fake_clock *)arg)->now;
}

void bv_fake_clock_init(bv_fake_clock *fc, int64_t start_ms)
{
    fc->now = start_ms;
    fc->clock.now_ms = fake_now;
    fc->clock.mono_ms = fake_now;
    fc->clock.arg = fc;
}

void bv_fake_clock_advance(bv_fake_clock *fc, int64_t ms)
{
    fc->now += ms;
}

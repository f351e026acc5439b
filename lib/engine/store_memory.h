/* store_memory.h: the in-process window store (the default for one machine). Counts and distinct
 * authors are exact. Answers arrive on the next turn of the given libevent loop.
 * Ownership: the store borrows `base` (which must outlive it) and owns everything else. */
#ifndef BV_ENGINE_STORE_MEMORY_H
#define BV_ENGINE_STORE_MEMORY_H

#include "engine/store.h"

struct event_base;

bv_store *bv_store_memory_new(struct event_base *base);

#endif

/* body.h: the JSON bodies of the console API's POSTs, parsed sans-IO (fed bytes, never reading
 * a socket) and fuzzed (tests/fuzz/fuzz_console_body.c).
 *
 * POST /api/rules/ID/silence takes
 *   {"for": "2h", "reason": "de demonstratie is aangekondigd"}   silence the rule for a while
 *   {"lift": true}                                              end its silence now
 * Strict: one flat object of these members, each at most once and of its type, nothing else
 * (no other member, no nesting, no comments); at most BV_BODY_MAX bytes. "for" is a duration as
 * the CLI takes it (30m, 2h, 1d), from 1 s to 30 days; "reason" is required with "for": one
 * line of 1 to BV_SILENCE_REASON_MAX bytes of UTF-8 with no control characters; "lift" comes
 * alone.
 *
 * Ownership: the request holds its own copy of the reason; nothing to free. */
#ifndef BV_CONSOLE_BODY_H
#define BV_CONSOLE_BODY_H

#include <stddef.h>
#include <stdint.h>

#define BV_BODY_MAX 4096
#define BV_SILENCE_REASON_MAX 1000
#define BV_SILENCE_FOR_MAX_MS (30LL * 86400000)

typedef struct bv_silence_req {
    int lift;       /* 1: end the silence (for_ms 0, reason empty) */
    int64_t for_ms; /* how long, from now */
    char reason[BV_SILENCE_REASON_MAX + 1];
} bv_silence_req;

/* Parses body[0..len). 0, or -1 with what is wrong in err (for a 400 answer). */
int bv_body_silence(const char *body, size_t len, bv_silence_req *out, char *err, size_t errlen);

#endif

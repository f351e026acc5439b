/* health.h: health alerts, the monitor watching itself. A live source with `flatline` set that
 * brings no post for that long (wall clock) fires an alert "flatline-SOURCE" (severity warning,
 * no detectors, no samples, "health": true in its JSON); the next post resolves it. Its id
 * comes from the event's namespace, the rule id and the time the quiet began, so a flatline
 * is one alert however often it is checked.
 *
 * Ownership: the monitor owns its watches and the rules it makes for them; alerts handed to the
 * callback are borrowed for the call. */
#ifndef BV_ALERT_HEALTH_H
#define BV_ALERT_HEALTH_H

#include "alert/alert.h"
#include "alert/book.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bv_health bv_health;

/* event, ns: as the alert book's (copied). NULL when out of memory. */
bv_health *bv_health_new(const char *event, const char *ns, int drill, bv_book_emit_cb *emit,
                         void *arg);
/* Watches one source from start_ms on. Returns its index, or a negative bv_err. */
int bv_health_watch(bv_health *h, const char *source, int64_t flatline_ms, int64_t start_ms);
/* Looks at watch i: last_post_ms is the wall-clock time of its latest post (0: none yet).
 * Fires when quiet for flatline_ms, resolves when a post came after the quiet began. */
void bv_health_check(bv_health *h, size_t i, int64_t last_post_ms, int64_t now_ms);
/* Health alerts firing now. */
size_t bv_health_firing(const bv_health *h);
void bv_health_free(bv_health *h);

#endif

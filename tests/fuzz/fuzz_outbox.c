/* fuzz_outbox.c: libFuzzer target for the outbox spool reader (lib/alert/outbox.h): the input is
 * spool text; every entry and target is walked and checked against the stats and itself. */
#include "alert/outbox.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bv_outbox *ob = bv_outbox_from_buffer((const char *)data, size);
    if (ob == NULL) {
        return 0; /* out of memory */
    }
    bv_outbox_stats st;
    bv_outbox_stats_get(ob, &st);
    size_t lines = 0;
    for (size_t i = 0; i < size; i++) {
        lines += data[i] == '\n';
    }
    if (st.entries != bv_outbox_count(ob) || st.dropped_old != 0 || st.skipped_lines > lines ||
        st.torn_tail != (size > 0 && data[size - 1] != '\n') ||
        strcmp(bv_outbox_path(ob), "(buffer)") != 0) {
        abort();
    }
    size_t pending = 0, failed = 0;
    for (size_t i = 0; i < bv_outbox_count(ob); i++) {
        const bv_out_entry *e = bv_outbox_get(ob, i);
        if (e == NULL || e->key == NULL || e->alert == NULL || strlen(e->alert) != e->alert_len ||
            bv_outbox_find(ob, e->key) != e || e->ntargets > 256 ||
            (e->ntargets > 0 && e->targets == NULL)) {
            abort();
        }
        size_t p = 0;
        for (size_t k = 0; k < e->ntargets; k++) {
            const bv_out_target *t = &e->targets[k];
            if (t->id == NULL || (t->status == BV_OUT_FAILED) != (t->reason != NULL) ||
                t->status > BV_OUT_FAILED || (t->status == BV_OUT_PENDING && t->attempts != 0)) {
                abort();
            }
            p += t->status == BV_OUT_PENDING;
            failed += t->status == BV_OUT_FAILED;
        }
        if (e->npending != p) {
            abort();
        }
        pending += p;
    }
    if (bv_outbox_get(ob, bv_outbox_count(ob)) != NULL || st.pending_targets != pending ||
        st.failed_targets != failed) {
        abort();
    }
    bv_outbox_close(ob);
    return 0;
}

/* fuzz_pipeline.c: the whole drill path on hostile input: bytes framed into lines, decoded with
 * shape sniffing, pushed through the pipeline (memory store, every detector type) and the alert
 * book, then every bucket closed. Nothing a platform user posts may crash it, leak, or keep it
 * from finishing. The first byte picks the chunk size the framer is fed with. */
#include "alert/book.h"
#include "codec/codec.h"
#include "engine/pipeline.h"
#include "engine/pseudo.h"
#include "engine/rules.h"
#include "engine/store_memory.h"
#include "net/lines.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char rules_yaml[] =
    "lists:\n"
    "  party: [feest, party, \"project x\", fuif*]\n"
    "regexes:\n"
    "  clock: '\\b\\d{1,2} ?(uur|u)\\b'\n"
    "rules:\n"
    "  - id: t\n"
    "    cooldown: 1m\n"
    "    match: {any: [{list: party}, {regex: clock}]}\n"
    "    detectors:\n"
    "      - {type: threshold, window: 2m, bucket: 1m, count: 2}\n"
    "  - id: u\n"
    "    match: {list: party}\n"
    "    require: any\n"
    "    detectors:\n"
    "      - {type: unique_authors, window: 3m, bucket: 1m, count: 2}\n"
    "      - {type: growth, measure: authors, window: 1m, bucket: 1m, periods: 2, min_count: 1}\n"
    "  - id: s\n"
    "    match: {not: {keyword: zzz}}\n"
    "    detectors:\n"
    "      - {type: spike, window: 1m, bucket: 1m, baseline: 3m, min_count: 2}\n"
    "      - {type: growth, window: 1m, bucket: 30s, periods: 2, min_count: 1}\n";

static bv_ruleset *rs;
static bv_pseudo *ps;
static size_t emitted;

static void on_alert(void *arg, const bv_alert *a)
{
    (void)arg;
    bv_buf b = BV_BUF_INIT;
    bv_alert_format_json(a, &b);
    bv_alert_format_text(a, &b);
    bv_buf_free(&b);
    emitted++;
}

static void on_done(void *arg)
{
    *(int *)arg = 1;
}

static void run(struct event_base *base, bv_book *book, int *done)
{
    /* bounded: the memory store answers every turn; a stuck pipeline would spin forever */
    for (int turns = 0; (!*done || bv_book_pending(book) > 0) && turns < 100000; turns++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    if (!*done || bv_book_pending(book) > 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rs == NULL) {
        bv_diag d;
        if (bv_rules_load_buffer(&rs, "fuzz.yaml", rules_yaml, strlen(rules_yaml), &d) != 0) {
            abort();
        }
        ps = bv_pseudo_new("fuzz-key-0123456789", 19);
    }
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
    struct event_base *base = event_base_new();
    bv_store *store = bv_store_memory_new(base);
    bv_book_opts bo = {.event = "fuzz", .ns = "drill/fuzz", .drill = 1};
    bv_book *book = bv_book_new(rs, store, &bo, on_alert, NULL);
    bv_pipeline_opts po = {.lateness_ms = 60000, .ns = "drill/fuzz"};
    char err[128];
    bv_pipeline *pl = bv_pipeline_new(rs, store, &po, bv_book_on_signal, book, err, sizeof err);
    bv_book_attach(book, pl);
    bv_lines *lines = bv_lines_new(4096);
    bv_codec_ctx ctx = {.pseudo = ps, .max_depth = 16};
    if (!base || !store || !book || !pl || !lines) {
        abort();
    }
    size_t off = size ? 1 : 0;
    int eof = 0;
    while (!eof) {
        if (off < size) {
            size_t n = size - off < chunk ? size - off : chunk;
            bv_lines_feed(lines, (const char *)data + off, n);
            off += n;
        } else {
            eof = 1;
        }
        bv_line ln;
        while ((eof ? bv_lines_finish(lines, &ln) : bv_lines_next(lines, &ln)) == 1) {
            if (ln.too_long || ln.len == 0) {
                continue;
            }
            ln.data[ln.len] = '\0';
            bv_post post;
            memset(&post, 0, sizeof post);
            bv_skip why;
            if (bv_codec_decode_line(&ctx, ln.data, ln.len, &post, &why, NULL) != BV_DECODE_POST) {
                continue;
            }
            int done = 0;
            if (bv_pipeline_push(pl, &post, on_done, &done) == 1) {
                done = 1;
            }
            run(base, book, &done);
        }
    }
    int done = 0;
    if (bv_pipeline_finish(pl, on_done, &done) == 1) {
        done = 1;
    }
    run(base, book, &done);
    bv_lines_free(lines);
    bv_store_free(store);
    bv_pipeline_free(pl);
    bv_book_free(book);
    event_base_free(base);
    return 0;
}

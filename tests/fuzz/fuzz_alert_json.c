/* fuzz_alert_json.c: libFuzzer target for the alert JSON reader (bv_alert_parse_json in
 * lib/alert/alert.h) and the renderer (lib/alert/render.h). What parses must format, parse back
 * and format to the same bytes; then every form of a message holding it renders in both
 * languages, the short text within its limit and cut at a character boundary. */
#include "alert/alert.h"
#include "alert/render.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_short(const bv_message *m, const bv_render_opts *o, size_t max)
{
    bv_buf b = BV_BUF_INIT;
    if (bv_render_short(m, o, max, &b) != 0 || b.len > max) {
        abort();
    }
    /* whatever the input, a cut never splits a character it had whole */
    bv_buf full = BV_BUF_INIT;
    if (bv_render_short(m, o, (size_t)-1, &full) != 0) {
        abort();
    }
    if (b.len < full.len && max >= 3) {
        size_t n = b.len - 3;
        if (memcmp(b.p + n, "\xe2\x80\xa6", 3) != 0 || memcmp(b.p, full.p, n) != 0) {
            abort();
        }
        /* n falls at the start of a sequence in full */
        size_t i = 0;
        while (i < n) {
            size_t k = bv_utf8_seq((const unsigned char *)full.p + i, full.len - i);
            i += k ? k : 1;
        }
        if (i != n) {
            abort();
        }
    }
    bv_buf_free(&b);
    bv_buf_free(&full);
}

static void render_all(const bv_alert *a, size_t max)
{
    const bv_alert *as[] = {a, a};
    const char *keys[] = {"k1", "k2"};
    bv_message m;
    memset(&m, 0, sizeof m);
    m.event = a->event;
    m.group = "police";
    m.alerts = as;
    m.keys = keys;
    m.key = "k1,k2";
    m.now_ms = a->at_ms + 600000;
    m.every_ms = 60000;
    static const bv_msg_kind kinds[] = {BV_MSG_ALERTS, BV_MSG_ESCALATION, BV_MSG_HEARTBEAT};
    for (size_t k = 0; k < 3; k++) {
        m.kind = kinds[k];
        for (size_t n = 1; n <= 2; n++) {
            m.nalerts = n;
            for (int lang = BV_LANG_NL; lang <= BV_LANG_EN; lang++) {
                bv_render_opts o = {.lang = (bv_lang)lang,
                                    .console_url = n == 1 ? "https://c.example/" : NULL};
                bv_buf b = BV_BUF_INIT;
                if (bv_render_subject(&m, &o, &b) != 0 || memchr(b.p, '\n', b.len) != NULL) {
                    abort();
                }
                bv_buf_reset(&b);
                if (bv_render_text(&m, &o, &b) != 0) {
                    abort();
                }
                bv_buf_reset(&b);
                if (bv_render_html(&m, &o, &b) != 0 || strstr(b.p, "<script") != NULL) {
                    abort();
                }
                bv_buf_free(&b);
                check_short(&m, &o, max);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    bv_alert *a = bv_alert_parse_json((const char *)data, size, err, sizeof err);
    if (a == NULL) {
        if (err[0] == '\0') {
            abort(); /* a refusal always says why */
        }
        return 0;
    }
    bv_buf f1 = BV_BUF_INIT, f2 = BV_BUF_INIT;
    if (bv_alert_format_json(a, &f1) != 0) {
        abort();
    }
    bv_alert *b = bv_alert_parse_json(f1.p, f1.len, err, sizeof err);
    if (b == NULL || bv_alert_format_json(b, &f2) != 0 || f1.len != f2.len ||
        memcmp(f1.p, f2.p, f1.len) != 0) {
        abort();
    }
    render_all(a, size % 401);
    bv_buf_free(&f1);
    bv_buf_free(&f2);
    bv_alert_free(a);
    bv_alert_free(b);
    return 0;
}

/* alert.c: alert records, their ids and their JSON and text forms; see alert.h. */
#include "alert/alert.h"
#include "core/err.h"
#include "core/timeutil.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bv_alert_make_id(const char *ns, const char *rule_id, int64_t episode_ms, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bv_buf msg = BV_BUF_INIT;
    bv_buf_append(&msg, ns, strlen(ns) + 1);
    bv_buf_append(&msg, rule_id, strlen(rule_id) + 1);
    bv_buf_printf(&msg, "%lld", (long long)episode_ms);
    memset(md, 0, sizeof md);
    if (msg.p) {
        EVP_Digest(msg.p, msg.len, md, &mdlen, EVP_sha256(), NULL);
    }
    bv_buf_free(&msg);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

void bv_alert_free(bv_alert *a)
{
    if (a == NULL) {
        return;
    }
    free(a->event);
    free(a->evals);
    for (size_t i = 0; i < a->nsamples; i++) {
        free(a->samples[i].id);
        free(a->samples[i].url);
        free(a->samples[i].excerpt);
    }
    free(a->samples);
    for (size_t i = 0; i < a->nplaces; i++) {
        bv_alert_place *p = &a->places[i];
        free(p->name);
        free(p->municipality);
        free(p->province);
        for (size_t k = 0; k < p->nambiguous; k++) {
            free(p->ambiguous[k]);
        }
        free(p->ambiguous);
    }
    free(a->places);
    free(a);
}

/* Copies the signal's places into a. 0 or -1 (out of memory). */
static int copy_places(bv_alert *a, const bv_signal *s)
{
    if (s->nplaces == 0) {
        return 0;
    }
    a->places = calloc(s->nplaces, sizeof *a->places);
    if (a->places == NULL) {
        return -1;
    }
    for (size_t i = 0; i < s->nplaces; i++) {
        const bv_place_count *src = &s->places[i];
        bv_alert_place *dst = &a->places[i];
        a->nplaces = i + 1;
        dst->count = src->count;
        if ((dst->name = strdup(src->name)) == NULL) {
            return -1;
        }
        if (src->home) {
            dst->municipality = strdup(src->home->municipality);
            dst->province = strdup(src->home->province);
            if (!dst->municipality || !dst->province) {
                return -1;
            }
        } else if (src->place && (src->place->kinds & BV_PLACE_PROVINCE)) {
            if ((dst->province = strdup(src->place->name)) == NULL) {
                return -1;
            }
        } else if (src->place && src->place->nhomes > 1) {
            dst->ambiguous = calloc(src->place->nhomes, sizeof *dst->ambiguous);
            if (dst->ambiguous == NULL) {
                return -1;
            }
            for (size_t h = 0; h < src->place->nhomes; h++) {
                char b[512];
                snprintf(b, sizeof b, "%s, %s", src->place->homes[h].municipality,
                         src->place->homes[h].province);
                if ((dst->ambiguous[h] = strdup(b)) == NULL) {
                    return -1;
                }
                dst->nambiguous = h + 1;
            }
        }
    }
    return 0;
}

bv_alert *bv_alert_from_signal(const bv_signal *s, bv_alert_state state, const char *event,
                               int drill, const char *id)
{
    bv_alert *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    snprintf(a->id, sizeof a->id, "%s", id);
    a->state = state;
    a->event = strdup(event);
    a->drill = drill;
    a->rule = s->spec;
    a->at_ms = s->at_ms;
    a->evals = calloc(s->nevals ? s->nevals : 1, sizeof *a->evals);
    a->samples = calloc(s->nsamples ? s->nsamples : 1, sizeof *a->samples);
    if (a->event == NULL || a->evals == NULL || a->samples == NULL) {
        goto fail;
    }
    memcpy(a->evals, s->evals, s->nevals * sizeof *a->evals);
    a->nevals = s->nevals;
    if (copy_places(a, s) != 0) {
        goto fail;
    }
    for (size_t i = 0; i < s->nsamples; i++) {
        const bv_sample *src = s->samples[i];
        bv_sample *dst = &a->samples[i];
        *dst = *src;
        dst->id = strdup(src->id ? src->id : "");
        dst->url = src->url ? strdup(src->url) : NULL;
        dst->excerpt = strdup(src->excerpt ? src->excerpt : "");
        a->nsamples = i + 1;
        if (!dst->id || !dst->excerpt || (src->url && !dst->url)) {
            goto fail;
        }
    }
    return a;
fail:
    bv_alert_free(a);
    return NULL;
}

static void json_kv_str(bv_buf *b, const char *k, const char *v)
{
    bv_buf_printf(b, "\"%s\":\"", k);
    bv_buf_json_str(b, v, strlen(v));
    bv_buf_putc(b, '"');
}

static void json_double(bv_buf *b, const char *k, double v)
{
    if (!isfinite(v)) {
        v = 0;
    }
    bv_buf_printf(b, ",\"%s\":%.3g", k, v);
}

static void format_eval(bv_buf *b, const bv_det_eval *e)
{
    char dur[32];
    bv_buf_printf(b, "{\"type\":\"%s\",\"window\":\"%s\",\"count\":%llu", bv_det_type_name(e->type),
                  bv_duration_format(e->window_ms, dur), (unsigned long long)e->count);
    switch (e->type) {
    case BV_DET_THRESHOLD:
        bv_buf_printf(b, ",\"threshold\":%llu", (unsigned long long)e->threshold);
        break;
    case BV_DET_UNIQUE_AUTHORS:
        bv_buf_printf(b, ",\"unique_authors\":%llu,\"threshold\":%llu",
                      (unsigned long long)e->authors, (unsigned long long)e->threshold);
        break;
    case BV_DET_SPIKE:
        json_double(b, "baseline", e->baseline);
        json_double(b, "ratio", e->ratio);
        json_double(b, "factor", e->factor);
        bv_buf_printf(b, ",\"min_count\":%llu", (unsigned long long)e->threshold);
        break;
    case BV_DET_GROWTH:
        bv_buf_printf(b, ",\"measure\":\"%s\",\"windows\":[", e->by_authors ? "authors" : "posts");
        for (unsigned i = 0; i < e->nwindows; i++) {
            bv_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)e->windows[i]);
        }
        bv_buf_putc(b, ']');
        json_double(b, "ratio", e->ratio);
        json_double(b, "factor", e->factor);
        bv_buf_printf(b, ",\"min_count\":%llu", (unsigned long long)e->threshold);
        break;
    default:
        break;
    }
    bv_buf_printf(b, ",\"holds\":%s}", e->holds ? "true" : "false");
}

int bv_alert_format_json(const bv_alert *a, bv_buf *b)
{
    char t[BV_TIME_ISO_LEN];
    size_t start = b->len;
    bv_buf_puts(b, "{\"type\":\"alert\",");
    json_kv_str(b, "id", a->id);
    bv_buf_putc(b, ',');
    json_kv_str(b, "state", a->state == BV_ALERT_FIRING ? "firing" : "resolved");
    bv_buf_putc(b, ',');
    json_kv_str(b, "event", a->event);
    bv_buf_putc(b, ',');
    json_kv_str(b, "rule", a->rule->id);
    bv_buf_putc(b, ',');
    json_kv_str(b, "title", a->rule->title ? a->rule->title : a->rule->id);
    bv_buf_putc(b, ',');
    json_kv_str(b, "severity", bv_severity_name(a->rule->severity));
    bv_buf_puts(b, ",\"recipients\":[");
    for (size_t i = 0; i < a->rule->nrecipients; i++) {
        bv_buf_puts(b, i ? ",\"" : "\"");
        bv_buf_json_str(b, a->rule->recipients[i], strlen(a->rule->recipients[i]));
        bv_buf_putc(b, '"');
    }
    bv_buf_puts(b, "],");
    json_kv_str(b, "at", bv_time_format_iso8601(a->at_ms, t));
    if (a->state == BV_ALERT_RESOLVED && a->since_ms) {
        bv_buf_putc(b, ',');
        json_kv_str(b, "fired_at", bv_time_format_iso8601(a->since_ms, t));
    }
    bv_buf_puts(b, ",\"detectors\":[");
    for (size_t i = 0; i < a->nevals; i++) {
        if (i) {
            bv_buf_putc(b, ',');
        }
        format_eval(b, &a->evals[i]);
    }
    bv_buf_puts(b, "],\"places\":[");
    for (size_t i = 0; i < a->nplaces; i++) {
        const bv_alert_place *p = &a->places[i];
        bv_buf_puts(b, i ? ",{" : "{");
        json_kv_str(b, "name", p->name);
        bv_buf_printf(b, ",\"count\":%u", p->count);
        if (p->municipality) {
            bv_buf_putc(b, ',');
            json_kv_str(b, "municipality", p->municipality);
        }
        if (p->province) {
            bv_buf_putc(b, ',');
            json_kv_str(b, "province", p->province);
        }
        if (p->nambiguous) {
            bv_buf_puts(b, ",\"ambiguous\":[");
            for (size_t k = 0; k < p->nambiguous; k++) {
                bv_buf_puts(b, k ? ",\"" : "\"");
                bv_buf_json_str(b, p->ambiguous[k], strlen(p->ambiguous[k]));
                bv_buf_putc(b, '"');
            }
            bv_buf_putc(b, ']');
        }
        bv_buf_putc(b, '}');
    }
    bv_buf_puts(b, "],\"samples\":[");
    for (size_t i = 0; i < a->nsamples; i++) {
        const bv_sample *s = &a->samples[i];
        bv_buf_puts(b, i ? ",{" : "{");
        json_kv_str(b, "platform", bv_platform_name(s->platform));
        bv_buf_putc(b, ',');
        json_kv_str(b, "at", bv_time_format_iso8601(s->created_ms, t));
        if (s->url) {
            bv_buf_putc(b, ',');
            json_kv_str(b, "url", s->url);
        }
        bv_buf_putc(b, ',');
        json_kv_str(b, "excerpt", s->excerpt ? s->excerpt : "");
        bv_buf_putc(b, '}');
    }
    if (a->health) {
        bv_buf_puts(b, "],\"health\":true");
    } else {
        bv_buf_putc(b, ']');
    }
    bv_buf_printf(b, ",\"drill\":%s}", a->drill ? "true" : "false");
    return b->p && b->len > start ? BV_OK : BV_ENOMEM;
}

int bv_alert_format_text(const bv_alert *a, bv_buf *b)
{
    char t[BV_TIME_ISO_LEN];
    size_t start = b->len;
    bv_buf_printf(b, "%s %s%-8s %-8s %s: %s", bv_time_format_amsterdam(a->at_ms, t),
                  a->drill ? "[drill] " : "", a->state == BV_ALERT_FIRING ? "FIRING" : "RESOLVED",
                  bv_severity_name(a->rule->severity), a->rule->id,
                  a->rule->title ? a->rule->title : a->rule->id);
    for (size_t i = 0; i < a->nevals; i++) {
        const bv_det_eval *e = &a->evals[i];
        char dur[32];
        bv_duration_format(e->window_ms, dur);
        switch (e->type) {
        case BV_DET_THRESHOLD:
            bv_buf_printf(b, " | %llu posts/%s (>= %llu)", (unsigned long long)e->count, dur,
                          (unsigned long long)e->threshold);
            break;
        case BV_DET_UNIQUE_AUTHORS:
            bv_buf_printf(b, " | %llu authors/%s (>= %llu)", (unsigned long long)e->authors, dur,
                          (unsigned long long)e->threshold);
            break;
        case BV_DET_SPIKE:
            bv_buf_printf(b, " | %llu posts/%s = %.1fx baseline %.1f (>= %.1fx)",
                          (unsigned long long)e->count, dur, e->ratio, e->baseline, e->factor);
            break;
        case BV_DET_GROWTH:
            bv_buf_printf(b, " | %s growth %.2fx per %s (>= %.2fx), %s per window",
                          e->by_authors ? "author" : "post", e->ratio, dur, e->factor,
                          e->by_authors ? "authors" : "posts");
            for (unsigned k = e->nwindows; k-- > 0;) {
                bv_buf_printf(b, "%s%llu", k + 1 == e->nwindows ? " " : " \xe2\x86\x92 ",
                              (unsigned long long)e->windows[k]);
            }
            break;
        default:
            break;
        }
    }
    /* where: the three places named most, an ambiguous one marked as such */
    for (size_t i = 0; i < a->nplaces && i < 3; i++) {
        const bv_alert_place *p = &a->places[i];
        bv_buf_printf(b, "%s%s %u", i ? ", " : " | places: ", p->name, p->count);
        if (p->nambiguous) {
            bv_buf_printf(b, " (which? %zu places of that name)", p->nambiguous);
        } else if (p->municipality && strcmp(p->municipality, p->name) != 0) {
            bv_buf_printf(b, " (%s)", p->municipality);
        }
    }
    if (a->state == BV_ALERT_FIRING && a->nsamples > 0) {
        /* the first 80 bytes of the excerpt, cut at a character boundary */
        const char *ex = a->samples[0].excerpt ? a->samples[0].excerpt : "";
        size_t n = strlen(ex);
        if (n > 80) {
            n = 80;
            while (n > 0 && ((unsigned char)ex[n] & 0xC0) == 0x80) {
                n--;
            }
        }
        bv_buf_printf(b, " | %s: \"%.*s%s\"", bv_platform_name(a->samples[0].platform), (int)n, ex,
                      ex[n] ? "\xe2\x80\xa6" : "");
    }
    bv_buf_printf(b, " [%s]", a->id);
    return b->p && b->len > start ? BV_OK : BV_ENOMEM;
}

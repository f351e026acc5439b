/* sink_email.c: the e-mail sink: one message to all addresses of a target in one SMTP
 * transaction, sent by libcurl on the curl loop (STARTTLS when the server offers it, or always
 * with require_tls; smtps:// is TLS from the start), AUTH with the user and password read from
 * the environment when the sink is made.
 *
 * The mail is multipart/alternative: text/plain then text/html, both UTF-8 and quoted-printable,
 * from alert/render.h; the heartbeat is a short mail of the same form. Its headers:
 *   Date            RFC 5322, Europe/Amsterdam time with its offset, from env->clock
 *   From, To        smtp.from; the target's addresses
 *   Subject         bv_render_subject: as it is when printable ASCII (folded at spaces when
 *                   long), else RFC 2047 encoded-words (=?UTF-8?B?...?=) on folded lines
 *   Message-ID      <KEY@blikveld>, KEY the message's key with every character but letters,
 *                   digits, '-' and '_' made a '.' (a long one cut and ended in a hash of the
 *                   key): a resend has the same Message-ID, so receivers can drop duplicates
 *   X-Blikveld-Key  the message's key; X-Blikveld-Drill: yes for drills
 *   Auto-Submitted: auto-generated, X-Auto-Response-Suppress: All (no out-of-office replies)
 * The outcome: curl OK is OK ("SMTP 250 ..." with the server's words); a 4xx reply, no
 * connection, a timeout or a broken TLS handshake is RETRY; a 5xx reply (a rejected recipient,
 * refused credentials) is FAIL, and so is a server that offers no STARTTLS when require_tls is
 * set: it will not start offering it while the alert waits, and sending in the clear is what
 * require_tls forbids. A rejected recipient fails the whole transaction (libcurl's default):
 * nobody of the target got the mail, and the failure is shown, never half hidden.
 *
 * Ownership: the sink copies what it keeps of its config; the password is wiped when it is
 * freed. A label never holds the user or the password, a reason never the password or its base64
 * forms (a server reply quoting them is withheld). The message is borrowed for deliver only. */
#include "alert/render.h"
#include "alert/sink.h"
#include "alert/sink_http.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "net/curl_loop.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX 256  /* bytes of the server's last reply line kept */
#define REASON_MAX 200 /* a reason's length */
#define LINE_SOFT 78   /* a header line folds before this, where it can */
#define LINE_HARD 998  /* and must never be longer */
#define EW_BYTES 39    /* bytes per encoded-word: 52 base64 characters, 64 with =?UTF-8?B?...?= */
#define MSGID_MAX 100  /* longer ids are cut and end in a hash */
#define ADDR_MAX 254

typedef struct email_sink email_sink;

/* One mail in flight. */
typedef struct mail {
    email_sink *es;
    CURL *easy;
    curl_mime *mime;
    struct curl_slist *rcpt, *headers;
    bv_sink_done_cb *done;
    void *arg;
    char reply[REPLY_MAX]; /* the server's last reply line, no CRLF */
    struct mail *prev, *next;
} mail;

struct email_sink {
    bv_sink base;
    char *url;
    char *from;     /* "<addr>" for MAIL FROM */
    char *from_hdr; /* addr */
    char **to;      /* "<addr>" each */
    size_t nto;
    char *to_hdr; /* "a@b, c@d" */
    char *user, *password;
    char *secret[2]; /* base64 of the password, of PLAIN's "\0user\0password" */
    long use_ssl;
    int64_t timeout_ms;
    bv_render_opts ropts;
    mail *live;
};

/* ---- small pieces ---- */

static void put_b64(bv_buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        bv_buf_append(b, q, 4);
    }
}

/* A base64 copy of n bytes (caller frees with bv_http_secret_free); NULL when out of memory. */
static char *b64_dup(const void *p, size_t n)
{
    bv_buf b = BV_BUF_INIT;
    put_b64(&b, p, n);
    if (b.p == NULL) {
        return NULL;
    }
    return bv_buf_steal(&b);
}

/* An address as MAIL FROM and RCPT TO take it, and a header can show it as it is: local@domain,
 * printable ASCII without spaces, brackets, quotes, commas or semicolons. */
static int addr_ok(const char *a)
{
    size_t n = a ? strlen(a) : 0;
    const char *at = a ? strrchr(a, '@') : NULL;
    if (n == 0 || n > ADDR_MAX || at == NULL || at == a || at[1] == '\0') {
        return 0;
    }
    for (const char *c = a; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u <= ' ' || u >= 0x7f || strchr("<>()[]\\,;:\"", *c)) {
            return 0;
        }
    }
    return 1;
}

static char *bracketed(const char *addr)
{
    size_t n = strlen(addr) + 3;
    char *s = malloc(n);
    if (s) {
        snprintf(s, n, "<%s>", addr);
    }
    return s;
}

/* ---- headers ---- */

/* 1 when v can stand in a header as it is: printable ASCII, and no "=?" a reader would take
 * for the start of an encoded-word. */
static int plain_ascii(const char *v)
{
    for (const char *c = v; *c; c++) {
        if (*c < ' ' || *c > '~' || (c[0] == '=' && c[1] == '?')) {
            return 0;
        }
    }
    return 1;
}

/* Appends " value" after a header's "Name:", folding before a space where a line would pass
 * LINE_SOFT (unfolding gives the value back exactly). 0 when a line would pass LINE_HARD. */
static int fold_ascii(bv_buf *b, size_t line_start, const char *value)
{
    size_t col = b->len - line_start;
    const char *p = value;
    int first = 1;
    while (first || *p) {
        /* a token: the spaces before a word (the first: the one after the colon), the word */
        const char *q = p;
        while (*q == ' ') {
            q++;
        }
        int word = *q != '\0';
        while (*q && *q != ' ') {
            q++;
        }
        size_t tok = (size_t)(q - p) + first;
        if (!first && word && col + tok > LINE_SOFT) {
            bv_buf_puts(b, "\r\n");
            col = 0;
        }
        if (first) {
            bv_buf_putc(b, ' ');
        }
        bv_buf_append(b, p, (size_t)(q - p));
        col += tok;
        if (col > LINE_HARD) {
            return 0;
        }
        p = q;
        first = 0;
    }
    return 1;
}

/* Appends " =?UTF-8?B?...?=" words after "Name:", one per line, each holding whole UTF-8
 * characters (RFC 2047 6.2: the space between two encoded-words is not part of the text).
 * Control characters become spaces. */
static void put_encoded(bv_buf *b, const char *value)
{
    size_t n = strlen(value);
    unsigned char chunk[EW_BYTES];
    size_t i = 0;
    do {
        size_t k = n - i < EW_BYTES ? n - i : EW_BYTES;
        if (i + k < n) {
            size_t back = k;
            while (back > 0 && ((unsigned char)value[i + back] & 0xc0) == 0x80) {
                back--;
            }
            k = back > 0 ? back : k; /* no character start at all: not UTF-8, cut anywhere */
        }
        for (size_t j = 0; j < k; j++) {
            unsigned char c = (unsigned char)value[i + j];
            chunk[j] = c < ' ' || c == 0x7f ? ' ' : c;
        }
        bv_buf_puts(b, i == 0 ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?");
        put_b64(b, chunk, k);
        bv_buf_puts(b, "?=");
        i += k;
    } while (i < n);
}

/* "Name: value" as one curl header (folds included) appended to *h. BV_OK or BV_ENOMEM. */
static int add_header(struct curl_slist **h, bv_buf *b, const char *name, const char *value)
{
    bv_buf_reset(b);
    bv_buf_printf(b, "%s:", name);
    size_t after_name = b->len;
    if (!plain_ascii(value) || !fold_ascii(b, 0, value)) {
        b->len = after_name;
        put_encoded(b, value);
    }
    if (b->p == NULL) {
        return BV_ENOMEM;
    }
    struct curl_slist *nh = curl_slist_append(*h, b->p);
    if (nh == NULL) {
        return BV_ENOMEM;
    }
    *h = nh;
    return BV_OK;
}

/* RFC 5322 date-time in Europe/Amsterdam: "Fri, 12 Jun 2026 22:41:00 +0200". */
static void put_date(bv_buf *b, int64_t ms)
{
    static const char days[][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t off = bv_time_amsterdam_offset(ms);
    int64_t s = (ms + off) / 1000 - ((ms + off) % 1000 < 0);
    int64_t days_since = s / 86400 - (s % 86400 < 0);
    int64_t sod = s - days_since * 86400;
    /* civil date from days since 1970-01-01 (Howard Hinnant's algorithm) */
    int64_t z = days_since + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    int64_t wd = ((days_since % 7) + 7) % 7;
    bv_buf_printf(b, "%s, %d %s %04lld %02d:%02d:%02d +%02d%02d", days[wd], (int)d, months[m - 1],
                  (long long)y, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
                  (int)(off / 3600000), (int)(off / 60000 % 60));
}

/* The Message-ID's left part from the message's key (see the head comment). */
static void put_msgid(bv_buf *b, const char *key)
{
    size_t start = b->len;
    int dot = 1; /* no dot first, none twice */
    for (const char *c = key; *c; c++) {
        int keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                   (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
        if (keep) {
            bv_buf_putc(b, *c);
            dot = 0;
        } else if (!dot) {
            bv_buf_putc(b, '.');
            dot = 1;
        }
    }
    while (b->len > start && b->p[b->len - 1] == '.') {
        b->len--;
    }
    if (b->len - start > MSGID_MAX || b->len == start) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        memset(md, 0, sizeof md);
        EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
        if (b->len - start > MSGID_MAX - 33) {
            b->len = start + MSGID_MAX - 33;
        }
        if (b->len > start && b->p[b->len - 1] != '.') {
            bv_buf_putc(b, '.');
        }
        for (int i = 0; i < 16; i++) {
            bv_buf_printf(b, "%02x", md[i]);
        }
    }
    if (b->p) {
        b->p[b->len] = '\0';
    }
}

/* s with every line ending made CRLF, as a mail's body has it. */
static void put_crlf(bv_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) {
            bv_buf_putc(b, '\r');
        }
        bv_buf_putc(b, s[i]);
    }
}

/* ---- one mail ---- */

static void mail_free(mail *ml)
{
    if (ml->easy) {
        curl_easy_cleanup(ml->easy);
    }
    curl_mime_free(ml->mime);
    curl_slist_free_all(ml->rcpt);
    curl_slist_free_all(ml->headers);
    free(ml);
}

static void mail_unlink(email_sink *es, mail *ml)
{
    if (ml->prev) {
        ml->prev->next = ml->next;
    } else {
        es->live = ml->next;
    }
    if (ml->next) {
        ml->next->prev = ml->prev;
    }
}

/* libcurl passes each SMTP reply line as a "header": the last one is kept for the reason. */
static size_t on_reply(char *data, size_t size, size_t nmemb, void *arg)
{
    mail *ml = arg;
    size_t n = size * nmemb;
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n')) {
        len--;
    }
    /* 221 answers the QUIT curl sends after a failure: the reply that failed came before */
    if (len >= 3 && data[0] >= '2' && data[0] <= '5' && strncmp(data, "221", 3) != 0) {
        if (len >= sizeof ml->reply) {
            len = sizeof ml->reply - 1;
        }
        memcpy(ml->reply, data, len);
        ml->reply[len] = '\0';
    }
    return n;
}

/* Renders m into the mail's headers and body parts. */
static int compose(email_sink *es, const bv_message *m, mail *ml)
{
    const bv_sink_env *env = es->base.env;
    bv_buf subject = BV_BUF_INIT, text = BV_BUF_INIT, html = BV_BUF_INIT, body = BV_BUF_INIT,
           line = BV_BUF_INIT;
    int rc = bv_render_subject(m, &es->ropts, &subject);
    if (rc == BV_OK) {
        rc = bv_render_text(m, &es->ropts, &text);
    }
    if (rc == BV_OK) {
        rc = bv_render_html(m, &es->ropts, &html);
    }
    if (rc != BV_OK) {
        goto out;
    }
    int64_t now = env->clock ? bv_now_ms(env->clock) : m->now_ms;
    const char *key = m->key ? m->key : "";
    bv_buf date = BV_BUF_INIT, id = BV_BUF_INIT;
    put_date(&date, now);
    bv_buf_putc(&id, '<');
    put_msgid(&id, key);
    bv_buf_puts(&id, "@blikveld>");
    rc = date.p && id.p ? BV_OK : BV_ENOMEM;
    const char *const hdr[][2] = {
        {"Date", date.p},
        {"From", es->from_hdr},
        {"To", es->to_hdr},
        {"Subject", subject.p && *subject.p ? subject.p : "blikveld"},
        {"Message-ID", id.p},
        {"X-Blikveld-Key", key},
        {"X-Blikveld-Drill", m->drill ? "yes" : NULL},
        {"Auto-Submitted", "auto-generated"},
        {"X-Auto-Response-Suppress", "All"},
        /* libcurl makes the top part of this type and adds its boundary */
        {"Content-Type", "multipart/alternative"},
    };
    for (size_t i = 0; rc == BV_OK && i < sizeof hdr / sizeof *hdr; i++) {
        if (hdr[i][1]) {
            rc = add_header(&ml->headers, &line, hdr[i][0], hdr[i][1]);
        }
    }
    bv_buf_free(&date);
    bv_buf_free(&id);
    if (rc != BV_OK) {
        goto out;
    }
    ml->mime = curl_mime_init(ml->easy);
    if (ml->mime == NULL) {
        rc = BV_ENOMEM;
        goto out;
    }
    const bv_buf *src[2] = {&text, &html};
    static const char *const types[2] = {"text/plain; charset=utf-8", "text/html; charset=utf-8"};
    for (int i = 0; i < 2; i++) {
        bv_buf_reset(&body);
        put_crlf(&body, src[i]->p ? src[i]->p : "", src[i]->len);
        curl_mimepart *part = curl_mime_addpart(ml->mime);
        if (part == NULL || body.p == NULL || curl_mime_data(part, body.p, body.len) != CURLE_OK ||
            curl_mime_type(part, types[i]) != CURLE_OK ||
            curl_mime_encoder(part, "quoted-printable") != CURLE_OK) {
            rc = BV_ENOMEM;
            goto out;
        }
    }
out:
    bv_buf_free(&subject);
    bv_buf_free(&text);
    bv_buf_free(&html);
    bv_buf_free(&body);
    bv_buf_free(&line);
    return rc;
}

static int setup(email_sink *es, mail *ml)
{
    const bv_sink_env *env = es->base.env;
    for (size_t i = 0; i < es->nto; i++) {
        struct curl_slist *n = curl_slist_append(ml->rcpt, es->to[i]);
        if (n == NULL) {
            return BV_ENOMEM;
        }
        ml->rcpt = n;
    }
    CURL *e = ml->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_URL, es->url);
    curl_easy_setopt(e, CURLOPT_USE_SSL, es->use_ssl);
    if (env->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, env->ca_file);
    }
    if (es->user) {
        curl_easy_setopt(e, CURLOPT_USERNAME, es->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, es->password);
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)es->timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, es->from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, ml->rcpt);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, ml->headers);
    curl_easy_setopt(e, CURLOPT_MIMEPOST, ml->mime);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_reply);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, ml);
    return BV_OK;
}

/* What a transfer's end means (see the head comment), and its reason. */
static bv_sink_result classify(const email_sink *es, const mail *ml, CURL *easy, CURLcode rc,
                               long code, char *out, size_t outlen)
{
    const char *r = ml->reply;
    long rcode = r[0] ? strtol(r, NULL, 10) : 0;
    if (rc == CURLE_OK || (code >= 400 && code <= 599)) {
        if (rcode != 0 && (rc == CURLE_OK || rcode == code)) {
            char words[REASON_MAX - 8];
            bv_http_excerpt(r, strlen(r), words, sizeof words);
            snprintf(out, outlen, "SMTP %s", words);
        } else if (code != 0) {
            snprintf(out, outlen, "SMTP %03ld", code);
        } else {
            snprintf(out, outlen, "sent");
        }
        return rc == CURLE_OK ? BV_SINK_OK : code < 500 ? BV_SINK_RETRY : BV_SINK_FAIL;
    }
    switch (rc) {
    case CURLE_USE_SSL_FAILED:
        snprintf(out, outlen, "the server offers no STARTTLS (require_tls)");
        return BV_SINK_FAIL;
    case CURLE_LOGIN_DENIED:
    case CURLE_AUTH_ERROR:
        snprintf(out, outlen, "login denied (no AUTH the server and curl share)");
        return BV_SINK_FAIL;
    case CURLE_GOT_NOTHING:
        snprintf(out, outlen, "connection lost");
        return BV_SINK_RETRY;
    default:
        return bv_http_transport_reason(easy, rc, es->timeout_ms, out, outlen);
    }
}

/* A reason that quotes the credentials (a server may echo what it got) keeps only its code. */
static void redact(const email_sink *es, char *reason, size_t len, long code)
{
    const char *forms[3] = {es->password, es->secret[0], es->secret[1]};
    for (int i = 0; i < 3; i++) {
        if (forms[i] && *forms[i] && strstr(reason, forms[i])) {
            snprintf(reason, len, "SMTP %03ld (reply withheld: it quoted the credentials)", code);
            return;
        }
    }
}

static void on_done(void *arg, CURL *easy, CURLcode rc)
{
    mail *ml = arg;
    email_sink *es = ml->es;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    char reason[REASON_MAX];
    bv_sink_result r = classify(es, ml, easy, rc, code, reason, sizeof reason);
    redact(es, reason, sizeof reason, code);
    bv_sink_done_cb *done = ml->done;
    void *darg = ml->arg;
    mail_unlink(es, ml);
    mail_free(ml);
    done(darg, r, reason);
}

static int email_deliver(bv_sink *s, const bv_message *m, bv_sink_done_cb *done, void *arg)
{
    email_sink *es = (email_sink *)s;
    if (s->env == NULL || s->env->curl == NULL || m == NULL || done == NULL) {
        return BV_EINVAL;
    }
    mail *ml = calloc(1, sizeof *ml);
    if (ml == NULL) {
        return BV_ENOMEM;
    }
    ml->es = es;
    ml->done = done;
    ml->arg = arg;
    ml->easy = curl_easy_init();
    int rc = ml->easy ? compose(es, m, ml) : BV_ENOMEM;
    if (rc == BV_OK) {
        rc = setup(es, ml);
    }
    if (rc == BV_OK) {
        rc = bv_curl_loop_add(s->env->curl, ml->easy, on_done, ml);
    }
    if (rc != BV_OK) {
        mail_free(ml);
        return rc;
    }
    ml->next = es->live;
    if (es->live) {
        es->live->prev = ml;
    }
    es->live = ml;
    return BV_OK; /* on_done runs from the loop, never before this returns */
}

static void email_free(bv_sink *s)
{
    email_sink *es = (email_sink *)s;
    while (es->live) {
        mail *ml = es->live;
        bv_curl_loop_remove(s->env->curl, ml->easy);
        mail_unlink(es, ml);
        mail_free(ml);
    }
    free(es->url);
    free(es->from);
    free(es->from_hdr);
    for (size_t i = 0; i < es->nto; i++) {
        free(es->to[i]);
    }
    free(es->to);
    free(es->to_hdr);
    free(es->user);
    bv_http_secret_free(es->password);
    bv_http_secret_free(es->secret[0]);
    bv_http_secret_free(es->secret[1]);
    free(s->label);
    free(es);
}

static const bv_sink_ops email_ops = {"email", NULL, email_deliver, email_free};

/* The label's "smtp://host:port"; NULL with err when url is not an smtp:// or smtps:// URL
 * curl can use, or holds credentials (those belong in user_env and password_env). */
static char *url_label(const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL;
    char *label = NULL;
    if (u == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0) ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || *host == '\0') {
        snprintf(err, errlen, "smtp: url is not an smtp://HOST:PORT or smtps://HOST:PORT URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        snprintf(err, errlen, "smtp: url holds a user or password; use user_env and password_env");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    bv_buf b = BV_BUF_INIT;
    bv_buf_printf(&b, "%s://%s:%s", scheme, host, port ? port : "25");
    label = bv_buf_steal(&b);
    if (label == NULL) {
        snprintf(err, errlen, "out of memory");
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    return label;
}

bv_sink *bv_sink_email_new(const bv_sink_env *env, const bv_strlist *to, const bv_smtp_conf *smtp,
                           char *err, size_t errlen)
{
    email_sink *es = NULL;
    char *where = NULL;
    bv_buf b = BV_BUF_INIT;
    if (env == NULL || env->curl == NULL || to == NULL || smtp == NULL) {
        snprintf(err, errlen, "email: needs the event loop, curl and the smtp section");
        return NULL;
    }
    if (to->n == 0) {
        snprintf(err, errlen, "email: no address to send to");
        return NULL;
    }
    if (smtp->url == NULL || smtp->from == NULL) {
        snprintf(err, errlen, "email needs the smtp section (url and from)");
        return NULL;
    }
    for (size_t i = 0; i < to->n; i++) {
        if (!addr_ok(to->v[i])) {
            snprintf(err, errlen, "email: \"%.80s\" is not an address (local@domain)",
                     to->v[i] ? to->v[i] : "");
            return NULL;
        }
    }
    if (!addr_ok(smtp->from)) {
        snprintf(err, errlen, "smtp: from \"%.80s\" is not an address (local@domain)", smtp->from);
        return NULL;
    }
    if ((smtp->user_env != NULL) != (smtp->password_env != NULL)) {
        snprintf(err, errlen, "smtp: user_env and password_env go together");
        return NULL;
    }
    where = url_label(smtp->url, err, errlen);
    if (where == NULL) {
        return NULL;
    }
    es = calloc(1, sizeof *es);
    if (es == NULL) {
        goto oom;
    }
    es->base.ops = &email_ops;
    es->base.env = env;
    es->use_ssl = smtp->require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY;
    es->timeout_ms = env->timeout_ms > 0 ? env->timeout_ms : BV_HTTP_TIMEOUT_MS_DEFAULT;
    bv_http_render_opts(env, &es->ropts);
    if (smtp->user_env) {
        es->user = bv_http_env_secret("smtp", smtp->user_env, err, errlen);
        if (es->user == NULL) {
            goto fail;
        }
        es->password = bv_http_env_secret("smtp", smtp->password_env, err, errlen);
        if (es->password == NULL) {
            goto fail;
        }
        size_t nu = strlen(es->user), np = strlen(es->password);
        bv_buf plain = BV_BUF_INIT; /* AUTH PLAIN's "\0user\0password" */
        bv_buf_putc(&plain, '\0');
        bv_buf_append(&plain, es->user, nu);
        bv_buf_putc(&plain, '\0');
        bv_buf_append(&plain, es->password, np);
        es->secret[0] = b64_dup(es->password, np);
        es->secret[1] = plain.p ? b64_dup(plain.p, plain.len) : NULL;
        if (plain.p) {
            explicit_bzero(plain.p, plain.len);
        }
        bv_buf_free(&plain);
        if (es->secret[0] == NULL || es->secret[1] == NULL) {
            goto oom;
        }
    }
    es->url = strdup(smtp->url);
    es->from = bracketed(smtp->from);
    es->from_hdr = strdup(smtp->from);
    es->to = calloc(to->n, sizeof *es->to);
    if (es->url == NULL || es->from == NULL || es->from_hdr == NULL || es->to == NULL) {
        goto oom;
    }
    bv_buf_puts(&b, "email ");
    for (size_t i = 0; i < to->n; i++) {
        es->to[es->nto] = bracketed(to->v[i]);
        if (es->to[es->nto] == NULL) {
            goto oom;
        }
        es->nto++;
        bv_buf_printf(&b, "%s%s", i ? ", " : "", to->v[i]);
    }
    if (b.p == NULL) {
        goto oom;
    }
    es->to_hdr = strdup(b.p + 6);
    bv_buf_printf(&b, " via %s", where);
    es->base.label = bv_buf_steal(&b);
    if (es->to_hdr == NULL || es->base.label == NULL) {
        goto oom;
    }
    free(where);
    return &es->base;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    bv_buf_free(&b);
    free(where);
    if (es) {
        email_free(&es->base);
    }
    return NULL;
}

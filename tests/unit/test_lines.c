/* test_lines.c: the NDJSON line framer (lib/net/lines.h): fixtures fed whole, byte by byte and in
 * random chunks, against a plain reference splitter; long lines, CRLF, NULs, the last line. */
#include "testutil.h"

#include "core/err.h"
#include "net/lines.h"

typedef struct rec {
    char *data;
    size_t len;
    uint64_t lineno;
    int too_long;
} rec;

typedef struct recs {
    rec *v;
    size_t n, cap;
} recs;

static void recs_push(recs *r, const char *data, size_t len, uint64_t lineno, int too_long)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    rec *e = &r->v[r->n++];
    e->data = malloc(len + 1);
    assert_non_null(e->data);
    if (len) {
        memcpy(e->data, data, len);
    }
    e->data[len] = '\0';
    e->len = len;
    e->lineno = lineno;
    e->too_long = too_long;
}

static void recs_free(recs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].data);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void recs_equal(const recs *a, const recs *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].len, b->v[i].len);
        assert_int_equal(a->v[i].lineno, b->v[i].lineno);
        assert_int_equal(a->v[i].too_long, b->v[i].too_long);
        assert_memory_equal(a->v[i].data, b->v[i].data, a->v[i].len);
    }
}

/* The oracle: split the whole input at '\n', drop one '\r' before it, mark long lines. */
static void reference(const char *in, size_t len, size_t max_line, recs *out)
{
    size_t start = 0;
    uint64_t lineno = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && in[i] != '\n') {
            continue;
        }
        if (i == len && start == len) {
            break;
        }
        size_t n = i - start;
        if (n > 0 && in[start + n - 1] == '\r') {
            n--;
        }
        lineno++;
        if (n > max_line) {
            recs_push(out, "", 0, lineno, 1);
        } else {
            recs_push(out, in + start, n, lineno, 0);
        }
        start = i + 1;
    }
}

static void drain(bv_lines *lr, recs *out, size_t max_line)
{
    bv_line l;
    while (bv_lines_next(lr, &l) == 1) {
        /* the spare byte after every line is ours to write */
        l.data[l.len] = '\0';
        if (l.too_long) {
            assert_int_equal(l.len, 0);
        }
        recs_push(out, l.data, l.len, l.lineno, l.too_long);
    }
    /* between feeds at most one partial line is held */
    assert_true(bv_lines_buffered(lr) <= max_line + 1);
}

static void finish(bv_lines *lr, recs *out)
{
    bv_line l;
    while (bv_lines_finish(lr, &l) == 1) {
        l.data[l.len] = '\0';
        recs_push(out, l.data, l.len, l.lineno, l.too_long);
    }
    assert_int_equal(bv_lines_finish(lr, &l), 0);
    assert_int_equal(bv_lines_feed(lr, "x\n", 2), BV_EINVAL);
}

/* Feeds in chunks of the sizes sizes[] cycles through (0 sizes: one feed). */
static void run_chunks(const char *in, size_t len, size_t max_line, const size_t *sizes,
                       size_t nsizes, recs *out)
{
    bv_lines *lr = bv_lines_new(max_line);
    assert_non_null(lr);
    size_t off = 0, k = 0;
    while (off < len) {
        size_t c = nsizes ? sizes[k++ % nsizes] : len;
        if (c > len - off) {
            c = len - off;
        }
        /* an exact-size copy so the sanitizers see any read past the chunk */
        char *chunk = malloc(c ? c : 1);
        assert_non_null(chunk);
        memcpy(chunk, in + off, c);
        assert_int_equal(bv_lines_feed(lr, chunk, c), 0);
        free(chunk);
        off += c;
        drain(lr, out, max_line);
    }
    finish(lr, out);
    bv_lines_free(lr);
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void check_all_chunkings(const char *in, size_t len, size_t max_line)
{
    recs want = {0}, got = {0};
    reference(in, len, max_line, &want);
    run_chunks(in, len, max_line, NULL, 0, &got);
    recs_equal(&want, &got);
    recs_free(&got);
    static const size_t one = 1, two = 2, three = 3;
    run_chunks(in, len, max_line, &one, 1, &got);
    recs_equal(&want, &got);
    recs_free(&got);
    run_chunks(in, len, max_line, &two, 1, &got);
    recs_equal(&want, &got);
    recs_free(&got);
    run_chunks(in, len, max_line, &three, 1, &got);
    recs_equal(&want, &got);
    recs_free(&got);
    for (int round = 0; round < 20; round++) {
        size_t sizes[16];
        for (size_t i = 0; i < 16; i++) {
            sizes[i] = rnd() % (round < 10 ? 8 : 300) + (round % 3 == 0 ? 0 : 1);
        }
        run_chunks(in, len, max_line, sizes, 16, &got);
        recs_equal(&want, &got);
        recs_free(&got);
    }
    recs_free(&want);
}

static void test_fixture_x_stream(void **state)
{
    (void)state;
    size_t len;
    char *in = tu_read_fixture("platforms/x-v2/stream.ndjson", &len);
    recs got = {0};
    run_chunks(in, len, 65536, NULL, 0, &got);
    /* 13 lines, all "\r\n"-terminated: 8 objects and 5 keep-alives */
    assert_int_equal(got.n, 13);
    size_t blank = 0;
    for (size_t i = 0; i < got.n; i++) {
        assert_int_equal(got.v[i].lineno, i + 1);
        assert_int_equal(got.v[i].too_long, 0);
        if (got.v[i].len == 0) {
            blank++;
            continue;
        }
        assert_int_equal(got.v[i].data[0], '{');
        assert_int_equal(got.v[i].data[got.v[i].len - 1], '}');
        assert_null(memchr(got.v[i].data, '\r', got.v[i].len));
    }
    assert_int_equal(blank, 5);
    assert_int_equal(got.v[1].len, 0);
    assert_memory_equal(got.v[12].data, "{\"errors\":[{\"title\":\"operational-disconnect\"", 44);
    recs_free(&got);

    /* byte by byte and in random chunks: the same lines */
    check_all_chunkings(in, len, 65536);
    /* and with a limit that makes the longer objects too long */
    check_all_chunkings(in, len, 700);
    free(in);
}

static void test_crlf_and_bare_cr(void **state)
{
    (void)state;
    const char in[] = "a\r\nb\rc\r\n\r\n\r\r\nd\n";
    recs got = {0};
    run_chunks(in, sizeof in - 1, 100, NULL, 0, &got);
    assert_int_equal(got.n, 5);
    assert_string_equal(got.v[0].data, "a");
    assert_int_equal(got.v[1].len, 3);
    assert_memory_equal(got.v[1].data, "b\rc", 3);
    assert_int_equal(got.v[2].len, 0);
    assert_int_equal(got.v[3].len, 1);
    assert_memory_equal(got.v[3].data, "\r", 1);
    assert_string_equal(got.v[4].data, "d");
    recs_free(&got);
    check_all_chunkings(in, sizeof in - 1, 100);
}

static void test_last_line_without_newline(void **state)
{
    (void)state;
    recs got = {0};
    run_chunks("one\ntwo", 7, 100, NULL, 0, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.v[1].data, "two");
    assert_int_equal(got.v[1].lineno, 2);
    recs_free(&got);

    /* a stream cut between "\r" and "\n" */
    run_chunks("one\r\ntwo\r", 9, 100, NULL, 0, &got);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.v[1].len, 3);
    assert_string_equal(got.v[1].data, "two");
    recs_free(&got);

    /* finish also hands out complete lines the caller did not take yet */
    bv_lines *lr = bv_lines_new(100);
    assert_non_null(lr);
    assert_int_equal(bv_lines_feed(lr, "a\nb\nc", 5), 0);
    bv_line l;
    assert_int_equal(bv_lines_finish(lr, &l), 1);
    assert_int_equal(l.lineno, 1);
    assert_int_equal(bv_lines_feed(lr, "x", 1), BV_EINVAL);
    assert_int_equal(bv_lines_finish(lr, &l), 1);
    assert_int_equal(l.lineno, 2);
    assert_int_equal(bv_lines_finish(lr, &l), 1);
    assert_int_equal(l.lineno, 3);
    assert_memory_equal(l.data, "c", 1);
    assert_int_equal(bv_lines_finish(lr, &l), 0);
    assert_int_equal(bv_lines_next(lr, &l), 0);
    bv_lines_free(lr);
}

static void test_empty_input(void **state)
{
    (void)state;
    bv_lines *lr = bv_lines_new(10);
    assert_non_null(lr);
    bv_line l;
    assert_int_equal(bv_lines_next(lr, &l), 0);
    assert_int_equal(bv_lines_feed(lr, "", 0), 0);
    assert_int_equal(bv_lines_next(lr, &l), 0);
    assert_int_equal(bv_lines_buffered(lr), 0);
    assert_int_equal(bv_lines_finish(lr, &l), 0);
    bv_lines_free(lr);

    recs got = {0};
    run_chunks("\n", 1, 10, NULL, 0, &got);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].len, 0);
    recs_free(&got);

    assert_null(bv_lines_new(0));
    bv_lines_free(NULL);
}

static void test_nul_bytes_kept(void **state)
{
    (void)state;
    const char in[] = "a\0b\n\0\n\0\0";
    recs got = {0};
    run_chunks(in, sizeof in - 1, 10, NULL, 0, &got);
    assert_int_equal(got.n, 3);
    assert_int_equal(got.v[0].len, 3);
    assert_memory_equal(got.v[0].data, "a\0b", 3);
    assert_int_equal(got.v[1].len, 1);
    assert_int_equal(got.v[1].data[0], '\0');
    assert_int_equal(got.v[2].len, 2);
    recs_free(&got);
    check_all_chunkings(in, sizeof in - 1, 10);
}

static void test_too_long(void **state)
{
    (void)state;
    /* line 2 is 40 bytes, line 4 exactly 10 (+ "\r"), line 5 eleven, line 7 long and unterminated
     */
    const char in[] = "short\n"
                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
                      "next\n"
                      "0123456789\r\n"
                      "0123456789A\n"
                      "after\r\n"
                      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
    recs got = {0};
    run_chunks(in, sizeof in - 1, 10, NULL, 0, &got);
    assert_int_equal(got.n, 7);
    assert_string_equal(got.v[0].data, "short");
    assert_int_equal(got.v[1].too_long, 1);
    assert_int_equal(got.v[1].lineno, 2);
    assert_int_equal(got.v[1].len, 0);
    assert_string_equal(got.v[2].data, "next");
    assert_int_equal(got.v[2].lineno, 3);
    assert_int_equal(got.v[3].too_long, 0);
    assert_string_equal(got.v[3].data, "0123456789");
    assert_int_equal(got.v[4].too_long, 1);
    assert_int_equal(got.v[4].lineno, 5);
    assert_string_equal(got.v[5].data, "after");
    assert_int_equal(got.v[5].lineno, 6);
    assert_int_equal(got.v[6].too_long, 1);
    assert_int_equal(got.v[6].lineno, 7);
    recs_free(&got);
    check_all_chunkings(in, sizeof in - 1, 10);
}

/* A 4 MB line fed in 1000-byte chunks is never buffered: memory stays at the limit. */
static void test_oversized_stays_bounded(void **state)
{
    (void)state;
    bv_lines *lr = bv_lines_new(4096);
    assert_non_null(lr);
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    bv_line l;
    int reported = 0;
    for (int i = 0; i < 4000; i++) {
        assert_int_equal(bv_lines_feed(lr, chunk, sizeof chunk), 0);
        while (bv_lines_next(lr, &l) == 1) {
            assert_int_equal(l.too_long, 1);
            assert_int_equal(l.lineno, 1);
            reported++;
        }
        assert_true(bv_lines_buffered(lr) <= 4097);
    }
    assert_int_equal(reported, 1);
    assert_int_equal(bv_lines_feed(lr, "zz\nok\n", 6), 0);
    assert_int_equal(bv_lines_next(lr, &l), 1);
    assert_int_equal(l.too_long, 0);
    assert_int_equal(l.lineno, 2);
    assert_int_equal(l.len, 2);
    assert_memory_equal(l.data, "ok", 2);
    assert_int_equal(bv_lines_next(lr, &l), 0);
    assert_int_equal(bv_lines_finish(lr, &l), 0);
    bv_lines_free(lr);
}

/* Many short lines in one large feed: all come out, in order (consumption is by offset). */
static void test_many_lines_one_feed(void **state)
{
    (void)state;
    size_t n = 200000;
    char *in = malloc(n * 8);
    assert_non_null(in);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(in + len, 8, "%06zu\n", i % 1000000);
    }
    bv_lines *lr = bv_lines_new(16);
    assert_non_null(lr);
    assert_int_equal(bv_lines_feed(lr, in, len), 0);
    bv_line l;
    size_t got = 0;
    while (bv_lines_next(lr, &l) == 1) {
        char want[8];
        snprintf(want, sizeof want, "%06zu", got);
        assert_int_equal(l.len, 6);
        assert_memory_equal(l.data, want, 6);
        got++;
        assert_int_equal(l.lineno, got);
    }
    assert_int_equal(got, n);
    assert_int_equal(bv_lines_buffered(lr), 0);
    bv_lines_free(lr);
    free(in);
}

/* Random bytes, rich in '\n' and '\r': every chunking agrees with the reference splitter. */
static void test_garbage(void **state)
{
    (void)state;
    for (int round = 0; round < 30; round++) {
        size_t len = rnd() % 3000;
        char *in = malloc(len ? len : 1);
        assert_non_null(in);
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rnd() % 16;
            in[i] = r == 0 ? '\n' : r == 1 ? '\r' : (char)(rnd() & 0xff);
        }
        check_all_chunkings(in, len, 1 + rnd() % 64);
        free(in);
    }
}

/* Writing the spare byte of a line does not disturb the lines after it. */
static void test_spare_byte_writable(void **state)
{
    (void)state;
    bv_lines *lr = bv_lines_new(100);
    assert_non_null(lr);
    assert_int_equal(bv_lines_feed(lr, "{\"a\":1}\n{\"b\":2}\r\n{\"c\"", 21), 0);
    bv_line l;
    assert_int_equal(bv_lines_next(lr, &l), 1);
    l.data[l.len] = '\0';
    assert_string_equal(l.data, "{\"a\":1}");
    assert_int_equal(bv_lines_next(lr, &l), 1);
    l.data[l.len] = '\0';
    assert_string_equal(l.data, "{\"b\":2}");
    assert_int_equal(bv_lines_next(lr, &l), 0);
    assert_int_equal(bv_lines_feed(lr, ":3}", 3), 0);
    assert_int_equal(bv_lines_next(lr, &l), 0);
    assert_int_equal(bv_lines_finish(lr, &l), 1);
    l.data[l.len] = '\0';
    assert_string_equal(l.data, "{\"c\":3}");
    assert_int_equal(l.lineno, 3);
    bv_lines_free(lr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_x_stream),
        cmocka_unit_test(test_crlf_and_bare_cr),
        cmocka_unit_test(test_last_line_without_newline),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_nul_bytes_kept),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_oversized_stays_bounded),
        cmocka_unit_test(test_many_lines_one_feed),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_spare_byte_writable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

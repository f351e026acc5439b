/* test_assets.c: the console's compiled-in page (lib/console/assets.h): every file found by its
 * path and typed right, and the page's files obey the console's CSP (only same-origin script and
 * style files, no inline script or style, no data: or foreign URLs, no markup sinks in the JS). */
#include "testutil.h"

#include <ctype.h>

#include "console/assets.h"

/* Offset of needle in the asset's bytes at or after from, case-insensitive; -1 when absent. */
static long find_ci(const bv_asset *a, const char *needle, size_t from)
{
    size_t m = strlen(needle);
    for (size_t i = from; m <= a->len && i <= a->len - m; i++) {
        size_t k = 0;
        while (k < m && tolower(a->data[i + k]) == tolower((unsigned char)needle[k])) {
            k++;
        }
        if (k == m) {
            return (long)i;
        }
    }
    return -1;
}

static int has(const bv_asset *a, const char *needle)
{
    return find_ci(a, needle, 0) >= 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const bv_asset *must(const char *path)
{
    const bv_asset *a = bv_asset_find(path);
    if (a == NULL) {
        fail_msg("no asset %s", path);
    }
    return a;
}

static void test_every_asset_found_by_path(void **state)
{
    (void)state;
    size_t n = bv_assets_count();
    assert_true(n >= 7);
    for (size_t i = 0; i < n; i++) {
        const bv_asset *a = bv_asset_at(i);
        assert_non_null(a);
        assert_ptr_equal(bv_asset_find(a->path), a);
        assert_true(a->path[0] == '/');
        assert_true(a->len > 0);
        assert_null(memchr(a->data, '\0', a->len));
        if (i > 0) {
            assert_true(strcmp(bv_asset_at(i - 1)->path, a->path) < 0);
        }
    }
    assert_null(bv_asset_at(n));
}

static void test_expected_paths_and_types(void **state)
{
    (void)state;
    static const struct {
        const char *path, *type;
    } want[] = {
        {"/index.html", "text/html; charset=utf-8"},
        {"/login.html", "text/html; charset=utf-8"},
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/login.js", "text/javascript; charset=utf-8"},
        {"/app.css", "text/css; charset=utf-8"},
        {"/favicon.svg", "image/svg+xml"},
        {"/favicon.ico", "image/svg+xml"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(must(want[i].path)->type, want[i].type);
    }
    for (size_t i = 0; i < bv_assets_count(); i++) {
        const bv_asset *a = bv_asset_at(i);
        if (ends_with(a->path, ".html")) {
            assert_string_equal(a->type, "text/html; charset=utf-8");
        } else if (ends_with(a->path, ".js")) {
            assert_string_equal(a->type, "text/javascript; charset=utf-8");
        } else if (ends_with(a->path, ".css")) {
            assert_string_equal(a->type, "text/css; charset=utf-8");
        } else {
            assert_string_equal(a->type, "image/svg+xml");
        }
    }
    /* the .ico path serves the SVG's bytes: browsers ask for it by themselves */
    const bv_asset *ico = must("/favicon.ico"), *svg = must("/favicon.svg");
    assert_int_equal(ico->len, svg->len);
    assert_memory_equal(ico->data, svg->data, svg->len);
    assert_true(has(svg, "<svg"));
    assert_true(has(must("/index.html"), "<!doctype html>"));
    assert_true(has(must("/login.html"), "<!doctype html>"));
}

static void test_unknown_paths(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "/", "app.js", "/app.js?v=1", "/app.js/", "/APP.JS", "/index.htm", "/www/app.js",
        "/../app.js", "/login", "/alerts/1", "//app.js",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(bv_asset_find(bad[i]));
    }
    assert_null(bv_asset_find(NULL));
}

/* Every src=, href= and action= value in the file starts with one "/" (same origin). */
static void attrs_same_origin(const bv_asset *a)
{
    static const char *const attrs[] = {" src=\"", " href=\"", " action=\"", " xlink:href=\""};
    for (size_t k = 0; k < sizeof attrs / sizeof attrs[0]; k++) {
        size_t m = strlen(attrs[k]);
        for (long at = find_ci(a, attrs[k], 0); at >= 0; at = find_ci(a, attrs[k], at + m)) {
            size_t v = (size_t)at + m;
            assert_true(v + 1 < a->len);
            if (a->data[v] != '/' || a->data[v + 1] == '/') {
                fail_msg("%s: %s%.20s is not a same-origin path", a->path, attrs[k],
                         (const char *)a->data + v);
            }
        }
    }
}

static void test_index_references_same_origin_only(void **state)
{
    (void)state;
    const bv_asset *index = must("/index.html");
    assert_true(has(index, "<script src=\"/app.js\" defer></script>"));
    assert_true(has(index, "<link rel=\"stylesheet\" href=\"/app.css\">"));
    /* one script, one stylesheet */
    long s = find_ci(index, "<script", 0);
    assert_true(s >= 0);
    assert_true(find_ci(index, "<script", (size_t)s + 1) < 0);
    long l = find_ci(index, "stylesheet", 0);
    assert_true(l >= 0);
    assert_true(find_ci(index, "stylesheet", (size_t)l + 1) < 0);
    const bv_asset *login = must("/login.html");
    assert_true(has(login, "<script src=\"/login.js\" defer></script>"));
    assert_true(has(login, "<form id=\"login\" method=\"post\" action=\"/login\">"));
    assert_true(has(login, "id=\"token\" name=\"token\" type=\"password\""));
    assert_true(has(login, "id=\"submit\""));
    for (size_t i = 0; i < bv_assets_count(); i++) {
        const bv_asset *a = bv_asset_at(i);
        if (ends_with(a->path, ".html") || ends_with(a->path, ".svg") ||
            ends_with(a->path, ".ico")) {
            attrs_same_origin(a);
        }
    }
}

static void test_no_inline_script_or_style(void **state)
{
    (void)state;
    for (size_t i = 0; i < bv_assets_count(); i++) {
        const bv_asset *a = bv_asset_at(i);
        int markup = !ends_with(a->path, ".js") && !ends_with(a->path, ".css");
        if (markup) {
            /* each script element is an empty one with a same-origin src */
            for (long at = find_ci(a, "<script", 0); at >= 0;
                 at = find_ci(a, "<script", (size_t)at + 1)) {
                long close = find_ci(a, ">", (size_t)at);
                assert_true(close > at);
                long src = find_ci(a, " src=\"/", (size_t)at);
                assert_true(src > at && src < close);
                assert_int_equal(find_ci(a, "</script>", (size_t)close), close + 1);
            }
            assert_false(has(a, "<script>"));
            assert_false(has(a, "<style"));
            assert_false(has(a, "javascript:"));
            assert_false(has(a, " onclick="));
            assert_false(has(a, " onload="));
            assert_false(has(a, " onerror="));
        }
        if (markup || ends_with(a->path, ".css")) {
            assert_false(has(a, "data:"));
            assert_false(has(a, "url("));
            assert_false(has(a, "@import"));
            assert_false(has(a, "src=\"http"));
            assert_false(has(a, "href=\"http"));
            assert_false(has(a, "src='http"));
            assert_false(has(a, "href='http"));
        }
        if (has(a, " style=")) {
            fail_msg("%s has a style attribute", a->path);
        }
    }
}

/* The JS builds its DOM with createElement, textContent and setAttribute only, never runs
 * strings as code, and names web addresses only as the SVG namespace or as the schemes it
 * checks sample links against. */
static void test_js_has_no_markup_sinks(void **state)
{
    (void)state;
    static const char *const sinks[] = {
        "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
        "new Function", "setTimeout('", "setTimeout(\"", "import(",
    };
    for (size_t i = 0; i < bv_assets_count(); i++) {
        const bv_asset *a = bv_asset_at(i);
        if (!ends_with(a->path, ".js")) {
            continue;
        }
        for (size_t k = 0; k < sizeof sinks / sizeof sinks[0]; k++) {
            if (has(a, sinks[k])) {
                fail_msg("%s uses %s", a->path, sinks[k]);
            }
        }
        static const char *const schemes[] = {"http://", "https://"};
        for (size_t k = 0; k < 2; k++) {
            size_t m = strlen(schemes[k]);
            for (long at = find_ci(a, schemes[k], 0); at >= 0;
                 at = find_ci(a, schemes[k], (size_t)at + m)) {
                const char *p = (const char *)a->data + at;
                size_t rest = a->len - (size_t)at;
                int ns = rest >= 26 && memcmp(p, "http://www.w3.org/2000/svg", 26) == 0;
                int literal = rest > m && p[m] == '\'' && at > 0 && p[-1] == '\'';
                if (!ns && !literal) {
                    fail_msg("%s names a URL: %.40s", a->path, p);
                }
            }
        }
    }
    /* the sample links: only http(s), opened without opener or referrer */
    const bv_asset *app = must("/app.js");
    assert_true(has(app, "u.startsWith('https://') || u.startsWith('http://')"));
    assert_true(has(app, "rel: 'noopener noreferrer'"));
    assert_true(has(app, "timeZone"));
    assert_true(has(app, "'Europe/Amsterdam'"));
}

static void test_etags(void **state)
{
    (void)state;
    size_t n = bv_assets_count();
    for (size_t i = 0; i < n; i++) {
        const bv_asset *a = bv_asset_at(i);
        assert_int_equal(strlen(a->etag), 18);
        assert_true(a->etag[0] == '"' && a->etag[17] == '"');
        for (size_t k = 1; k < 17; k++) {
            assert_true(isdigit((unsigned char)a->etag[k]) ||
                        (a->etag[k] >= 'a' && a->etag[k] <= 'f'));
        }
        for (size_t j = 0; j < i; j++) {
            const bv_asset *b = bv_asset_at(j);
            int same = a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
            if (same) {
                assert_string_equal(a->etag, b->etag);
            } else if (strcmp(a->etag, b->etag) == 0) {
                fail_msg("%s and %s share the ETag %s", a->path, b->path, a->etag);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_asset_found_by_path),
        cmocka_unit_test(test_expected_paths_and_types),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_index_references_same_origin_only),
        cmocka_unit_test(test_no_inline_script_or_style),
        cmocka_unit_test(test_js_has_no_markup_sinks),
        cmocka_unit_test(test_etags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_x_rules.c: libFuzzer target for the X rules response parsers (lib/source/x_rules.h): the
 * input goes whole to the list parser (twice, so pages accumulate) and to the change parser, and
 * its first line to the rules URL builder. Whatever they accept must keep their promises: ids of
 * digits, messages present, counts -1 or more, a URL ending in the rules path. */
#include "source/x_rules.h"

#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_list(const bv_x_rule_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t n = strlen(l->v[i].id);
        if (n == 0 || n > 19 || strspn(l->v[i].id, "0123456789") != n || l->v[i].value == NULL) {
            abort();
        }
    }
    if (l->next_token && (l->next_token[0] == '\0' || strlen(l->next_token) > 256)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char err[128];

    bv_x_rule_list l = {0};
    int rc = bv_x_rules_parse_list(body, size, &l, err, sizeof err);
    if (rc == BV_OK) {
        check_list(&l);
        size_t first = l.n;
        if (bv_x_rules_parse_list(body, size, &l, err, sizeof err) != BV_OK || l.n != 2 * first) {
            abort(); /* the same page again: the same rules appended */
        }
        check_list(&l);
    } else if (rc != BV_EINVAL && rc != BV_ELIMIT && rc != BV_ENOMEM) {
        abort();
    }
    bv_x_rule_list_clear(&l);

    bv_x_rules_change c;
    rc = bv_x_rules_parse_change(body, size, &c, err, sizeof err);
    if (rc == BV_OK) {
        check_list(&c.data);
        int64_t counts[] = {c.created, c.not_created, c.valid, c.invalid, c.deleted, c.not_deleted};
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
            if (counts[i] < -1) {
                abort();
            }
        }
        for (size_t i = 0; i < c.nerrors; i++) {
            if (c.errors[i].message == NULL) {
                abort();
            }
        }
    } else if (rc != BV_EINVAL && rc != BV_ELIMIT && rc != BV_ENOMEM) {
        abort();
    }
    bv_x_rules_change_clear(&c);

    size_t line = 0;
    while (line < size && line < 2048 && data[line] != '\n' && data[line] != '\0') {
        line++;
    }
    char *url = malloc(line + 1);
    if (url == NULL) {
        return 0;
    }
    memcpy(url, data, line);
    url[line] = '\0';
    char *rules = NULL;
    if (bv_x_rules_url(url, &rules) == BV_OK) {
        size_t n = strlen(rules);
        if (n < 29 || strcmp(rules + n - 29, "/2/tweets/search/stream/rules") != 0 ||
            (strncmp(rules, "http://", 7) != 0 && strncmp(rules, "https://", 8) != 0)) {
            abort();
        }
    } else if (rules != NULL) {
        abort();
    }
    free(rules);
    free(url);
    return 0;
}

/* fuzz_rules.c: libFuzzer target for rule files: YAML text -> bv_rules_load_buffer; a set that
 * loads is matched against a few texts on both paths (which must agree), its examples are run
 * and it is explained. Must not crash or leak. */
#include "engine/rules.h"
#include "engine/text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const texts[] = {
    "Project X feest in Haren vanavond om 22 uur!",
    "#ProjectX iedereen welkom, open invite, tonight",
    "Veel te druk op de Dam, kan niet vooruit",
    "",
    "Café één geïnteresseerd 🎉 ｐａｒｔｙ",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
    }
    if (size > (1u << 16)) {
        return 0; /* compile time grows with the set; large inputs teach the fuzzer nothing */
    }
    /* no NUL is assumed: an exact copy, so reads past the end are caught */
    char *yaml = malloc(size ? size : 1);
    if (yaml == NULL) {
        return 0;
    }
    memcpy(yaml, data, size);
    bv_ruleset *rs = NULL;
    bv_diag diag;
    memset(&diag, 0, sizeof diag);
    if (bv_rules_load_buffer(&rs, "fuzz.yaml", yaml, size, &diag) == 0) {
        size_t n = bv_rules_count(rs);
        bv_matcher *m = bv_matcher_new(rs);
        uint32_t *h1 = calloc(n + 1, sizeof *h1), *h2 = calloc(n + 1, sizeof *h2);
        bv_buf nb = BV_BUF_INIT;
        if (m != NULL && h1 != NULL && h2 != NULL) {
            for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
                if (bv_text_normalise(texts[i], strlen(texts[i]), &nb) != 0) {
                    abort();
                }
                int a = bv_match(m, NULL, nb.p, nb.len, h1);
                int b = bv_match_reference(m, NULL, nb.p, nb.len, h2);
                if (a != b || (a > 0 && memcmp(h1, h2, (size_t)a * sizeof *h1) != 0)) {
                    abort();
                }
            }
            /* the fuzz input as a post's text, too */
            if (bv_text_normalise(yaml, size, &nb) == 0) {
                int a = bv_match(m, NULL, nb.p, nb.len, h1);
                int b = bv_match_reference(m, NULL, nb.p, nb.len, h2);
                if (a != b || (a > 0 && memcmp(h1, h2, (size_t)a * sizeof *h1) != 0)) {
                    abort();
                }
            }
        }
        size_t total = 0;
        (void)bv_rules_run_examples(rs, devnull, &total);
        if (devnull != NULL) {
            bv_rules_explain(rs, devnull);
        }
        bv_buf_free(&nb);
        free(h1);
        free(h2);
        bv_matcher_free(m);
        bv_rules_free(rs);
    } else {
        char out[1200];
        bv_diag_format(&diag, out, sizeof out);
    }
    free(yaml);
    return 0;
}

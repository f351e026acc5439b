/* gen_rules.c: writes a generated, deterministic rule set of N rules as YAML in the format of
 * the files in rules/, for the matching benchmark. */

/* Each rule watches one everyday crisis topic (traffic, trains, weather, fire, public order,
 * ...) with 5-20 keywords and phrases drawn from that topic's vocabulary; some combine them
 * with shared lists (when, film, calm, place) or regexes; each has one or two detectors. */
#include "core/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: the same small PRNG as bench/gen.c, so a seed means the same thing in both */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct topic {
    const char *id;    /* list name prefix */
    const char *title; /* for the rule titles (Dutch: the crisis team's language) */
    const char *recipients;
    const char *const *words;
    size_t nwords;
} topic;

/* Words as they look after normalisation: lower case, no diacritics, punctuation as spaces.
 * A trailing * is a prefix match. */
static const char *const W_VERKEER[] = {
    "file",        "files",          "ongeluk",
    "aanrijding",  "kettingbotsing", "rijstrook dicht",
    "omleiding",   "wegafsluiting",  "flitser",
    "spookrijder", "stremming",      "brug open",
    "pechstrook",  "vrachtwagen",    "traffic jam",
    "crash",       "accident",       "road closed",
    "detour",      "tankwagen",      "rijkswaterstaat",
    "matrixbord",  "weg dicht",      "file op de",
    "afgesloten*",
};
static const char *const W_OV[] = {
    "trein",
    "treinen",
    "vertraging",
    "storing",
    "seinstoring",
    "rijdt niet",
    "geen treinen",
    "ns",
    "intercity",
    "sprinter",
    "perron",
    "conducteur",
    "bus in plaats van trein",
    "ov chipkaart",
    "wisselstoring",
    "defecte trein",
    "train delayed",
    "train cancelled",
    "metro",
    "tram",
    "laatste trein",
    "overvol",
    "spoor*",
    "treinverkeer",
};
static const char *const W_WEER[] = {
    "regen",
    "onweer",
    "hagel",
    "storm",
    "hittegolf",
    "code oranje",
    "code geel",
    "code rood",
    "knmi",
    "windkracht",
    "stortbui",
    "natte sneeuw",
    "ijzel",
    "gladheid",
    "mist",
    "tropische temperaturen",
    "heatwave",
    "thunderstorm",
    "heavy rain",
    "bliksem",
    "windstoten",
    "omgewaaide boom",
    "omgevallen boom",
    "onweersbui*",
};
static const char *const W_BRAND[] = {
    "brand",       "rookwolk", "grote brand", "uitslaande brand", "brandweer",        "vlammen",
    "rook gezien", "explosie", "ontploffing", "ramen dicht",      "zeer grote brand", "fire",
    "smoke",       "on fire",  "blaze",       "nl alert",         "nlalert",          "asbest",
    "gaslek",      "gaslucht", "brandlucht",  "brandweer*",
};
static const char *const W_ORDE[] = {
    "rellen",        "relschoppers",      "de me",        "mobiele eenheid",
    "vechtpartij",   "steekpartij",       "schietpartij", "schoten gehoord",
    "veel politie",  "politiehelikopter", "noodbevel",    "noodverordening",
    "samenscholing", "vandalisme",        "plunderingen", "riot",
    "fight",         "police everywhere", "shots fired",  "looting",
    "traangas",      "ruiten ingegooid",  "opstootje",
};
static const char *const W_VOETBAL[] = {
    "wedstrijd",
    "supporters",
    "hooligans",
    "harde kern",
    "ajax",
    "feyenoord",
    "psv",
    "fc groningen",
    "stadion",
    "de kuip",
    "johan cruijff arena",
    "eredivisie",
    "klassieker",
    "vuurwerk",
    "fakkels",
    "pyro",
    "scheidsrechter",
    "derby",
    "away fans",
    "bekerfinale",
    "supporter*",
    "spelers bus",
    "mars naar het stadion",
};
static const char *const W_EVENEMENT[] = {
    "festival", "concert",  "koningsdag",      "vrijmarkt",  "kermis",   "oud en nieuw",
    "carnaval", "optocht",  "pride",           "kings day",  "kingsday", "dance event",
    "toegang",  "kaartjes", "uitverkocht",     "te druk",    "gedrang",  "menigte",
    "crowd",    "sail",     "festivalterrein", "evenement*",
};
static const char *const W_FEEST[] = {
    "feest",
    "feestje",
    "fuif",
    "party",
    "houseparty",
    "house party",
    "rave",
    "illegaal feest",
    "open invite",
    "iedereen welkom",
    "facebook invite",
    "project x",
    "projectx",
    "verjaardagsfeest",
    "tuinfeest",
    "afterparty",
    "sweet 16",
    "drank",
    "dj",
    "kom allemaal",
    "zeg het door",
    "deel dit",
};
static const char *const W_GEZONDHEID[] = {
    "ziek",           "veel zieken", "griep",        "uitbraak",          "besmetting",
    "ziekenhuis",     "eerste hulp", "ambulance",    "ambulances",        "traumaheli",
    "hartstilstand",  "reanimatie",  "vergiftiging", "slecht drinkwater", "legionella",
    "food poisoning", "hospital",    "ggd",          "mazelen",           "onwel geworden",
    "hitteberoerte",  "besmet*",
};
static const char *const W_STROOM[] = {
    "stroomstoring",
    "stroom uitgevallen",
    "geen stroom",
    "blackout",
    "power outage",
    "stroom weg",
    "internetstoring",
    "geen internet",
    "geen bereik",
    "112 storing",
    "telefoon doet het niet",
    "liander",
    "enexis",
    "stedin",
    "kpn storing",
    "ziggo storing",
    "uitval",
    "noodaggregaat",
    "verkeerslichten uit",
    "pinstoring",
};
static const char *const W_WATER[] = {
    "wateroverlast",   "water in de kelder",
    "overstroming",    "dijkdoorbraak",
    "hoog water",      "hoogwater",
    "rivier",          "dijk",
    "zandzakken",      "waterschap",
    "flood",           "flooding",
    "water op straat", "riool",
    "rioolwater",      "ondergelopen",
    "blank",           "evacuatie",
    "pompen",          "kwelwater",
    "overstroomd*",
};
static const char *const W_ONDERWIJS[] = {
    "school",         "scholen",   "leerlingen", "docent",        "school dicht",
    "lerarenstaking", "examen",    "eindexamen", "mbo",           "hbo",
    "universiteit",   "studenten", "campus",     "studentenhuis", "ontruiming",
    "bommelding",     "dreiging",  "lockdown",   "schoolplein",   "ontruimd*",
};
static const char *const W_POLITIEK[] = {
    "gemeenteraad", "burgemeester",      "wethouder",     "tweede kamer",         "kabinet",
    "minister",     "demonstratie",      "protest",       "boerenprotest",        "trekkers",
    "blokkade",     "snelweg blokkeren", "actievoerders", "extinction rebellion", "petitie",
    "klimaatmars",  "stakers",           "staking",       "protest march",        "demonstranten",
    "demonstr*",
};
static const char *const W_DIEREN[] = {
    "loslopende hond",
    "koeien op de weg",
    "paard los",
    "wolf",
    "wolf gezien",
    "vogelgriep",
    "dode vissen",
    "dode vogels",
    "blauwalg",
    "botulisme",
    "eikenprocessierups",
    "rups",
    "teken",
    "wespen",
    "bijen",
    "zwerm",
    "wasp",
    "gebeten",
    "zwaan",
    "everzwijn",
};
static const char *const W_WINKEL[] = {
    "albert heijn",
    "jumbo",
    "lidl",
    "action",
    "lege schappen",
    "hamsteren",
    "uitverkocht",
    "rij bij de kassa",
    "kassa storing",
    "pinnen kan niet",
    "contant betalen",
    "black friday",
    "nieuwe winkel",
    "gratis",
    "weggeefactie",
    "give away",
    "free stuff",
    "opening",
    "lange rij",
    "dringen",
};

#define T(id, title, rec, w)                                                                       \
    {                                                                                              \
        id, title, rec, w, N_OF(w)                                                                 \
    }
static const topic TOPICS[] = {
    T("verkeer", "Verkeer", "[police, comms]", W_VERKEER),
    T("ov", "Openbaar vervoer", "[comms]", W_OV),
    T("weer", "Noodweer", "[mayor, comms]", W_WEER),
    T("brand", "Brand", "[police, mayor, comms]", W_BRAND),
    T("orde", "Openbare orde", "[police, mayor]", W_ORDE),
    T("voetbal", "Voetbal", "[police]", W_VOETBAL),
    T("evenement", "Evenement", "[police, comms]", W_EVENEMENT),
    T("feest", "Feest", "[police, mayor]", W_FEEST),
    T("gezondheid", "Gezondheid", "[mayor, comms]", W_GEZONDHEID),
    T("stroom", "Storing", "[comms]", W_STROOM),
    T("water", "Water", "[mayor, comms]", W_WATER),
    T("onderwijs", "School", "[police, comms]", W_ONDERWIJS),
    T("politiek", "Demonstratie", "[police, mayor]", W_POLITIEK),
    T("dieren", "Dieren", "[comms]", W_DIEREN),
    T("winkel", "Winkels", "[comms]", W_WINKEL),
};
#undef T

static const char *const PLACES[] = {
    "haren",  "groningen",  "amsterdam", "rotterdam", "den haag",  "utrecht",    "eindhoven",
    "zwolle", "leeuwarden", "assen",     "nijmegen",  "arnhem",    "maastricht", "tilburg",
    "breda",  "haarlem",    "leiden",    "enschede",  "den bosch", "almere",
};

static const char *const SEVERITY[] = {"info", "warning", "warning", "warning", "critical"};

static void usage(FILE *f)
{
    fputs("usage: gen_rules [N] [--seed S]\n"
          "Writes a deterministic rule set of N rules (default 200) as YAML to stdout: topic\n"
          "keyword lists (5-20 words each), shared lists (when, film, calm, place), regexes,\n"
          "any/all/not combinations and one or two detectors per rule.\n",
          f);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (*s == '-' || *s == '\0') {
        return BV_EINVAL;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return BV_EINVAL;
    }
    *out = v;
    return BV_OK;
}

/* A YAML flow sequence of double-quoted strings (our words hold no quote or backslash). */
static void print_list(FILE *f, const char *const *w, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\"%s\"", i ? ", " : "", w[i]);
    }
    fputc(']', f);
}

static void print_detector(FILE *f, uint64_t *r, int kind)
{
    static const char *const windows[] = {"5m", "10m", "15m", "30m"};
    switch (kind) {
    case 0:
        fprintf(f, "      - {type: threshold, window: %s, bucket: 1m, count: %u}\n",
                windows[rng_below(r, 4)], 10 + 5 * rng_below(r, 39));
        break;
    case 1: {
        int w10 = rng_below(r, 2);
        fprintf(f,
                "      - {type: spike, window: %s, bucket: 1m, factor: %u, min_count: %u, "
                "min_baseline: %u, baseline: %s}\n",
                w10 ? "10m" : "5m", 3 + rng_below(r, 3), 10 + 5 * rng_below(r, 5),
                1 + rng_below(r, 4), rng_below(r, 2) ? "1h" : "30m");
        break;
    }
    case 2:
        fprintf(f, "      - {type: unique_authors, window: %s, bucket: 1m, count: %u}\n",
                rng_below(r, 2) ? "30m" : "15m", 10 + 5 * rng_below(r, 9));
        break;
    default:
        fprintf(f,
                "      - {type: growth, window: 10m, bucket: 1m, doubling: %s, periods: 3, "
                "min_count: 10}\n",
                rng_below(r, 2) ? "30m" : "20m");
        break;
    }
}

int main(int argc, char **argv)
{
    uint64_t n = 200, seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (parse_u64(argv[++i], &seed) != BV_OK) {
                fprintf(stderr, "gen_rules: bad seed '%s'\n", argv[i]);
                return 2;
            }
        } else if (parse_u64(argv[i], &n) != BV_OK || n < 1 || n > 100000) {
            fprintf(stderr, "gen_rules: bad argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    uint64_t r = seed * 0x2545f4914f6cdd1dULL + 0x5eed;
    FILE *f = stdout;

    fprintf(f,
            "# Generated by bench/gen_rules %llu --seed %llu: a benchmark rule set, not for use.\n"
            "# Each rule watches one everyday crisis topic with its own keyword list.\n",
            (unsigned long long)n, (unsigned long long)seed);
    fputs("lists:\n"
          "  when: [\"vanavond\", \"vannacht\", \"morgen\", \"morgenavond\", \"vandaag\", "
          "\"zaterdag\", \"zondag\", \"vrijdagavond\", \"zaterdagavond\", \"dit weekend\", "
          "\"tonight\", \"tomorrow\", \"this weekend\", \"nu\", \"right now\"]\n"
          "  film: [\"film\", \"movie\", \"rtl 7\", \"netflix\", \"videoland\", \"op tv\", "
          "\"kijken\", \"gekeken\", \"watching\", \"trailer\", \"bioscoop\", \"serie\"]\n"
          "  calm: [\"gezellig druk\", \"lekker druk\", \"druk bezocht\", \"geen paniek\", "
          "\"grapje\", \"haha\", \"oefening\"]\n"
          "  place: ",
          f);
    print_list(f, PLACES, N_OF(PLACES));
    fputc('\n', f);

    /* one list per rule: the topic's words, 5-20 of them, a fresh draw each time */
    for (uint64_t i = 1; i <= n; i++) {
        const topic *t = &TOPICS[(i - 1) % N_OF(TOPICS)];
        const char *pick[20];
        size_t k = 5 + rng_below(&r, 16);
        if (k > t->nwords) {
            k = t->nwords;
        }
        /* partial Fisher-Yates over the indices */
        size_t idx[32];
        for (size_t j = 0; j < t->nwords; j++) {
            idx[j] = j;
        }
        for (size_t j = 0; j < k; j++) {
            size_t o = j + rng_below(&r, (uint32_t)(t->nwords - j));
            size_t tmp = idx[j];
            idx[j] = idx[o];
            idx[o] = tmp;
            pick[j] = t->words[idx[j]];
        }
        fprintf(f, "  %s_%03llu: ", t->id, (unsigned long long)i);
        print_list(f, pick, k);
        fputc('\n', f);
    }

    fputs("regexes:\n"
          "  clock_time: '\\b([01]?\\d|2[0-3])( ?(uur|u|h|pm|am)| [0-5]\\d)\\b'\n"
          "  date: '\\b([1-9]|[12]\\d|3[01]) (jan|feb|mrt|maart|apr|mei|jun|jul|aug|sep|okt|"
          "nov|dec)[a-z]*\\b'\n"
          "  road: '\\b[an] ?\\d{1,3}\\b'\n"
          "  people: '\\b\\d+ ?(mensen|man|people|personen|duizend)\\b'\n"
          "  minutes: '\\b\\d{1,3} ?(min|minuten|minutes)\\b'\n"
          "  temperature: '\\b\\d{1,2} ?(graden|degrees)\\b'\n"
          "  postcode: '\\b\\d{4} ?[a-z]{2}\\b'\n"
          "  line_number: '\\b(lijn|line|bus) \\d{1,3}\\b'\n",
          f);
    static const char *const regex_for[] = {"road",     "minutes",     "temperature", "people",
                                            "postcode", "line_number", "clock_time",  "date"};

    fputs("rules:\n", f);
    for (uint64_t i = 1; i <= n; i++) {
        const topic *t = &TOPICS[(i - 1) % N_OF(TOPICS)];
        char list[48];
        snprintf(list, sizeof(list), "%s_%03llu", t->id, (unsigned long long)i);
        uint32_t shape = rng_below(&r, 100);
        fprintf(f, "  - id: rule-%03llu\n", (unsigned long long)i);
        fprintf(f, "    title: \"%s %03llu\"\n", t->title, (unsigned long long)i);
        fprintf(f, "    severity: %s\n", SEVERITY[rng_below(&r, N_OF(SEVERITY))]);
        fprintf(f, "    recipients: %s\n", t->recipients);
        if (rng_below(&r, 4) == 0) {
            fprintf(f, "    cooldown: %s\n", rng_below(&r, 2) ? "15m" : "1h");
        }
        if (rng_below(&r, 5) == 0) {
            fputs("    languages: [nl]\n", f);
        }
        if (shape < 55) {
            fprintf(f, "    match: {list: %s}\n", list);
        } else if (shape < 70) {
            fprintf(f, "    match: {all: [{list: %s}, {list: place}]}\n", list);
        } else if (shape < 80) {
            fprintf(f,
                    "    match: {all: [{list: %s}, {any: [{list: when}, {regex: clock_time}]}, "
                    "{not: {list: film}}]}\n",
                    list);
        } else if (shape < 88) {
            fprintf(f, "    match: {all: [{list: %s}, {not: {list: calm}}]}\n", list);
        } else if (shape < 93) {
            /* a keyword of a neighbouring topic, without the prefix star */
            const topic *o = &TOPICS[i % N_OF(TOPICS)];
            const char *kw = o->words[rng_below(&r, (uint32_t)o->nwords)];
            int kl = (int)strcspn(kw, "*");
            fprintf(f, "    match: {any: [{list: %s}, {keyword: \"%.*s\"}]}\n", list, kl, kw);
        } else {
            fprintf(f, "    match: {all: [{list: %s}, {regex: %s}]}\n", list,
                    regex_for[rng_below(&r, N_OF(regex_for))]);
        }
        fputs("    detectors:\n", f);
        int first = (int)rng_below(&r, 4);
        print_detector(f, &r, first);
        if (rng_below(&r, 3) == 0) {
            int second = (first + 1 + (int)rng_below(&r, 3)) % 4;
            print_detector(f, &r, second);
            fprintf(f, "    require: %s\n", rng_below(&r, 2) ? "all" : "any");
        }
    }
    if (fflush(f) != 0 || ferror(f)) {
        fprintf(stderr, "gen_rules: write failed: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

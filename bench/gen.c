/* gen.c: the drill-data generator: a deterministic NDJSON stream of realistic public posts
 * (Mastodon, Bluesky Jetstream, X v2) with chatter, scenarios and a truth file describing them. */

/* Determinism: every random choice comes from splitmix64 streams seeded from --seed and a source
 * number, so the same arguments give byte-identical output. Each source (background chatter,
 * Bluesky likes/follows/deletes, each scenario) draws its own arrival times by thinning an
 * inhomogeneous Poisson process; the sources are merged by arrival time into one ordered stream.
 * Output goes through one fixed buffer; no allocation happens per line. */
#include "core/err.h"
#include "core/timeutil.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS 60000.0
#define HOUR_MS 3600000LL

/* ---------------------------------------------------------------------------------------------
 * PRNG: splitmix64. Small, fast, and good enough for synthetic data; mix64 is its finaliser and
 * doubles as the hash that derives an author's identity from its number. */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n); n > 0. */
static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* ---------------------------------------------------------------------------------------------
 * Output: one buffer, flushed with fwrite when nearly full. A line is never longer than
 * OUT_SLACK, so a line is written whole into the buffer once there is OUT_SLACK room. */

#define OUT_CAP (1u << 20)
#define OUT_SLACK (64u * 1024u)

typedef struct out {
    FILE *f; /* NULL: discard (count-only) */
    char *p;
    size_t len;
    int err;
} out;

static void out_flush(out *o)
{
    if (o->len > 0 && o->f != NULL && !o->err) {
        if (fwrite(o->p, 1, o->len, o->f) != o->len) {
            o->err = errno ? errno : EIO;
        }
    }
    o->len = 0;
}

static void out_raw(out *o, const char *s, size_t n)
{
    if (o->len + n > OUT_CAP) {
        out_flush(o);
        if (n > OUT_CAP) {
            return; /* cannot happen: lines are bounded */
        }
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void out_s(out *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

static void out_c(out *o, char c)
{
    out_raw(o, &c, 1);
}

static void out_u64(out *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    out_raw(o, tmp + i, sizeof(tmp) - i);
}

/* The inside of a JSON string: copies runs of plain bytes, escapes " \ and control bytes. */
static void out_json(out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out_raw(o, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            out_raw(o, e, 2);
        } else if (c == '\n') {
            out_raw(o, "\\n", 2);
        } else if (c == '\t') {
            out_raw(o, "\\t", 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            out_raw(o, e, 6);
        }
    }
    out_raw(o, s + run, n - run);
}

static void out_jstr(out *o, const char *s)
{
    out_c(o, '"');
    out_json(o, s, strlen(s));
    out_c(o, '"');
}

static void out_iso(out *o, int64_t ms)
{
    char iso[BV_TIME_ISO_LEN];
    out_c(o, '"');
    out_s(o, bv_time_format_iso8601(ms, iso));
    out_c(o, '"');
}

/* ---------------------------------------------------------------------------------------------
 * Static tables: places (a few dozen names copied from /work/shared/data/places/woonplaatsen.txt,
 * plus the colloquial "Den Haag" and "Den Bosch" the register lacks), people, words, templates. */

static const char *const PLACES_BIG[] = {
    "Amsterdam", "Rotterdam", "Den Haag", "Utrecht",  "Eindhoven", "Groningen",
    "Tilburg",   "Almere",    "Breda",    "Nijmegen", "Haarlem",   "Arnhem",
};
static const char *const PLACES_SMALL[] = {
    "Haren",
    "Zwolle",
    "Leeuwarden",
    "Assen",
    "Emmen",
    "Maastricht",
    "Leiden",
    "Delft",
    "Enschede",
    "Apeldoorn",
    "Amersfoort",
    "Deventer",
    "Zaandam",
    "Hoorn",
    "Alkmaar",
    "Middelburg",
    "Venlo",
    "Heerlen",
    "Helmond",
    "Gouda",
    "Dordrecht",
    "Hilversum",
    "Ede",
    "Kampen",
    "Sneek",
    "Drachten",
    "Hoogeveen",
    "Meppel",
    "Vlissingen",
    "Goes",
    "Roosendaal",
    "Lelystad",
    "Katwijk",
    "Zuidlaren",
    "Delfzijl",
    "Veendam",
    "Den Bosch",
    "'s-Hertogenbosch",
    "Bergen op Zoom",
    "Aarle-Rixtel",
    "Exloërmond",
    "Broeksterwâld",
    "Sint Odiliënberg",
    "Ohé en Laak",
};

typedef struct name {
    const char *disp;  /* as shown */
    const char *ascii; /* for user names */
} name;

static const name FIRST[] = {
    {"Sanne", "sanne"},     {"Daan", "daan"},        {"Emma", "emma"},       {"Lars", "lars"},
    {"Fleur", "fleur"},     {"Bram", "bram"},        {"Lotte", "lotte"},     {"Jesse", "jesse"},
    {"Anouk", "anouk"},     {"Thijs", "thijs"},      {"Sophie", "sophie"},   {"Ruben", "ruben"},
    {"Noor", "noor"},       {"Milan", "milan"},      {"Julia", "julia"},     {"Sem", "sem"},
    {"Eva", "eva"},         {"Lucas", "lucas"},      {"Zoë", "zoe"},         {"Finn", "finn"},
    {"Iris", "iris"},       {"Niels", "niels"},      {"Femke", "femke"},     {"Joris", "joris"},
    {"Mila", "mila"},       {"Mohammed", "mo"},      {"Fatima", "fatima"},   {"Yusuf", "yusuf"},
    {"Aylin", "aylin"},     {"Priya", "priya"},      {"Kevin", "kevin"},     {"Jeroen", "jeroen"},
    {"Marieke", "marieke"}, {"Wouter", "wouter"},    {"Ilse", "ilse"},       {"Henk", "henk"},
    {"Ingrid", "ingrid"},   {"Gert-Jan", "gertjan"}, {"Anaïs", "anais"},     {"Chloë", "chloe"},
    {"Noël", "noel"},       {"Sven", "sven"},        {"Tess", "tess"},       {"Luuk", "luuk"},
    {"Britt", "britt"},     {"Stijn", "stijn"},      {"Maud", "maud"},       {"Koen", "koen"},
    {"Esmée", "esmee"},     {"Jochem", "jochem"},    {"Hanneke", "hanneke"}, {"Sietse", "sietse"},
};

static const name LAST[] = {
    {"de Vries", "dv"},
    {"Jansen", "jansen"},
    {"de Jong", "dejong"},
    {"Bakker", "bakker"},
    {"Visser", "visser"},
    {"Smit", "smit"},
    {"Meijer", "meijer"},
    {"van den Berg", "vdb"},
    {"Mulder", "mulder"},
    {"de Boer", "deboer"},
    {"Bos", "bos"},
    {"Vos", "vos"},
    {"Peters", "peters"},
    {"Hendriks", "hendriks"},
    {"van Dijk", "vdijk"},
    {"Dekker", "dekker"},
    {"Brouwer", "brouwer"},
    {"de Wit", "dewit"},
    {"Dijkstra", "dijkstra"},
    {"de Graaf", "degraaf"},
    {"van der Meer", "vdmeer"},
    {"Kok", "kok"},
    {"Jacobs", "jacobs"},
    {"Vermeulen", "vermeulen"},
    {"Postma", "postma"},
    {"El Amrani", "elamrani"},
    {"Yılmaz", "yilmaz"},
    {"Öztürk", "ozturk"},
    {"Kramer", "kramer"},
    {"Huisman", "huisman"},
    {"Hoekstra", "hoekstra"},
    {"Prins", "prins"},
};

static const char *const MASTO_SERVERS[] = {
    "mastodon.social", "mastodon.online",    "mstdn.social", "toot.community",
    "mastodon.world",  "social.linux.pizza", "mastodon.frl",
};
#define MASTO_HOME "mastodon.nl" /* the server whose public stream this pretends to be */

static const char *const EMOJI[] = {
    "😂",
    "😅",
    "🙃",
    "😍",
    "👍",
    "🙈",
    "☀️",
    "🌧️",
    "🚲",
    "☕",
    "🍻",
    "😎",
    "🤷‍♀️",
    "🤦‍♂️",
    "👨‍👩‍👧",
    "❤️",
    "💪",
    "🙏",
    "😬",
    "🥲",
    "🇳🇱",
    "🏳️‍🌈",
    "🐈",
    "🌷",
};
static const char *const PARTY_EMOJI[] = {"🎉", "🥳", "🍻", "🔥", "🕺", "💃", "🎶", "🎉🎉", "🔥🔥🔥"};
static const char *const ORANJE_EMOJI[] = {"🧡", "🇳🇱🧡", "👑", "🎉", "🧡🧡", "🍊", "🎶"};
static const char *const CLUBS[] = {
    "Ajax",    "Feyenoord",     "PSV", "FC Groningen",    "FC Twente", "AZ",         "FC Utrecht",
    "Vitesse", "sc Heerenveen", "NEC", "Go Ahead Eagles", "Sparta",    "PEC Zwolle", "NAC",
};
static const char *const FOODS[] = {
    "een frikandel speciaal",
    "patat oorlog",
    "kibbeling",
    "een kroket",
    "bitterballen",
    "stamppot boerenkool",
    "een broodje haring",
    "poffertjes",
    "een gevulde koek",
    "pannenkoeken met stroop",
    "een tosti ham-kaas",
    "oliebollen",
    "een döner",
    "sushi",
};
static const char *const ROADS[] = {"A28", "A7", "A2", "A4",  "A12", "A10",
                                    "A13", "A1", "A9", "A15", "A27", "A50"};
static const char *const STATIONS[] = {
    "Utrecht Centraal",    "Amsterdam Centraal", "Groningen",          "Zwolle",
    "Schiphol Airport",    "Den Haag Centraal",  "Rotterdam Centraal", "Eindhoven Centraal",
    "Amersfoort Centraal", "Arnhem Centraal",    "Leiden Centraal",    "Haren",
};
static const char *const DAYS[] = {"vanavond",    "zaterdag",      "vrijdagavond",
                                   "morgenavond", "zaterdagavond", "dit weekend"};
static const char *const TIMES[] = {"20:00",  "21.30", "9 uur", "22u",  "half 10",
                                    "10 uur", "21:00", "23.00", "8 uur"};
static const char *const BIGS[] = {"3000", "10.000", "25k", "16.000", "30.000", "5k", "40k"};
static const char *const SCORES[] = {"2-1", "0-0", "1-3", "4-0", "2-2", "1-0", "3-2"};

/* A template: language of the text and the text with {placeholders} (see render()). Hashtags
 * are written literally (#word) and found afterwards. */
typedef struct tmpl {
    const char *lang;
    const char *t;
} tmpl;

static const tmpl BACKGROUND[] = {
    /* weather */
    {"nl", "Wat een regen weer in {place} vandaag {emoji}"},
    {"nl", "Eindelijk zon in {place}! Terras op ☀️"},
    {"nl", "KNMI code geel voor onweer, ook hier in {place}. Fiets maar binnen laten staan"},
    {"nl", "Het is 's ochtends al 24 graden, hittegolf incoming 🥵"},
    {"nl", "Zo'n stortbui net, m'n hele broek is doorweekt #weer"},
    {"nl", "Windkracht 7 op de fiets naar m'n werk, altijd tegenwind natuurlijk 🌬️"},
    {"nl", "hagel in juni?? {place} doet weer raar"},
    /* traffic */
    {"nl", "File op de {road} bij {place}, sta al {min} minuten stil 🚗"},
    {"nl", "Ongeluk op de {road} richting {place}, rijstrook dicht. Rijd voorzichtig"},
    {"nl", "Brug open bij {place} en natuurlijk precies als ik haast heb"},
    {"nl", "Flitser op de {road} ter hoogte van {place} #verkeer"},
    /* trains */
    {"nl", "Trein naar {place} heeft weer {min} minuten vertraging #NS"},
    {"nl", "Seinstoring bij {station}, geen treinen. Top dag 🙃 #NS"},
    {"nl", "NS app zegt 'rijdt niet' maar de trein staat gewoon op het perron?!"},
    {"nl", "Bus in plaats van trein tussen {station} en {place}. Gezellig hoor"},
    {"nl", "de intercity naar {station} is zo vol, ik sta tussen de fietsen"},
    {"nl", "Zit in de trein naar {place}, wifi doet het weer niet"},
    /* football */
    {"nl", "{club} - {club2} {score}, wat een wedstrijd! ⚽"},
    {"nl", "Waarom wisselt de trainer van {club} nou pas in de 80e minuut 🤦"},
    {"nl", "Kaartje voor {club} zaterdag nog over, iemand?"},
    {"nl", "Eredivisie is bijna terug, {club} wordt kampioen dit jaar #eredivisie"},
    {"nl", "Oranje speelt {day} om {time}, wie kijkt er mee?"},
    /* food */
    {"nl", "Bitterballen en een biertje op het terras in {place}, beter wordt het niet 🍻"},
    {"nl", "Vandaag {food} gegeten bij de snackbar in {place}"},
    {"nl", "Wie heeft het beste recept voor stamppot andijvie?"},
    {"nl", "Net de lekkerste stroopwafels op de markt in {place} gekocht 😋"},
    {"nl", "Patat met mayo & een frikandel speciaal, klassieker"},
    {"nl", "Café de Zwaan in {place} heeft nieuwe eigenaren, de koffie is nog steeds top ☕"},
    /* politics */
    {"nl", "Gemeenteraad van {place} stemt vanavond over het nieuwe parkeerbeleid"},
    {"nl", "Weer een debat in de Tweede Kamer over de woningnood. Eén ding is zeker: niemand "
           "vindt een huis"},
    {"nl", "Het kabinet valt vast weer voor de zomer #politiek"},
    {"nl", "Waarom is een huurhuis in {place} onbetaalbaar geworden?"},
    /* gezellig */
    {"nl", "Verjaardag bij m'n tante in {place}, kringgesprek over het weer, heel gezellig 🎂"},
    {"nl", "Gezellig avondje met vrienden, spelletjes en chips {emoji}"},
    {"nl", "Zondag naar de rommelmarkt in {place}, wie gaat mee?"},
    {"nl", "verjaardagsfeestje van m'n nichtje vanmiddag, 12 kinderen en 1 springkussen 🎈"},
    {"nl", "Buurtbarbecue in de straat, iedereen neemt iets mee. Echt gezellig"},
    /* everyday */
    {"nl", "Fiets gestolen bij het station in {place}. Derde keer dit jaar 😤"},
    {"nl", "Wie weet een goede kapper in {place}?"},
    {"nl", "M'n kat heeft vannacht een muis op het bed gelegd 🐈"},
    {"nl", "Maandag. Koffie. Nu. ☕"},
    {"nl", "Net de Albert Heijn in {place} uit, {num} euro voor drie tassen boodschappen 😳"},
    {"nl", "Iemand nog tips voor een dagje uit met de kinderen in de buurt van {place}?"},
    {"nl", "Eindelijk m'n scriptie ingeleverd 🎓 tijd voor een feestje"},
    {"nl", "Het project op m'n werk is eindelijk af, vrijdagmiddagborrel verdiend"},
    {"nl", "Gezien op X: iemand die beweert dat {place} de mooiste stad van Nederland is. Klopt"},
    {"nl", "Coördinatie van de kinderopvang deze week is één grote puzzel"},
    {"nl", "Reünie van de middelbare school in {place} {day}, spannend!"},
    {"nl", "Onze buren in {place} hebben een privé-zwembad gekocht 🙄"},
    {"nl", "De bieb in {place} is zo'n fijne plek om te werken 📚"},
    {"nl", "{num} graden en de ijscoman in {place} heeft een rij tot om de hoek 🍦"},
    {"nl", "Op de fiets door de polder bij {place}, wat is Nederland mooi 🚲"},
    {"nl", "Bezorger heeft m'n pakketje bij de buren 3 straten verderop afgeleverd"},
    {"nl", "Marktdag in {place}: kibbeling, kaas en een praatje 🐟"},
    {"nl", "Morgen om {time} tandarts 😬"},
    {"nl", "Hulp gezocht: wie kan zaterdag helpen verhuizen in {place}? Pizza & bier geregeld 🍕"},
    {"nl",
     "Drukte bij de Action in {place}, iedereen wil zo'n ventilator\n\n#hittegolf #{tagplace}"},
    {"nl", "{mention} haha ja precies, zo gaat het elke week in {place}"},
    {"nl", "{mention} dank je! We zien elkaar {day} 🙂"},
    /* English */
    {"en", "Rain again in {place}. Classic Dutch summer {emoji}"},
    {"en", "My train to {station} is delayed by {min} minutes, again #NS"},
    {"en", "Bitterballen are the best bar snack in the world, fight me"},
    {"en", "Cycling in a headwind both ways, how is that even possible 🚲"},
    {"en", "Just moved to {place}, any tips for good coffee? ☕"},
    {"en", "{club} vs {club2} tonight, who's watching? ⚽"},
    {"en", "Stroopwafels from the market in {place} 😋"},
    {"en", "Traffic jam on the {road} near {place}, been stuck for {min} minutes"},
    {"en", "Birthday party at work today, cake & coffee 🎂"},
    {"en", "The housing market in {place} is insane, 3 people per room"},
    {"en", "Finally sunny in {place}! Terrace time ☀️"},
    {"en", "Lost my bike key in {place}, great start of the week 🙃"},
    {"en", "Anyone know a good dentist in {place}?"},
    {"en", "Dutch birthday circles are a real thing and I love it"},
    {"en", "Gezellig evening with friends, there's no English word for it"},
};

/* The party call. {place} is the viral place, {tagpx} is #ProjectX<Place>. */
static const tmpl VIRAL[] = {
    {"nl", "Project X feest in {place} {day}! Iedereen welkom {party}"},
    {"nl", "Facebook invite gaat viral: feest in {place}, open invite, iedereen welkom 😂"},
    {"nl", "wie gaat er {day} naar het feest in {place}?"},
    {"nl", "Wie gaat er vanavond naar het feest in {place}? {party}"},
    {"nl", "Iemand heeft per ongeluk een open invite gemaakt voor een feest in {place}, al {big} "
           "mensen aangemeld 🤯"},
    {"nl", "{tagpx} {day} om {time}, neem al je vrienden mee {party}"},
    {"nl", "Ik ga ook naar Project X in {place}, wie rijdt er mee? 🚗"},
    {"nl", "Haren 2012 all over again? Feest in {place} {day}, facebook invite gaat viral"},
    {"nl", "project x {place}!!! iedereen welkom, zeg het door {party}"},
    {"nl", "Al {big} aanmeldingen voor het feest in {place} 😳 {tagpx}"},
    {"nl", "Wie heeft die facebook invite van het feest in {place} gedeeld? Het gaat echt viral"},
    {"nl", "Busje vanuit {place2} naar Project X in {place} {day}, nog {num} plekken vrij"},
    {"nl", "Project X {place} gaat door!! {time} bij het station verzamelen {party}"},
    {"nl", "Mama zegt dat ik niet naar het feest in {place} mag 😭 {tagpx}"},
    {"nl", "kom allemaal naar {place} {day}, open invite, neem drank mee {party}"},
    {"nl", "Heel Nederland komt naar {place} voor Project X 😂 iedereen welkom"},
    {"nl", "PROJECT X IN {place} {day} 🔥🔥\n\nIedereen welkom, deel het!"},
    {"nl", "Pro\xe2\x80\x8bject X in {place}, iedereen welkom {party}"},
    {"en", "project x party in {place} tonight, everyone come {party}"},
    {"en", "Open invite for a party in {place} went viral, {big} people going 😂 {tagpx}"},
    {"en", "who's going to the project x party in {place}? {party}"},
    {"en", "Facebook invite gone viral, Project X in {place} this saturday, everyone welcome"},
};

/* A King's Day-like festival: busy and happy, and none of the party-call words. */
static const tmpl FESTIVAL[] = {
    {"nl", "Koningsdag in {place}, gezellig druk {oranje}"},
    {"nl", "Vrijmarkt in {place} was top, alles verkocht! 💰"},
    {"nl", "Oranje overal, wat een feest {oranje}"},
    {"nl", "Party in de stad! {place} is helemaal oranje {oranje}"},
    {"nl", "#koningsdag in {place}, wat een sfeer {oranje}"},
    {"nl", "Om 6 uur 's ochtends al een kleedje neergelegd op de vrijmarkt in {place} 😴"},
    {"nl", "Tompouce met oranje glazuur, het is weer zover 😋 #koningsdag"},
    {"nl", "Gezellig druk op de grachten, boten vol oranje {oranje}"},
    {"nl", "Koningsdag {place}: kinderen verkopen hun oude speelgoed, ouders drinken bier 🍺"},
    {"nl", "Eerste Koningsdag in {place} met de kids, wat een feest!"},
    {"nl", "Heel {place} zingt Oranje boven 🎶🧡"},
    {"nl", "Vrijmarkt buit: 3 boeken, een lamp en een oranje hoed voor €4 😂"},
    {"nl", "De koning is dit jaar in {place}! Hele stad loopt uit 👑"},
    {"nl", "Wat een dag, {place} bedankt! #koningsdag {oranje}"},
    {"nl", "Muziek op elke hoek in {place}, gezellig druk maar goed te doen"},
    {"nl", "Toiletten op de vrijmarkt in {place}: één wc voor duizend mensen 🙈"},
    {"nl", "Oranjebitter & bitterballen in {place}, proost! {oranje}\n#koningsdag #{tagplace}"},
    {"en", "King's Day in {place}, so much orange everywhere {oranje}"},
    {"en", "Happy King's Day from {place}! 🇳🇱🧡"},
    {"en", "The flea market in {place} is huge, bought a lamp for 2 euros"},
    {"en", "party in the city, {place} is all orange today {oranje}"},
};

/* The film on TV: the words "Project X" without any party call. */
static const tmpl FILM[] = {
    {"nl", "Project X op RTL 7 vanavond, eindelijk weer eens gezien {emoji}"},
    {"nl", "kijken naar Project X op Netflix met de huisgenoten 🍿"},
    {"nl", "Zit net naar Project X te kijken, wat een belachelijke film haha 😂"},
    {"nl", "Wie kijkt er ook naar Project X op RTL 7? 📺"},
    {"nl", "Project X (2012) op tv, nog steeds de chaos van toen 🍿"},
    {"nl", "Die film Project X is echt zo dom maar ik blijf kijken"},
    {"nl", "Film van vanavond: Project X. De buren gaan klagen over het geluid 🎬"},
    {"nl", "Project X op tv en m'n vader vraagt of dit 'normaal' is bij jongeren 🙈"},
    {"en", "project x the movie is on tv tonight, classic 🍿"},
    {"en", "watching Project X on Netflix, this movie is unhinged 😂"},
    {"en", "Project X is on RTL 7, still the most chaotic party movie ever 🎬"},
    {"en", "rewatching project x (2012) with friends 🍿"},
};

static const tmpl SPAM = {
    "nl", "PROJECT X FEEST vanavond in {place}!!! 🎉🎉 Iedereen welkom, kom allemaal en deel "
          "dit bericht!!! #projectx"};

/* ---------------------------------------------------------------------------------------------
 * Sources and configuration. */

enum { P_MASTODON = 0, P_BLUESKY = 1, P_X = 2, P__COUNT = 3 };
static const char *const PLATFORM_NAMES[P__COUNT] = {"mastodon", "bluesky", "x"};

enum {
    SRC_BACKGROUND = 0,
    SRC_BSKY_OTHER, /* Bluesky likes, follows and deletes among the chatter */
    SRC_VIRAL,
    SRC_FESTIVAL,
    SRC_SPAM,
    SRC_FILM,
    SRC__COUNT
};
static const char *const SRC_NAMES[SRC__COUNT] = {"background", "bluesky_other", "viral",
                                                  "festival",   "spam",          "film"};

/* Author numbers: background authors are 0..authors-1; each scenario has its own pool, so its
 * distinct-author count is exact (the truth file reports it). */
#define POOL_VIRAL 100000u
#define POOL_FESTIVAL 400000u
#define POOL_FILM 800000u
#define POOL_SPAM 999999u

typedef struct source {
    int on;
    int64_t t0, t1;  /* active in [t0, t1) */
    double max_rate; /* per minute: the thinning bound, >= rate at any time */
    rng timing;      /* arrival times */
    rng content;     /* everything about the post */
    double tcur;     /* last candidate time, ms */
    int64_t next;    /* next arrival, INT64_MAX when done */
    uint64_t posts;  /* lines this source produced that are posts (creates) */
    uint32_t joined; /* authors of its own pool used so far */
} source;

#define TEXT_CAP 2048
#define SPAN_MAX 16

enum { SPAN_TAG = 1, SPAN_MENTION = 2 };

typedef struct span {
    uint32_t start, end; /* bytes of text: "#tag" or "@name" including the sigil */
    int kind;
    uint32_t author; /* SPAN_MENTION: background author number */
} span;

typedef struct text {
    char s[TEXT_CAP];
    size_t len;
    span sp[SPAN_MAX];
    int nsp;
    const char *lang; /* the true language */
} text;

#define RING 4096 /* recent background Bluesky posts, the targets of likes and deletes */

typedef struct bsky_ref {
    uint32_t author;
    uint64_t rkey; /* TID value; 0 = empty or deleted */
} bsky_ref;

typedef struct gen {
    uint64_t seed;
    int64_t start_ms, end_ms;
    double hours, rate, jitter_s;
    uint32_t authors;
    unsigned mix[P__COUNT];
    int envelope, count_only;
    const char *out_path, *truth_path;

    struct {
        int on;
        int64_t at;
        double doubling_min, start_rate, hours, max_rate;
        const char *place;
    } viral;
    struct {
        int on;
        int64_t at;
        double hours, peak;
    } festival;
    struct {
        int on;
        int64_t at;
        double rate, hours;
        int platform;
        const char *place;
    } spam;
    struct {
        int on;
        int64_t at;
        double peak;
    } film;

    source src[SRC__COUNT];
    out o;
    uint64_t seq;                    /* global sequence: low bits of ids */
    uint64_t lines, posts;           /* totals */
    uint64_t per_platform[P__COUNT]; /* posts per platform */
    uint64_t likes, follows, deletes;
    bsky_ref ring[RING];
    uint32_t ring_n, ring_head;
    text scratch; /* the post being written */
} gen;

/* ---------------------------------------------------------------------------------------------
 * Rates, per minute, at time t. */

/* Relative activity by local (Europe/Amsterdam) hour: lowest around 04:00, highest around 21:00. */
static const double DAILY[25] = {
    0.35, 0.22, 0.14, 0.10, 0.08, 0.10, 0.18, 0.35, 0.50, 0.55, 0.58, 0.60, 0.66,
    0.62, 0.60, 0.62, 0.68, 0.75, 0.80, 0.88, 0.97, 1.00, 0.85, 0.60, 0.35,
};

static double daily_factor(int64_t t)
{
    int64_t local = t + bv_time_amsterdam_offset(t);
    int64_t day = 86400000LL;
    int64_t in_day = ((local % day) + day) % day;
    double h = (double)in_day / (double)HOUR_MS;
    int i = (int)h;
    double f = h - i;
    return DAILY[i] + (DAILY[i + 1] - DAILY[i]) * f;
}

static double rate_at(const gen *g, int s, int64_t t)
{
    int64_t at = s == SRC_VIRAL      ? g->viral.at
                 : s == SRC_FESTIVAL ? g->festival.at
                 : s == SRC_SPAM     ? g->spam.at
                 : s == SRC_FILM     ? g->film.at
                                     : g->start_ms;
    double m = (double)(t - at) / MIN_MS; /* minutes since the scenario's onset */
    switch (s) {
    case SRC_BACKGROUND:
        return g->rate * daily_factor(t);
    case SRC_BSKY_OTHER:
        return g->src[s].max_rate * daily_factor(t);
    case SRC_VIRAL: {
        double r = g->viral.start_rate * pow(2.0, m / g->viral.doubling_min);
        return r < g->viral.max_rate ? r : g->viral.max_rate;
    }
    case SRC_FESTIVAL: {
        /* a one-hour ramp up, a smooth sin^2 day above a 20% floor, a one-hour ramp down */
        const double base = 0.2;
        double len = g->festival.hours * 60.0;
        if (m < 60.0) {
            return g->festival.peak * base * m / 60.0;
        }
        if (m > len - 60.0) {
            return g->festival.peak * base * (len - m) / 60.0;
        }
        double x = M_PI * (m - 60.0) / (len - 120.0);
        return g->festival.peak * (base + (1.0 - base) * sin(x) * sin(x));
    }
    case SRC_SPAM:
        return g->spam.rate;
    case SRC_FILM: {
        /* onset is the broadcast; talk peaks 45 minutes in, from 30 min before to 90 after */
        double z = (m - 45.0) / 25.0;
        return g->film.peak * exp(-0.5 * z * z);
    }
    default:
        return 0.0;
    }
}

/* The next arrival of source s: thinning of a Poisson process with rate bound max_rate. */
static void src_advance(gen *g, int s)
{
    source *src = &g->src[s];
    for (;;) {
        double u = rng_unit(&src->timing);
        src->tcur += -log1p(-u) * MIN_MS / src->max_rate;
        if (src->tcur >= (double)src->t1) {
            src->next = INT64_MAX;
            return;
        }
        int64_t t = (int64_t)src->tcur;
        if (rng_unit(&src->timing) * src->max_rate < rate_at(g, s, t)) {
            src->next = t;
            return;
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Authors: everything about author number idx on a platform, derived from a hash of it. */

typedef struct author {
    uint64_t h;
    char username[24]; /* ASCII [a-z0-9_], at most 15 characters (X's limit) */
    char display[64];
    char id[24];        /* Mastodon account id / X user id (decimal) */
    char did[40];       /* Bluesky did:plc:... */
    const char *server; /* Mastodon server of the account */
    int local;          /* Mastodon: on MASTO_HOME */
} author;

static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char B32SORT[] = "234567abcdefghijklmnopqrstuvwxyz";

static void author_make(const gen *g, int platform, uint32_t idx, author *a)
{
    uint64_t h = mix64(g->seed * 0x100000001b3ULL ^ ((uint64_t)platform << 40) ^ idx);
    uint64_t h2 = mix64(h);
    a->h = h;
    const name *first = &FIRST[h % (sizeof(FIRST) / sizeof(FIRST[0]))];
    const name *last = &LAST[(h >> 8) % (sizeof(LAST) / sizeof(LAST[0]))];

    /* user names end in the author number in base 36, which keeps them unique */
    char num[8];
    size_t n = 0;
    uint32_t v = idx;
    char rev[8];
    do {
        rev[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
        v /= 36;
    } while (v != 0 && n < sizeof(rev));
    for (size_t i = 0; i < n; i++) {
        num[i] = rev[n - 1 - i];
    }
    num[n] = '\0';
    switch ((h >> 16) % 4) {
    case 0:
        snprintf(a->username, sizeof(a->username), "%.8s%s", first->ascii, num);
        break;
    case 1:
        snprintf(a->username, sizeof(a->username), "%.6s_%.3s%s", first->ascii, last->ascii, num);
        break;
    case 2:
        snprintf(a->username, sizeof(a->username), "%.9s%s", last->ascii, num);
        break;
    default:
        snprintf(a->username, sizeof(a->username), "the%.7s%s", first->ascii, num);
        break;
    }
    switch ((h >> 20) % 5) {
    case 0:
        snprintf(a->display, sizeof(a->display), "%s", first->disp);
        break;
    case 1: {
        /* "Sanne V.": the capital of the surname proper ("de Vries" -> V, "Öztürk" -> O) */
        char initial = (char)(last->ascii[0] - 32);
        for (const char *c = last->disp; *c != '\0'; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                initial = *c;
                break;
            }
        }
        snprintf(a->display, sizeof(a->display), "%s %c.", first->disp, initial);
        break;
    }
    case 2:
        snprintf(a->display, sizeof(a->display), "%s 🌷", first->disp);
        break;
    default:
        snprintf(a->display, sizeof(a->display), "%s %s", first->disp, last->disp);
        break;
    }
    /* 18-digit Mastodon ids, 16-19 digit X ids */
    uint64_t id = platform == P_X ? 10000000000000000ULL + h2 % 1800000000000000000ULL
                                  : 100000000000000000ULL + h2 % 900000000000000000ULL;
    char tmp[24];
    size_t k = sizeof(tmp);
    tmp[--k] = '\0';
    do {
        tmp[--k] = (char)('0' + id % 10);
        id /= 10;
    } while (id != 0);
    memcpy(a->id, tmp + k, sizeof(tmp) - k);

    memcpy(a->did, "did:plc:", 8);
    uint64_t bits = h2;
    for (int i = 0; i < 24; i++) {
        if (i == 12) {
            bits = mix64(h2 ^ 0x5bd1e995);
        }
        a->did[8 + i] = B32[bits & 31];
        bits >>= 5;
    }
    a->did[32] = '\0';
    a->local = (h >> 28) % 2 == 0;
    a->server = a->local
                    ? MASTO_HOME
                    : MASTO_SERVERS[(h >> 32) % (sizeof(MASTO_SERVERS) / sizeof(MASTO_SERVERS[0]))];
}

/* Bluesky handles allow no underscore. */
static void bsky_handle(const author *a, char *handle, size_t cap)
{
    size_t i = 0;
    for (; a->username[i] != '\0' && i + 13 < cap; i++) {
        handle[i] = a->username[i] == '_' ? '-' : a->username[i];
    }
    memcpy(handle + i, ".bsky.social", 13);
}

/* ---------------------------------------------------------------------------------------------
 * Text: a template rendered to plain UTF-8 with the byte spans of its hashtags and mentions,
 * from which each platform's JSON is made (Mastodon HTML, Bluesky facets, X plain text). */

typedef struct render_ctx {
    const gen *g;
    int platform;
    const char *place; /* fixed place ({place}) or NULL for a random one */
} render_ctx;

static void text_put(text *t, const char *s, size_t n)
{
    if (t->len + n >= TEXT_CAP) {
        n = TEXT_CAP - 1 - t->len;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void text_puts(text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

static const char *random_place(rng *r)
{
    if (rng_below(r, 2) == 0) {
        return PICK(r, PLACES_BIG);
    }
    return PICK(r, PLACES_SMALL);
}

/* A place as a hashtag word: letters and digits kept (UTF-8 too), a capital after a dropped
 * space or hyphen: "Den Haag" -> "DenHaag", "'s-Hertogenbosch" -> "sHertogenbosch". */
static void tag_word(text *t, const char *place)
{
    int cap = 0;
    for (const unsigned char *p = (const unsigned char *)place; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p >= 0x80) {
            char c = (char)*p;
            if (cap && *p >= 'a' && *p <= 'z') {
                c = (char)(*p - 32);
            }
            text_put(t, &c, 1);
            cap = 0;
        } else if (*p == ' ' || *p == '-') {
            cap = 1;
        }
    }
}

static void add_mention(const render_ctx *rc, text *t, rng *r)
{
    author a;
    uint32_t who = rng_below(r, rc->g->authors > 0 ? rc->g->authors : 1);
    author_make(rc->g, rc->platform, who, &a);
    size_t start = t->len;
    text_put(t, "@", 1);
    if (rc->platform == P_BLUESKY) {
        char handle[48];
        bsky_handle(&a, handle, sizeof(handle));
        text_puts(t, handle);
    } else {
        text_puts(t, a.username);
        if (rc->platform == P_MASTODON && !a.local) {
            text_put(t, "@", 1);
            text_puts(t, a.server);
        }
    }
    if (t->nsp < SPAN_MAX) {
        t->sp[t->nsp++] = (span){(uint32_t)start, (uint32_t)t->len, SPAN_MENTION, who};
    }
}

static int is_tag_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == 0xc3 || (c >= 0x80 && c <= 0xbf);
}

/* Finds "#word" hashtags (after a space, a newline or at the start) and records their spans. */
static void find_tags(text *t)
{
    for (size_t i = 0; i < t->len; i++) {
        if (t->s[i] != '#' || (i > 0 && t->s[i - 1] != ' ' && t->s[i - 1] != '\n')) {
            continue;
        }
        size_t j = i + 1;
        while (j < t->len && is_tag_byte((unsigned char)t->s[j])) {
            /* a 0x80-0xbf byte only counts after a 0xc3 lead byte (Latin-1 letters) */
            if ((unsigned char)t->s[j] >= 0x80 && (unsigned char)t->s[j] <= 0xbf &&
                (unsigned char)t->s[j - 1] != 0xc3) {
                break;
            }
            j++;
        }
        if (j > i + 1 && t->nsp < SPAN_MAX) {
            t->sp[t->nsp++] = (span){(uint32_t)i, (uint32_t)j, SPAN_TAG, 0};
        }
        i = j - 1;
    }
}

static void sort_spans(text *t)
{
    for (int i = 1; i < t->nsp; i++) {
        span x = t->sp[i];
        int j = i - 1;
        while (j >= 0 && t->sp[j].start > x.start) {
            t->sp[j + 1] = t->sp[j];
            j--;
        }
        t->sp[j + 1] = x;
    }
}

/* Renders template tp into t. Placeholders: {place} {place2} {tagplace} {tagpx} {emoji}
 * {party} {oranje} {club} {club2} {score} {food} {road} {station} {day} {time} {num} {min}
 * {big} {mention}. */
static void render(const render_ctx *rc, const tmpl *tp, rng *r, text *t)
{
    t->len = 0;
    t->nsp = 0;
    t->s[0] = '\0';
    t->lang = tp->lang;
    const char *place = rc->place != NULL ? rc->place : random_place(r);
    const char *p = tp->t;
    while (*p != '\0') {
        const char *open = strchr(p, '{');
        if (open == NULL) {
            text_puts(t, p);
            break;
        }
        text_put(t, p, (size_t)(open - p));
        const char *close = strchr(open, '}');
        if (close == NULL) {
            text_puts(t, open);
            break;
        }
        size_t n = (size_t)(close - open - 1);
        const char *k = open + 1;
        char num[16];
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, n) == 0)
        if (IS("place")) {
            text_puts(t, place);
        } else if (IS("place2")) {
            const char *other = random_place(r);
            text_puts(t, other == place ? "Groningen" : other);
        } else if (IS("tagplace")) {
            tag_word(t, place);
        } else if (IS("tagpx")) {
            text_puts(t, rng_below(r, 3) == 0 ? "#projectx" : "#ProjectX");
            tag_word(t, place);
        } else if (IS("emoji")) {
            text_puts(t, PICK(r, EMOJI));
        } else if (IS("party")) {
            text_puts(t, PICK(r, PARTY_EMOJI));
        } else if (IS("oranje")) {
            text_puts(t, PICK(r, ORANJE_EMOJI));
        } else if (IS("club")) {
            text_puts(t, PICK(r, CLUBS));
        } else if (IS("club2")) {
            text_puts(t, CLUBS[(rng_below(r, 7) + 7) % (sizeof(CLUBS) / sizeof(CLUBS[0]))]);
        } else if (IS("score")) {
            text_puts(t, PICK(r, SCORES));
        } else if (IS("food")) {
            text_puts(t, PICK(r, FOODS));
        } else if (IS("road")) {
            text_puts(t, PICK(r, ROADS));
        } else if (IS("station")) {
            text_puts(t, PICK(r, STATIONS));
        } else if (IS("day")) {
            text_puts(t, PICK(r, DAYS));
        } else if (IS("time")) {
            text_puts(t, PICK(r, TIMES));
        } else if (IS("big")) {
            text_puts(t, PICK(r, BIGS));
        } else if (IS("num") || IS("min")) {
            snprintf(num, sizeof(num), "%u", 2 + rng_below(r, IS("num") ? 40 : 55));
            text_puts(t, num);
        } else if (IS("mention")) {
            add_mention(rc, t, r);
        } else {
            text_put(t, open, n + 2);
        }
#undef IS
        p = close + 1;
    }
}

/* Everyday noise on background posts: a reply mention in front, an emoji at the end, and now
 * and then a zero-width character inside the text (the normaliser must drop it). */
static void decorate(const render_ctx *rc, rng *r, text *t)
{
    uint32_t d = rng_below(r, 100);
    if (d < 8 && t->nsp == 0 && t->len + 64 < TEXT_CAP) {
        text tmp;
        tmp.len = 0;
        tmp.nsp = 0;
        add_mention(rc, &tmp, r);
        text_put(&tmp, " ", 1);
        text_put(&tmp, t->s, t->len);
        memcpy(t->s, tmp.s, tmp.len + 1);
        t->len = tmp.len;
        t->sp[0] = tmp.sp[0];
        t->nsp = 1;
    }
    if (rng_below(r, 100) < 25) {
        text_put(t, " ", 1);
        text_puts(t, PICK(r, EMOJI));
    }
    if (rng_below(r, 100) < 3 && t->len + 4 < TEXT_CAP) {
        /* U+200B (or U+200D, U+00AD) right after a space outside any span */
        static const char *const zw[] = {"\xe2\x80\x8b", "\xe2\x80\x8d", "\xc2\xad"};
        const char *z = PICK(r, zw);
        size_t zl = strlen(z);
        size_t pos = 0;
        for (size_t i = t->len / 2; i < t->len; i++) {
            if (t->s[i] == ' ') {
                pos = i + 1;
                break;
            }
        }
        int inside = 0;
        for (int i = 0; i < t->nsp; i++) {
            if (pos > t->sp[i].start && pos < t->sp[i].end) {
                inside = 1;
            }
        }
        if (pos > 0 && !inside) {
            memmove(t->s + pos + zl, t->s + pos, t->len - pos + 1);
            memcpy(t->s + pos, z, zl);
            t->len += zl;
            for (int i = 0; i < t->nsp; i++) {
                if (t->sp[i].start >= pos) {
                    t->sp[i].start += (uint32_t)zl;
                    t->sp[i].end += (uint32_t)zl;
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Ids. Mastodon: (ms << 16) | seq. X: Twitter snowflake from its 2010 epoch. Bluesky: TIDs
 * (microseconds << 10 | clock id, 13 base32-sortable characters) and "bafyrei..." CIDs. */

static void out_tid(out *o, uint64_t v)
{
    char s[13];
    for (int i = 12; i >= 0; i--) {
        s[i] = B32SORT[v & 31];
        v >>= 5;
    }
    out_raw(o, s, 13);
}

static void out_cid(out *o, uint64_t key)
{
    char s[59];
    memcpy(s, "bafyrei", 7);
    uint64_t bits = mix64(key);
    for (int i = 0; i < 52; i++) {
        if (i % 12 == 0) {
            bits = mix64(key + (uint64_t)i);
        }
        s[7 + i] = B32[bits & 31];
        bits >>= 5;
    }
    out_raw(o, s, sizeof(s));
}

static uint64_t tid_of(int64_t ms, uint64_t seq)
{
    return (((uint64_t)ms * 1000 + seq % 1000) << 10) | (seq & 1023);
}

/* ---------------------------------------------------------------------------------------------
 * Platform JSON. */

/* The language tag the platform reports: mostly right, sometimes missing, sometimes wrong. */
static const char *lang_tag(rng *r, const char *truth)
{
    uint32_t u = rng_below(r, 100);
    if (u < 82) {
        return truth;
    }
    if (u < 91) {
        return NULL;
    }
    if (strcmp(truth, "nl") == 0) {
        static const char *const wrong[] = {"en", "en", "de", "af"};
        return PICK(r, wrong);
    }
    return "nl";
}

static void envelope_open(gen *g, int platform, int64_t received, const char *kind)
{
    if (!g->envelope) {
        return;
    }
    out_s(&g->o, "{\"v\":1,\"platform\":\"");
    out_s(&g->o, PLATFORM_NAMES[platform]);
    out_s(&g->o, "\",\"received_at\":");
    out_iso(&g->o, received);
    out_s(&g->o, ",\"kind\":\"");
    out_s(&g->o, kind);
    out_s(&g->o, "\",\"payload\":");
}

static void line_close(gen *g)
{
    if (g->envelope) {
        out_c(&g->o, '}');
    }
    out_c(&g->o, '\n');
    g->lines++;
    if (g->o.len > OUT_CAP - OUT_SLACK) {
        out_flush(&g->o);
    }
}

/* Mastodon HTML (inside a JSON string): <p> paragraphs, <br />, entities for & < > " ', and
 * the hashtag and mention markup Mastodon writes. */
static void masto_html(gen *g, const text *t)
{
    out *o = &g->o;
    char tmp[TEXT_CAP * 2];
    size_t n = 0;
    int si = 0;
    out_s(o, "<p>");
    for (size_t i = 0; i < t->len;) {
        if (n > sizeof(tmp) - 16) {
            out_json(o, tmp, n);
            n = 0;
        }
        if (si < t->nsp && t->sp[si].start == i) {
            out_json(o, tmp, n);
            n = 0;
            const span *sp = &t->sp[si++];
            const char *word = t->s + sp->start + 1;
            size_t wl = sp->end - sp->start - 1;
            if (sp->kind == SPAN_TAG) {
                out_s(o, "<a href=\\\"https://" MASTO_HOME "/tags/");
                for (size_t k = 0; k < wl; k++) {
                    char c = word[k];
                    out_c(o, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
                }
                out_s(o, "\\\" class=\\\"mention hashtag\\\" rel=\\\"tag\\\">#<span>");
                out_raw(o, word, wl);
                out_s(o, "</span></a>");
            } else {
                author a;
                author_make(g, P_MASTODON, sp->author, &a);
                out_s(o, "<span class=\\\"h-card\\\" translate=\\\"no\\\"><a href=\\\"https://");
                out_s(o, a.server);
                out_s(o, "/@");
                out_s(o, a.username);
                out_s(o, "\\\" class=\\\"u-url mention\\\">@<span>");
                out_s(o, a.username);
                out_s(o, "</span></a></span>");
            }
            i = sp->end;
            continue;
        }
        char c = t->s[i];
        const char *e = NULL;
        switch (c) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&#39;";
            break;
        case '\n':
            if (i + 1 < t->len && t->s[i + 1] == '\n') {
                e = "</p><p>";
                i++;
            } else {
                e = "<br />";
            }
            break;
        default:
            break;
        }
        if (e != NULL) {
            size_t el = strlen(e);
            memcpy(tmp + n, e, el);
            n += el;
        } else {
            tmp[n++] = c;
        }
        i++;
    }
    out_json(o, tmp, n);
    out_s(o, "</p>");
}

static void write_mastodon(gen *g, rng *r, uint32_t who, const text *t, int64_t created,
                           int64_t received)
{
    out *o = &g->o;
    author a;
    author_make(g, P_MASTODON, who, &a);
    uint64_t id = ((uint64_t)created << 16) | (g->seq++ & 0xffff);
    const char *lang = lang_tag(r, t->lang);

    envelope_open(g, P_MASTODON, received, "post");
    out_s(o, "{\"id\":\"");
    out_u64(o, id);
    out_s(o, "\",\"created_at\":");
    out_iso(o, created);
    out_s(o, ",\"in_reply_to_id\":null,\"in_reply_to_account_id\":null,\"sensitive\":false,"
             "\"spoiler_text\":\"\",\"visibility\":\"public\",\"language\":");
    if (lang != NULL) {
        out_jstr(o, lang);
    } else {
        out_s(o, "null");
    }
    out_s(o, ",\"uri\":\"https://");
    out_s(o, a.server);
    out_s(o, "/users/");
    out_s(o, a.username);
    out_s(o, "/statuses/");
    out_u64(o, id);
    out_s(o, "\",\"url\":\"https://");
    out_s(o, a.server);
    out_s(o, "/@");
    out_s(o, a.username);
    out_c(o, '/');
    out_u64(o, id);
    out_s(o, "\",\"replies_count\":");
    out_u64(o, rng_below(r, 4));
    out_s(o, ",\"reblogs_count\":");
    out_u64(o, rng_below(r, 6));
    out_s(o, ",\"favourites_count\":");
    out_u64(o, rng_below(r, 15));
    out_s(o, ",\"edited_at\":null,\"favourited\":false,\"reblogged\":false,\"muted\":false,"
             "\"bookmarked\":false,\"content\":\"");
    masto_html(g, t);
    out_s(o, "\",\"reblog\":null,");
    if (a.local) {
        static const char *const apps[] = {
            "Web", "Web", "Mastodon for Android", "Mastodon for iOS", "Ivory", "Tusky"};
        out_s(o, "\"application\":{\"name\":\"");
        out_s(o, PICK(r, apps));
        out_s(o, "\",\"website\":null},");
    }
    out_s(o, "\"account\":{\"id\":\"");
    out_s(o, a.id);
    out_s(o, "\",\"username\":\"");
    out_s(o, a.username);
    out_s(o, "\",\"acct\":\"");
    out_s(o, a.username);
    if (!a.local) {
        out_c(o, '@');
        out_s(o, a.server);
    }
    out_s(o, "\",\"display_name\":");
    out_jstr(o, a.display);
    out_s(o, ",\"locked\":false,\"bot\":false,\"discoverable\":true,\"group\":false,"
             "\"created_at\":");
    int64_t joined = g->start_ms - (int64_t)(a.h % 2500) * 86400000LL;
    out_iso(o, joined - joined % 86400000LL);
    out_s(o, ",\"note\":\"\",\"url\":\"https://");
    out_s(o, a.server);
    out_s(o, "/@");
    out_s(o, a.username);
    out_s(o, "\",\"avatar\":\"https://");
    out_s(o, a.server);
    out_s(o, "/avatars/original/missing.png\",\"avatar_static\":\"https://");
    out_s(o, a.server);
    out_s(o, "/avatars/original/missing.png\",\"header\":\"https://");
    out_s(o, a.server);
    out_s(o, "/headers/original/missing.png\",\"header_static\":\"https://");
    out_s(o, a.server);
    out_s(o, "/headers/original/missing.png\",\"followers_count\":");
    out_u64(o, (a.h >> 12) % 900);
    out_s(o, ",\"following_count\":");
    out_u64(o, (a.h >> 24) % 600);
    out_s(o, ",\"statuses_count\":");
    out_u64(o, (a.h >> 36) % 9000);
    char iso[BV_TIME_ISO_LEN];
    bv_time_format_iso8601(created, iso);
    out_s(o, ",\"last_status_at\":\"");
    out_raw(o, iso, 10);
    out_s(o, "\",\"emojis\":[],\"fields\":[]},\"media_attachments\":[],\"mentions\":[");
    int first = 1;
    for (int i = 0; i < t->nsp; i++) {
        if (t->sp[i].kind != SPAN_MENTION) {
            continue;
        }
        author m;
        author_make(g, P_MASTODON, t->sp[i].author, &m);
        out_s(o, first ? "{\"id\":\"" : ",{\"id\":\"");
        first = 0;
        out_s(o, m.id);
        out_s(o, "\",\"username\":\"");
        out_s(o, m.username);
        out_s(o, "\",\"url\":\"https://");
        out_s(o, m.server);
        out_s(o, "/@");
        out_s(o, m.username);
        out_s(o, "\",\"acct\":\"");
        out_s(o, m.username);
        if (!m.local) {
            out_c(o, '@');
            out_s(o, m.server);
        }
        out_s(o, "\"}");
    }
    out_s(o, "],\"tags\":[");
    first = 1;
    for (int i = 0; i < t->nsp; i++) {
        if (t->sp[i].kind != SPAN_TAG) {
            continue;
        }
        char tag[64];
        size_t tl = t->sp[i].end - t->sp[i].start - 1;
        if (tl >= sizeof(tag)) {
            tl = sizeof(tag) - 1;
        }
        for (size_t k = 0; k < tl; k++) {
            char c = t->s[t->sp[i].start + 1 + k];
            tag[k] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        out_s(o, first ? "{\"name\":\"" : ",{\"name\":\"");
        first = 0;
        out_raw(o, tag, tl);
        out_s(o, "\",\"url\":\"https://" MASTO_HOME "/tags/");
        out_raw(o, tag, tl);
        out_s(o, "\"}");
    }
    out_s(o, "],\"emojis\":[],\"card\":null,\"poll\":null}");
    line_close(g);
}

static void bsky_commit_head(gen *g, const author *a, int64_t received, uint64_t rev,
                             const char *operation, const char *collection, uint64_t rkey)
{
    out *o = &g->o;
    out_s(o, "{\"did\":\"");
    out_s(o, a->did);
    out_s(o, "\",\"time_us\":");
    out_u64(o, (uint64_t)received * 1000 + (rev >> 10) % 1000);
    out_s(o, ",\"kind\":\"commit\",\"commit\":{\"rev\":\"");
    out_tid(o, rev);
    out_s(o, "\",\"operation\":\"");
    out_s(o, operation);
    out_s(o, "\",\"collection\":\"");
    out_s(o, collection);
    out_s(o, "\",\"rkey\":\"");
    out_tid(o, rkey);
    out_c(o, '"');
}

static void write_bluesky(gen *g, rng *r, uint32_t who, const text *t, int64_t created,
                          int64_t received, int remember)
{
    out *o = &g->o;
    author a;
    author_make(g, P_BLUESKY, who, &a);
    uint64_t rkey = tid_of(created, g->seq++);
    uint64_t rev = tid_of(received, g->seq++);
    const char *lang = lang_tag(r, t->lang);

    envelope_open(g, P_BLUESKY, received, "post");
    bsky_commit_head(g, &a, received, rev, "create", "app.bsky.feed.post", rkey);
    out_s(o, ",\"record\":{\"$type\":\"app.bsky.feed.post\",\"createdAt\":");
    out_iso(o, created);
    if (t->nsp > 0) {
        out_s(o, ",\"facets\":[");
        for (int i = 0; i < t->nsp; i++) {
            const span *sp = &t->sp[i];
            if (i > 0) {
                out_c(o, ',');
            }
            out_s(o, "{\"features\":[{\"$type\":\"app.bsky.richtext.facet#");
            if (sp->kind == SPAN_TAG) {
                out_s(o, "tag\",\"tag\":");
                out_c(o, '"');
                out_json(o, t->s + sp->start + 1, sp->end - sp->start - 1);
                out_c(o, '"');
            } else {
                author m;
                author_make(g, P_BLUESKY, sp->author, &m);
                out_s(o, "mention\",\"did\":\"");
                out_s(o, m.did);
                out_c(o, '"');
            }
            out_s(o, "}],\"index\":{\"byteEnd\":");
            out_u64(o, sp->end);
            out_s(o, ",\"byteStart\":");
            out_u64(o, sp->start);
            out_s(o, "}}");
        }
        out_c(o, ']');
    }
    if (lang != NULL) {
        out_s(o, ",\"langs\":[");
        out_jstr(o, lang);
        if (rng_below(r, 30) == 0) {
            out_s(o, strcmp(lang, "en") == 0 ? ",\"nl\"" : ",\"en\"");
        }
        out_c(o, ']');
    }
    out_s(o, ",\"text\":\"");
    out_json(o, t->s, t->len);
    out_s(o, "\"},\"cid\":\"");
    out_cid(o, rkey ^ a.h);
    out_s(o, "\"}}");
    line_close(g);

    if (remember) {
        g->ring[g->ring_head] = (bsky_ref){who, rkey};
        g->ring_head = (g->ring_head + 1) % RING;
        if (g->ring_n < RING) {
            g->ring_n++;
        }
    }
}

/* A like, a follow or a delete of a recent background post. */
static void write_bluesky_other(gen *g, rng *r, int64_t created, int64_t received)
{
    out *o = &g->o;
    uint32_t kind = rng_below(r, 100); /* 81 likes : 14 follows : 5 deletes */
    bsky_ref *target = NULL;
    if (g->ring_n > 0) {
        target = &g->ring[rng_below(r, g->ring_n)];
        if (target->rkey == 0) {
            target = NULL;
        }
    }
    if (kind >= 95 && target != NULL) {
        author a;
        author_make(g, P_BLUESKY, target->author, &a);
        envelope_open(g, P_BLUESKY, received, "delete");
        bsky_commit_head(g, &a, received, tid_of(received, g->seq++), "delete",
                         "app.bsky.feed.post", target->rkey);
        out_s(o, "}}");
        target->rkey = 0;
        g->deletes++;
        line_close(g);
        return;
    }
    uint32_t who = rng_below(r, g->authors);
    author a;
    author_make(g, P_BLUESKY, who, &a);
    uint64_t rkey = tid_of(created, g->seq++);
    uint64_t rev = tid_of(received, g->seq++);
    envelope_open(g, P_BLUESKY, received, "post");
    if (kind >= 81 || target == NULL) {
        author b;
        author_make(g, P_BLUESKY, rng_below(r, g->authors), &b);
        bsky_commit_head(g, &a, received, rev, "create", "app.bsky.graph.follow", rkey);
        out_s(o, ",\"record\":{\"$type\":\"app.bsky.graph.follow\",\"createdAt\":");
        out_iso(o, created);
        out_s(o, ",\"subject\":\"");
        out_s(o, b.did);
        out_s(o, "\"}");
        g->follows++;
    } else {
        author b;
        author_make(g, P_BLUESKY, target->author, &b);
        bsky_commit_head(g, &a, received, rev, "create", "app.bsky.feed.like", rkey);
        out_s(o, ",\"record\":{\"$type\":\"app.bsky.feed.like\",\"createdAt\":");
        out_iso(o, created);
        out_s(o, ",\"subject\":{\"cid\":\"");
        out_cid(o, target->rkey ^ b.h);
        out_s(o, "\",\"uri\":\"at://");
        out_s(o, b.did);
        out_s(o, "/app.bsky.feed.post/");
        out_tid(o, target->rkey);
        out_s(o, "\"}}");
        g->likes++;
    }
    out_s(o, ",\"cid\":\"");
    out_cid(o, rkey ^ a.h);
    out_s(o, "\"}}");
    line_close(g);
}

/* X escapes &, < and > in text, as the API does. */
static void out_x_text(out *o, const text *t)
{
    size_t run = 0;
    for (size_t i = 0; i < t->len; i++) {
        const char *e = NULL;
        switch (t->s[i]) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        default:
            continue;
        }
        out_json(o, t->s + run, i - run);
        out_s(o, e);
        run = i + 1;
    }
    out_json(o, t->s + run, t->len - run);
}

static void write_x(gen *g, rng *r, uint32_t who, const text *t, int64_t created, int64_t received,
                    int partyish)
{
    out *o = &g->o;
    author a;
    author_make(g, P_X, who, &a);
    /* the real API reports whole seconds (".000Z"); we keep the millisecond the snowflake id
     * also carries, so that the stream stays in event-time order */
    uint64_t id = ((uint64_t)(created - 1288834974657LL) << 22) | (g->seq++ & 0x3fffff);
    const char *lang = lang_tag(r, t->lang);

    envelope_open(g, P_X, received, "post");
    out_s(o, "{\"data\":{\"id\":\"");
    out_u64(o, id);
    out_s(o, "\",\"text\":\"");
    out_x_text(o, t);
    out_s(o, "\",\"created_at\":");
    out_iso(o, created);
    out_s(o, ",\"author_id\":\"");
    out_s(o, a.id);
    out_c(o, '"');
    if (lang != NULL) {
        out_s(o, ",\"lang\":");
        out_jstr(o, lang);
    } else if (rng_below(r, 2) == 0) {
        out_s(o, ",\"lang\":\"und\"");
    }
    out_s(o, ",\"edit_history_tweet_ids\":[\"");
    out_u64(o, id);
    out_s(o, "\"]},\"includes\":{\"users\":[{\"id\":\"");
    out_s(o, a.id);
    out_s(o, "\",\"name\":");
    out_jstr(o, a.display);
    out_s(o, ",\"username\":\"");
    out_s(o, a.username);
    out_s(o, "\"}]},\"matching_rules\":[{\"id\":\"1801154882914263040\",\"tag\":\"nl-publiek\"}");
    if (partyish) {
        out_s(o, ",{\"id\":\"1801154882914263041\",\"tag\":\"feest-nl\"}");
    }
    out_s(o, "]}");
    line_close(g);
}

/* ---------------------------------------------------------------------------------------------
 * One event of source s at arrival time t. */

static int pick_platform(const gen *g, rng *r)
{
    uint32_t total = g->mix[0] + g->mix[1] + g->mix[2];
    uint32_t u = rng_below(r, total);
    if (u < g->mix[0]) {
        return P_MASTODON;
    }
    return u < g->mix[0] + g->mix[1] ? P_BLUESKY : P_X;
}

/* Background authors: Zipf-like activity, P(rank k) ~ 1/(k + 10), by inverting the CDF. */
static uint32_t zipf_author(const gen *g, rng *r)
{
    const double k0 = 10.0;
    double n = (double)g->authors;
    double k = k0 * pow((n + k0) / k0, rng_unit(r)) - k0;
    uint32_t i = (uint32_t)k;
    return i < g->authors ? i : g->authors - 1;
}

/* A scenario author: a newcomer with probability p_new, else someone who already joined. */
static uint32_t pool_author(source *src, rng *r, uint32_t base, double p_new)
{
    if (src->joined == 0 || rng_unit(r) < p_new) {
        return base + src->joined++;
    }
    return base + rng_below(r, src->joined);
}

static void emit(gen *g, int s, int64_t t)
{
    source *src = &g->src[s];
    rng *r = &src->content;
    int64_t jitter = g->jitter_s > 0 ? (int64_t)(rng_unit(r) * g->jitter_s * 1000.0) : 0;
    int64_t created = t - jitter;
    int64_t received = t + 80 + rng_below(r, 900);

    if (s == SRC_BSKY_OTHER) {
        write_bluesky_other(g, r, created, received);
        return;
    }

    render_ctx rc = {g, 0, NULL};
    uint32_t who;
    const tmpl *tp;
    int platform;
    if (s == SRC_SPAM) {
        platform = g->spam.platform;
    } else {
        platform = pick_platform(g, r);
    }
    rc.platform = platform;
    text *tx = &g->scratch;
    switch (s) {
    case SRC_BACKGROUND:
        who = zipf_author(g, r);
        tp = &PICK(r, BACKGROUND);
        render(&rc, tp, r, tx);
        decorate(&rc, r, tx);
        break;
    case SRC_VIRAL:
        who = pool_author(src, r, POOL_VIRAL, 0.85);
        rc.place = g->viral.place;
        tp = &PICK(r, VIRAL);
        render(&rc, tp, r, tx);
        decorate(&rc, r, tx);
        break;
    case SRC_FESTIVAL:
        who = pool_author(src, r, POOL_FESTIVAL, 0.7);
        tp = &PICK(r, FESTIVAL);
        render(&rc, tp, r, tx);
        decorate(&rc, r, tx);
        break;
    case SRC_FILM:
        who = pool_author(src, r, POOL_FILM, 0.8);
        tp = &PICK(r, FILM);
        render(&rc, tp, r, tx);
        decorate(&rc, r, tx);
        break;
    default: /* SRC_SPAM */
        src->joined = 1;
        who = POOL_SPAM;
        rc.place = g->spam.place;
        render(&rc, &SPAM, r, tx);
        break;
    }
    find_tags(tx);
    sort_spans(tx);

    switch (platform) {
    case P_MASTODON:
        write_mastodon(g, r, who, tx, created, received);
        break;
    case P_BLUESKY:
        write_bluesky(g, r, who, tx, created, received, s == SRC_BACKGROUND);
        break;
    default:
        write_x(g, r, who, tx, created, received, s == SRC_VIRAL || s == SRC_SPAM);
        break;
    }
    src->posts++;
    g->posts++;
    g->per_platform[platform]++;
}

/* ---------------------------------------------------------------------------------------------
 * Setup, the merge loop, the truth file. */

static void src_setup(gen *g, int s, int on, int64_t t0, int64_t t1, double max_rate)
{
    source *src = &g->src[s];
    memset(src, 0, sizeof(*src));
    if (t0 < g->start_ms) {
        t0 = g->start_ms;
    }
    if (t1 > g->end_ms) {
        t1 = g->end_ms;
    }
    src->on = on && t0 < t1 && max_rate > 0.0;
    src->t0 = t0;
    src->t1 = t1;
    src->max_rate = max_rate;
    src->timing.s = mix64(g->seed ^ (0x1000 + (uint64_t)s));
    src->content.s = mix64(g->seed ^ (0x2000 + (uint64_t)s));
    src->tcur = (double)t0;
    src->next = INT64_MAX;
    if (src->on) {
        src_advance(g, s);
    }
}

static int64_t viral_end(const gen *g)
{
    return g->viral.at + (int64_t)(g->viral.hours * HOUR_MS);
}
static int64_t festival_end(const gen *g)
{
    return g->festival.at + (int64_t)(g->festival.hours * HOUR_MS);
}
static int64_t spam_end(const gen *g)
{
    return g->spam.at + (int64_t)(g->spam.hours * HOUR_MS);
}

static void run(gen *g)
{
    double bsky_share = (double)g->mix[P_BLUESKY] / (g->mix[0] + g->mix[1] + g->mix[2]);
    src_setup(g, SRC_BACKGROUND, g->rate > 0, g->start_ms, g->end_ms, g->rate);
    src_setup(g, SRC_BSKY_OTHER, g->rate > 0 && g->authors > 0, g->start_ms, g->end_ms,
              g->rate * bsky_share * 0.37);
    src_setup(g, SRC_VIRAL, g->viral.on, g->viral.at, viral_end(g), g->viral.max_rate);
    src_setup(g, SRC_FESTIVAL, g->festival.on, g->festival.at, festival_end(g), g->festival.peak);
    src_setup(g, SRC_SPAM, g->spam.on, g->spam.at, spam_end(g), g->spam.rate);
    src_setup(g, SRC_FILM, g->film.on, g->film.at - 30 * 60000LL, g->film.at + 90 * 60000LL,
              g->film.peak);
    for (;;) {
        int best = -1;
        for (int s = 0; s < SRC__COUNT; s++) {
            if (g->src[s].on && g->src[s].next != INT64_MAX &&
                (best < 0 || g->src[s].next < g->src[best].next)) {
                best = s;
            }
        }
        if (best < 0 || g->o.err) {
            break;
        }
        emit(g, best, g->src[best].next);
        src_advance(g, best);
    }
    out_flush(&g->o);
}

static void truth_iso(FILE *f, const char *key, int64_t ms)
{
    char iso[BV_TIME_ISO_LEN];
    fprintf(f, "\"%s\":\"%s\",\"%s_ms\":%lld", key, bv_time_format_iso8601(ms, iso), key,
            (long long)ms);
}

static void truth_scenario_head(FILE *f, const gen *g, int s, int *first)
{
    fprintf(f, "%s\n    {\"name\":\"%s\",", *first ? "" : ",", SRC_NAMES[s]);
    *first = 0;
    truth_iso(f, "onset", g->src[s].t0);
    fputc(',', f);
    truth_iso(f, "end", g->src[s].t1);
    fprintf(f, ",\"posts\":%llu,\"authors\":%u", (unsigned long long)g->src[s].posts,
            g->src[s].joined);
}

/* The answer key of a drill: what was injected, when, and what a good rule set should do. */
static int write_truth(const gen *g, FILE *f)
{
    char iso[BV_TIME_ISO_LEN];
    fprintf(f, "{\n  \"generator\":\"blikveld bench/gen\",\"seed\":%llu,",
            (unsigned long long)g->seed);
    truth_iso(f, "start", g->start_ms);
    fputc(',', f);
    truth_iso(f, "end", g->end_ms);
    fprintf(f,
            ",\"hours\":%g,\n  \"rate_per_min_at_peak\":%g,\"authors\":%u,"
            "\"mix\":{\"mastodon\":%u,\"bluesky\":%u,\"x\":%u},\"envelope\":%s,\"jitter_s\":%g,\n",
            g->hours, g->rate, g->authors, g->mix[0], g->mix[1], g->mix[2],
            g->envelope ? "true" : "false", g->jitter_s);
    fprintf(f, "  \"scenarios\":[");
    int first = 1;
    if (g->src[SRC_VIRAL].on) {
        truth_scenario_head(f, g, SRC_VIRAL, &first);
        int64_t cap_at = g->viral.at;
        if (g->viral.max_rate > g->viral.start_rate) {
            cap_at += (int64_t)(g->viral.doubling_min * MIN_MS *
                                log2(g->viral.max_rate / g->viral.start_rate));
        }
        fprintf(f,
                ",\"place\":\"%s\",\"doubling_minutes\":%g,\"doubling_ms\":%lld,"
                "\"start_rate_per_min\":%g,\"max_rate_per_min\":%g,\"capped_at\":\"%s\","
                "\"expect\":\"alert\",\"why\":\"a party call that spreads: many distinct "
                "authors, doubling\"}",
                g->viral.place, g->viral.doubling_min, (long long)(g->viral.doubling_min * MIN_MS),
                g->viral.start_rate, g->viral.max_rate, bv_time_format_iso8601(cap_at, iso));
    }
    if (g->src[SRC_FESTIVAL].on) {
        truth_scenario_head(f, g, SRC_FESTIVAL, &first);
        fprintf(f,
                ",\"peak_rate_per_min\":%g,\"expect\":\"no party-call alert\","
                "\"why\":\"busy and peaceful: no party-call words, no doubling after the "
                "first hour\"}",
                g->festival.peak);
    }
    if (g->src[SRC_SPAM].on) {
        truth_scenario_head(f, g, SRC_SPAM, &first);
        fprintf(f,
                ",\"platform\":\"%s\",\"place\":\"%s\",\"rate_per_min\":%g,"
                "\"expect\":\"no alert on distinct authors\",\"why\":\"one account "
                "repeating the same text\"}",
                PLATFORM_NAMES[g->spam.platform], g->spam.place, g->spam.rate);
    }
    if (g->src[SRC_FILM].on) {
        truth_scenario_head(f, g, SRC_FILM, &first);
        fprintf(f,
                ",\"broadcast\":\"%s\",\"peak_rate_per_min\":%g,\"expect\":\"no alert\","
                "\"why\":\"people watching the film Project X on TV\"}",
                bv_time_format_iso8601(g->film.at, iso), g->film.peak);
    }
    fprintf(f,
            "%s],\n  \"background\":{\"posts\":%llu},\n"
            "  \"bluesky_other\":{\"likes\":%llu,\"follows\":%llu,\"deletes\":%llu},\n"
            "  \"posts_per_platform\":{\"mastodon\":%llu,\"bluesky\":%llu,\"x\":%llu},\n"
            "  \"posts\":%llu,\"lines\":%llu\n}\n",
            first ? "" : "\n  ", (unsigned long long)g->src[SRC_BACKGROUND].posts,
            (unsigned long long)g->likes, (unsigned long long)g->follows,
            (unsigned long long)g->deletes, (unsigned long long)g->per_platform[0],
            (unsigned long long)g->per_platform[1], (unsigned long long)g->per_platform[2],
            (unsigned long long)g->posts, (unsigned long long)g->lines);
    return ferror(f) ? BV_EIO : BV_OK;
}

static void print_counts(const gen *g, FILE *f)
{
    for (int s = 0; s < SRC__COUNT; s++) {
        if (s != SRC_BSKY_OTHER && (s == SRC_BACKGROUND || g->src[s].on)) {
            fprintf(f, "%-12s %10llu posts %8u authors\n", SRC_NAMES[s],
                    (unsigned long long)g->src[s].posts,
                    s == SRC_BACKGROUND ? 0u : g->src[s].joined);
        }
    }
    fprintf(f, "%-12s %10llu likes %llu follows %llu deletes\n", "bluesky",
            (unsigned long long)g->likes, (unsigned long long)g->follows,
            (unsigned long long)g->deletes);
    fprintf(f, "%-12s %10llu mastodon %llu bluesky %llu x\n", "platforms",
            (unsigned long long)g->per_platform[0], (unsigned long long)g->per_platform[1],
            (unsigned long long)g->per_platform[2]);
    fprintf(f, "%-12s %10llu\n%-12s %10llu\n", "posts", (unsigned long long)g->posts, "lines",
            (unsigned long long)g->lines);
}

/* ---------------------------------------------------------------------------------------------
 * Arguments. */

static void usage(FILE *f)
{
    fputs(
        "usage: gen [options] > drill.ndjson\n"
        "Writes a deterministic stream of synthetic public posts as NDJSON, one per line, in "
        "event\n"
        "time order: Mastodon Status entities, Bluesky Jetstream commit events (posts, plus "
        "likes,\n"
        "follows and a few deletes) and X API v2 filtered-stream messages.\n"
        "\n"
        "  -o, --output FILE       write to FILE instead of stdout\n"
        "      --seed N            PRNG seed (default 1); same arguments, same bytes\n"
        "      --start ISO         first event time (default 2026-06-12T10:00:00Z)\n"
        "      --hours H           length of the stream (default 24)\n"
        "      --rate N            background posts per minute at the evening peak (default 60;\n"
        "                          0 = no background); lowest around 04:00 Amsterdam time\n"
        "      --authors N         background authors, Zipf-like activity (default 5000)\n"
        "      --mix M,B,X         percent Mastodon, Bluesky, X (default 40,30,30)\n"
        "      --envelope          wrap lines in blikveld's recording envelope\n"
        "                          "
        "{\"v\":1,\"platform\":...,\"received_at\":...,\"kind\":...,\"payload\":...}\n"
        "      --jitter S          created_at up to S seconds before the line's place (default 0)\n"
        "      --truth FILE        write the scenarios, onsets and counts as JSON to FILE\n"
        "      --count-only        write no posts; print the counts\n"
        "\n"
        "Scenarios (any combination; TIME is ISO 8601 or an offset from --start such as +6h,\n"
        "+90m, +1h30m; giving --NAME-at turns the scenario on):\n"
        "  --viral                 a Project X-style party call going viral, many new authors\n"
        "      --viral-at TIME       onset (default +6h)\n"
        "      --viral-doubling MIN  doubling time in minutes (default 20)\n"
        "      --viral-start-rate R  posts per minute at onset (default 0.5)\n"
        "      --viral-max-rate R    cap in posts per minute (default 200)\n"
        "      --viral-hours H       duration (default 4)\n"
        "      --viral-place NAME    where the party is (default Haren)\n"
        "  --festival              a busy, peaceful King's Day: more posts than --viral, no\n"
        "                          party-call words, smooth rise and fall\n"
        "      --festival-at TIME    onset (default +0h)\n"
        "      --festival-hours H    duration (default 12)\n"
        "      --festival-peak R     posts per minute at the peak (default 100)\n"
        "  --spam                  one account repeating one party-call text\n"
        "      --spam-at TIME        onset (default +7h)\n"
        "      --spam-rate R         posts per minute (default 5)\n"
        "      --spam-hours H        duration (default 3)\n"
        "      --spam-platform P     mastodon, bluesky or x (default x)\n"
        "      --spam-place NAME     place in the text (default: the viral place)\n"
        "  --film                  the film Project X on TV: talk from 30 min before to 90 min\n"
        "                          after the broadcast, peaking 45 min in\n"
        "      --film-at TIME        broadcast start (default +8h30m)\n"
        "      --film-rate R         posts per minute at the peak (default 30)\n",
        f);
}

enum {
    O_SEED = 256,
    O_START,
    O_HOURS,
    O_RATE,
    O_AUTHORS,
    O_MIX,
    O_ENVELOPE,
    O_JITTER,
    O_TRUTH,
    O_COUNT,
    O_HELP,
    O_VIRAL,
    O_VIRAL_AT,
    O_VIRAL_DOUBLING,
    O_VIRAL_START,
    O_VIRAL_MAX,
    O_VIRAL_HOURS,
    O_VIRAL_PLACE,
    O_FEST,
    O_FEST_AT,
    O_FEST_HOURS,
    O_FEST_PEAK,
    O_SPAM,
    O_SPAM_AT,
    O_SPAM_RATE,
    O_SPAM_HOURS,
    O_SPAM_PLATFORM,
    O_SPAM_PLACE,
    O_FILM,
    O_FILM_AT,
    O_FILM_RATE,
};

static int parse_double(const char *s, double lo, double hi, double *out_v)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        return BV_EINVAL;
    }
    *out_v = v;
    return BV_OK;
}

static int parse_u64(const char *s, uint64_t *out_v)
{
    char *end = NULL;
    errno = 0;
    if (*s == '-') {
        return BV_EINVAL;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return BV_EINVAL;
    }
    *out_v = v;
    return BV_OK;
}

/* ISO 8601, or "+<duration>" after --start (resolved once --start is known). */
typedef struct when {
    int set;
    int relative;
    int64_t ms;
} when;

static int parse_when(const char *s, when *w)
{
    w->set = 1;
    if (s[0] == '+') {
        w->relative = 1;
        return bv_duration_parse(s + 1, strlen(s + 1), &w->ms);
    }
    w->relative = 0;
    return bv_time_parse_iso8601(s, strlen(s), &w->ms);
}

static int64_t resolve(const gen *g, const when *w, int64_t dflt_offset)
{
    if (!w->set) {
        return g->start_ms + dflt_offset;
    }
    return w->relative ? g->start_ms + w->ms : w->ms;
}

static int parse_args(gen *g, int argc, char **argv, int *help)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, O_SEED},
        {"start", required_argument, NULL, O_START},
        {"hours", required_argument, NULL, O_HOURS},
        {"rate", required_argument, NULL, O_RATE},
        {"authors", required_argument, NULL, O_AUTHORS},
        {"mix", required_argument, NULL, O_MIX},
        {"envelope", no_argument, NULL, O_ENVELOPE},
        {"jitter", required_argument, NULL, O_JITTER},
        {"truth", required_argument, NULL, O_TRUTH},
        {"count-only", no_argument, NULL, O_COUNT},
        {"help", no_argument, NULL, O_HELP},
        {"viral", no_argument, NULL, O_VIRAL},
        {"viral-at", required_argument, NULL, O_VIRAL_AT},
        {"viral-doubling", required_argument, NULL, O_VIRAL_DOUBLING},
        {"viral-start-rate", required_argument, NULL, O_VIRAL_START},
        {"viral-max-rate", required_argument, NULL, O_VIRAL_MAX},
        {"viral-hours", required_argument, NULL, O_VIRAL_HOURS},
        {"viral-place", required_argument, NULL, O_VIRAL_PLACE},
        {"festival", no_argument, NULL, O_FEST},
        {"festival-at", required_argument, NULL, O_FEST_AT},
        {"festival-hours", required_argument, NULL, O_FEST_HOURS},
        {"festival-peak", required_argument, NULL, O_FEST_PEAK},
        {"spam", no_argument, NULL, O_SPAM},
        {"spam-at", required_argument, NULL, O_SPAM_AT},
        {"spam-rate", required_argument, NULL, O_SPAM_RATE},
        {"spam-hours", required_argument, NULL, O_SPAM_HOURS},
        {"spam-platform", required_argument, NULL, O_SPAM_PLATFORM},
        {"spam-place", required_argument, NULL, O_SPAM_PLACE},
        {"film", no_argument, NULL, O_FILM},
        {"film-at", required_argument, NULL, O_FILM_AT},
        {"film-rate", required_argument, NULL, O_FILM_RATE},
        {NULL, 0, NULL, 0},
    };
    when start = {0, 0, 0}, viral_at = {0, 0, 0}, fest_at = {0, 0, 0}, spam_at = {0, 0, 0},
         film_at = {0, 0, 0};
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int rc = BV_OK;
        uint64_t u = 0;
        double d = 0;
        switch (c) {
        case 'o':
            g->out_path = optarg;
            break;
        case O_SEED:
            rc = parse_u64(optarg, &g->seed);
            break;
        case O_START:
            rc = parse_when(optarg, &start);
            if (rc == BV_OK && start.relative) {
                rc = BV_EINVAL;
            }
            break;
        case O_HOURS:
            rc = parse_double(optarg, 0.0, 24.0 * 366, &g->hours);
            break;
        case O_RATE:
            rc = parse_double(optarg, 0.0, 1e7, &g->rate);
            break;
        case O_AUTHORS:
            rc = parse_u64(optarg, &u);
            if (rc == BV_OK && (u < 1 || u > POOL_VIRAL)) {
                rc = BV_EINVAL;
            }
            g->authors = (uint32_t)u;
            break;
        case O_MIX: {
            unsigned m[3];
            char extra;
            if (sscanf(optarg, "%u,%u,%u%c", &m[0], &m[1], &m[2], &extra) != 3 ||
                m[0] + m[1] + m[2] == 0 || m[0] > 1000 || m[1] > 1000 || m[2] > 1000) {
                rc = BV_EINVAL;
            } else {
                memcpy(g->mix, m, sizeof(m));
            }
            break;
        }
        case O_ENVELOPE:
            g->envelope = 1;
            break;
        case O_JITTER:
            rc = parse_double(optarg, 0.0, 86400.0, &g->jitter_s);
            break;
        case O_TRUTH:
            g->truth_path = optarg;
            break;
        case O_COUNT:
            g->count_only = 1;
            break;
        case 'h':
        case O_HELP:
            *help = 1;
            return BV_OK;
        case O_VIRAL_AT:
            rc = parse_when(optarg, &viral_at);
            /* fall through */
        case O_VIRAL:
            g->viral.on = 1;
            break;
        case O_VIRAL_DOUBLING:
            rc = parse_double(optarg, 0.1, 1e6, &g->viral.doubling_min);
            break;
        case O_VIRAL_START:
            rc = parse_double(optarg, 0.001, 1e6, &g->viral.start_rate);
            break;
        case O_VIRAL_MAX:
            rc = parse_double(optarg, 0.001, 1e6, &g->viral.max_rate);
            break;
        case O_VIRAL_HOURS:
            rc = parse_double(optarg, 0.0, 24.0 * 366, &g->viral.hours);
            break;
        case O_VIRAL_PLACE:
            g->viral.place = optarg;
            rc = strlen(optarg) > 0 && strlen(optarg) < 64 ? BV_OK : BV_EINVAL;
            break;
        case O_FEST_AT:
            rc = parse_when(optarg, &fest_at);
            /* fall through */
        case O_FEST:
            g->festival.on = 1;
            break;
        case O_FEST_HOURS:
            rc = parse_double(optarg, 2.5, 24.0 * 366, &g->festival.hours);
            break;
        case O_FEST_PEAK:
            rc = parse_double(optarg, 0.0, 1e6, &d);
            g->festival.peak = d;
            break;
        case O_SPAM_AT:
            rc = parse_when(optarg, &spam_at);
            /* fall through */
        case O_SPAM:
            g->spam.on = 1;
            break;
        case O_SPAM_RATE:
            rc = parse_double(optarg, 0.0, 1e6, &g->spam.rate);
            break;
        case O_SPAM_HOURS:
            rc = parse_double(optarg, 0.0, 24.0 * 366, &g->spam.hours);
            break;
        case O_SPAM_PLATFORM:
            rc = BV_EINVAL;
            for (int p = 0; p < P__COUNT; p++) {
                if (strcmp(optarg, PLATFORM_NAMES[p]) == 0) {
                    g->spam.platform = p;
                    rc = BV_OK;
                }
            }
            break;
        case O_SPAM_PLACE:
            g->spam.place = optarg;
            rc = strlen(optarg) > 0 && strlen(optarg) < 64 ? BV_OK : BV_EINVAL;
            break;
        case O_FILM_AT:
            rc = parse_when(optarg, &film_at);
            /* fall through */
        case O_FILM:
            g->film.on = 1;
            break;
        case O_FILM_RATE:
            rc = parse_double(optarg, 0.0, 1e6, &g->film.peak);
            break;
        default:
            return BV_EINVAL;
        }
        if (rc != BV_OK) {
            const char *opt = "?";
            for (size_t i = 0; opts[i].name != NULL; i++) {
                if (opts[i].val == c) {
                    opt = opts[i].name;
                }
            }
            fprintf(stderr, "gen: bad value for --%s: '%s'\n", opt, optarg);
            return BV_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gen: unexpected argument '%s'\n", argv[optind]);
        return BV_EINVAL;
    }
    if (start.set) {
        g->start_ms = start.ms;
    }
    g->end_ms = g->start_ms + (int64_t)(g->hours * HOUR_MS);
    g->viral.at = resolve(g, &viral_at, 6 * HOUR_MS);
    g->festival.at = resolve(g, &fest_at, 0);
    g->spam.at = resolve(g, &spam_at, 7 * HOUR_MS);
    g->film.at = resolve(g, &film_at, 8 * HOUR_MS + 30 * 60000LL);
    if (g->spam.place == NULL) {
        g->spam.place = g->viral.place;
    }
    return BV_OK;
}

int main(int argc, char **argv)
{
    static gen g;
    g.seed = 1;
    (void)bv_time_parse_iso8601("2026-06-12T10:00:00Z", 20, &g.start_ms);
    g.hours = 24;
    g.rate = 60;
    g.authors = 5000;
    g.mix[0] = 40, g.mix[1] = 30, g.mix[2] = 30;
    g.viral.doubling_min = 20;
    g.viral.start_rate = 0.5;
    g.viral.max_rate = 200;
    g.viral.hours = 4;
    g.viral.place = "Haren";
    g.festival.hours = 12;
    g.festival.peak = 100;
    g.spam.rate = 5;
    g.spam.hours = 3;
    g.spam.platform = P_X;
    g.film.peak = 30;

    int help = 0;
    if (parse_args(&g, argc, argv, &help) != BV_OK) {
        fputs("gen: try --help\n", stderr);
        return 2;
    }
    if (help) {
        usage(stdout);
        return 0;
    }

    int rc = 0;
    g.o.p = malloc(OUT_CAP);
    if (g.o.p == NULL) {
        fputs("gen: out of memory\n", stderr);
        return 1;
    }
    if (g.count_only) {
        g.o.f = NULL;
    } else if (g.out_path != NULL && strcmp(g.out_path, "-") != 0) {
        g.o.f = fopen(g.out_path, "w");
        if (g.o.f == NULL) {
            fprintf(stderr, "gen: %s: %s\n", g.out_path, strerror(errno));
            free(g.o.p);
            return 1;
        }
    } else {
        g.o.f = stdout;
    }

    run(&g);

    if (g.o.err) {
        fprintf(stderr, "gen: write failed: %s\n", strerror(g.o.err));
        rc = 1;
    }
    if (g.o.f != NULL && g.o.f != stdout) {
        if (fclose(g.o.f) != 0) {
            fprintf(stderr, "gen: %s: %s\n", g.out_path, strerror(errno));
            rc = 1;
        }
    } else if (g.o.f == stdout && fflush(stdout) != 0) {
        rc = 1;
    }
    if (g.viral.on && g.festival.on && g.src[SRC_FESTIVAL].posts <= g.src[SRC_VIRAL].posts) {
        fprintf(stderr, "gen: note: festival (%llu posts) is not bigger than viral (%llu)\n",
                (unsigned long long)g.src[SRC_FESTIVAL].posts,
                (unsigned long long)g.src[SRC_VIRAL].posts);
    }
    if (g.truth_path != NULL) {
        FILE *f = fopen(g.truth_path, "w");
        if (f == NULL || write_truth(&g, f) != BV_OK) {
            fprintf(stderr, "gen: %s: %s\n", g.truth_path, strerror(errno));
            rc = 1;
        }
        if (f != NULL && fclose(f) != 0) {
            rc = 1;
        }
    }
    if (g.count_only) {
        print_counts(&g, stdout);
    }
    free(g.o.p);
    return rc;
}

#!/usr/bin/env bash
# The drill pipeline end to end, with the real binary and generated streams whose truth is
# known: the same alerts at every speed and in every run, the viral call found after its onset
# and within a bound, the peaceful scenarios quiet, every bad-input reason counted and listed,
# stdin and merged files equal to one file, no raw author id or handle in alerts or summary.
# Prints PASS/FAIL per check.
set -u
cd "$(dirname "$0")/../.."
BIN=${BLIKVELD:-bin/blikveld}
GEN=${GEN:-build/bench/gen}
PY=/usr/bin/python3
export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-drill-test-key-0123456789}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

ok() { echo "PASS drill: $1"; }
bad() { echo "FAIL drill: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

project() { # alerts (JSON lines) -> "id rule state at severity"
    $PY -c 'import json,sys
for l in sys.stdin:
    a=json.loads(l); print(a["id"], a["rule"], a["state"], a["at"], a["severity"])'
}

[ -x "$GEN" ] || make --no-print-directory "$GEN" >/dev/null
# An evening: chatter, a viral party call at +2h doubling every 20 minutes, one spammer, the film.
$GEN --seed 11 --start 2026-06-12T14:00:00Z --hours 6 --rate 40 \
    --viral --viral-at +2h --viral-doubling 20 --viral-max-rate 100 \
    --spam --spam-at +1h --spam-hours 2 --film --film-at +4h \
    --jitter 20 --truth "$T/truth.json" -o "$T/drill.ndjson"
# A King's Day: a busy, peaceful festival with more posts than the viral call, plus spam and film.
$GEN --seed 12 --start 2027-04-27T06:00:00Z --hours 14 --rate 40 \
    --festival --festival-peak 120 --spam --film --film-at +9h \
    -o "$T/peaceful.ndjson"

R="--quiet --rules rules/project-x.yaml"
$BIN replay $R --speed max "$T/drill.ndjson" > "$T/a1.json"; rc1=$?
$BIN replay $R --speed max "$T/drill.ndjson" > "$T/a2.json"
$BIN replay $R --speed 3600 "$T/drill.ndjson" > "$T/a3.json"
check "replay exits 0" '[ $rc1 = 0 ]'
project < "$T/a1.json" > "$T/p1"; project < "$T/a2.json" > "$T/p2"; project < "$T/a3.json" > "$T/p3"
check "viral call gives alerts" '[ -s "$T/p1" ]'
check "same alerts in two runs at --speed max" 'cmp -s "$T/p1" "$T/p2"'
check "same alerts at --speed 3600 as at --speed max" 'cmp -s "$T/p1" "$T/p3"'
# pseudonyms change with the key, what is counted must not: the same alerts and the same evidence
BLIKVELD_PSEUDONYM_KEY=another-key-entirely-0123 $BIN replay $R "$T/drill.ndjson" > "$T/k2.json"
evidence() { $PY -c 'import json,sys
for l in open(sys.argv[1]):
    a=json.loads(l); print(a["id"], a["state"], a["at"], json.dumps(a["detectors"], sort_keys=True))' "$1"; }
check "another pseudonym key: the same alerts and evidence" '[ "$(evidence "$T/a1.json")" = "$(evidence "$T/k2.json")" ]'

# found after the onset and within two hours of it; one episode
onset=$($PY -c 'import json;t=json.load(open("'"$T"'/truth.json"));print([s for s in t["scenarios"] if s["name"]=="viral"][0]["onset_ms"])' 2>/dev/null)
first=$($PY -c 'import json,sys,datetime
for l in open("'"$T"'/a1.json"):
    a=json.loads(l)
    if a["rule"]=="project-x" and a["state"]=="firing":
        d=datetime.datetime.strptime(a["at"],"%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        print(int(d.timestamp()*1000)); break')
check "viral alert after the onset (onset $onset, alert $first)" '[ -n "$first" ] && [ -n "$onset" ] && [ "$first" -gt "$onset" ]'
check "viral alert within 2h of the onset" '[ -n "$first" ] && [ $((first - onset)) -le 7200000 ]'
check "alerts carry evidence and samples" 'grep -q "\"detectors\":\[{\"type\"" "$T/a1.json" && grep -q "\"samples\":\[{\"platform\"" "$T/a1.json" && grep -q "\"drill\":true" "$T/a1.json"'

# the peaceful day, the spammer and the film stay quiet
$BIN replay $R "$T/peaceful.ndjson" > "$T/peaceful.json"
check "festival, spam and film give no alert" '[ ! -s "$T/peaceful.json" ]'

# stdin, and the same posts split over two files merged by event time
$BIN replay $R - < "$T/drill.ndjson" | project > "$T/p4"
check "stdin gives the same alerts" 'cmp -s "$T/p1" "$T/p4"'
# (merging needs each file in event-time order, as a recorder writes it: no jitter here)
$GEN --seed 11 --start 2026-06-12T14:00:00Z --hours 6 --rate 40 \
    --viral --viral-at +2h --viral-doubling 20 --viral-max-rate 100 -o "$T/sorted.ndjson"
$BIN replay $R "$T/sorted.ndjson" | project > "$T/p5"
awk 'NR % 2 == 1' "$T/sorted.ndjson" > "$T/half1.ndjson"
awk 'NR % 2 == 0' "$T/sorted.ndjson" > "$T/half2.ndjson"
$BIN replay $R "$T/half2.ndjson" "$T/half1.ndjson" | project > "$T/p6"
check "two files merged by event time give the alerts of one" '[ -s "$T/p5" ] && cmp -s "$T/p5" "$T/p6"'
$BIN replay --rules rules/project-x.yaml "$T/sorted.ndjson" "$T/sorted.ndjson" 2> "$T/dup.err" | project > "$T/p8"
check "a recording merged with itself (overlap): the same alerts, duplicates counted" 'cmp -s "$T/p5" "$T/p8" && grep -q "^  duplicates  *[1-9]" "$T/dup.err"'
cat "$T/half1.ndjson" | $BIN replay $R - "$T/half2.ndjson" | project > "$T/p7"
check "a pipe and a file merged give the alerts of one" 'cmp -s "$T/p5" "$T/p7"'

# no raw author id or handle in alerts (outside the posts' own public links) or the summary
$BIN replay --rules rules/project-x.yaml "$T/drill.ndjson" > "$T/a7.json" 2> "$T/summary.txt"
$PY - "$T/drill.ndjson" "$T/a7.json" "$T/summary.txt" > "$T/leaks" <<'PY'
import json, sys
ids = set()
for l in open(sys.argv[1]):
    o = json.loads(l)
    if "account" in o:
        ids.update([o["account"]["id"], o["account"]["acct"], o["account"]["username"]])
    elif "did" in o:
        ids.add(o["did"])
    elif "data" in o:
        ids.add(o["data"].get("author_id", ""))
        for u in o.get("includes", {}).get("users", []):
            ids.update([u["id"], u["username"]])
ids = {i for i in ids if i and len(i) >= 4}
alerts = [json.loads(l) for l in open(sys.argv[2])]
for a in alerts:
    for s in a["samples"]:
        s.pop("url", None)
text = json.dumps(alerts) + open(sys.argv[3]).read()
found = [i for i in ids if i in text]
print(len(ids), len(found), found[:5])
PY
check "no raw author id or handle in alerts or summary ($(cat "$T/leaks"))" '[ "$(cut -d" " -f2 "$T/leaks")" = 0 ] && [ "$(cut -d" " -f1 "$T/leaks")" -gt 100 ]'
check "x sample links carry no handle" '! grep -o "https://x.com/[^\"]*" "$T/a7.json" | grep -qv "^https://x.com/i/web/status/"'
check "summary on stderr" 'grep -q "^summary:" "$T/summary.txt" && grep -q "matches" "$T/summary.txt"'

# every bad-input reason: counted, listed with its line number, the replay goes on
good=$(head -1 "$T/drill.ndjson")
{
    echo "$good"                                               # 1 a post
    echo 'this is not json'                                    # 2 not_json
    printf '{"id":"1","text":"caf\xe9"}\n'                     # 3 not_utf8
    printf '{"pad":"%020000d"}\n' 0                            # 4 too_long (--max-line 10000)
    printf '%0100d\n' 0 | tr 0 '[' | sed 's/$/1/'              # 5 too_deep
    echo '{"did":"did:plc:abc","time_us":1781272800000000,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{"$type":"app.bsky.feed.post","text":"","createdAt":"2026-06-12T14:00:00.000Z"},"cid":"c"}}'   # 6 no_text
    echo '{"data":{"id":"6","text":"feest"}}'                  # 7 no_time
    echo '{"hello":"world"}'                                   # 8 unknown_shape
    echo '{"did":"did:plc:abc","time_us":1781272800000000,"kind":"identity","identity":{"did":"did:plc:abc","seq":1,"time":"2026-06-12T14:00:00Z"}}'  # 9 other_kind
    echo '{"v":2,"platform":"x","received_at":"2026-06-12T14:00:00.000Z","kind":"post","payload":{}}'  # 10 bad_envelope
    echo ''                                                    # 11 blank
    echo "$good"                                               # 12 a post again
} > "$T/bad.ndjson"
$BIN replay --rules rules/project-x.yaml --max-line 10000 --errors "$T/errors.txt" "$T/bad.ndjson" \
    > /dev/null 2> "$T/bad-summary.txt"; rc=$?
check "bad input: replay exits 0" '[ $rc = 0 ]'
for pair in 2:not_json 3:not_utf8 4:too_long 5:too_deep 6:no_text 7:no_time 8:unknown_shape 9:other_kind 10:bad_envelope; do
    ln=${pair%%:*}; why=${pair#*:}
    check "bad input: line $ln listed as $why" 'grep -qx "$T/bad.ndjson:$ln: $why" "$T/errors.txt"'
    check "bad input: $why counted in the summary" 'grep -q " $why 1" "$T/bad-summary.txt"'
done
check "bad input: the two good lines are posts" 'grep -q "posts           2" "$T/bad-summary.txt"'
check "bad input: nothing else listed" '[ "$(wc -l < "$T/errors.txt")" = 9 ]'
head -c 100000 /dev/urandom > "$T/random.bin"
$BIN replay --quiet --rules rules/project-x.yaml "$T/random.bin" > /dev/null 2>&1; rc=$?
check "random bytes: replay exits 0" '[ $rc = 0 ]'

# progress on a terminal (script(1) gives replay a terminal), none when stderr is not one
$GEN --seed 13 --hours 1 --rate 20 -o "$T/hour.ndjson"
script -qfec "$BIN replay --rules rules/project-x.yaml --speed 1500 $T/hour.ndjson" /dev/null > "$T/tty.out" 2>&1 < /dev/null
R2="--rules rules/project-x.yaml"
$BIN replay $R2 --speed 1500 "$T/hour.ndjson" 2> "$T/notty.err" > /dev/null
check "progress on a terminal" 'grep -q "replay: [0-9]* posts, event time 2026-06-12 .* posts/s" "$T/tty.out"'
check "no progress when stderr is not a terminal" '! grep -q "posts/s" "$T/notty.err" && grep -q "^summary:" "$T/notty.err"'

# the text format and the command line
$BIN replay --rules rules/project-x.yaml --quiet --format text "$T/drill.ndjson" > "$T/text.txt"
check "text format: one line per alert, Amsterdam time" '[ "$(wc -l < "$T/text.txt")" = "$(wc -l < "$T/p1")" ] && grep -q "CEST \[drill\] FIRING" "$T/text.txt"'
$BIN replay --rules rules/project-x.yaml > /dev/null 2>&1; rc=$?
check "no recording: usage error (2)" '[ $rc = 2 ]'
$BIN replay --rules rules/project-x.yaml "$T/nonexistent" > /dev/null 2> "$T/err.txt"; rc=$?
check "missing recording: exit 1 naming it" '[ $rc = 1 ] && grep -q nonexistent "$T/err.txt"'
$BIN replay --speed fast --rules rules/project-x.yaml x > /dev/null 2>&1; rc=$?
check "bad --speed: usage error (2)" '[ $rc = 2 ]'
$BIN replay $R "$T/drill.ndjson" > /dev/full 2> "$T/full.err"; rc=$?
check "alerts that cannot be written: exit 1 and an error" '[ $rc = 1 ] && grep -q "writing alert .* failed" "$T/full.err"'
check "replay --help" '$BIN replay --help | grep -q -- "--speed"'
for f in rules/*.yaml; do
    check "check $f" '$BIN check "$f" > /dev/null'
done
printf 'rules:\n  - id: x\n    match: {list: nosuch}\n    detectors:\n      - {type: threshold, count: 1}\n' > "$T/broken.yaml"
$BIN check "$T/broken.yaml" 2> "$T/check.err"; rc=$?
check "check of a broken file: exit 1 with file:line:col ($(head -1 "$T/check.err"))" '[ $rc = 1 ] && grep -q "broken.yaml:[0-9]*:[0-9]*: " "$T/check.err"'

# config: event name, rules relative to the file, flags override, unknown keys refused
mkdir -p "$T/conf"
cp rules/project-x.yaml "$T/conf/px.yaml"
printf 'event: haren-2026\nrules: [px.yaml]\nstate_dir: state\nlateness: 1m\n' > "$T/conf/event.yaml"
$BIN replay --quiet --config "$T/conf/event.yaml" "$T/drill.ndjson" > "$T/c1.json"
check "config: event name and relative rules" 'grep -q "\"event\":\"haren-2026\"" "$T/c1.json"'
$BIN replay --quiet --config "$T/conf/event.yaml" --event other "$T/drill.ndjson" > "$T/c2.json"
check "config: --event overrides" 'grep -q "\"event\":\"other\"" "$T/c2.json"'
printf 'event: x\nrulez: [px.yaml]\n' > "$T/conf/typo.yaml"
$BIN replay --quiet --config "$T/conf/typo.yaml" "$T/drill.ndjson" 2> "$T/typo.err" >/dev/null; rc=$?
check "config: unknown key refused with file:line:col" '[ $rc = 1 ] && grep -q "typo.yaml:2:1: " "$T/typo.err"'

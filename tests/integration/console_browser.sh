#!/usr/bin/env bash
# The console in a real headless browser (tests/browser/console.test.js: playwright-core driving
# Debian's /usr/bin/chromium) against the real binary: `blikveld replay --console` over a drill
# read from a FIFO that this script holds open, so the test sends the recording's second part
# (tests/fixtures/console/part2.ndjson) while the page is open and a new alert arrives live.
# Builds nothing (uses bin/blikveld, or $BLIKVELD). Prints PASS/FAIL per check. Screenshots stay
# in tests/browser/out/ (or $BV_SHOTS). Without node, playwright-core or chromium it fails: run
# `make deps`.
set -u
cd "$(dirname "$0")/../.."
BIN=${BLIKVELD:-bin/blikveld}
FIX=tests/fixtures/console
SHOTS=${BV_SHOTS:-tests/browser/out}
CHROMIUM=${BV_CHROMIUM:-/usr/bin/chromium}
EVENT=koningsnacht-utrecht

bad() { echo "FAIL browser: $1"; }

missing=""
command -v node > /dev/null || missing="$missing node"
[ -f tests/browser/node_modules/playwright-core/package.json ] ||
    missing="$missing tests/browser/node_modules/playwright-core"
[ -x "$CHROMIUM" ] || missing="$missing $CHROMIUM"
if [ -n "$missing" ]; then
    bad "setup: missing$missing (run make deps)"
    exit 1
fi
if [ ! -x "$BIN" ]; then
    bad "setup: $BIN is missing (run make)"
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/bv-browser.XXXXXX")
pid=""
cleanup() {
    exec 3>&- 2> /dev/null
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
        kill -KILL "$pid" 2> /dev/null
        wait "$pid" 2> /dev/null
    fi
    if [ -n "${KEEP:-}" ]; then echo "browser: files kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-browser-test-key-0123456789}
export BV_TEST_TOKEN_ACK=politie-oc-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export BV_TEST_TOKEN_READ=kabinet-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

# The FIFO is held open for writing here (read-write: opening does not wait for a reader), so the
# replay sees no end of its recording until this script closes fd 3.
mkfifo "$T/feed"
exec 3<> "$T/feed"
BLIKVELD_LOG=info "$BIN" replay --console --config "$FIX/console.yaml" --state-dir "$T/state" \
    --listen 127.0.0.1:0 --alerts "$T/alerts.jsonl" -q "$T/feed" \
    > /dev/null 2> "$T/replay.err" 3>&- &
pid=$!

url=""
for _ in $(seq 200); do # 10 s
    url=$(sed -n 's/.*console at \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$T/replay.err" | head -1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.05
done
if [ -z "$url" ]; then
    bad "blikveld replay --console did not say where the console is: $(head -c 2000 "$T/replay.err")"
    exit 1
fi

mkdir -p "$SHOTS"
BV_URL=$url BV_FEED=$T/feed BV_PART1=$FIX/part1.ndjson BV_PART2=$FIX/part2.ndjson \
    BV_STATE=$T/state BV_EVENT=$EVENT BV_TOKEN_ACK=$BV_TEST_TOKEN_ACK \
    BV_TOKEN_READ=$BV_TEST_TOKEN_READ BV_SHOTS=$SHOTS BV_CHROMIUM=$CHROMIUM \
    node tests/browser/console.test.js 3>&-
rc=$?

# the end of the feed ends the replay; the console keeps serving the drill until SIGTERM
exec 3>&-
served=0
for _ in $(seq 200); do
    grep -q "serves the drill" "$T/replay.err" && { served=1; break; }
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.05
done
if [ $served = 1 ]; then
    echo "PASS browser: the end of the feed ends the replay; the console keeps serving"
else
    bad "the replay did not finish at the end of its feed: $(tail -c 1000 "$T/replay.err")"
    rc=1
fi
kill -TERM "$pid" 2> /dev/null
for _ in $(seq 200); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.05
done
if kill -0 "$pid" 2> /dev/null; then
    bad "blikveld replay --console did not stop within 10 s of SIGTERM"
    rc=1
else
    wait "$pid"
    prc=$?
    pid=""
    if [ $prc = 0 ]; then
        echo "PASS browser: SIGTERM stops the console with exit 0"
    else
        bad "blikveld replay --console exited $prc after SIGTERM: $(tail -c 1000 "$T/replay.err")"
        rc=1
    fi
fi
if grep -q "ERROR\|error:" "$T/replay.err"; then
    bad "errors in blikveld's log: $(grep "ERROR\|error:" "$T/replay.err" | head -5)"
    rc=1
fi
exit $rc

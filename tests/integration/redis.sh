#!/usr/bin/env bash
# The Redis window store end to end, on real redis-server processes (started here on free
# ports, stopped on exit): the same alerts as the memory store; two processes each replaying
# half of a drill into one Redis give the counts and alerts of one; Redis killed (-9) in the
# middle of a replay and restarted loses no count and changes no alert; drills write under a
# namespace of their own; the address is checked. Prints PASS/FAIL per check.
set -u
cd "$(dirname "$0")/../.."
BIN=${BLIKVELD:-bin/blikveld}
GEN=${GEN:-build/bench/gen}
PY=/usr/bin/python3
DRIVE=tests/integration/redis_drive.py
export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-redis-test-key-0123456789}
T=$(mktemp -d)
REDIS_TMP=$T
. tests/integration/lib/redis.sh
trap 'redis_stop_all; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

ok() { echo "PASS redis: $1"; }
bad() { echo "FAIL redis: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

alerts_ids() { # JSON lines -> "id rule state at count", sorted
    $PY -c 'import json,sys
rows=[]
for f in sys.argv[1:]:
    for l in open(f):
        a=json.loads(l); rows.append("%s %s %s %s %s" % (a["id"], a["rule"], a["state"], a["at"], [d["count"] for d in a["detectors"]]))
print("\n".join(sorted(rows)))' "$@"
}
alerts() { # JSON lines -> "id rule state at" + evidence, sorted
    $PY -c 'import json,sys
rows=[]
for f in sys.argv[1:]:
    for l in open(f):
        a=json.loads(l); rows.append("%s %s %s %s %s" % (a["id"], a["rule"], a["state"], a["at"], json.dumps(a["detectors"], sort_keys=True)))
print("\n".join(sorted(rows)))' "$@"
}

[ -x "$GEN" ] || make --no-print-directory "$GEN" >/dev/null
# Four hours around a viral party call (onset +1h, doubling every 15 minutes), with chatter.
$GEN --seed 21 --start 2026-06-12T15:00:00Z --hours 4 --rate 40 \
    --viral --viral-at +1h --viral-doubling 15 --viral-max-rate 100 --viral-place Haren --viral-hours 2 \
    --spam --spam-at +30m --spam-hours 1 --jitter 20 --envelope -o "$T/raw.ndjson"
$PY $DRIVE sort "$T/raw.ndjson" "$T/drill.ndjson"
head -n 3000 "$T/drill.ndjson" > "$T/short0.ndjson"
cat > "$T/drill.yaml" <<EOF
event: haren
rules: [$PWD/rules/project-x.yaml, $PWD/rules/koningsdag.yaml]
redis:
  flush: 10ms
  timeout: 2s
EOF

redis_start main --appendonly yes --appendfsync always || { bad "redis-server starts"; exit 1; }
URL=$REDIS_URL_main
R="--config $T/drill.yaml"

# 1. one process: the memory store and the Redis store give the same alerts and evidence
$BIN replay $R "$T/drill.ndjson" > "$T/mem.json" 2> "$T/mem.err"
$BIN replay $R --redis "$URL" --run ref "$T/drill.ndjson" > "$T/ref.json" 2> "$T/ref.err"; rc=$?
check "replay with --redis exits 0" '[ $rc = 0 ]'
check "the drill raises and resolves alerts" \
    'grep -q "\"state\":\"firing\"" "$T/mem.json" && grep -q "\"state\":\"resolved\"" "$T/mem.json"'
check "memory and Redis stores: the same alerts (ids, times, counts)" \
    '[ "$(alerts_ids "$T/mem.json")" = "$(alerts_ids "$T/ref.json")" ]'
# distinct authors: exact in memory, HyperLogLog in Redis (standard error 0.81%)
$PY - "$T/mem.json" "$T/ref.json" > "$T/hll.cmp" <<'EOF2'
import json, sys
def load(f):
    return [json.loads(l) for l in open(f)]
worst, same = 0.0, True
for a, b in zip(load(sys.argv[1]), load(sys.argv[2])):
    for da, db in zip(a["detectors"], b["detectors"]):
        for k in da:
            x, y = da[k], db.get(k)
            authors = k == "unique_authors" or (k == "windows" and da.get("measure") == "authors")
            if not authors:
                same &= x == y
                continue
            for u, v in zip(x if isinstance(x, list) else [x], y if isinstance(y, list) else [y]):
                worst = max(worst, abs(u - v) / max(u, 1))
                same &= abs(u - v) <= max(1, 0.02 * u)
print("within %.2f%%" % (100 * worst) if same else "differ")
EOF2
check "memory and Redis stores: the same evidence, distinct authors within 2% ($(cat "$T/hll.cmp"))" \
    'grep -q within "$T/hll.cmp"'
check "summary names the store, the key namespace, connection and pending deltas" \
    'grep -q "store           redis redis://127.0.0.1:$REDIS_PORT_main/0, keys under bv:{drill/haren/ref/RULE}" "$T/ref.err" &&
     grep -q "connection    connected, 0 reconnects" "$T/ref.err" && grep -q "pending       0 deltas now" "$T/ref.err"'
cpk=$(sed -n 's/.*commands .*(\([0-9.]*\) per 1000 posts).*/\1/p' "$T/ref.err")
check "Redis commands grow with buckets, not posts (${cpk:-?} per 1000 posts)" \
    '[ -n "$cpk" ] && $PY -c "import sys; sys.exit(0 if float(\"$cpk\") < 100 else 1)"'
$PY $DRIVE counts "$REDIS_PORT_main" drill/haren/ref > "$T/ref.counts"
check "counts and distinct authors are in Redis under the drill's keys" \
    '[ "$(wc -l < "$T/ref.counts")" -gt 100 ] && grep -q "^project-x}:60000:" "$T/ref.counts"'
nlive=$(redis-cli -p "$REDIS_PORT_main" --scan --pattern 'bv:{live/*' | wc -l)
ndrill=$(redis-cli -p "$REDIS_PORT_main" --scan --pattern 'bv:{drill/haren/ref/*' | wc -l)
check "a drill writes only under drill/EVENT/RUN, never a live event's keys ($ndrill keys)" \
    '[ "$nlive" = 0 ] && [ "$ndrill" -gt 0 ] && [ "$(redis-cli -p "$REDIS_PORT_main" --scan | grep -vc "^bv:{drill/haren/ref/")" = 0 ]'
# the same drill again, as another run: its own counts, the same alerts (nothing claimed twice)
$BIN replay $R --redis "$URL" --run again "$T/drill.ndjson" > "$T/again.json" 2>/dev/null
$PY $DRIVE counts "$REDIS_PORT_main" drill/haren/again > "$T/again.counts"
check "a second run of the drill counts apart and gives the same alerts" \
    'cmp -s "$T/ref.counts" "$T/again.counts" && [ "$(alerts "$T/ref.json")" = "$(alerts "$T/again.json")" ]'

# the same run name again (after the split below used its own): a re-run is pointed out
$BIN replay $R --redis "$URL" --run again "$T/short0.ndjson" > /dev/null 2> "$T/rerun.err"
check "a drill re-run under a used run name says so in the summary" \
    'grep -q "NOTE          this run.s keys held counts before it started" "$T/rerun.err"'
! grep -q "NOTE" "$T/ref.err" || bad "a fresh run has no NOTE"

# 2. two processes, each replaying half the posts into one Redis, minute by minute
$PY $DRIVE split "$REDIS_PORT_main" drill/haren/ref drill/haren/split "$T/split" "$T/drill.ndjson" \
    -- $BIN replay $R --redis "$URL" --run split --format json; rc=$?
check "two processes replaying halves exit 0" '[ $rc = 0 ]'
$PY $DRIVE counts "$REDIS_PORT_main" drill/haren/split > "$T/split.counts"
check "two processes: the same window counts and distinct authors as one" \
    'cmp -s "$T/ref.counts" "$T/split.counts"'
check "each process waited for the other's counts at bucket ends; one alone never does" \
    'grep -q "shared        other processes count here too" "$T/split.1.err" &&
     grep -q "shared        other processes count here too" "$T/split.2.err" && ! grep -q "shared  " "$T/ref.err"'
$PY - "$T/ref.json" "$T/split.1" "$T/split.2" > "$T/split.cmp" <<'EOF'
import json, sys
from datetime import datetime
def load(fs):
    out = []
    for f in fs:
        for l in open(f):
            a = json.loads(l)
            t = datetime.strptime(a["at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
            out.append((a["rule"], a["state"], t, a["id"]))
    return sorted(out)
ref, got = load(sys.argv[1:2]), load(sys.argv[2:])
ok = len(ref) == len(got) and len({g[3] + g[1] for g in got}) == len(got)
for r, g in zip(ref, got):
    ok &= r[0] == g[0] and r[1] == g[1] and abs(r[2] - g[2]) <= 60
print("same" if ok else "differ\nref %s\ngot %s" % (ref, got))
EOF
check "two processes: the same alerts per rule, each once, at within one bucket" \
    '[ "$(head -1 "$T/split.cmp")" = same ]'
[ "$(head -1 "$T/split.cmp")" = same ] || cat "$T/split.cmp"

# 3. Redis killed (-9) at the half of a replay fed through a pipe, then restarted
mkfifo "$T/fifo"
$BIN replay $R --redis "$URL" --run fault - < "$T/fifo" > "$T/fault.json" 2> "$T/fault.err" &
pid=$!
exec 3> "$T/fifo"
half=$(( $(wc -l < "$T/drill.ndjson") / 2 ))
head -n "$half" "$T/drill.ndjson" >&3
last=$(sed -n "${half}p" "$T/drill.ndjson" | $PY -c 'import sys; sys.path.insert(0, "tests/integration"); import redis_drive; print(redis_drive.created_ms(sys.stdin.readline()) // 60000 * 60000)')
$PY $DRIVE wait "$REDIS_PORT_main" drill/haren/ref drill/haren/fault "$last"
redis_kill9 main 3>&-
tail -n +"$((half + 1))" "$T/drill.ndjson" >&3   # the replay goes on while Redis is away
redis_restart main 3>&-   # (the server must not hold the pipe open)
exec 3>&-
wait $pid; rc=$?
check "replay through a Redis crash exits 0" '[ $rc = 0 ]'
check "the summary shows the reconnect and deltas that waited" \
    'grep -Eq "connection    connected, [1-9][0-9]* reconnects" "$T/fault.err" &&
     grep -Eq "pending       0 deltas now, [1-9][0-9]* at most" "$T/fault.err"'
check "Redis crash: the same alerts as without it" \
    '[ "$(alerts "$T/ref.json")" = "$(alerts "$T/fault.json")" ]'
$PY $DRIVE counts "$REDIS_PORT_main" drill/haren/fault > "$T/fault.counts"
check "Redis crash: no count lost, none counted twice" 'cmp -s "$T/ref.counts" "$T/fault.counts"'
cmp -s "$T/ref.counts" "$T/fault.counts" || diff "$T/ref.counts" "$T/fault.counts" | head -5

# 4. addresses and errors
head -n 2000 "$T/drill.ndjson" > "$T/short.ndjson"
BLIKVELD_LOG=info $BIN replay $R --redis "redis://localhost:$REDIS_PORT_main/3" --run byname \
    "$T/short.ndjson" > /dev/null 2> "$T/byname.err"; rc=$?
n3=$(redis-cli -p "$REDIS_PORT_main" -n 3 --scan --pattern 'bv:{drill/haren/byname/*' | wc -l)
check "a host name (resolved without blocking) and a database number ($n3 keys in db 3)" \
    '[ $rc = 0 ] && [ "$n3" -gt 0 ] && grep -q "redis redis://localhost:$REDIS_PORT_main/3" "$T/byname.err"'
check "BLIKVELD_LOG=info shows the connection" \
    'grep -q "info: redis: redis://localhost:$REDIS_PORT_main/3: connected" "$T/byname.err"'
redis_start auth --requirepass 'pw:with@odd chars' || bad "redis-server with a password starts"
cat > "$T/auth.yaml" <<EOF
event: haren
rules: [$PWD/rules/project-x.yaml]
redis: {url: "redis://127.0.0.1:$REDIS_PORT_auth", password_env: TEST_REDIS_PW, flush: 10ms}
EOF
TEST_REDIS_PW='pw:with@odd chars' $BIN replay -c "$T/auth.yaml" "$T/short.ndjson" > /dev/null 2> "$T/auth.err"; rc=$?
na=$(redis-cli -p "$REDIS_PORT_auth" --no-auth-warning -a 'pw:with@odd chars' --scan | wc -l)
check "password from redis.password_env: AUTH, counts written ($na keys)" '[ $rc = 0 ] && [ "$na" -gt 0 ]'
$BIN replay -c "$T/auth.yaml" "$T/short.ndjson" > /dev/null 2> "$T/e3"; rc=$?
check "redis.password_env naming an unset variable: a clear error" \
    '[ $rc = 1 ] && grep -q "TEST_REDIS_PW, which is not set" "$T/e3"'
$BIN replay $R --redis rediss://x:1 "$T/drill.ndjson" > /dev/null 2> "$T/e1"; rc=$?
check "rediss:// refused as a usage error naming TLS" '[ $rc = 2 ] && grep -q "TLS" "$T/e1"'
$BIN replay $R --redis 'redis://:s3cret@127.0.0.1:1' "$T/drill.ndjson" > /dev/null 2> "$T/e2" &
epid=$!
for _ in $(seq 1 200); do grep -q "cannot connect" "$T/e2" && break; sleep 0.05; done
kill -TERM $epid; wait $epid; rc=$?
check "no server: says so, keeps the deltas, exits 1 when stopped" \
    'grep -q "cannot connect" "$T/e2" && grep -q "deltas were not written to Redis" "$T/e2" && [ $rc = 1 ]'
check "the password is never printed" '! grep -q s3cret "$T/e2"'

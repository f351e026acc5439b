#!/usr/bin/env bash
# The console end to end against the real binary (`blikveld run` with a Facebook webhook source,
# posts pushed to it signed with X-Hub-Signature-256 so that alerts fire): access (tokens, roles,
# the login cookie, Origin), the security headers, the JSON API, acks (and where they are
# written), the SSE feed, /metrics (parsed strictly), /healthz with a real redis-server killed
# and restarted, HTTPS, rule reloads (API and SIGHUP), garbage requests and a flood of feed
# connections. curl drives HTTP; tests/integration/console_util.py does what curl cannot.
# One "PASS console: ..." / "FAIL console: ...: why" line per check; exit 1 when any failed.
# Waits poll for a condition with a deadline; nothing sleeps a fixed time. KEEP=1 keeps $T.
set -u
cd "$(dirname "$0")/../.."
BIN=${BLIKVELD:-bin/blikveld}
PY=/usr/bin/python3
H=tests/integration/console_util.py
export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-console-test-key-0123456789}
export BLIKVELD_LOG=info
export T_FB_SECRET=fb-app-SECRET-77120 T_FB_VERIFY=fb-verify-SECRET-3391
export TOK_OC=politie-oc-TOKEN-4f81c2d9 TOK_KAB=kabinet-TOKEN-91d0e7a3b5
T=$(mktemp -d /tmp/bv-console.XXXXXX)
REDIS_TMP=$T
. tests/integration/lib/redis.sh
FAILS=0
PIDS=()
T0=$(( ${EPOCHREALTIME/./} / 1000 ))

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    redis_stop_all
    if [ "$FAILS" = 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$T"
    else
        echo "console: files kept in $T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
pass() { echo "PASS console: $1"; }
fail() { echo "FAIL console: $1: $2"; FAILS=$((FAILS + 1)); }
# check NAME CONDITION [DETAIL]: CONDITION is a shell command line; DETAIL one whose output says
# why when it fails.
check() {
    if eval "$2"; then
        pass "$1"
    else
        fail "$1" "$(eval "${3:-echo no}" 2>&1 | head -c 700 | tr '\n' ' ')"
    fi
}
# wait_for SECONDS CONDITION: polls the shell condition until it holds or the deadline passes.
wait_for() {
    local end=$(( $(now_ms) + $1 * 1000 ))
    shift
    while ! eval "$*"; do
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep 0.05
    done
}
# req NAME CURL-ARGS...: headers to $T/NAME.h, body to $T/NAME.b; prints the status code.
req() {
    local n=$1
    shift
    curl -s -o "$T/$n.b" -D "$T/$n.h" -w '%{http_code}' --max-time 10 "$@"
}
# hdr NAME HEADER: the header's value in $T/NAME.h (the last response's; CR stripped).
hdr() {
    tr -d '\r' < "$T/$1.h" | sed -n "s/^$2: *//Ip" | tail -1
}
# jqf FILE FILTER: true when the filter's output is true (jq -e).
jqf() {
    jq -e "$2" "$1" > /dev/null 2>&1
}
csp_ok() { # NAME: the answer's CSP allows script from 'self' only, nothing inline or eval'd
    local v
    v=$(hdr "$1" Content-Security-Policy)
    [[ "$v" == *"script-src 'self'"* ]] && [[ "$v" != *unsafe-inline* ]] &&
        [[ "$v" != *unsafe-eval* ]] && [[ "$v" == *"default-src 'none'"* ]]
}
alive() { kill -0 "$1" 2>/dev/null; }
# stop PID: SIGTERM to a child started here, wait for it (its exit status), forget it.
stop() {
    local p rc keep=()
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    rc=$?
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
    return $rc
}
# start_run NAME CONFIG [VAR=VALUE...]: `blikveld run` in the background (stdout $T/NAME.out,
# stderr $T/NAME.err); waits until it says where the console is, or exits. Sets PID_NAME.
start_run() {
    local name=$1 cfg=$2 pid
    shift 2
    env "$@" "$BIN" run --config "$cfg" > "$T/$name.out" 2> "$T/$name.err" &
    pid=$!
    PIDS+=("$pid")
    printf -v "PID_$name" '%s' "$pid"
    wait_for 10 "grep -qs 'console at' '$T/$name.err' || ! alive $pid"
}
console_url() { sed -n 's/.*console at \(https\?:\/\/[0-9.:]*\).*/\1/p' "$T/$1.err" | head -1; }
fb_port() { sed -n 's/.*source facebook listens on port \([0-9]*\).*/\1/p' "$T/$1.err" | head -1; }
# refuse NAME CONFIG [VAR=VALUE...]: runs `blikveld run` that must refuse to start; its exit
# status in REFUSED_RC (124: it did not stop within 10 s), stderr in $T/NAME.err.
refuse() {
    local name=$1 cfg=$2
    shift 2
    env "$@" timeout 10 "$BIN" run --config "$cfg" > "$T/$name.out" 2> "$T/$name.err" < /dev/null
    REFUSED_RC=$?
}

if [ ! -x "$BIN" ]; then
    fail "the binary" "$BIN is not there (make)"
    exit 1
fi

# ---- the main run: tokens, a Facebook receiver, a webhook recipient ----
mkdir -p "$T/recv"
$PY $H receiver "$T/recv" 2> "$T/recv.err" &
PIDS+=($!)
wait_for 10 "[ -s '$T/recv/port' ]" || { fail "the webhook receiver starts" "$(cat "$T/recv.err")"; exit 1; }
RECV=http://127.0.0.1:$(cat "$T/recv/port")/hook

rules_v1() { # BRAND_COUNT [extra rule]
    cat <<EOF
rules:
  - id: brand-haven
    title: Brand in de haven
    severity: critical
    recipients: [police]
    match: {keyword: brand}
    detectors:
      - {type: threshold, window: 10m, bucket: 1m, count: $1}
  - id: rook-centrum
    title: Rook boven het centrum
    severity: warning
    recipients: [police]
    match: {keyword: rook}
    detectors:
      - {type: threshold, window: 10m, bucket: 1m, count: 2}
  - id: feest-haren
    title: Feest in Haren
    match: {keyword: feest}
    detectors:
      - {type: unique_authors, window: 10m, bucket: 1m, count: 50}
EOF
    if [ -n "${2:-}" ]; then
        cat <<EOF
  - id: water-straat
    title: Water op straat
    match: {keyword: overstroming}
    detectors:
      - {type: threshold, window: 10m, bucket: 1m, count: 4}
EOF
    fi
}
rules_v1 3 > "$T/rules.yaml"
# the feed's keepalive is 15 s (console.h); a binary with a console.keepalive option gets 1s
KEEPALIVE=
if "$BIN" run --help 2>&1 | grep -q '^ *console\.keepalive '; then
    KEEPALIVE="  keepalive: 1s"
fi
cat > "$T/a.yaml" <<EOF
event: haren-console
rules: [rules.yaml]
state_dir: state-a
sources:
  - platform: facebook
    listen: 127.0.0.1:0
    app_secret_env: T_FB_SECRET
    verify_token_env: T_FB_VERIFY
recipients:
  police:
    - webhook: $RECV
grouping: {wait: 100ms, interval: 100ms}
delivery: {retry_min: 100ms, retry_max: 400ms, deadline: 60s, timeout: 5s, drain: 1s}
console:
  listen: 127.0.0.1:0
$KEEPALIVE
  tokens:
    - {name: politie-oc, token_env: TOK_OC, role: ack}
    - {name: kabinet, token_env: TOK_KAB, role: read}
EOF
start_run a "$T/a.yaml"
A_START=$(now_ms)
U=$(console_url a)
FB=$(fb_port a)
if [ -z "$U" ] || [ -z "$FB" ] || ! alive "$PID_a"; then
    fail "run with a console starts" "$(cat "$T/a.err")"
    exit 1
fi
pass "run with tokens serves the console ($U) and the Facebook receiver"
PORT=${U##*:}
OC=(-H "Authorization: Bearer $TOK_OC")
KAB=(-H "Authorization: Bearer $TOK_KAB")
POSTED=0
fb() { # FIRST N TEXT: posts to run a
    $PY $H fb "$FB" "$T_FB_SECRET" "$1" "$2" "$3" && POSTED=$((POSTED + $2))
}

# ---- access ----
bad=""
for p in /api/me /api/alerts /api/rules /api/sources "/api/audit?event=haren-console" /metrics /events; do
    code=$(req noauth "$U$p")
    if [ "$code" != 401 ] || ! jqf "$T/noauth.b" '.error | type == "string"' ||
        [[ "$(hdr noauth Content-Type)" != application/json* ]]; then
        bad+="$p:$code "
    fi
done
check "no token: 401 with a JSON error on the API, /metrics and /events" '[ -z "$bad" ]' 'echo "$bad"'
c1=$(req nopage "$U/"); l1=$(hdr nopage Location)
c2=$(req noalert "$U/alerts/4f0c5d2e"); l2=$(hdr noalert Location)
check "no session: / and /alerts/ID redirect (303) to /login" \
    '[ "$c1 $l1 $c2 $l2" = "303 /login 303 /login" ]' 'echo "$c1 $l1 $c2 $l2"'
code=$(req health "$U/healthz")
check "/healthz needs no token: 200 ok" '[ "$code" = 200 ] && [ "$(cat "$T/health.b")" = ok ]' \
    'echo "$code $(cat "$T/health.b")"'
code=$(req wrong -H "Authorization: Bearer not-the-token-at-all-0000" "$U/api/me")
code2=$(req wrong2 -H "Authorization: Basic $(printf 'politie-oc:%s' "$TOK_OC" | base64)" "$U/api/me")
check "a wrong bearer token (or another scheme) is 401" '[ "$code $code2" = "401 401" ]' 'echo "$code $code2"'
c1=$(req me_oc "${OC[@]}" "$U/api/me")
c2=$(req me_kab "${KAB[@]}" "$U/api/me")
check "bearer tokens: /api/me says who (politie-oc ack, kabinet read), auth true" \
    '[ "$c1 $c2" = "200 200" ] &&
     jqf "$T/me_oc.b" ".name == \"politie-oc\" and .role == \"ack\" and .auth == true and .event == \"haren-console\" and .drill == false" &&
     jqf "$T/me_kab.b" ".name == \"kabinet\" and .role == \"read\""' \
    'echo "$c1 $c2 $(cat "$T/me_oc.b" "$T/me_kab.b")"'
bad=""
for p in /api/alerts /api/rules /api/sources "/api/audit?event=haren-console" /metrics /; do
    for who in OC KAB; do
        if [ $who = OC ]; then code=$(req rd "${OC[@]}" "$U$p"); else code=$(req rd "${KAB[@]}" "$U$p"); fi
        [ "$code" = 200 ] || bad+="$who$p:$code "
    done
done
check "bearer read and ack both read everything (API, metrics, page)" '[ -z "$bad" ]' 'echo "$bad"'

code=$(req login -d "token=$TOK_OC" "$U/login")
ck=$(hdr login Set-Cookie)
SID=$(sed -n 's/^bv_session=\([0-9a-f]*\);.*/\1/p' <<< "$ck")
check "login with the right token: 303 to / with bv_session; HttpOnly; SameSite=Strict; Path=/" \
    '[ "$code" = 303 ] && [ "$(hdr login Location)" = / ] && [ ${#SID} -ge 32 ] &&
     [[ "$ck" == *"; HttpOnly"* ]] && [[ "$ck" == *"; SameSite=Strict"* ]] &&
     [[ "$ck" == *"; Path=/"* ]] && [[ "$ck" != *Secure* ]]' 'echo "$code $ck"'
code=$(req cme -H "Cookie: bv_session=$SID" "$U/api/me")
code2=$(req cpage -H "Cookie: bv_session=$SID" "$U/alerts/abc")
check "the session cookie works for /api/me and the page" \
    '[ "$code $code2" = "200 200" ] && jqf "$T/cme.b" ".name == \"politie-oc\" and .role == \"ack\"" &&
     [[ "$(hdr cpage Content-Type)" == text/html* ]]' 'echo "$code $code2 $(cat "$T/cme.b")"'
code=$(req badlogin -d "token=politie-oc-TOKEN-wrong000" "$U/login")
check "login with a wrong token: 303 to /login?failed=1, no cookie" \
    '[ "$code" = 303 ] && [ "$(hdr badlogin Location)" = "/login?failed=1" ] && [ -z "$(hdr badlogin Set-Cookie)" ]' \
    'echo "$code $(hdr badlogin Location)"'
code=$(req logout -X POST -H "Cookie: bv_session=$SID" "$U/logout")
ck2=$(hdr logout Set-Cookie)
code2=$(req oldck -H "Cookie: bv_session=$SID" "$U/api/me")
check "logout clears the cookie (303 /login) and the old cookie stops working" \
    '[ "$code" = 303 ] && [ "$(hdr logout Location)" = /login ] && [[ "$ck2" == "bv_session=;"* ]] &&
     [[ "$ck2" == *"Max-Age=0"* ]] && [ "$code2" = 401 ]' 'echo "$code $ck2 then $code2"'
c1=$(req xo1 -H "Origin: http://evil.example" -d "token=$TOK_OC" "$U/login")
c2=$(req xo2 "${OC[@]}" -H "Origin: http://evil.example" -X POST "$U/api/reload")
c3=$(req xo3 "${OC[@]}" -H "Origin: http://127.0.0.1:$PORT.evil.example" -X POST "$U/api/alerts/00000000000000000000000000000000/ack")
c4=$(req xo4 -H "Origin: http://127.0.0.1:$PORT" -d "token=$TOK_KAB" "$U/login")
check "a POST with a foreign Origin is refused 403 (login, reload, ack); our own Origin logs in" \
    '[ "$c1 $c2 $c3 $c4" = "403 403 403 303" ] && [ -z "$(hdr xo1 Set-Cookie)" ] && [ -n "$(hdr xo4 Set-Cookie)" ]' \
    'echo "$c1 $c2 $c3 $c4"'
c1=$(req xn1 -H "Origin: null" -H "Sec-Fetch-Site: same-origin" -d "token=$TOK_KAB" "$U/login")
c2=$(req xn2 -H "Origin: null" -H "Sec-Fetch-Site: cross-site" -d "token=$TOK_KAB" "$U/login")
c3=$(req xn3 -H "Origin: null" -d "token=$TOK_KAB" "$U/login")
check "Origin: null (a form under Referrer-Policy: no-referrer) logs in only from our own site" \
    '[ "$c1 $c2 $c3" = "303 403 403" ]' 'echo "$c1 $c2 $c3"'
c1=$(req ct1 "${OC[@]}" -H "Content-Type: text/plain" -d "x" -X POST "$U/api/reload")
c2=$(req ct2 "${OC[@]}" -H "Content-Type: application/x-www-form-urlencoded" -d "a=b" -X POST \
    "$U/api/alerts/00000000000000000000000000000000/ack")
check "an API POST with a body that is not JSON is refused 415" '[ "$c1 $c2" = "415 415" ]' \
    'echo "$c1 $c2"'

# ---- headers ----
code=$(req asset "$U/app.css")
etag=$(hdr asset ETag)
code2=$(req asset304 -H "If-None-Match: $etag" "$U/app.css")
check "assets: ETag, Cache-Control no-cache, 304 on If-None-Match" \
    '[ "$code $code2" = "200 304" ] && [ -n "$etag" ] && [ "$(hdr asset Cache-Control)" = no-cache ] &&
     [ ! -s "$T/asset304.b" ]' 'echo "$code $code2 etag=$etag"'
bad=""
h_ok() { # NAME URL-LABEL
    csp_ok "$1" && [ "$(hdr "$1" X-Content-Type-Options)" = nosniff ] &&
        [ "$(hdr "$1" X-Frame-Options)" = DENY ] || bad+="$2 "
}
req h1 "$U/login" > /dev/null; h_ok h1 /login
req h2 "$U/app.js" > /dev/null; h_ok h2 /app.js
req h3 "$U/favicon.svg" > /dev/null; h_ok h3 /favicon.svg
req h4 "$U/" > /dev/null; h_ok h4 "/(303)"
req h5 "$U/api/me" > /dev/null; h_ok h5 "/api/me(401)"
req h6 "${OC[@]}" "$U/" > /dev/null; h_ok h6 "/(page)"
req h7 "${OC[@]}" "$U/api/rules" > /dev/null; h_ok h7 /api/rules
req h8 "${OC[@]}" "$U/metrics" > /dev/null; h_ok h8 /metrics
req h9 "$U/healthz" > /dev/null; h_ok h9 /healthz
req h10 "${OC[@]}" "$U/nothing-here" > /dev/null; h_ok h10 "/nothing-here(404)"
req h11 "${OC[@]}" -X PUT "$U/api/me" > /dev/null; h_ok h11 "PUT(405)"
h_ok asset304 "/app.css(304)"
h_ok xo1 "/login(403)"
h_ok login "/login(303)"
check "every answer has a CSP with script-src 'self' and nothing inline, nosniff, DENY" '[ -z "$bad" ]' 'echo "$bad"'
bad=""
for p in /api/me /api/alerts /api/rules /api/sources "/api/audit?event=haren-console" /metrics; do
    req cc "${OC[@]}" "$U$p" > /dev/null
    [ "$(hdr cc Cache-Control)" = no-store ] || bad+="$p "
done
[ "$(hdr h5 Cache-Control)" = no-store ] || bad+="401 "
check "the API, /metrics and the 401s are Cache-Control: no-store" '[ -z "$bad" ]' 'echo "$bad"'
check "/metrics is text/plain; version=0.0.4" '[[ "$(hdr h8 Content-Type)" == "text/plain; version=0.0.4"* ]]' \
    'hdr h8 Content-Type'

# ---- posts, rules, the feed ----
req src0 "${OC[@]}" "$U/api/sources" > /dev/null
check "/api/sources: the webhook source, listening, up, no posts yet; not_watched names the others" \
    'jqf "$T/src0.b" ".sources | length == 1 and .[0].name == \"facebook\" and .[0].platform == \"facebook\" and .[0].state == \"listening\" and .[0].up == true and .[0].posts == 0 and .[0].last_post == null" &&
     jqf "$T/src0.b" "[.not_watched[] | select(.why == \"not configured\")] | length == 1 and (.[0].what | contains(\"Mastodon\") and contains(\"X\") and contains(\"Bluesky\") and contains(\"Telegram\") and contains(\"Reddit\") and (contains(\"Facebook\") | not))" &&
     jqf "$T/src0.b" "any(.not_watched[]; .what | contains(\"Instagram\"))"' 'cat "$T/src0.b"'
req rules0 "${OC[@]}" "$U/api/rules" > /dev/null
check "/api/rules: every rule in order, with its detectors, before any post" \
    'jqf "$T/rules0.b" "[.rules[].id] == [\"brand-haven\", \"rook-centrum\", \"feest-haren\"] and .step_ms == 60000 and (.now | type == \"number\") and all(.rules[]; (.detectors | length) == 1 and .firing == false and .matches == 0 and (.history | type == \"array\"))" &&
     jqf "$T/rules0.b" ".rules[0].detectors[0] | .type == \"threshold\" and .window == \"10m\"" &&
     jqf "$T/rules0.b" ".rules[2].detectors[0].type == \"unique_authors\""' 'cat "$T/rules0.b"'

fb 1 5 "Feest in Haren vanavond, iedereen komt"
fb 10 1 "Grote brand in de haven"
rule_is() { # RULE JQ-ON-THE-RULE: polls /api/rules (8 s) until the rule satisfies it
    wait_for 8 "req rq \"\${OC[@]}\" '$U/api/rules' > /dev/null && jqf '$T/rq.b' '.rules[] | select(.id == \"$1\") | $2'"
}
rule_is brand-haven '.detectors[0].value == 1 and .detectors[0].level == 3 and .detectors[0].holds == false and .matches == 1'
check "one brand post: /api/rules says value 1 of level 3, not holding" \
    'jqf "$T/rq.b" ".rules[0] | .detectors[0].value == 1 and .detectors[0].level == 3 and .detectors[0].holds == false and .matches == 1"' \
    'cat "$T/rq.b"'
rule_is feest-haren '.detectors[0].value == 5 and .detectors[0].level == 50'
check "unique_authors: value = 5 distinct authors of level 50" \
    'jqf "$T/rq.b" ".rules[2] | .detectors[0].value == 5 and .detectors[0].level == 50 and .matches == 5"' 'cat "$T/rq.b"'
check "the history has a point [t, value, level, ...] for the posts" \
    'jqf "$T/rq.b" ".rules[0].history | length >= 1 and (.[-1] | .[0] % 60000 == 0 and .[1] == 1 and .[2] == 3)"' \
    'jq -c ".rules[0].history" "$T/rq.b"'

# the feed, on a session of its own (kabinet, read)
req login2 -d "token=$TOK_KAB" "$U/login" > /dev/null
SID2=$(hdr login2 Set-Cookie | sed -n 's/^bv_session=\([0-9a-f]*\);.*/\1/p')
curl -sN -D "$T/sse.h" -H "Cookie: bv_session=$SID2" "$U/events" > "$T/sse.out" 2> /dev/null &
PIDS+=($!)
sse_has() { # JQ-CONDITION on one message: some message of the feed so far satisfies it
    $PY $H sse "$T/sse.out" | jq -e -s "any(.[]; $1)" > /dev/null 2>&1
}
wait_for 10 'sse_has ".event == \"hello\""'
check "/events (cookie): text/event-stream, no-store, CSP, and \"hello\" first" \
    'grep -q "^HTTP/1.1 200" "$T/sse.h" && [[ "$(hdr sse Content-Type)" == text/event-stream* ]] &&
     [ "$(hdr sse Cache-Control)" = no-store ] && csp_ok sse &&
     [ "$($PY $H sse "$T/sse.out" | head -1 | jq -r .event)" = hello ] &&
     $PY $H sse "$T/sse.out" | head -1 | jq -e ".data.now | type == \"number\"" > /dev/null' \
    'cat "$T/sse.h" "$T/sse.out"'

fb 11 2 "Brand bij de haven, blijf weg"
fired() { jq -r "select(.state == \"firing\" and .rule == \"$1\") | .id" "$T/a.out" 2> /dev/null | head -1; }
wait_for 10 '[ -n "$(fired brand-haven)" ]'
BRAND=$(fired brand-haven)
check "the third brand post fires brand-haven (stdout)" '[ -n "$BRAND" ]' 'cat "$T/a.out" "$T/a.err"'
wait_for 10 'sse_has ".event == \"alert\" and .data.id == \"$BRAND\""'
check "the open feed gets \"event: alert\" with the alert (ack null)" \
    'sse_has ".event == \"alert\" and .data.id == \"$BRAND\" and .data.rule == \"brand-haven\" and .data.state == \"firing\" and .data.ack == null and .data.detectors[0].count == 3"' \
    'cat "$T/sse.out"'
wait_for 10 'sse_has ".event == \"rules\" and any(.data.rules[]; .id == \"brand-haven\" and .firing == true)"'
check "the feed gets \"event: rules\" (no history, the newest point) after the change" \
    'sse_has ".event == \"rules\" and any(.data.rules[]; .id == \"brand-haven\" and .firing == true and (has(\"history\") | not) and (.point | type == \"array\"))"' \
    'tail -c 1500 "$T/sse.out"'
rule_is brand-haven '.firing == true and .detectors[0].value == 3'
check "/api/rules: brand-haven firing, value rose 1 -> 3 (level 3, holds), in the history too" \
    'jqf "$T/rq.b" ".rules[0] | .firing == true and .detectors[0].value == 3 and .detectors[0].holds == true and .matches == 3 and .alerts == 1 and ([.history[][1]] | max) == 3"' \
    'jq -c ".rules[0]" "$T/rq.b"'

fb 20 2 "Rook boven het centrum"   # rook-centrum fires after brand-haven
wait_for 10 '[ -n "$(fired rook-centrum)" ]'
ROOK=$(fired rook-centrum)
req alerts "${OC[@]}" "$U/api/alerts" > /dev/null
check "/api/alerts: newest first (rook-centrum, then brand-haven), one entry per id" \
    '[ -n "$ROOK" ] && jqf "$T/alerts.b" "[.alerts[].id] == [\"$ROOK\", \"$BRAND\"]"' 'cat "$T/alerts.b"'
check "/api/alerts: the alert as printed, with its evidence and samples, plus ack null and evidence_text" \
    'jqf "$T/alerts.b" ".alerts[1] | .type == \"alert\" and .state == \"firing\" and .event == \"haren-console\" and .severity == \"critical\" and .recipients == [\"police\"] and .detectors == [{\"type\":\"threshold\",\"window\":\"10m\",\"count\":3,\"threshold\":3,\"holds\":true}] and (.samples | length == 3 and all(.[]; .platform == \"facebook\" and (.excerpt | test(\"rand\"))))  and .drill == false and .ack == null" &&
     [ "$(jq -c "select(.id == \"$BRAND\") | del(.ack)" "$T/a.out" | head -1)" = "$(jq -c ".alerts[1] | del(.ack, .current, .evidence_text)" "$T/alerts.b")" ] &&
     jqf "$T/alerts.b" ".alerts[1].evidence_text == {\"nl\": [\"3 berichten in 10m (drempel 3)\"], \"en\": [\"3 posts in 10m (threshold 3)\"]}"' \
    'jq -c ".alerts[1]" "$T/alerts.b"'
check "/api/alerts: each alert has \"current\": true (the newest record of its id)" \
    'jqf "$T/alerts.b" "all(.alerts[]; .current == true)"' \
    'echo "no \"current\" field: $(jq -c "[.alerts[] | keys]" "$T/alerts.b")"'

# ---- roles, acks ----
c1=$(req kack "${KAB[@]}" -X POST "$U/api/alerts/$BRAND/ack")
c2=$(req kreload "${KAB[@]}" -X POST "$U/api/reload")
check "role read: ack and reload are 403 with a JSON error" \
    '[ "$c1 $c2" = "403 403" ] && jqf "$T/kack.b" ".error | test(\"read\")" && jqf "$T/kreload.b" ".error | type == \"string\""' \
    'echo "$c1 $c2"'
code=$(req ack1 "${OC[@]}" -X POST "$U/api/alerts/$BRAND/ack")
check "role ack: the ack is 200 with by politie-oc" \
    '[ "$code" = 200 ] && jqf "$T/ack1.b" ".id == \"$BRAND\" and .by == \"politie-oc\" and (.at | type == \"number\")"' \
    'echo "$code $(cat "$T/ack1.b")"'
check "the first ack answers already: false" 'jqf "$T/ack1.b" ".already == false"' \
    'echo "the first ever ack of the alert answered $(cat "$T/ack1.b")"'
code=$(req ack2 "${OC[@]}" -X POST -H "Content-Type: application/json" -d '{}' "$U/api/alerts/$BRAND/ack")
check "a second ack: 200, already true, by the first acker" \
    '[ "$code" = 200 ] && jqf "$T/ack2.b" ".already == true and .by == \"politie-oc\""' 'echo "$code $(cat "$T/ack2.b")"'
req alerts2 "${OC[@]}" "$U/api/alerts" > /dev/null
check "the ack shows in /api/alerts (ack.by, ack.at)" \
    'jqf "$T/alerts2.b" ".alerts[] | select(.id == \"$BRAND\") | .ack.by == \"politie-oc\" and (.ack.at | type == \"number\")"' \
    'cat "$T/alerts2.b"'
req audit "${KAB[@]}" "$U/api/audit?event=haren-console" > /dev/null
check "/api/audit?event=EVENT has the ack (what=ack, id, rule, by)" \
    'jqf "$T/audit.b" ".event == \"haren-console\" and ([.records[] | select(.what == \"ack\")] | length == 1 and .[0].id == \"$BRAND\" and .[0].by == \"politie-oc\" and .[0].rule == \"brand-haven\")"' \
    'cat "$T/audit.b"'
AUD=$T/state-a/audit/haren-console.jsonl
CTL=$T/state-a/control/haren-console.jsonl
check "the ack is in STATE_DIR/audit/EVENT.jsonl and STATE_DIR/control/EVENT.jsonl" \
    'jq -e -s "[.[] | select(.what == \"ack\" and .id == \"$BRAND\" and .by == \"politie-oc\")] | length == 1" "$AUD" > /dev/null &&
     jq -e -s "[.[] | select(.op == \"ack\" and .id == \"$BRAND\" and .by == \"politie-oc\")] | length == 1" "$CTL" > /dev/null' \
    'cat "$AUD" "$CTL"'
wait_for 8 'sse_has ".event == \"ack\" and .data.id == \"$BRAND\""'
check "the feed gets \"event: ack\" (id, by)" \
    'sse_has ".event == \"ack\" and .data.id == \"$BRAND\" and .data.by == \"politie-oc\""' 'tail -c 600 "$T/sse.out"'
# `blikveld ack` looks alerts up in the outbox: wait until both were handed to the recipient
wait_for 10 'grep -qs "$BRAND" "$T/recv/bodies.jsonl" && grep -qs "$ROOK" "$T/recv/bodies.jsonl"'
out=$("$BIN" ack "${BRAND:0:10}" --by burgemeester --config "$T/a.yaml" 2>&1); rc=$?
check "\`blikveld ack\` agrees: acknowledged already, by politie-oc" \
    '[ $rc = 0 ] && [[ "$out" == *"acknowledged already, by politie-oc"* ]]' 'echo "rc=$rc $out"'
out=$("$BIN" ack "$ROOK" --by burgemeester --config "$T/a.yaml" 2>&1); rc=$?
wait_for 10 'req alerts3 "${OC[@]}" "$U/api/alerts" > /dev/null && jqf "$T/alerts3.b" ".alerts[] | select(.id == \"$ROOK\") | .ack.by == \"burgemeester\""'
wait_for 8 'sse_has ".event == \"ack\" and .data.id == \"$ROOK\""'
check "an ack by \`blikveld ack\` shows in /api/alerts and the feed within seconds" \
    '[ $rc = 0 ] && jqf "$T/alerts3.b" ".alerts[] | select(.id == \"$ROOK\") | .ack.by == \"burgemeester\"" &&
     sse_has ".event == \"ack\" and .data.id == \"$ROOK\" and .data.by == \"burgemeester\""' \
    'echo "rc=$rc $out"; cat "$T/alerts3.b"'
c1=$(req unk "${OC[@]}" -X POST "$U/api/alerts/0123456789abcdef0123456789abcdef/ack")
c2=$(req trav "${OC[@]}" "$U/api/audit?event=../../etc")
c3=$(req trav2 "${OC[@]}" "$U/api/audit?event=..%2F..%2Fetc%2Fpasswd")
check "an unknown alert id is 404; /api/audit?event=../../etc is refused 400" \
    '[ "$c1 $c2 $c3" = "404 400 400" ] && ! grep -q "root:" "$T/trav.b" "$T/trav2.b"' 'echo "$c1 $c2 $c3"'

# ---- deliveries, sources, metrics ----
wait_for 10 '[ "$(grep -c "$BRAND" "$T/recv/bodies.jsonl" 2> /dev/null)" -ge 1 ] && [ "$(grep -c "$ROOK" "$T/recv/bodies.jsonl" 2> /dev/null)" -ge 1 ]'
check "the webhook recipient got both alerts" \
    'grep -q "$BRAND" "$T/recv/bodies.jsonl" && grep -q "$ROOK" "$T/recv/bodies.jsonl"' 'cat "$T/recv/bodies.jsonl"; tail -5 "$T/a.err"'
req src "${OC[@]}" "$U/api/sources" > /dev/null
check "/api/sources: the source's posts count what was posted ($POSTED), last_post set" \
    'jqf "$T/src.b" ".sources[0] | .posts == $POSTED and (.last_post | type == \"number\") and .errors == 0 and .state == \"listening\""' \
    'cat "$T/src.b"'
req metrics "${OC[@]}" "$U/metrics" > /dev/null
promres=$($PY $H prom "$T/metrics.b" "$T/metrics.json")
check "/metrics parses as strict Prometheus text (one group per family, HELP/TYPE first)" \
    '[[ "$promres" == ok:* ]]' 'echo "$promres"'
msample() { # JQ-CONDITION on one sample
    jq -e "any(.[]; $1)" "$T/metrics.json" > /dev/null 2>&1
}
check "metrics: blikveld_posts_total{platform=\"facebook\"} = $POSTED, the other platforms 0" \
    'msample ".name == \"blikveld_posts_total\" and .labels == {\"platform\":\"facebook\"} and .value == $POSTED" &&
     jq -e "[.[] | select(.name == \"blikveld_posts_total\" and .labels.platform != \"facebook\") | .value] | length == 5 and all(. == 0)" "$T/metrics.json" > /dev/null' \
    'grep posts_total "$T/metrics.b"'
check "metrics: blikveld_rule_matches_total per rule (brand 3, rook 2, feest 5)" \
    'msample ".name == \"blikveld_rule_matches_total\" and .labels == {\"rule\":\"brand-haven\"} and .value == 3" &&
     msample ".name == \"blikveld_rule_matches_total\" and .labels == {\"rule\":\"rook-centrum\"} and .value == 2" &&
     msample ".name == \"blikveld_rule_matches_total\" and .labels == {\"rule\":\"feest-haren\"} and .value == 5"' \
    'grep matches_total "$T/metrics.b"'
check "metrics: blikveld_alerts_total{rule,state} (brand-haven firing 1, resolved 0)" \
    'msample ".name == \"blikveld_alerts_total\" and .labels == {\"rule\":\"brand-haven\",\"state\":\"firing\"} and .value == 1" &&
     msample ".name == \"blikveld_alerts_total\" and .labels == {\"rule\":\"brand-haven\",\"state\":\"resolved\"} and .value == 0" &&
     msample ".name == \"blikveld_alerts_total\" and .labels == {\"rule\":\"feest-haren\",\"state\":\"firing\"} and .value == 0"' \
    'grep alerts_ "$T/metrics.b"'
check "metrics: blikveld_source_up{source=\"facebook\"} 1, blikveld_store_up{store=\"memory\"} 1" \
    'msample ".name == \"blikveld_source_up\" and .labels.source == \"facebook\" and .value == 1" &&
     msample ".name == \"blikveld_store_up\" and .labels == {\"store\":\"memory\"} and .value == 1"' \
    'grep -E "source_up|store_up" "$T/metrics.b"'
delivered_metric() {
    req metrics "${OC[@]}" "$U/metrics" > /dev/null
    $PY $H prom "$T/metrics.b" "$T/metrics.json" > /dev/null
    msample ".name == \"blikveld_deliveries_total\" and .labels.target == \"police/0:webhook\" and .labels.outcome == \"delivered\" and .value >= 2"
}
wait_for 10 delivered_metric
check "metrics: blikveld_deliveries_total{target=\"police/0:webhook\",outcome=\"delivered\"} counts the deliveries" \
    'delivered_metric && msample ".name == \"blikveld_deliveries_total\" and .labels.outcome == \"failed\" and .value == 0"' \
    'grep deliveries "$T/metrics.b"'
check "metrics: the feed client and the sessions are counted" \
    'msample ".name == \"blikveld_console_feed_clients\" and .value >= 1" && msample ".name == \"blikveld_console_sessions\" and .value >= 1"' \
    'grep console_ "$T/metrics.b"'

# ---- reload ----
before=$(jq -c '.rules[] | select(.id == "brand-haven") | .detectors[0].value' "$T/rq.b")
rules_v1 5 > "$T/rules.yaml"   # brand-haven's threshold 3 -> 5, the others unchanged
code=$(req reload1 "${OC[@]}" -X POST "$U/api/reload")
check "POST /api/reload (ack): 200 ok, 3 rules: 2 kept, 1 changed" \
    '[ "$code" = 200 ] && jqf "$T/reload1.b" ".ok == true and .rules == 3 and .kept == 2 and .changed == 1 and .added == 0 and .removed == 0"' \
    'echo "$code $(cat "$T/reload1.b")"'
req rl1 "${OC[@]}" "$U/api/rules" > /dev/null
check "after the reload the changed rule keeps its window value ($before)" \
    'jqf "$T/rl1.b" ".rules[] | select(.id == \"brand-haven\") | .detectors[0].value == $before and .matches == 3"' \
    'jq -c ".rules[0]" "$T/rl1.b"'
check "after the reload /api/rules shows the new threshold (5) as the level" \
    'jqf "$T/rl1.b" ".rules[] | select(.id == \"brand-haven\") | .detectors[0].level == 5"' \
    'echo "brand-haven is $(jq -c ".rules[0].detectors" "$T/rl1.b") right after a reload to count 5"'
wait_for 8 'sse_has ".event == \"reload\" and .data.by == \"politie-oc\""'
check "the feed gets \"event: reload\"" 'sse_has ".event == \"reload\" and .data.ok == true and .data.changed == 1"' \
    'tail -c 600 "$T/sse.out"'
fb 30 1 "Nog een feest in Haren"
rule_is feest-haren '.detectors[0].value == 6'
check "an unchanged rule keeps its window count across the reload (5 authors, then 6)" \
    'jqf "$T/rq.b" ".rules[] | select(.id == \"feest-haren\") | .detectors[0].value == 6 and .matches == 6"' \
    'jq -c ".rules[2]" "$T/rq.b"'
cp "$T/rules.yaml" "$T/rules.good"
sed -i 's/type: unique_authors/type: unique_authorz/' "$T/rules.yaml"
bline=$(grep -n unique_authorz "$T/rules.yaml" | cut -d: -f1)
code=$(req reload2 "${OC[@]}" -X POST "$U/api/reload")
check "a broken rule file: 422 with the file:line:col diagnostic" \
    '[ "$code" = 422 ] && jqf "$T/reload2.b" ".ok == false and (.error | test(\"rules.yaml:$bline:[0-9]+: \"))"' \
    'echo "$code $(cat "$T/reload2.b") (the bad line is $bline)"'
c2=$(req rl2 "${OC[@]}" "$U/api/rules")
check "after the refused reload the old rules still answer" \
    '[ "$c2" = 200 ] && jqf "$T/rl2.b" "[.rules[].id] == [\"brand-haven\", \"rook-centrum\", \"feest-haren\"] and .rules[2].detectors[0].type == \"unique_authors\" and .rules[2].detectors[0].value == 6"' \
    'cat "$T/rl2.b"'
kill -HUP "$PID_a"
wait_for 10 'grep -q "reload by SIGHUP refused, the running rule set stays: .*rules.yaml:$bline:" "$T/a.err"'
check "SIGHUP with a broken file: logs the diagnostic, the rule set stays" \
    'grep -q "reload by SIGHUP refused, the running rule set stays: .*rules.yaml:$bline:" "$T/a.err" &&
     req rl3 "${OC[@]}" "$U/api/rules" > /dev/null && jqf "$T/rl3.b" ".rules | length == 3"' 'tail -3 "$T/a.err"'
rules_v1 5 extra > "$T/rules.yaml"
kill -HUP "$PID_a"
wait_for 10 'grep -q "rule set reloaded by SIGHUP: 4 rules (3 kept, 0 changed, 1 added, 0 removed)" "$T/a.err"'
req rl4 "${OC[@]}" "$U/api/rules" > /dev/null
check "SIGHUP reloads: the log line, and /api/rules has the added rule" \
    'grep -q "rule set reloaded by SIGHUP: 4 rules (3 kept, 0 changed, 1 added, 0 removed)" "$T/a.err" &&
     jqf "$T/rl4.b" "[.rules[].id] == [\"brand-haven\", \"rook-centrum\", \"feest-haren\", \"water-straat\"] and .rules[3].detectors[0].value == null and .rules[2].detectors[0].value == 6"' \
    'tail -3 "$T/a.err"; cat "$T/rl4.b"'
req audit2 "${OC[@]}" "$U/api/audit" > /dev/null
check "the audit log has what=reload records with by (politie-oc, SIGHUP)" \
    'jqf "$T/audit2.b" "([.records[] | select(.what == \"reload\") | .by] | sort) == [\"SIGHUP\", \"politie-oc\"]"' \
    'cat "$T/audit2.b"'

# ---- silencing a rule from the console ----
J=(-H "Content-Type: application/json")
SURL=$U/api/rules/water-straat/silence
c1=$(req skab "${KAB[@]}" "${J[@]}" -X POST -d '{"for":"1h","reason":"x"}' "$SURL")
c2=$(req sbad "${OC[@]}" "${J[@]}" -X POST -d '{"for":"1h"}' "$SURL")
c3=$(req snone "${OC[@]}" "${J[@]}" -X POST -d '{"for":"1h","reason":"x"}' "$U/api/rules/geen-regel/silence")
check "silence: role read is 403; a body without a reason 400 naming it; an unknown rule 404" \
    '[ "$c1 $c2 $c3" = "403 400 404" ] && jqf "$T/sbad.b" ".error | test(\"reason\")"' \
    'echo "$c1 $c2 $c3"; cat "$T/sbad.b"'
code=$(req sil "${OC[@]}" "${J[@]}" -X POST \
    -d '{"for":"2h","reason":"Wateroverlast is bekend, brandweer ter plaatse"}' "$SURL")
SUNTIL=$(jq -r .until "$T/sil.b" 2> /dev/null)
req rl5 "${OC[@]}" "$U/api/rules" > /dev/null
check "silence (role ack): 200, until two hours on, by politie-oc; /api/rules shows silenced_until" \
    '[ "$code" = 200 ] && jqf "$T/sil.b" ".rule == \"water-straat\" and .by == \"politie-oc\" and .until - .at == 7200000" &&
     jqf "$T/rl5.b" ".rules[] | select(.id == \"water-straat\") | .silenced_until == $SUNTIL"' \
    'echo "$code"; cat "$T/sil.b"; cat "$T/rl5.b" | head -c 600'
"$BIN" silence --list --config "$T/a.yaml" > "$T/silist.out" 2>&1
check "\`blikveld silence --list\` shows the console's silence with who and why; the audit and control files have it" \
    'grep -q "^water-straat .* by politie-oc: Wateroverlast is bekend, brandweer ter plaatse$" "$T/silist.out" &&
     jq -e -s "[.[] | select(.what == \"silence\" and .rule == \"water-straat\" and .by == \"politie-oc\" and (.reason | test(\"brandweer\")) and (.until | type == \"string\"))] | length == 1" "$AUD" > /dev/null &&
     jq -e -s "[.[] | select(.op == \"silence\" and .rule == \"water-straat\" and .until == $SUNTIL)] | length == 1" "$CTL" > /dev/null' \
    'cat "$T/silist.out"; tail -3 "$AUD" "$CTL"'
fb 9000 4 "overstroming in de straat"
wait_for 10 '[ -n "$(fired water-straat)" ] && grep -qs "\"what\":\"silenced\".*water-straat" "$AUD"'
WATER=$(fired water-straat)
check "the silenced rule fires (printed) but its alert is held back: audit what=silenced, nothing to the webhook" \
    '[ -n "$WATER" ] && grep -qs "\"what\":\"silenced\".*water-straat" "$AUD" && ! grep -qs "$WATER" "$T/recv/bodies.jsonl"' \
    'echo "id $WATER"; tail -3 "$AUD"; tail -c 600 "$T/recv/bodies.jsonl"'
code=$(req slift "${OC[@]}" "${J[@]}" -X POST -d '{"lift":true}' "$SURL")
req rl6 "${OC[@]}" "$U/api/rules" > /dev/null
check "lift (role ack): 200 until 0; /api/rules no longer silenced; audit what=unsilence by politie-oc" \
    '[ "$code" = 200 ] && jqf "$T/slift.b" ".until == 0" &&
     jqf "$T/rl6.b" ".rules[] | select(.id == \"water-straat\") | .silenced_until == null" &&
     jq -e -s "[.[] | select(.what == \"unsilence\" and .rule == \"water-straat\" and .by == \"politie-oc\")] | length == 1" "$AUD" > /dev/null' \
    'echo "$code"; cat "$T/slift.b"; tail -2 "$AUD"'

# ---- robustness ----
bad=""
for kind in nonsense bigheader bigbody http09 half badchunk negative; do
    got=$($PY $H raw 127.0.0.1 "$PORT" "$kind" 2>&1)
    code=$(req rob "$U/healthz")
    if ! alive "$PID_a" || [ "$code" != 200 ]; then
        bad+="$kind ($got) -> healthz $code; "
    fi
    echo "$kind: $got" >> "$T/garbage.log"
done
check "garbage, a 100 KB header, a 1 MB body, HTTP/0.9, a half request: still serving" '[ -z "$bad" ]' \
    'echo "$bad"; tail -5 "$T/a.err"'
check "the 100 KB header and the 1 MB body are refused (400/413/431 or closed)" \
    'grep -Eq "^bigheader: (HTTP/1.1 4(00|13|31)|closed)" "$T/garbage.log" && grep -Eq "^bigbody: (HTTP/1.1 413|closed)" "$T/garbage.log"' \
    'cat "$T/garbage.log"'
feeds_now() {
    curl -s "${OC[@]}" "$U/metrics" | sed -n 's/^blikveld_console_feed_clients //p'
}
wait_for 10 '[ "$(feeds_now)" = 1 ]'   # only our own feed: earlier ones are gone
res=$($PY $H feeds "$PORT" "$TOK_KAB" 70)
check "70 feed connections at once: 63 more fit beside ours (64), 7 get 503" \
    'jq -e ".ok == 63 and .busy == 7 and .other == []" <<< "$res" > /dev/null' 'echo "$res"'
check "... and meanwhile other requests are answered at once" \
    'jq -e ".me_status == \"HTTP/1.1 200 OK\" and .healthz_status == \"HTTP/1.1 200 OK\" and .me_ms < 1000" <<< "$res" > /dev/null' \
    'echo "$res"'
wait_for 15 '[ "$(feeds_now)" = 1 ]'
res=$($PY $H feeds "$PORT" "$TOK_KAB" 3)
check "closed feed connections free their places: new ones are accepted again" \
    'jq -e ".ok == 3" <<< "$res" > /dev/null' 'echo "$res; feeds now $(feeds_now)"'

# ---- without tokens: loopback only; /healthz with Redis killed and back ----
redis_start main > "$T/redis-start.log" 2>&1 || fail "redis-server starts" "$(cat "$T/redis-start.log")"
BPORT=$($PY $H free-port)
cat > "$T/b.yaml" <<EOF
event: haren-local
rules: [rules.good]
state_dir: state-b
redis: {url: "${REDIS_URL_main:-redis://127.0.0.1:1/0}", flush: 10ms, timeout: 1s}
sources:
  - platform: facebook
    listen: 127.0.0.1:0
    app_secret_env: T_FB_SECRET
    verify_token_env: T_FB_VERIFY
console:
  listen: 0.0.0.0:$BPORT
EOF
start_run b "$T/b.yaml"
UB=$(console_url b)
check "no tokens and listen 0.0.0.0:PORT: the log says it listens on 127.0.0.1 only" \
    'grep -q "no tokens configured: the console listens on 127.0.0.1:$BPORT only, not on 0.0.0.0:$BPORT" "$T/b.err" &&
     [ "$UB" = "http://127.0.0.1:$BPORT" ]' 'cat "$T/b.err"'
check "... and the socket is bound to 127.0.0.1 only" '[ "$($PY $H listening "$BPORT")" = 127.0.0.1 ]' \
    '$PY $H listening "$BPORT"'
c1=$(req bme "$UB/api/me")
c2=$(req blogin "$UB/login")
check "no tokens: every request is local with role ack (auth false); /login redirects to /" \
    '[ "$c1 $c2" = "200 303" ] && jqf "$T/bme.b" ".name == \"local\" and .role == \"ack\" and .auth == false" &&
     [ "$(hdr blogin Location)" = / ]' 'echo "$c1 $c2 $(cat "$T/bme.b")"'
wait_for 10 '[ "$(req bh "$UB/healthz")" = 200 ]'
check "with Redis up: /healthz 200 ok, blikveld_store_up{store=\"redis\"} 1" \
    '[ "$(req bh "$UB/healthz")" = 200 ] && [ "$(cat "$T/bh.b")" = ok ] &&
     curl -s "$UB/metrics" | grep -q "^blikveld_store_up{store=\"redis\"} 1$"' \
    'cat "$T/bh.b"; curl -s "$UB/metrics" | grep store; tail -3 "$T/b.err"'
redis_kill9 main
t_kill=$(now_ms)
wait_for 5 '[ "$(req bh "$UB/healthz")" = 503 ]'
t_503=$(( $(now_ms) - t_kill ))
check "Redis killed: /healthz answers 503 naming the store within a few seconds (${t_503} ms)" \
    '[ "$(req bh "$UB/healthz")" = 503 ] && grep -q "^store: redis" "$T/bh.b" && ! grep -q "^source" "$T/bh.b" && csp_ok bh' \
    'cat "$T/bh.b"'
check "... and blikveld_store_up{store=\"redis\"} 0" \
    'curl -s "$UB/metrics" | grep -q "^blikveld_store_up{store=\"redis\"} 0$"' 'curl -s "$UB/metrics" | grep store_up'
redis_restart main > "$T/redis-restart.log" 2>&1 || fail "redis-server restarts" "$(cat "$T/redis-restart.log")"
t_back=$(now_ms)
wait_for 10 '[ "$(req bh "$UB/healthz")" = 200 ]'
t_200=$(( $(now_ms) - t_back ))
check "Redis back: /healthz 200 ok again (${t_200} ms)" '[ "$(req bh "$UB/healthz")" = 200 ] && [ "$(cat "$T/bh.b")" = ok ]' \
    'cat "$T/bh.b"; tail -3 "$T/b.err"'
stop "$PID_b"; rc=$?
check "the local run stops with exit 0 on SIGTERM" '[ $rc = 0 ]' 'echo rc=$rc; tail -5 "$T/b.err"'

# a restart with the outbox in Redis: the page starts with the alerts there
sed -e 's/^event: haren-local$/event: haren-redis/' -e 's/^state_dir: state-b$/state_dir: state-r/' \
    -e 's/^rules: \[rules.good\]$/rules: [rules.yaml]/' -e "s/^  listen: 0.0.0.0:$BPORT$/  listen: 127.0.0.1:0/" \
    "$T/b.yaml" > "$T/r.yaml"
printf 'recipients:\n  police:\n    - webhook: %s\n' "$RECV" >> "$T/r.yaml"
start_run r "$T/r.yaml"
$PY $H fb "$(fb_port r)" "$T_FB_SECRET" 7000 5 "brand bij de haven" > "$T/r-post.out" 2>&1
wait_for 10 'grep -q "\"brand-haven\"" "$T/r.out"'
RID=$(jq -r 'select(.rule == "brand-haven") | .id' "$T/r.out" | head -1)
stop "$PID_r"
start_run r2 "$T/r.yaml"
UR=$(console_url r2)
wait_for 10 '[ "$(req rres "$UR/api/alerts")" = 200 ] && jqf "$T/rres.b" ".alerts | length > 0"'
check "with the outbox in Redis, a restarted run's page has the alert from before, restored" \
    '[ -n "$RID" ] && jqf "$T/rres.b" ".alerts[] | select(.id == \"$RID\") | .restored == true and .state == \"firing\" and .rule == \"brand-haven\""' \
    'echo "id $RID"; cat "$T/rres.b" | head -c 1500; tail -5 "$T/r2.err"'
stop "$PID_r2"; rc=$?
check "... and it stops with exit 0" '[ $rc = 0 ]' 'echo rc=$rc; tail -5 "$T/r2.err"'

# ---- HTTPS ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$T/key.pem" -out "$T/cert.pem" > "$T/openssl.log" 2>&1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$T/other.pem" >> "$T/openssl.log" 2>&1
tls_conf() { # CERT KEY
    cat <<EOF
event: haren-tls
rules: [rules.good]
state_dir: state-c
sources:
  - platform: facebook
    listen: 127.0.0.1:0
    app_secret_env: T_FB_SECRET
    verify_token_env: T_FB_VERIFY
console:
  listen: 127.0.0.1:0
  tls: {cert: $1, key: $2}
  tokens:
    - {name: politie-oc, token_env: TOK_OC, role: ack}
EOF
}
tls_conf "$T/cert.pem" "$T/key.pem" > "$T/c.yaml"
start_run c "$T/c.yaml"
UC=$(console_url c)
CPORT=${UC##*:}
TLS=(--cacert "$T/cert.pem")
c1=$(req tme "${TLS[@]}" "${OC[@]}" "$UC/api/me")
check "console.tls: https with curl --cacert (the certificate checked), /api/me 200" \
    '[[ "$UC" == https://127.0.0.1:* ]] && [ "$c1" = 200 ] && jqf "$T/tme.b" ".name == \"politie-oc\"" && csp_ok tme' \
    'echo "$UC $c1"; cat "$T/c.err"'
plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$CPORT/healthz"); prc=$?
check "plain http on the HTTPS port gets no answer" '[ "$plain" = 000 ] && [ $prc != 0 ]' 'echo "http $plain rc=$prc"'
c1=$(req tlogin "${TLS[@]}" -H "Origin: https://127.0.0.1:$CPORT" -d "token=$TOK_OC" "$UC/login")
tck=$(hdr tlogin Set-Cookie)
TSID=$(sed -n 's/^bv_session=\([0-9a-f]*\);.*/\1/p' <<< "$tck")
c2=$(req tcme "${TLS[@]}" -H "Cookie: bv_session=$TSID" "$UC/api/me")
check "over TLS the cookie has Secure (and HttpOnly, SameSite=Strict) and works" \
    '[ "$c1 $c2" = "303 200" ] && [[ "$tck" == *"; Secure"* ]] && [[ "$tck" == *"; HttpOnly"* ]] && [[ "$tck" == *"SameSite=Strict"* ]]' \
    'echo "$c1 $c2 $tck"'
c1=$(req tlx "${TLS[@]}" -H "Origin: http://127.0.0.1:$CPORT" -d "token=$TOK_OC" "$UC/login")
check "over TLS an http:// Origin is foreign: 403" '[ "$c1" = 403 ]' 'echo "$c1"'
stop "$PID_c"

tls_conf "$T/cert.pem" "$T/other.pem" > "$T/d.yaml"
refuse d "$T/d.yaml"
check "a key that does not fit the certificate: refuses to start, naming the key and the mismatch" \
    '[ "$REFUSED_RC" = 1 ] && grep -Eq "console.tls.key .*other.pem.*(mismatch|does not fit)" "$T/d.err"' \
    'echo "rc=$REFUSED_RC"; cat "$T/d.err"'
tls_conf "$T/missing.pem" "$T/key.pem" > "$T/d2.yaml"
refuse d2 "$T/d2.yaml"
check "a certificate that is not there: refuses to start naming it" \
    '[ "$REFUSED_RC" != 0 ] && [ "$REFUSED_RC" != 124 ] && grep -q "missing.pem" "$T/d2.err"' \
    'echo "rc=$REFUSED_RC"; cat "$T/d2.err"'

# ---- tokens that refuse to start ----
sed 's/^state_dir: state-a$/state_dir: state-e/' "$T/a.yaml" > "$T/e.yaml"   # not the live run's outbox
refuse e "$T/e.yaml" TOK_KAB=short-tok-15chr
check "a token shorter than 16 characters: refuses to start, naming the variable (not the token)" \
    '[ "$REFUSED_RC" = 1 ] && grep -q "console.tokens\[1\] (kabinet): the environment variable TOK_KAB is shorter than 16 characters" "$T/e.err" &&
     ! grep -q short-tok-15chr "$T/e.err"' 'echo "rc=$REFUSED_RC"; cat "$T/e.err"'
refuse f "$T/e.yaml" -u TOK_OC
check "an unset token_env: refuses to start, naming the variable" \
    '[ "$REFUSED_RC" = 1 ] && grep -q "console.tokens\[0\] (politie-oc): the environment variable TOK_OC is not set" "$T/f.err"' \
    'echo "rc=$REFUSED_RC"; cat "$T/f.err"'

# ---- the feed's keepalive and periodic events ----
# The keepalive comment comes every 15 s (console.h's keepalive_ms), counted from the console's
# start: checked when `run` has a console.keepalive option (set to 1s above) or the run is that
# old by now; CONSOLE_SLOW=1 waits for it.
wait_for 6 'sse_has ".event == \"sources\""'
check "the feed gets \"event: sources\" (every 5 s)" \
    'sse_has ".event == \"sources\" and .data.sources[0].name == \"facebook\" and (.data.sources[0].posts | type == \"number\")"' \
    'grep -c "event: sources" "$T/sse.out"'
age=$(( $(now_ms) - A_START ))
if [ -n "$KEEPALIVE" ] || [ -n "${CONSOLE_SLOW:-}" ] || [ "$age" -ge 15500 ]; then
    wait_for 20 'sse_has ".comment == \"keepalive\""'
    check "the feed gets \": keepalive\" comments (every 15 s)" 'sse_has ".comment == \"keepalive\""' \
        'tail -c 300 "$T/sse.out"'
else
    echo "note console: the 15 s keepalive was not waited for (the run is ${age} ms old, and has" \
        "no console.keepalive option; CONSOLE_SLOW=1 waits)"
fi

req final "${OC[@]}" "$U/api/alerts" > /dev/null
stop "$PID_a"; rc=$?
check "after all this the run stops with exit 0 on SIGTERM, no sanitizer report (leaks: ASan builds)" \
    '[ $rc = 0 ] && ! grep -Eq "AddressSanitizer|runtime error|LeakSanitizer" "$T/a.err" "$T/b.err" "$T/c.err" "$T/r.err" "$T/r2.err"' \
    'echo rc=$rc; grep -E -A5 "AddressSanitizer|runtime error|LeakSanitizer" "$T/a.err" | head -20'
# ---- a restart: the page starts with what the outbox kept ----
before=$(jq -c '[.alerts[] | {id, state}] | sort_by(.id)' "$T/final.b")
start_run a2 "$T/a.yaml"
U2=$(console_url a2)
code=$(req restored "${OC[@]}" "$U2/api/alerts")
check "after a restart /api/alerts has the alerts from before, marked restored, the ack kept" \
    '[ "$code" = 200 ] && [ "$(jq -c "[.alerts[] | {id, state}] | sort_by(.id)" "$T/restored.b")" = "$before" ] &&
     jqf "$T/restored.b" "all(.alerts[]; .restored == true and .current == true and (.evidence_text.nl | length > 0)) and (.alerts[] | select(.id == \"$BRAND\") | .ack.by == \"politie-oc\")"' \
    'echo "$code"; echo "before: $before"; cat "$T/restored.b" | head -c 2000'
check "... and this process counts none of them in /metrics (blikveld_alerts_total 0)" \
    '[ "$(curl -s "${OC[@]}" "$U2/metrics" | grep -c "^blikveld_alerts_total{")" -gt 0 ] &&
     [ "$(curl -s "${OC[@]}" "$U2/metrics" | grep "^blikveld_alerts_total{" | grep -cv " 0$")" = 0 ]' \
    'curl -s "${OC[@]}" "$U2/metrics" | grep "^blikveld_alerts_total"'
stop "$PID_a2"; rc=$?
check "the restarted run stops with exit 0" '[ $rc = 0 ] && ! grep -Eq "AddressSanitizer|runtime error|LeakSanitizer" "$T/a2.err"' \
    'echo rc=$rc; tail -20 "$T/a2.err"'

echo "console: $(( ($(now_ms) - T0) )) ms"
[ "$FAILS" = 0 ]

#!/usr/bin/env bash
# The window store on a Redis Cluster of local redis-server processes (created here on free
# ports with redis-cli --cluster create, stopped on exit): the same alerts as one server; keys
# on all three masters; a slot migrated in the middle of a replay (MOVED and ASK followed,
# alerts unchanged); the master a replay was pointed at killed and its replica promoted (alerts
# unchanged, nothing left pending). Prints PASS/FAIL per check.
set -u
cd "$(dirname "$0")/../.."
BIN=${BLIKVELD:-bin/blikveld}
GEN=${GEN:-build/bench/gen}
GEN_RULES=${GEN_RULES:-build/bench/gen_rules}
PY=/usr/bin/python3
export BLIKVELD_PSEUDONYM_KEY=${BLIKVELD_PSEUDONYM_KEY:-cluster-test-key-0123456789}
T=$(mktemp -d)
PIDS=()
cleanup() {
    [ ${#PIDS[@]} -gt 0 ] && kill -9 "${PIDS[@]}" 2>/dev/null
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "PASS cluster: $1"; }
bad() { echo "FAIL cluster: $1"; }
check() { # name condition [file to show when it fails]
    if eval "$2"; then ok "$1"; else
        bad "$1"
        [ -n "${3:-}" ] && sed 's/^/    /' "$3" | tail -40
    fi
}

# Waits (polling with a deadline) until the command succeeds. 0, or 1 after timeout seconds.
wait_for() { # timeout command...
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}

# A free port P whose cluster bus port P+10000 is free too.
free_port() {
    $PY -c 'import socket
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p + 10000 > 65535: a.close(); continue
    b = socket.socket()
    try: b.bind(("127.0.0.1", p + 10000))
    except OSError: a.close(); b.close(); continue
    a.close(); b.close(); print(p); break'
}

declare -A NODE_PID
start_node() { # port [args...]
    local p=$1; shift
    mkdir -p "$T/n$p"
    redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$T/n$p" \
        --daemonize no "$@" > "$T/n$p/log" 2>&1 &
    NODE_PID[$p]=$!
    PIDS+=($!)
    wait_for 10 redis-cli -p "$p" ping > /dev/null 2>&1
}

cluster_ok() { # ports...
    local p
    for p in "$@"; do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q cluster_state:ok || return 1
    done
}

replicas_synced() { # ports...
    local p
    for p in "$@"; do
        local role
        role=$(redis-cli -p "$p" role 2>/dev/null | sed -n 1p)
        [ "$role" = master ] && continue
        [ "$(redis-cli -p "$p" role | sed -n 4p)" = connected ] || return 1
    done
}

# make_cluster MASTERS REPLICAS: sets CLUSTER to the ports, masters first as redis-cli assigns
# them (not in a subshell: the servers' pids must reach PIDS, for the cleanup)
CLUSTER=()
make_cluster() {
    local n=$(($1 * (1 + $2))) ports=() hosts=() i p
    CLUSTER=()
    for i in $(seq 1 $n); do
        p=$(free_port)
        start_node "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
            --cluster-node-timeout 1000 --cluster-replica-validity-factor 0 || return 1
        ports+=("$p"); hosts+=("127.0.0.1:$p")
    done
    redis-cli --cluster create "${hosts[@]}" --cluster-replicas "$2" --cluster-yes \
        > "$T/create-${ports[0]}.log" 2>&1 || { cat "$T/create-${ports[0]}.log" >&2; return 1; }
    wait_for 20 cluster_ok "${ports[@]}" || return 1
    wait_for 20 replicas_synced "${ports[@]}" || return 1
    CLUSTER=("${ports[@]}")
}

masters_of() { # port: the ports of the masters, as the node at port sees them
    redis-cli -p "$1" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ {split($2, a, "[:@]"); print a[2]}'
}

owner_of() { # port slot: the master port owning slot
    redis-cli -p "$1" cluster nodes | awk -v s="$2" '$3 ~ /master/ && $3 !~ /fail/ {
        for (i = 9; i <= NF; i++) { n = split($i, a, "-"); if (n == 1) a[2] = a[1];
            if (s + 0 >= a[1] + 0 && s + 0 <= a[2] + 0) { split($2, h, "[:@]"); print h[2] } } }'
}

keys_in_slot() { # port slot
    redis-cli -p "$1" cluster countkeysinslot "$2"
}

more_keys_than() { # port slot n
    [ "$(keys_in_slot "$1" "$2")" -gt "$3" ]
}

# migrate SLOT SRC DST: the resharding dance. After a first part of the slot's keys moved, it
# stays in the ASK state until the replay has written new keys to the new master (through ASK
# redirects), then moves the rest.
migrate() {
    local slot=$1 src=$2 dst=$3 sid did keys p n
    sid=$(redis-cli -p "$src" cluster myid); did=$(redis-cli -p "$dst" cluster myid)
    redis-cli -p "$dst" cluster setslot "$slot" importing "$sid" > /dev/null
    redis-cli -p "$src" cluster setslot "$slot" migrating "$did" > /dev/null
    keys=$(redis-cli -p "$src" cluster getkeysinslot "$slot" 20 | head -10 | tr '\n' ' ')
    [ -n "${keys// /}" ] && redis-cli -p "$src" migrate 127.0.0.1 "$dst" "" 0 5000 KEYS $keys > /dev/null
    n=$(keys_in_slot "$dst" "$slot")
    wait_for 15 more_keys_than "$dst" "$slot" "$n"
    while :; do
        keys=$(redis-cli -p "$src" cluster getkeysinslot "$slot" 100 | tr '\n' ' ')
        [ -z "${keys// /}" ] && break
        redis-cli -p "$src" migrate 127.0.0.1 "$dst" "" 0 5000 KEYS $keys > /dev/null
    done
    for p in $(masters_of "$src"); do
        redis-cli -p "$p" cluster setslot "$slot" node "$did" > /dev/null
    done
}

alerts() { # JSON lines -> "id rule state at" + evidence, sorted
    $PY -c 'import json,sys
rows=[]
for l in open(sys.argv[1]):
    a=json.loads(l); rows.append("%s %s %s %s %s" % (a["id"], a["rule"], a["state"], a["at"], json.dumps(a["detectors"], sort_keys=True)))
print("\n".join(sorted(rows)))' "$1"
}

for b in "$GEN" "$GEN_RULES"; do
    [ -x "$b" ] || make --no-print-directory "$b" > /dev/null
done
# Four hours around a viral party call; the two shipped rule sets and 40 generated rules, so
# the rules' slots spread over every master.
$GEN --seed 21 --start 2026-06-12T15:00:00Z --hours 4 --rate 40 \
    --viral --viral-at +1h --viral-doubling 15 --viral-max-rate 100 --viral-place Haren --viral-hours 2 \
    --spam --spam-at +30m --spam-hours 1 --jitter 20 --envelope -o "$T/raw.ndjson"
$PY tests/integration/redis_drive.py sort "$T/raw.ndjson" "$T/drill.ndjson"
$GEN_RULES 40 > "$T/gen40.yaml"
R="--event haren --rules rules/project-x.yaml --rules rules/koningsdag.yaml --rules $T/gen40.yaml"

# one server over TCP: the reference
SINGLE=$(free_port)
start_node "$SINGLE" || { bad "redis-server starts"; exit 1; }
$BIN replay $R -q --redis "redis://127.0.0.1:$SINGLE" --run ref "$T/drill.ndjson" > "$T/single.json"
check "one server: the reference replay gives alerts" "[ -s '$T/single.json' ]"

# 1. a 3-master cluster: the same alerts, keys on every master
make_cluster 3 0
C3=("${CLUSTER[@]}")
if [ ${#C3[@]} -ne 3 ]; then bad "a 3-master cluster is created"; exit 1; fi
$BIN replay $R --redis "redis://127.0.0.1:${C3[1]}" --run c1 "$T/drill.ndjson" > "$T/c1.json" 2> "$T/c1.err"
rc=$?
check "replay against a cluster node exits 0" "[ $rc = 0 ]"
check "the summary says it is a cluster of 3 masters" "grep -q 'cluster       3 masters' '$T/c1.err'"
check "the same alerts as one server (ids, times, evidence)" \
    "diff <(alerts '$T/single.json') <(alerts '$T/c1.json') > '$T/c1.diff'"
keys_everywhere=1
for p in "${C3[@]}"; do
    [ "$(redis-cli -p "$p" dbsize)" -gt 0 ] || keys_everywhere=0
done
check "keys land on all three masters" "[ $keys_everywhere = 1 ]"
check "no key outside the drill's namespace" \
    "[ -z \"\$(for p in ${C3[*]}; do redis-cli -p \$p --scan --pattern '*' | grep -v '^bv:{drill/haren/c1/'; done)\" ]"

# 2. a slot migrated in the middle of a replay: ASK while it moves, MOVED after
SLOT=$(redis-cli -p "${C3[0]}" cluster keyslot "{drill/haren/m1/project-x}")
SRC=$(owner_of "${C3[0]}" "$SLOT")
DST=$(for p in "${C3[@]}"; do [ "$p" != "$SRC" ] && echo "$p" && break; done)
BLIKVELD_LOG=info $BIN replay $R --speed 1500 --redis "redis://127.0.0.1:${C3[0]}" --run m1 \
    "$T/drill.ndjson" > "$T/m1.json" 2> "$T/m1.err" &
RP=$!
wait_for 20 more_keys_than "$SRC" "$SLOT" 0 # into the replay: the rule's windows are written
check "the slot migrates while the replay still runs" "kill -0 $RP 2> /dev/null" "$T/m1.err"
migrate "$SLOT" "$SRC" "$DST"
wait $RP
rc=$?
check "the replay across a migration exits 0" "[ $rc = 0 ]" "$T/m1.err"
check "the migrated slot is owned by its new master" "[ '$(owner_of "${C3[0]}" "$SLOT")' = '$DST' ]"
moved=$(sed -n 's/.*redirects followed: \([0-9]*\) MOVED, \([0-9]*\) ASK.*/\1/p' "$T/m1.err")
asked=$(sed -n 's/.*redirects followed: \([0-9]*\) MOVED, \([0-9]*\) ASK.*/\2/p' "$T/m1.err")
check "MOVED and ASK redirects were followed ($moved MOVED, $asked ASK)" \
    "[ '${moved:-0}' -gt 0 ] && [ '${asked:-0}' -gt 0 ]" "$T/m1.err"
check "alerts unchanged by the migration" \
    "diff <(alerts '$T/single.json') <(alerts '$T/m1.json') > '$T/m1.diff'"

# 3. a master fails over: the node the replay was pointed at is killed, its replica promoted
make_cluster 3 1
C6=("${CLUSTER[@]}")
if [ ${#C6[@]} -ne 6 ]; then bad "a 3-master cluster with a replica each is created"; exit 1; fi
SLOT=$(redis-cli -p "${C6[0]}" cluster keyslot "{drill/haren/f1/project-x}")
VICTIM=$(owner_of "${C6[0]}" "$SLOT")
BLIKVELD_LOG=info $BIN replay $R --speed 1500 --redis "redis://127.0.0.1:$VICTIM" --run f1 \
    "$T/drill.ndjson" > "$T/f1.json" 2> "$T/f1.err" &
RP=$!
wait_for 20 more_keys_than "$VICTIM" "$SLOT" 0 # into the replay
check "the master is killed while the replay still runs" "kill -0 $RP 2> /dev/null" "$T/f1.err"
{
    kill -9 "${NODE_PID[$VICTIM]}"
    wait "${NODE_PID[$VICTIM]}"
} 2> /dev/null
SURVIVOR=$(for p in "${C6[@]}"; do [ "$p" != "$VICTIM" ] && echo "$p" && break; done)
wait_for 30 bash -c "[ -n \"\$(redis-cli -p $SURVIVOR cluster nodes | awk -v s=$SLOT '\$3 ~ /master/ && \$3 !~ /fail/' )\" ] && redis-cli -p $SURVIVOR cluster info | grep -q cluster_state:ok"
wait $RP
rc=$?
NEW=$(owner_of "$SURVIVOR" "$SLOT")
check "the killed master's replica took its slots" "[ -n '$NEW' ] && [ '$NEW' != '$VICTIM' ]"
check "the replay across the failover exits 0" "[ $rc = 0 ]" "$T/f1.err"
check "it said the cluster went away and came back" \
    "grep -q 'wait, retrying' '$T/f1.err' && [ \$(grep -c ': connected' '$T/f1.err') -ge 2 ]" "$T/f1.err"
check "nothing was left pending" "grep -q 'pending       0 deltas now' '$T/f1.err'"
check "alerts unchanged by the failover" \
    "diff <(alerts '$T/single.json') <(alerts '$T/f1.json') > '$T/f1.diff'"

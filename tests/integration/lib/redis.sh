# redis.sh: sourced by integration tests (never run itself): starts real redis-server processes on
# free ports of 127.0.0.1, kills and restarts them, and stops them all from an EXIT trap.
#
#   . "$(dirname "$0")/lib/redis.sh"
#   REDIS_TMP=$T                      # optional: where servers keep their dirs (default: a mktemp -d
#                                     # of its own, removed by redis_stop_all)
#   trap 'redis_stop_all; rm -rf "$T"' EXIT
#   redis_start main --appendonly yes || exit 1
#   redis-cli -p "$REDIS_PORT_main" set k v
#   redis_kill9 main; redis_restart main   # same port, dir and arguments: the AOF is replayed
#
# redis_start NAME [ARGS...]  starts redis-server --port P --bind 127.0.0.1 --save "" --dir DIR
#                             --daemonize no --logfile DIR/redis.log ARGS... in the background
#                             (ARGS must not set port, bind, dir, logfile or daemonize), waits until
#                             it logs "Ready to accept connections" and answers PING, and sets and
#                             exports REDIS_PORT_NAME, REDIS_PID_NAME, REDIS_URL_NAME
#                             (redis://127.0.0.1:P/0), REDIS_DIR_NAME and REDIS_LOG_NAME.
#                             DIR is $REDIS_TMP/redis-NAME. A port taken between choosing it and
#                             redis binding it is retried with another, up to 5 times.
# redis_stop NAME             SIGTERM and wait (SIGKILL after REDIS_STOP_TIMEOUT seconds).
# redis_kill9 NAME            SIGKILL and wait: a crash; the dir and the AOF stay.
# redis_restart NAME [ARGS...] starts NAME again (stopping it first if it runs) on the same port,
#                             in the same dir, with the same arguments, plus ARGS for this run only.
# redis_stop_all              stops every server started here; never fails; safe in a trap and
#                             when nothing was started.
# All return 0 on success, 1 with a message (and the end of the server log) on stderr otherwise.
# Call them from the test's own shell, not from $(...): they set variables and wait for children.
# NAME is letters, digits and '_'. Timeouts, in seconds: REDIS_START_TIMEOUT (default 10),
# REDIS_STOP_TIMEOUT (default 10).

# Sourcing it again keeps track of the servers already started.
if [ -z "${_REDIS_SH_LOADED:-}" ]; then
    _REDIS_SH_LOADED=1
    declare -gA _REDIS_PORT=() _REDIS_PID=() _REDIS_DIR=() _REDIS_ARGS=()
    _REDIS_OWN_TMP=
fi

_redis_err() {
    echo "redis.sh: $*" >&2
}

_redis_check_name() { # name
    if [[ ! "$1" =~ ^[A-Za-z0-9_]+$ ]]; then
        _redis_err "bad server name '$1': letters, digits and '_' only"
        return 1
    fi
}

# A TCP port that was free a moment ago: the kernel's pick for a socket bound to port 0.
_redis_free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Sets REDIS_<VAR>_<name> and exports it.
_redis_export() { # var name value
    printf -v "REDIS_$1_$2" '%s' "$3"
    export "REDIS_$1_$2"
}

_redis_show_log() { # log
    if [ -f "$1" ]; then
        echo "redis.sh: the end of $1:" >&2
        tail -n 15 "$1" >&2
    fi
}

# Waits until the server logs readiness after byte offset off of its log, the server exits, or
# the timeout passes: no polling. tail follows the log by name (inotify) and ends when the server
# does; grep returns at the first matching line. They talk through a FIFO so that tail is a job
# of this shell whose pid is known: it outlives grep until its next line, and is ours to end.
# 0: ready.
_redis_wait_ready() { # pid log off
    local pid=$1 log=$2 off=$3 rc=0 tp fifo
    fifo=$(dirname "$log")/.ready.$BASHPID
    rm -f "$fifo"
    mkfifo "$fifo" || return 1
    timeout "${REDIS_START_TIMEOUT:-10}" tail -c +"$((off + 1))" -F -s 0.05 --pid="$pid" \
        "$log" >"$fifo" 2>/dev/null &
    tp=$!
    grep -m1 -q 'Ready to accept connections' <"$fifo" || rc=$?
    kill "$tp" 2>/dev/null || true
    wait "$tp" 2>/dev/null || true
    rm -f "$fifo"
    return "$rc"
}

# Starts the server once on port; 0: running and answering, 2: the port was taken, 1: other
# failure. Sets _REDIS_PID[name].
_redis_launch() { # name port args...
    local name=$1 port=$2 dir=${_REDIS_DIR[$1]} off pid reply
    shift 2
    local log="$dir/redis.log"
    off=$(stat -c %s "$log" 2>/dev/null || echo 0)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --dir "$dir" --daemonize no \
        --logfile "$log" "$@" >>"$dir/redis.out" 2>&1 &
    pid=$!
    if _redis_wait_ready "$pid" "$log" "$off" && kill -0 "$pid" 2>/dev/null; then
        reply=$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" ping 2>&1)
        # a server started with --requirepass answers NOAUTH: it is up all the same
        if [ "$reply" = PONG ] || [[ "$reply" == *NOAUTH* ]]; then
            _REDIS_PID[$name]=$pid
            return 0
        fi
        _redis_err "$name: redis-server on port $port logged ready but answered '$reply' to PING"
    fi
    local why="exited during start-up"
    if kill -0 "$pid" 2>/dev/null; then
        why="was not ready within ${REDIS_START_TIMEOUT:-10}s"
    fi
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if tail -c +"$((off + 1))" "$log" 2>/dev/null | grep -q 'Address already in use'; then
        return 2
    fi
    _redis_err "$name: redis-server on port $port $why"
    _redis_show_log "$log"
    if [ -s "$dir/redis.out" ]; then
        tail -n 5 "$dir/redis.out" >&2
    fi
    return 1
}

_redis_set_vars() { # name
    local name=$1 port=${_REDIS_PORT[$1]}
    _redis_export PORT "$name" "$port"
    _redis_export PID "$name" "${_REDIS_PID[$name]:-}"
    _redis_export URL "$name" "redis://127.0.0.1:$port/0"
    _redis_export DIR "$name" "${_REDIS_DIR[$name]}"
    _redis_export LOG "$name" "${_REDIS_DIR[$name]}/redis.log"
}

redis_start() { # name [args...]
    local name=${1:-} port _ rc
    _redis_check_name "$name" || return 1
    shift
    if [ -n "${_REDIS_PID[$name]:-}" ]; then
        _redis_err "$name: already running (pid ${_REDIS_PID[$name]})"
        return 1
    fi
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        _redis_err "redis-server and redis-cli are needed (Debian package redis-server)"
        return 1
    fi
    if [ -z "${REDIS_TMP:-}" ]; then
        if [ -z "$_REDIS_OWN_TMP" ]; then
            _REDIS_OWN_TMP=$(mktemp -d) || return 1
        fi
        REDIS_TMP=$_REDIS_OWN_TMP
    fi
    _REDIS_DIR[$name]="$REDIS_TMP/redis-$name"
    mkdir -p "${_REDIS_DIR[$name]}" || return 1
    _REDIS_ARGS[$name]=
    if [ $# -gt 0 ]; then
        _REDIS_ARGS[$name]=$(printf '%q ' "$@")
    fi
    for _ in 1 2 3 4 5; do
        port=$(_redis_free_port) || return 1
        rc=0
        _redis_launch "$name" "$port" "$@" || rc=$?
        if [ "$rc" = 0 ]; then
            _REDIS_PORT[$name]=$port
            _redis_set_vars "$name"
            return 0
        fi
        [ "$rc" = 2 ] || return 1
    done
    _redis_err "$name: every port tried was taken"
    return 1
}

# Sends the signal and waits for the process; SIGKILL when it outlives REDIS_STOP_TIMEOUT after
# SIGTERM. (bash reports a job killed by a signal as "Killed" at exit unless a wait with stderr
# sent elsewhere reaps it right after the kill, with no other command between them.)
_redis_end() { # name TERM|KILL
    local name=$1 pid=${_REDIS_PID[$1]:-}
    [ -n "$pid" ] || return 0
    if [ "$2" = TERM ]; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! timeout "${REDIS_STOP_TIMEOUT:-10}" tail -s 0.05 --pid="$pid" -f /dev/null; then
            _redis_err "$name: pid $pid ignored SIGTERM for ${REDIS_STOP_TIMEOUT:-10}s; killing it"
        fi
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    _REDIS_PID[$name]=
    _redis_export PID "$name" ""
}

_redis_known() { # name
    _redis_check_name "${1:-}" || return 1
    if [ -z "${_REDIS_PORT[$1]:-}" ]; then
        _redis_err "$1: no such server (redis_start it first)"
        return 1
    fi
}

redis_stop() { # name
    _redis_known "${1:-}" || return 1
    _redis_end "$1" TERM
}

redis_kill9() { # name
    _redis_known "${1:-}" || return 1
    _redis_end "$1" KILL
}

redis_restart() { # name [args...]
    local name=${1:-} rc=0
    _redis_known "$name" || return 1
    shift
    _redis_end "$name" TERM
    local saved=()
    eval "saved=(${_REDIS_ARGS[$name]})"
    _redis_launch "$name" "${_REDIS_PORT[$name]}" "${saved[@]}" "$@" || rc=$?
    if [ "$rc" = 2 ]; then
        _redis_err "$name: port ${_REDIS_PORT[$name]} was taken by another process meanwhile"
        _redis_show_log "${_REDIS_DIR[$name]}/redis.log"
    fi
    [ "$rc" = 0 ] || return 1
    _redis_set_vars "$name"
}

redis_stop_all() {
    local name
    for name in "${!_REDIS_PID[@]}"; do
        _redis_end "$name" TERM
    done
    if [ -n "$_REDIS_OWN_TMP" ]; then
        rm -rf "$_REDIS_OWN_TMP"
        if [ "${REDIS_TMP:-}" = "$_REDIS_OWN_TMP" ]; then
            REDIS_TMP=
        fi
        _REDIS_OWN_TMP=
        _REDIS_PORT=() _REDIS_PID=() _REDIS_DIR=() _REDIS_ARGS=()
    fi
    return 0
}

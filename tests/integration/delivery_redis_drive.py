#!/usr/bin/python3
"""delivery_redis_drive.py: alert delivery with the outbox, acks, silences and the audit log in
Redis (issue 5; lib/alert/shared.h), end to end with the real binary: several `blikveld run`
processes of one event, each with a state_dir of its own (as on several machines), one private
redis-server (with a password, given through password_env), webhook receivers that drop repeated
alert keys:

  1. the claim: two processes A and B read the same posts; each alert is sent by one of them
     (the one that printed it) and every alert key is accepted exactly once;
  2. crash takeover: A wins the claims, the receiver holds A's requests, B starts, A is
     SIGKILLed; B takes the entries over once their lease expires (delivery.lease 1s, scan
     300ms) and delivers them: nothing lost, nothing twice; `outbox` then lists 0 pending;
  3. an ack given with a third state_dir stops the escalation in the process that fired the
     alert; the other critical alert escalates to the mayor exactly once;
  4. a silence set with yet another state_dir before the posts come: the rule's alert is
     printed and sent to nobody; `silence --list` (any state_dir) shows it; also when the
     posts come in the first second of a `run` started after the silence;
  5. `audit` (any state_dir) holds the records of both processes and of the CLI, as JSON and
     as text;
  6. `outbox --flush` with a fresh state_dir while no process runs: delivers what two killed
     processes left pending, exit 0; with nothing pending it exits 0 at once;
  7. privacy: no raw author id or handle and no secret in any Redis key's value, in what the
     receivers got or in the logs.

The config of a process differs from the others' only in state_dir and in the path of its
webhook URLs (/police/A, /police/B, ...), so a receiver sees which process delivered what; the
targets (police/0:webhook, ...) are the same. Receivers run in this process (threads);
redis-server, the fake Mastodon (fake_platforms.py) and blikveld are child processes, each in
a process group of its own, all killed at the end, also on failure. Waits are on conditions
with deadlines. Prints PASS/FAIL per check.

Usage: delivery_redis_drive.py BLIKVELD_BINARY
"""
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from drive_util import free_port, jsonl, kill, mentions, read, serve_posts, wait_until, yaml_str

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "delivery_redis")
RULES = os.path.join(FIX, "rules.yaml")
BIN = os.path.abspath(sys.argv[1])
PY = "/usr/bin/python3"
REDIS_SERVER = "/usr/bin/redis-server"
START = time.monotonic()
LEASE_S, SCAN_S = 1.0, 0.3
failed = 0


def check(name, ok, detail=""):
    global failed
    print("%s delivery-redis: %s%s" % ("PASS" if ok else "FAIL", name,
                                       "" if ok else " -- " + str(detail)))
    if not ok:
        failed += 1
    sys.stdout.flush()


T = tempfile.mkdtemp(prefix="bv-rdeliv-")
SECRETS = {
    "POLICE_HOOK_AUTH": "Bearer police-SECRET-4471",
    "MAYOR_HOOK_TOKEN": "mayor-SECRET-2290",
    "T_MASTODON": "mtok-SECRET-5138",
    "BV_REDIS_PASSWORD": "redis-SECRET-pw-9063",
    "BLIKVELD_PSEUDONYM_KEY": os.environ.get("BLIKVELD_PSEUDONYM_KEY",
                                             "delivery-redis-test-key-0123456789"),
}
ENV = dict(os.environ, BLIKVELD_LOG="info", **SECRETS)
procs = []    # child processes (each leads its own process group)
servers = []  # receivers
gates = []
LOGS = []     # stderr files of blikveld processes (read for leaks and sanitizer reports)
REDIS_PORT = None


def spawn(args, stdout, stderr, env=None):
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                         env=env or ENV, start_new_session=True)
    procs.append(p)
    return p


def blikveld(*args, name, timeout=30):
    """Runs blikveld to its end; returns (rc, stdout, stderr, seconds)."""
    out, err = os.path.join(T, name + ".out"), os.path.join(T, name + ".err")
    LOGS.append(err)
    t = time.monotonic()
    p = spawn([BIN] + list(args), open(out, "w"), open(err, "w"))
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(p)
        rc = None
    return rc, read(out), read(err), time.monotonic() - t


class Run:
    """A `blikveld run` in the background: its stdout (the alerts it printed) and stderr."""

    def __init__(self, name, cfg):
        self.name = name
        self.out = os.path.join(T, name + ".out")
        self.err = os.path.join(T, name + ".err")
        LOGS.append(self.err)
        self.p = spawn([BIN, "run", "--config", cfg], open(self.out, "w"), open(self.err, "w"))

    def fired(self):
        return {a["rule"]: a for a in jsonl(read(self.out)) if a.get("state") == "firing"}

    def log(self):
        return read(self.err)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        """SIGTERM; the exit code (None when it had to be killed)."""
        was = self.alive()
        kill(self.p, signal.SIGTERM, timeout=15)
        return self.p.returncode if was else ("died: %s" % self.p.returncode)


# ---- the webhook receivers ----

class Receiver:
    """A webhook receiver that drops repeated alert keys. Its URL paths are /GROUP/WHO: WHO
    names the process that sent. While `holding` is set it answers nothing: a request is kept
    open, unprocessed (its keys are not taken), until release is set, then answered 503 (the
    sender, if still alive, retries)."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.requests = []   # {"n", "t", "path", "who", "headers", "raw", "body", "status"}
        self.accepted = {}   # key -> (who, monotonic time)
        self.dups = collections.Counter()
        self.holding = False
        self.release = threading.Event()
        self.srv, self.port = serve_posts(self.take, self.release)
        servers.append(self)

    def url(self, group, who):
        return "http://127.0.0.1:%d/%s/%s" % (self.port, group, who)

    def take(self, path, headers, raw):
        with self.lock:
            parts = path.strip("/").split("/")
            rec = {"n": len(self.requests) + 1, "t": time.monotonic(), "path": path,
                   "group": parts[0], "who": parts[-1], "headers": list(headers), "raw": raw,
                   "body": None, "status": 200}
            self.requests.append(rec)
            try:
                rec["body"] = json.loads(raw)
            except ValueError:
                rec["status"] = 400
                return 400, False
            if self.holding:
                rec["status"] = "held"
                return 503, True
            body = rec["body"]
            for a in body.get("alerts", []) if isinstance(body, dict) else []:
                k = a.get("key")
                if k is None:
                    continue
                if k in self.accepted:
                    self.dups[k] += 1
                else:
                    self.accepted[k] = (rec["who"], rec["t"])
            return 200, False

    def hold(self):
        with self.lock:
            self.release.clear()
            self.holding = True

    def answer(self):
        """Stops holding: requests held so far are answered 503, later ones are taken."""
        with self.lock:
            self.holding = False
        self.release.set()

    def all_requests(self):
        with self.lock:
            return list(self.requests)

    def held(self, who=None):
        return [r for r in self.all_requests()
                if r["status"] == "held" and (who is None or r["who"] == who)]

    def bodies(self, group=None):
        return [r["body"] for r in self.all_requests()
                if r["status"] == 200 and r["body"] and (group is None or r["group"] == group)]

    def keys(self, group=None, prefix=""):
        """Accepted keys (of one group's requests): key -> who."""
        with self.lock:
            acc = dict(self.accepted)
        groups = {}
        for r in self.all_requests():
            for a in (r["body"] or {}).get("alerts", []) if r["status"] == 200 else []:
                groups.setdefault(a.get("key"), r["group"])
        return {k: v[0] for k, v in acc.items()
                if k.startswith(prefix) and (group is None or groups.get(k) == group)}

    def close(self):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


# ---- Redis ----

class Resp:
    """A minimal RESP2 client (binary safe) for looking into Redis: commands in, replies as
    bytes, ints, lists or errors (RespError)."""

    def __init__(self, port, password):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.f = self.s.makefile("rb")
        self.call("AUTH", password)

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.reply()

    def reply(self):
        line = self.f.readline()
        if not line.endswith(b"\r\n"):
            raise OSError("redis: connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise OSError("redis: bad reply %r" % line)

    def close(self):
        self.s.close()


class RespError(str):
    pass


def redis(*args):
    """One command on a fresh connection (None when Redis does not answer)."""
    try:
        c = Resp(REDIS_PORT, SECRETS["BV_REDIS_PASSWORD"])
        try:
            return c.call(*args)
        finally:
            c.close()
    except OSError:
        return None


def start_redis():
    """A private redis-server on a free port (it takes no port 0), with a password, nothing
    saved."""
    global REDIS_PORT
    for _ in range(3):
        port = free_port()
        d = os.path.join(T, "redis-%d" % port)
        os.mkdir(d)
        p = spawn([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", d, "--daemonize", "no",
                   "--requirepass", SECRETS["BV_REDIS_PASSWORD"]],
                  open(os.path.join(d, "log"), "w"), subprocess.STDOUT)
        REDIS_PORT = port
        if wait_until(lambda: p.poll() is not None or redis("PING") == b"PONG", 10) and \
                p.poll() is None:
            return p
        kill(p)
    return None


def redis_keys(pattern="*"):
    ks = redis("KEYS", pattern)
    return sorted(k.decode("utf-8", "replace") for k in ks) if isinstance(ks, list) else []


def lrange_calls():
    """LRANGE commands Redis has run: the processes read the control list with them."""
    info = redis("INFO", "commandstats")
    m = re.search(rb"cmdstat_lrange:calls=(\d+)", info) if isinstance(info, bytes) else None
    return int(m.group(1)) if m else 0


def redis_dump():
    """Every key with its value as text: key -> text (streams, hashes, lists, sets, strings)."""
    c = Resp(REDIS_PORT, SECRETS["BV_REDIS_PASSWORD"])
    out = {}
    try:
        for k in c.call("KEYS", "*"):
            t = c.call("TYPE", k)
            if t == b"stream":
                v = c.call("XRANGE", k, "-", "+")
            elif t == b"hash":
                v = c.call("HGETALL", k)
            elif t == b"list":
                v = c.call("LRANGE", k, 0, -1)
            elif t == b"set":
                v = c.call("SMEMBERS", k)
            elif t == b"zset":
                v = c.call("ZRANGE", k, 0, -1, "WITHSCORES")
            else:
                v = c.call("GET", k)
            out[k.decode("utf-8", "replace")] = (t.decode(), flatten(v))
    finally:
        c.close()
    return out


def flatten(v):
    if isinstance(v, list):
        return "\n".join(flatten(x) for x in v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


# ---- the fake Mastodon and the configs ----

AUTHORS = ["rd_anouk_7701", "rd_bas_7702", "rd_cor_7703", "rd_daan_7704", "rd_eline_7705",
           "rd_floor_7706", "rd_gijs_7707", "rd_hanna_7708", "rd_ilse_7709", "rd_joost_7710"]
TEXTS = {"brand": ["Grote brand bij de haven", "brand! rook boven de haven"],
         "rellen": ["Rellen in het centrum", "rellen bij het station"],
         "vuurwerk": ["Vuurwerk op het plein", "vuurwerk en knallen op het plein"],
         "stroom": ["Stroomstoring in de hele wijk", "weer een stroomstoring hier"],
         "water": ["Wateroverlast bij de dijk", "wateroverlast in de kelders"]}
AUTHOR_OF = {}  # (topic, i) -> author index


def posts(topics, base_id):
    out = []
    for t in topics:
        for i, text in enumerate(TEXTS[t]):
            a = AUTHOR_OF.setdefault((t, i), len(AUTHOR_OF) % len(AUTHORS))
            out.append({"id": str(base_id + 10 * list(TEXTS).index(t) + i), "author": AUTHORS[a],
                        "author_num": str(880000 + a), "text": text})
    return out


def fake_mastodon(name, plan_posts):
    """A fake Mastodon handing every connection the planned posts; its base URL (or None)."""
    d = os.path.join(T, "fake-" + name)
    os.mkdir(d)
    plan = os.path.join(T, "plan-%s.json" % name)
    with open(plan, "w") as f:
        json.dump({"tokens": {"mastodon": SECRETS["T_MASTODON"]},
                   "posts": {"mastodon": plan_posts}}, f)
    spawn([PY, os.path.join(HERE, "fake_platforms.py"), plan, d], subprocess.DEVNULL,
          open(os.path.join(T, "fake-%s.err" % name), "w"))
    if not wait_until(lambda: read(os.path.join(d, "port")).strip().isdigit(), 10):
        check("the fake Mastodon %s starts" % name, False, read(os.path.join(T, "fake-%s.err"
                                                                           % name)))
        return None, d
    return "http://127.0.0.1:%s" % read(os.path.join(d, "port")).strip(), d


def port_of(base):
    return int(base.rsplit(":", 1)[1])


def fake_delivered(d):
    t = read(os.path.join(d, "delivered.mastodon")).strip()
    return int(t) if t.isdigit() else 0


class Gate:
    """A TCP gate in front of a fake platform: connections are taken at once, but nothing
    passes either way until open() (a source that connected and hears nothing yet), so that
    the posts come once the processes have read what Redis holds."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.opened = threading.Event()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.socks = []
        threading.Thread(target=self.accept, daemon=True).start()
        gates.append(self)

    def accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.socks.append(c)
            threading.Thread(target=self.connect, args=(c,), daemon=True).start()

    def connect(self, c):
        self.opened.wait()
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            u.settimeout(None)
        except OSError:
            c.close()
            return
        self.socks.append(u)
        threading.Thread(target=self.pipe, args=(u, c), daemon=True).start()
        self.pipe(c, u)

    @staticmethod
    def pipe(src, dst):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def open(self):
        self.opened.set()

    def close(self):
        self.opened.set()
        for s in [self.ls] + self.socks:
            try:
                s.close()
            except OSError:
                pass


def config(name, event, who, base, police, mayor=None, escalate=None):
    """Writes T/NAME.yaml for process WHO (state dir T/state-NAME); returns (path, state)."""
    state = os.path.join(T, "state-" + name)
    path = os.path.join(T, name + ".yaml")
    lines = ["event: " + event,
             "rules: [%s]" % yaml_str(RULES),
             "state_dir: %s" % yaml_str(state),
             "language: nl",
             "console_url: https://blikveld.gemeente.example",
             "redis: {url: 'redis://127.0.0.1:%d', password_env: BV_REDIS_PASSWORD}" % REDIS_PORT]
    if base:
        lines += ["sources:",
                  "  - platform: mastodon",
                  "    url: %s/api/v1/streaming/public" % base,
                  "    token_env: T_MASTODON"]
    lines += ["recipients:",
              "  police:",
              "    - webhook: %s" % police.url("police", who),
              "      headers_env: {Authorization: POLICE_HOOK_AUTH}"]
    if mayor:
        lines += ["  mayor:",
                  "    - webhook: %s" % mayor.url("mayor", who),
                  "      headers_env: {X-Token: MAYOR_HOOK_TOKEN}"]
    if escalate:
        lines += ["escalation:",
                  "  - {after: %s, severity: critical, unacknowledged: true, notify: [mayor]}"
                  % escalate]
    lines += ["grouping: {wait: 200ms, interval: 200ms}",
              "delivery: {retry_min: 100ms, retry_max: 400ms, deadline: 60s, timeout: 5s, "
              "drain: 2s, lease: %dms, scan: %dms}" % (LEASE_S * 1000, SCAN_S * 1000)]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, state


def firing_key(alert):
    return alert["id"] + "/firing"


# ---- 1, 3, 4, 5: two processes, the claim, ack, silence, audit ----

def pair():
    event = "haven-redis"
    police, mayor = Receiver("pair-police"), Receiver("pair-mayor")
    common = ["brand", "rellen", "vuurwerk"]
    base_a, _ = fake_mastodon("pair-a", posts(common + ["stroom"], 113100000000000000))
    base_b, _ = fake_mastodon("pair-b", posts(common + ["water"], 113100000000000000))
    if not base_a or not base_b:
        return
    gate_a, gate_b = Gate(port_of(base_a)), Gate(port_of(base_b))
    # an ack is seen within a second (the control list is read once a second): escalating 2 s
    # after firing leaves an ack given at once a second to spare
    esc = "2s"
    cfg_a, st_a = config("pair-A", event, "A", "http://127.0.0.1:%d" % gate_a.port, police,
                         mayor, esc)
    cfg_b, st_b = config("pair-B", event, "B", "http://127.0.0.1:%d" % gate_b.port, police,
                         mayor, esc)
    cfg_s, _ = config("pair-silencer", event, "S", None, police, mayor, esc)
    cfg_c, _ = config("pair-acker", event, "C", None, police, mayor, esc)
    cfg_l, _ = config("pair-lister", event, "L", None, police, mayor, esc)

    rc, out, err, _ = blikveld("silence", "vuurwerk-plein", "--for", "1h", "--reason",
                               "vuurwerk is aangekondigd", "--by", "kabinet", "--config", cfg_s,
                               name="pair-silence")
    check("silence: `blikveld silence` with a state_dir of its own writes to Redis (exit 0)",
          rc == 0, "rc=%s %s%s" % (rc, out, err))

    a, b = Run("pair-A", cfg_a), Run("pair-B", cfg_b)
    runs = (a, b)

    def printed():
        return {r.name: r.fired() for r in runs}

    def union():
        u = {}
        for name, f in printed().items():
            for rule, al in f.items():
                u.setdefault(rule, []).append((name, al))
        return u
    want_rules = {"brand-haven", "rellen-centrum", "vuurwerk-plein", "stroom-storing",
                  "water-overlast"}

    def dead():
        return not a.alive() or not b.alive()
    # the posts pass once both processes are connected and have read the control list in
    # Redis (each does a LRANGE a second: four more than when both were up)
    wait_until(lambda: dead() or all("connected" in r.log() for r in runs), 10)
    n0 = lrange_calls()
    wait_until(lambda: dead() or lrange_calls() >= n0 + 4, 6)
    gate_a.open()
    gate_b.open()
    ok = wait_until(lambda: want_rules <= set(union()) or dead(), 15)
    t_fired = time.monotonic()
    check("pair: the posts fire all five rules, each printed by one process",
          ok and not dead() and all(len(v) == 1 for v in union().values()),
          "printed %s\nA: %s\nB: %s" % ({k: [n for n, _ in v] for k, v in union().items()},
                                        a.log()[-2000:], b.log()[-2000:]))
    if not ok or dead():
        a.stop()
        b.stop()
        return
    u = union()
    brand_by, brand = u["brand-haven"][0]
    rellen_by, rellen = u["rellen-centrum"][0]
    vuur_by, vuurwerk = u["vuurwerk-plein"][0]
    rc, out, err, _ = blikveld("ack", brand["id"], "--by", "politie-oc", "--config", cfg_c,
                                   name="pair-ack")
    ack_at = time.monotonic() - t_fired
    check("ack: `blikveld ack` with a third state_dir, %.2f s after the alerts fired (exit 0)"
          % ack_at, rc == 0, "rc=%s %s%s" % (rc, out, err))

    by_name = {r.name: r for r in runs}
    expect_firing = {firing_key(al): name for rule, v in u.items() for name, al in v
                     if rule != "vuurwerk-plein"}

    def escalations():
        return [x for bd in mayor.bodies() if bd.get("kind") == "escalation"
                for x in bd.get("alerts", [])]
    ok = wait_until(lambda: dead() or (
        set(expect_firing) <= set(police.keys()) and escalations() and
        "%s: acknowledged by politie-oc, not escalated" % brand["id"] in
        by_name[brand_by].log()), 12)
    # quiet time: a second delivery or escalation (by the other process, or a takeover) would
    # come within a lease and a scan
    t = time.monotonic()
    wait_until(lambda: dead() or time.monotonic() - t > LEASE_S + 2 * SCAN_S, 5)
    got = police.keys()
    wrong_sender = {k: (v, expect_firing[k]) for k, v in got.items()
                    if k in expect_firing and v != expect_firing[k].split("-")[-1]}
    check("claim: every firing alert key accepted exactly once by the police's receiver, sent by "
          "the process that printed it (claims won: A %s; B %s)" % (
              sorted(al["rule"] for rule, v in u.items() for n, al in v if n == "pair-A"),
              sorted(al["rule"] for rule, v in u.items() for n, al in v if n == "pair-B")),
          ok and set(got) == set(expect_firing) and not police.dups and not wrong_sender,
          "accepted %s\nexpected %s\ndups %s wrong sender %s" % (
              got, expect_firing, dict(police.dups), wrong_sender))
    both = {n for n in expect_firing.values()}
    check("claim: each process sent what only it saw (stroom-storing by A, water-overlast by B)",
          u["stroom-storing"][0][0] == "pair-A" and u["water-overlast"][0][0] == "pair-B" and
          both == {"pair-A", "pair-B"}, str({k: [n for n, _ in v] for k, v in u.items()}))

    esc = escalations()
    esc_keys = [x.get("key") for x in esc]
    esc_logged = sum(r.log().count("not acknowledged after") for r in runs)
    check("ack: the acknowledged alert does not escalate in the process that fired it (%s); the "
          "other critical one escalates to the mayor exactly once (%s)" % (brand_by, rellen_by),
          ok and esc_keys == [rellen["id"] + "/escalated"] and not mayor.dups and
          len(mayor.bodies()) == 1 and esc_logged == 1 and
          "%s: acknowledged by politie-oc, not escalated" % brand["id"] in
          by_name[brand_by].log(),
          "mayor got %s (dups %s); 'not acknowledged after' logged %d times; brand by %s "
          "logged:\n%s" % (esc_keys, dict(mayor.dups), esc_logged, brand_by,
                           by_name[brand_by].log()[-1500:]))

    vuur_keys = [k for k in set(police.keys()) | set(mayor.keys())
                 if k.startswith(vuurwerk["id"])]
    vuur_rules = {x.get("rule") for rcv in (police, mayor) for bd in rcv.bodies()
                  for x in bd.get("alerts", [])}
    check("silence: the silenced rule's alert is printed (by %s) and delivered to nobody"
          % vuur_by, not vuur_keys and "vuurwerk-plein" not in vuur_rules and
          "held back: silenced by kabinet" in by_name[vuur_by].log(),
          "keys %s rules %s\n%s" % (vuur_keys, vuur_rules, by_name[vuur_by].log()[-1500:]))
    rc, out, err, _ = blikveld("silence", "--list", "--config", cfg_l, name="pair-silence-list")
    check("silence: `silence --list` with another state_dir shows it (rule, by, reason)",
          rc == 0 and "vuurwerk-plein" in out and "kabinet" in out and
          "vuurwerk is aangekondigd" in out, "rc=%s\n%s%s" % (rc, out, err))

    rc, out, err, _ = blikveld("outbox", "--config", cfg_l, name="pair-outbox")
    check("pair: `outbox` (another state_dir) lists 0 pending, 0 failed (exit 0)",
          rc == 0 and re.search(r"\b0 pending, 0 failed", out), "rc=%s\n%s%s" % (rc, out, err))

    rca, rcb = a.stop(), b.stop()
    check("pair: both runs last until SIGTERM and end with exit 0", rca == 0 and rcb == 0,
          "A rc=%s B rc=%s\nA: %s\nB: %s" % (rca, rcb, a.log()[-1500:], b.log()[-1500:]))
    audit_checks(cfg_l, event, (st_a, st_b), brand, rellen, vuurwerk, u)


def audit_checks(cfg, event, states, brand, rellen, vuurwerk, u):
    rc, out, err, _ = blikveld("audit", "--config", cfg, name="pair-audit")
    recs = jsonl(out)
    has = collections.defaultdict(list)
    for r in recs:
        has[r.get("what")].append(r)
    delivered = {r.get("key") for r in has["delivered"]}
    a_only, b_only = u["stroom-storing"][0][1], u["water-overlast"][0][1]
    # every record a process wrote to its own audit file is in Redis too
    local = []
    for st in states:
        local += jsonl(read(os.path.join(st, "audit", event + ".jsonl")))

    def ident(r):
        return (r.get("at"), r.get("what"), r.get("id"), r.get("key"), r.get("target"))
    in_redis = {ident(r) for r in recs}
    missing = [r for r in local if ident(r) not in in_redis]
    want = {
        "delivered by A (stroom-storing)": firing_key(a_only) in delivered,
        "delivered by B (water-overlast)": firing_key(b_only) in delivered,
        "delivered: brand and rellen firing, rellen escalated":
            {firing_key(brand), firing_key(rellen), rellen["id"] + "/escalated"} <= delivered,
        "ack by politie-oc": any(r.get("id") == brand["id"] and r.get("by") == "politie-oc"
                                 for r in has["ack"]),
        "silence by kabinet": any(r.get("rule") == "vuurwerk-plein" and r.get("by") == "kabinet"
                                  for r in has["silence"]),
        "silenced": any(r.get("id") == vuurwerk["id"] for r in has["silenced"]),
        "escalated (rellen, once)": [r.get("id") for r in has["escalated"]] == [rellen["id"]],
        "every record of the processes' own audit files (%d)" % len(local):
            local and not missing,
        "all of event %s" % event: all(r.get("event") == event for r in recs),
    }
    check("audit: `blikveld audit` (another state_dir) reads from Redis the records of both "
          "processes and the CLI: delivered, ack, silence, silenced, escalated",
          rc == 0 and all(want.values()),
          "rc=%s missing: %s\nnot in redis: %s\n%s%s" % (
              rc, [k for k, v in want.items() if not v], missing[:5], out[:3000], err))
    rc, txt, terr, _ = blikveld("audit", "--config", cfg, "--format", "text",
                                name="pair-audit-text")
    lines = [x for x in txt.splitlines() if x.strip()]
    check("audit: `--format text` prints one readable line per record (%d)" % len(recs),
          rc == 0 and recs and len(lines) == len(recs) and "politie-oc" in txt and
          "kabinet" in txt and not txt.lstrip().startswith("{"),
          "rc=%s %d lines for %d records\n%s%s" % (rc, len(lines), len(recs), txt[:2000], terr))


def silence_at_start():
    """A silence already in Redis when `run` starts holds for the alerts of its first second
    too (posts that come as soon as the source connects), as a silence in state_dir does."""
    event = "haven-start"
    police = Receiver("start-police")
    base, _ = fake_mastodon("start", posts(["brand", "rellen"], 113400000000000000))
    if not base:
        return
    cfg_r, _ = config("start-R", event, "R", base, police)
    cfg_s, _ = config("start-silencer", event, "S", None, police)
    rc, out, err, _ = blikveld("silence", "brand-haven", "--for", "1h", "--reason", "oefening",
                               "--by", "kabinet", "--config", cfg_s, name="start-silence")
    r = Run("start-R", cfg_r)
    ok = wait_until(lambda: not r.alive() or (
        {"brand-haven", "rellen-centrum"} <= set(r.fired()) and
        firing_key(r.fired()["rellen-centrum"]) in police.keys()), 15)
    t = time.monotonic()
    wait_until(lambda: not r.alive() or time.monotonic() - t > 0.5, 2)
    fired = r.fired()
    brand = fired.get("brand-haven", {}).get("id", "?")
    sent = [k for k in police.keys() if k.startswith(brand)]
    check("silence: a silence in Redis before `run` starts holds for the alerts of its first "
          "second (posts there as the source connects): printed, delivered to nobody",
          rc == 0 and ok and not sent and "held back: silenced by kabinet" in r.log(),
          "silence rc=%s; brand-haven %s delivered %s; rellen-centrum delivered: %s\n%s" % (
              rc, brand, sent, ok, r.log()[-1500:]))
    rc = r.stop()
    if rc != 0:
        check("silence: the run ends with exit 0 on SIGTERM", False, "rc=%s" % rc)


# ---- 2. crash takeover ----

def crash():
    event = "haven-crash"
    police = Receiver("crash-police")
    base, fake_dir = fake_mastodon("crash", posts(["brand", "rellen"], 113200000000000000))
    if not base:
        return
    cfg_a, st_a = config("crash-A", event, "A", base, police)
    cfg_b, st_b = config("crash-B", event, "B", base, police)
    police.hold()
    a = Run("crash-A", cfg_a)
    ns = "live/" + event

    def leases():
        return redis_keys("bv:{%s/*}:lease:*" % ns)
    ok = wait_until(lambda: not a.alive() or (
        {"brand-haven", "rellen-centrum"} <= set(a.fired()) and police.held("A") and
        len(leases()) == 2), 15)
    t_held = time.monotonic()
    printed = {firing_key(al) for al in a.fired().values()}
    check("crash: A alone fires both rules, holds both leases, and its delivery hangs in the "
          "receiver", ok and a.alive() and len(printed) == 2,
          "printed %s held %d leases %s\n%s" % (printed, len(police.held("A")), leases(),
                                                a.log()[-2000:]))
    if not ok or not a.alive():
        a.stop()
        return
    b = Run("crash-B", cfg_b)
    # B is up once its counts reach Redis (each process's rounds have a key of their own:
    # two per rule); then A keeps its leases for more than a lease and a scan, renewing them
    # while B scans
    def rounds(rule):
        return {k.rsplit(":", 1)[1] for k in redis_keys("bv:{%s/%s}:*:s:*" % (ns, rule))}
    ok = wait_until(lambda: not b.alive() or (
        fake_delivered(fake_dir) >= 8 and len(rounds("brand-haven")) == 2 and
        len(rounds("rellen-centrum")) == 2), 15)
    wait_until(lambda: not b.alive() or time.monotonic() - t_held > LEASE_S + 2 * SCAN_S, 5)
    early = [r for r in police.all_requests() if r["who"] == "B"]
    check("crash: B starts, loses the claims, and leaves A's leased entries alone while A lives",
          ok and b.alive() and not b.fired() and not early and "taking over" not in b.log(),
          "B up %s, printed %s, requests from B %d\n%s" % (ok, sorted(b.fired()), len(early),
                                                           b.log()[-2000:]))
    t_kill = time.monotonic()
    kill(a.p)
    police.answer()
    ok = wait_until(lambda: not b.alive() or printed <= set(police.keys()), 15)
    got = police.keys()
    firsts = [r["t"] for r in police.all_requests() if r["who"] == "B" and r["status"] == 200]
    took = (min(firsts) - t_kill) if firsts else None
    check("crash: A SIGKILLed mid-delivery; B takes both entries over and delivers them: every key "
          "accepted exactly once, all from B, none lost (first after %s s; lease %.1f s + scan "
          "%.1f s)" % ("%.2f" % took if took is not None else "-", LEASE_S, SCAN_S),
          ok and a.p.returncode == -signal.SIGKILL and set(got) == printed and
          all(v == "B" for v in got.values()) and not police.dups and took is not None and
          took <= LEASE_S + SCAN_S + 1.5 and
          all("taking over " + k in b.log() for k in printed),
          "A rc=%s accepted %s want %s dups %s took %s\nB:\n%s" % (
              a.p.returncode, got, sorted(printed), dict(police.dups), took, b.log()[-2500:]))
    held_keys = {x.get("key") for r in police.held("A") for x in r["body"].get("alerts", [])}
    check("crash: the requests A had under way were never taken by the receiver (%d held)"
          % len(police.held("A")), held_keys and held_keys <= printed, str(held_keys))

    def listing(*extra):
        return blikveld("outbox", "--config", cfg_b, *extra, name="crash-outbox%d"
                        % len(extra))
    # B's marks reach Redis right after the deliveries
    wait_until(lambda: listing()[0] == 0, 5)
    rc, out, err, _ = listing()
    check("crash: `outbox --config CFG_B` then lists 0 pending, 0 failed (exit 0)",
          rc == 0 and re.search(r"\b0 pending, 0 failed", out), "rc=%s\n%s%s" % (rc, out, err))
    rc, out, err, _ = listing("--all")
    rows = [l for l in out.splitlines() if "police/0:webhook" in l]
    check("crash: `outbox --all` lists both alerts as delivered to police/0:webhook",
          rc == 0 and all(any(k in l and "delivered" in l for l in rows) for k in printed),
          "rc=%s\n%s%s" % (rc, out, err))
    rc = b.stop()
    check("crash: B ends with exit 0 on SIGTERM", rc == 0, "rc=%s\n%s" % (rc, b.log()[-1500:]))


# ---- 6. outbox --flush ----

def flush():
    event = "haven-flush"
    police = Receiver("flush-police")
    base, _ = fake_mastodon("flush", posts(["brand", "rellen"], 113300000000000000))
    if not base:
        return
    cfg_a, _ = config("flush-A", event, "A", base, police)
    cfg_b, _ = config("flush-B", event, "B", base, police)
    cfg_f, _ = config("flush-F", event, "F", None, police)
    ns = "live/" + event
    police.hold()
    a, b = Run("flush-A", cfg_a), Run("flush-B", cfg_b)

    def printed():
        return {firing_key(al) for r in (a, b) for al in r.fired().values()}
    ok = wait_until(lambda: not a.alive() or not b.alive() or (
        len(printed()) == 2 and police.held() and
        len(redis_keys("bv:{%s/*}:lease:*" % ns)) == 2), 15)
    alive = a.alive() and b.alive()
    keys = printed()
    kill(a.p)
    kill(b.p)
    police.answer()
    check("flush: both processes SIGKILLed while the receiver held their delivery (%d alerts "
          "pending)" % len(keys), ok and alive and len(keys) == 2,
          "printed %s held %d\nA: %s\nB: %s" % (keys, len(police.held()), a.log()[-1500:],
                                                b.log()[-1500:]))
    rc, out, err, _ = blikveld("outbox", "--config", cfg_f, name="flush-list1")
    check("flush: `outbox` (fresh state_dir) lists them pending (exit 1)",
          rc == 1 and all(any(k in l and "pending" in l for l in out.splitlines())
                          for k in keys), "rc=%s\n%s%s" % (rc, out, err))
    rc, out, err, secs = blikveld("outbox", "--flush", "--config", cfg_f, name="flush-flush1")
    got = police.keys()
    check("flush: `outbox --flush` with a fresh state_dir waits out the leases and delivers them "
          "(exit 0, %.1f s): each key accepted once" % secs,
          rc == 0 and "2 delivered, 0 failed, 0 still pending" in out and set(got) == keys and
          all(v == "F" for v in got.values()) and not police.dups,
          "rc=%s accepted %s want %s dups %s\n%s%s" % (rc, got, sorted(keys), dict(police.dups),
                                                      out, err))
    rc, out, err, secs = blikveld("outbox", "--flush", "--config", cfg_f, name="flush-flush2")
    check("flush: with nothing pending `outbox --flush` exits 0 at once (%.2f s)" % secs,
          rc == 0 and "0 delivered, 0 failed, 0 still pending" in out and secs < 3.0 and
          not police.dups, "rc=%s %.2f s\n%s%s" % (rc, secs, out, err))
    rc, out, err, _ = blikveld("outbox", "--config", cfg_f, name="flush-list2")
    check("flush: `outbox` then lists 0 pending, 0 failed (exit 0)",
          rc == 0 and re.search(r"\b0 pending, 0 failed", out), "rc=%s\n%s%s" % (rc, out, err))


# ---- 7. privacy ----

# a sample's public link may name its account (README "Privacy"); the fake Mastodon's links do
PUBLIC_LINK = re.compile(r"https?:(?:\\?/){2}social\.example(?:\\?/)@[A-Za-z0-9_]+(?:\\?/)\d+")


def privacy():
    authors = set()
    for i, a in enumerate(AUTHORS):
        authors |= {a, a + "-id", a.title(), str(880000 + i)}
    secrets = list(SECRETS.values())
    texts = {}
    try:
        dump = redis_dump()
    except OSError as e:
        dump = {}
        check("privacy: Redis can be read", False, str(e))
    for k, (t, v) in dump.items():
        texts["redis %s %s" % (t, k)] = k + "\n" + v
    for s in servers:
        for r in s.all_requests():
            hdr = "\n".join("%s: %s" % (k, v) for k, v in r["headers"]
                            if not (k.lower() == "authorization" and r["group"] == "police") and
                            not (k.lower() == "x-token" and r["group"] == "mayor"))
            texts["request %s %s %d" % (s.name, r["path"], r["n"])] = hdr + "\n" + \
                r["raw"].decode("utf-8", "replace")
    for p in LOGS:
        texts[os.path.relpath(p, T)] = read(p)
    for root, _, files in os.walk(T):
        for name in files:
            p = os.path.join(root, name)
            rel = os.path.relpath(p, T)
            if rel.startswith("state-") and name.endswith(".jsonl"):
                texts[rel] = read(p, "rb").decode("utf-8", "replace")
    leaks = []
    for where, text in texts.items():
        bare = PUBLIC_LINK.sub("", text)
        leaks += ["%s: author %s" % (where, a) for a in sorted(authors) if mentions(bare, a)]
        leaks += ["%s: secret %s..." % (where, s[:8]) for s in secrets if s in text]
    kinds = collections.Counter(w.split(" ")[0] if w.startswith(("redis", "request")) else "file"
                                for w in texts)
    types = {t for t, _ in dump.values()}
    check("privacy: no raw author id or handle and no secret in any Redis value (%d keys: %s), "
          "received request (%d) or log and state file (%d)" % (
              kinds["redis"], ",".join(sorted(types)), kinds["request"], kinds["file"]),
          kinds["redis"] and {"stream", "hash", "list"} <= types and kinds["request"] and
          not leaks, "%s %s" % (dict(kinds), leaks[:20]))
    reports = [os.path.relpath(p, T) for p in LOGS
               if re.search(r"Sanitizer|runtime error:|Segmentation fault", read(p))]
    check("no sanitizer or crash report in blikveld's logs", not reports, str(reports))


def main():
    rs = start_redis()
    check("redis-server starts (password, nothing saved)", rs is not None, "")
    if rs is None:
        return
    timings = []
    for name, fn in (("pair", pair), ("start", silence_at_start), ("crash", crash),
                     ("flush", flush)):
        t = time.monotonic()
        fn()
        timings.append("%s %.1f s" % (name, time.monotonic() - t))
    privacy()
    print("delivery-redis: timings: %s, total %.1f s" % (", ".join(timings),
                                                       time.monotonic() - START))


# a signal ends the test through the cleanup below, which kills every process it started
signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(1))
signal.signal(signal.SIGINT, lambda sig, frame: sys.exit(1))
try:
    main()
finally:
    for p in procs:
        kill(p)
    for s in servers:
        s.close()
    for g in gates:
        g.close()
    if failed == 0 and not os.environ.get("KEEP"):
        shutil.rmtree(T, ignore_errors=True)
    else:
        print("delivery-redis: files kept in " + T)
sys.exit(1 if failed else 0)

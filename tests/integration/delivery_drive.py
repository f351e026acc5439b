#!/usr/bin/python3
"""delivery_drive.py: alert delivery end to end with the real binary against real peers on
127.0.0.1 (issue 5, "Tests against real peers"):

  1. a drill (`replay --deliver`) to a webhook receiver that answers 503 to its first two
     requests and drops repeated alert keys, to a real SMTP server (python3-aiosmtpd, STARTTLS
     with a throwaway CA, AUTH) and to Debian's prometheus-alertmanager;
  2. crash and resume: a receiver that holds its second request open, blikveld SIGKILLed while
     it waits, then `outbox --drill - --flush`, or the same replay restarted: nothing lost,
     nothing accepted twice; and
     `outbox --flush` refusing while a `run` holds the live outbox;
  3. `blikveld run` fed by the fake Mastodon (fake_platforms.py): an acknowledged alert does not
     escalate, the other does, a silenced rule's alert is printed but sent to nobody, heartbeats
     come (counting the alerts firing) and Alertmanager holds the Watchdog, and the audit log
     holds it all;
  4. privacy: no raw author id or handle and no secret in the spools, the audit logs, anything a
     receiver got (bodies, headers, mails) or the logs.

The receivers run in this process (threads); the SMTP server, Alertmanager, the fake platforms
and blikveld are child processes, each in a process group of its own, all killed at the end,
also on failure. Waits are on conditions with deadlines. Prints PASS/FAIL per check.

Usage: delivery_drive.py BLIKVELD_BINARY
"""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from drive_util import free_port, jsonl, kill, mentions, read, serve_posts, wait_until, yaml_str

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "delivery")
BIN = os.path.abspath(sys.argv[1])
PY = "/usr/bin/python3"
AM_BIN = "/usr/bin/prometheus-alertmanager"
START = time.monotonic()
AM_PORT = None
failed = 0


def check(name, ok, detail=""):
    global failed
    print("%s delivery: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else " -- " + detail))
    if not ok:
        failed += 1
    sys.stdout.flush()


T = tempfile.mkdtemp(prefix="bv-deliv-")
SECRETS = {
    "POLICE_HOOK_AUTH": "Bearer police-SECRET-8841",
    "MAYOR_HOOK_TOKEN": "mayor-SECRET-5512",
    "SMTP_USER": "blikveld-mailer",
    "SMTP_PASSWORD": "smtp-SECRET-pw-3307",
    "T_MASTODON": "mtok-SECRET-6620",
    "BLIKVELD_PSEUDONYM_KEY": os.environ.get("BLIKVELD_PSEUDONYM_KEY",
                                             "delivery-test-key-0123456789"),
}
ENV = dict(os.environ, BLIKVELD_LOG="info", **SECRETS)
# the values that must not leak (the SMTP user is a login name, not a secret)
SECRET_VALUES = [v for k, v in SECRETS.items() if k != "SMTP_USER"]
procs = []   # child processes (each leads its own process group)
servers = []
LOGS = []    # stderr files of blikveld processes (read for leaks)


def spawn(args, stdout, stderr, stdin=subprocess.DEVNULL, env=None):
    p = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=stderr, env=env or ENV,
                         start_new_session=True)
    procs.append(p)
    return p


def blikveld(*args, name, timeout=30):
    """Runs blikveld to its end; returns (rc, stdout, stderr)."""
    out, err = os.path.join(T, name + ".out"), os.path.join(T, name + ".err")
    LOGS.append(err)
    p = spawn([BIN] + list(args), open(out, "w"), open(err, "w"))
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(p)
        rc = None
    return rc, read(out), read(err)


# ---- the HTTP receivers ----

class Receiver:
    """A webhook receiver that keeps what it got. It answers 503 to its first fail_first
    requests (without looking at them); it holds request number `hold` open until release is
    set (having taken its alerts first: the receiver got them, the sender never hears so); it
    takes each alert key ("ID/firing", ...) once and counts repeats as dropped duplicates."""

    def __init__(self, name, fail_first=0, hold=0):
        self.name = name
        self.fail_first = fail_first
        self.hold = hold
        self.lock = threading.Lock()
        self.requests = []   # {"n", "path", "headers", "body", "status", "held"}
        self.accepted = collections.Counter()
        self.dups = collections.Counter()
        self.held_keys = []
        self.held = threading.Event()
        self.release = threading.Event()
        self.srv, self.port = serve_posts(self.take, self.release)
        self.url = "http://127.0.0.1:%d/%s" % (self.port, name)
        servers.append(self)

    def take(self, path, headers, raw):
        with self.lock:
            n = len(self.requests) + 1
            rec = {"n": n, "path": path, "headers": list(headers), "raw": raw, "body": None,
                   "status": 200, "held": False}
            self.requests.append(rec)
            try:
                rec["body"] = json.loads(raw)
            except ValueError:
                rec["status"] = 400
                return 400, False
            if n <= self.fail_first:
                rec["status"] = 503
                return 503, False
            body = rec["body"]
            keys = [a.get("key") for a in body.get("alerts", [])] if isinstance(body, dict) else []
            for k in keys:
                if k is None:
                    continue
                if self.accepted[k]:
                    self.dups[k] += 1
                else:
                    self.accepted[k] += 1
            if n == self.hold:
                rec["held"] = True
                self.held_keys = [k for k in keys if k]
                self.held.set()
                return 200, True
            return 200, False

    def bodies(self, status=200):
        with self.lock:
            return [r["body"] for r in self.requests if r["status"] == status and r["body"]]

    def all_requests(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read()
    except OSError:
        return None, b""


def am_alerts():
    st, body = http_get("http://127.0.0.1:%d/api/v2/alerts" % AM_PORT)
    try:
        return json.loads(body) if st == 200 else []
    except ValueError:
        return []


def start_alertmanager(hook_url):
    """Alertmanager on a free port (it takes no port 0): its own webhook receiver gets every
    notification, resolved ones too, quickly."""
    cfg = os.path.join(T, "alertmanager.yml")
    with open(cfg, "w") as f:
        f.write("""route:
  receiver: test-hook
  group_by: [alertname, blikveld_id]
  group_wait: 100ms
  group_interval: 200ms
  repeat_interval: 1h
receivers:
  - name: test-hook
    webhook_configs:
      - url: %s
        send_resolved: true
""" % hook_url)
    for _ in range(3):
        port = free_port()
        data = os.path.join(T, "am-data-%d" % port)
        log = os.path.join(T, "alertmanager-%d.log" % port)
        p = spawn([AM_BIN, "--config.file=" + cfg, "--storage.path=" + data,
                   "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address=",
                   "--log.level=warn"], subprocess.DEVNULL, open(log, "w"))
        ok = wait_until(lambda: p.poll() is not None or
                        http_get("http://127.0.0.1:%d/-/ready" % port)[0] == 200, 15)
        if ok and p.poll() is None:
            return p, port
        kill(p)
    return None, None


def smtp_summaries(d):
    out = []
    for name in sorted(os.listdir(d)):
        if re.fullmatch(r"msg-\d+\.json", name):
            out.append(json.loads(read(os.path.join(d, name))))
    return out


EXPECTED_RULES = {"brand-haven", "rellen-centrum"}


def expected_alerts():
    """The drill's alerts as a plain replay (no delivery) gives them: ids are deterministic."""
    rc, out, err = blikveld("replay", "--rules", os.path.join(FIX, "drill-rules.yaml"), "--event",
                            "brand-drill", "--lateness", "0s", "-q",
                            os.path.join(FIX, "drill.ndjson"), name="reference")
    alerts = jsonl(out)
    return rc, alerts, err


def keys_of(alerts):
    return sorted("%s/%s" % (a["id"], a["state"]) for a in alerts)


def drill_config(path, state, police_url, mayor, smtp_port=None, am_port=None, grouping="300ms"):
    lines = ["event: brand-drill",
             "rules: [%s]" % yaml_str(os.path.join(FIX, "drill-rules.yaml")),
             "state_dir: %s" % yaml_str(state),
             "lateness: 0s",
             "language: nl",
             "console_url: https://blikveld.gemeente.example",
             "recipients:",
             "  police:",
             "    - webhook: %s" % police_url,
             "      headers_env: {Authorization: POLICE_HOOK_AUTH}",
             "  mayor:"]
    if mayor.startswith("http"):
        lines += ["    - webhook: %s" % mayor,
                  "      headers_env: {X-Token: MAYOR_HOOK_TOKEN}"]
    else:
        lines += ["    - email: [%s]" % mayor]
    if smtp_port:
        lines.append("smtp: {url: 'smtp://127.0.0.1:%d', from: blikveld@gemeente.example, "
                     "user_env: SMTP_USER, password_env: SMTP_PASSWORD}"
                     % smtp_port)
    if am_port:
        lines.append("alertmanager: http://127.0.0.1:%d" % am_port)
    lines += ["grouping: {wait: %s, interval: %s}" % (grouping, grouping),
              "delivery: {retry_min: 100ms, retry_max: 400ms, deadline: 60s, timeout: 5s, "
              "drain: 2s, ca_file: %s}" % yaml_str(os.path.join(T, "certs", "ca.pem"))]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def spool_records(state, name):
    return jsonl(read(os.path.join(state, "outbox", name)))


# ---- 1. a drill to real peers ----

def drill_to_real_peers(expected):
    global AM_PORT
    police = Receiver("police", fail_first=2)
    am_hook = Receiver("am-hook")
    am, AM_PORT = start_alertmanager(am_hook.url)
    check("Alertmanager starts", am is not None, "no ready Alertmanager on 127.0.0.1")
    smtp_dir = os.path.join(T, "mail")
    os.mkdir(smtp_dir)
    smtp_log = os.path.join(T, "smtp.out")
    smtp = spawn([PY, os.path.join(HERE, "..", "unit", "smtp_server.py"), "--out", smtp_dir,
                  "--cert", os.path.join(T, "certs", "server.pem"),
                  "--key", os.path.join(T, "certs", "server.key"),
                  "--require-starttls", "--auth-require-tls",
                  "--auth", "%s:%s" % (SECRETS["SMTP_USER"], SECRETS["SMTP_PASSWORD"])],
                 open(smtp_log, "w"), open(os.path.join(T, "smtp.err"), "w"),
                 stdin=subprocess.PIPE)
    wait_until(lambda: read(smtp_log).split("\n")[0].strip().isdigit() or smtp.poll() is not None,
               10)
    first = read(smtp_log).split("\n")[0].strip()
    check("the SMTP server starts", first.isdigit(), read(os.path.join(T, "smtp.err")))
    if am is None or not first.isdigit():
        return
    state = os.path.join(T, "state-drill")
    cfg = os.path.join(T, "drill.yaml")
    drill_config(cfg, state, police.url, "kabinet@gemeente.example", int(first), AM_PORT)

    # paced (20x event time: the alerts fire for about 2 s) so that Alertmanager can be seen
    # holding them firing before they resolve
    out, err = os.path.join(T, "drill.out"), os.path.join(T, "drill.err")
    LOGS.append(err)
    rp = spawn([BIN, "replay", "--config", cfg, "--deliver", "--speed", "20",
                os.path.join(FIX, "drill.ndjson")], open(out, "w"), open(err, "w"))
    firing_seen = {}

    def am_firing():
        now = time.time()
        for a in am_alerts():
            lab = a.get("labels", {})
            if lab.get("event") == "brand-drill" and lab.get("rule") in EXPECTED_RULES:
                firing_seen.setdefault(lab["rule"], (dict(lab), a.get("status", {}).get("state"),
                                                     a.get("endsAt"), now))
        return set(firing_seen) == EXPECTED_RULES or rp.poll() is not None
    wait_until(am_firing, 20)
    try:
        rc = rp.wait(timeout=30)
    except subprocess.TimeoutExpired:
        kill(rp)
        rc = None
    printed = jsonl(read(out))
    check("drill: replay --deliver exits 0 with every alert delivered",
          rc == 0 and keys_of(printed) == keys_of(expected),
          "rc=%s printed %s\n%s" % (rc, keys_of(printed), read(err)))
    want = keys_of(expected)

    # the webhook: each key accepted once, after two refused requests
    reqs = police.all_requests()
    check("drill: the webhook got every alert key exactly once (none lost, none repeated)",
          sorted(police.accepted) == want and all(v == 1 for v in police.accepted.values())
          and not police.dups,
          "accepted %s dups %s want %s" % (dict(police.accepted), dict(police.dups), want))
    refused = [r for r in reqs if r["status"] == 503]
    refused_keys = {a["key"] for r in refused for a in r["body"].get("alerts", [])}
    spool = spool_records(state, "drill+brand-drill.jsonl")
    attempts = {r["key"]: r["attempts"] for r in spool
                if r.get("op") == "done" and r.get("target") == "police/0:webhook"}
    check("drill: retried after 503s (the outbox records attempts > 1 for those keys)",
          len(refused) == 2 and refused_keys and
          all(attempts.get(k, 0) > 1 for k in refused_keys),
          "refused %d requests for %s; attempts %s" % (len(refused), refused_keys, attempts))
    bad = []
    for r in reqs:
        h = {k.lower(): v for k, v in r["headers"]}
        body = r["body"] or {}
        ks = ",".join(a.get("key", "") for a in body.get("alerts", []))
        if not ks or h.get("idempotency-key") != ks or body.get("key") != ks:
            bad.append((h.get("idempotency-key"), body.get("key"), ks))
        if h.get("authorization") != SECRETS["POLICE_HOOK_AUTH"]:
            bad.append(("authorization", r["n"]))
        if body.get("drill") is not True or \
                any(a.get("drill") is not True for a in body.get("alerts", [])):
            bad.append(("not marked as a drill", r["n"]))
    check("drill: Idempotency-Key is the body's alert keys; headers_env sent; marked drill",
          reqs and not bad, str(bad))

    # the mails
    mails = smtp_summaries(smtp_dir)
    mail_keys = collections.Counter(k for m in mails for k in (m.get("key") or "").split(",") if k)
    check("drill: the mayor's mails carry every alert key exactly once",
          sorted(mail_keys) == want and all(v == 1 for v in mail_keys.values()),
          "mail keys %s want %s" % (dict(mail_keys), want))
    bad = []
    for m in mails:
        why = []
        if not m["is_multipart"] or m["content_type"] != "multipart/alternative":
            why.append("not multipart/alternative: %s" % m["content_type"])
        if "text/plain" not in m["parts"] or "text/html" not in m["parts"]:
            why.append("parts %s" % m["parts"])
        if "KRITIEK" not in (m["subject"] or ""):
            why.append("no KRITIEK in the subject")
        if "OEFENING" not in (m["subject"] or "") or "OEFENING" not in (m["plain"] or "") \
                or "OEFENING" not in (m["html"] or ""):
            why.append("OEFENING missing from subject, text or html")
        if not m["tls"]:
            why.append("not over STARTTLS")
        if m["auth_login"] != SECRETS["SMTP_USER"]:
            why.append("AUTH login %s" % m["auth_login"])
        if m["defects"]:
            why.append("%d MIME defects" % m["defects"])
        if why:
            bad.append((m["subject"], why))
    check("drill: each mail is multipart/alternative (plain + HTML), KRITIEK and OEFENING in "
          "the subject, OEFENING in both bodies, came over STARTTLS with AUTH",
          mails and not bad, "%d mails: %s" % (len(mails), bad))

    # Alertmanager: listed firing with the drill label, then resolved
    check("drill: Alertmanager listed both alerts firing, with drill=\"true\"",
          set(firing_seen) == EXPECTED_RULES and
          all(v[0].get("drill") == "true" and v[0].get("severity") == "critical"
              for v in firing_seen.values()),
          str(firing_seen))
    gone = wait_until(lambda: not [a for a in am_alerts()
                                   if a.get("labels", {}).get("event") == "brand-drill"], 5)

    def am_resolved():
        st = {}
        for b in am_hook.bodies():
            for a in b.get("alerts", []):
                lab = a.get("labels", {})
                if lab.get("event") == "brand-drill":
                    st.setdefault(lab.get("rule"), set()).add((a.get("status"),
                                                               lab.get("drill")))
        return st
    resolved = wait_until(lambda: all(("resolved", "true") in am_resolved().get(r, ())
                                      for r in EXPECTED_RULES), 8)
    check("drill: then resolved in Alertmanager (gone from the active list; its own webhook "
          "says resolved, drill label kept)", gone and resolved,
          "active now %s; notifications %s" % (
              [a.get("labels") for a in am_alerts()], am_resolved()))
    smtp.stdin.close()
    kill(smtp, signal.SIGTERM)


# ---- 2. crash and resume ----

def crash_and_resume(expected, resume="flush"):
    """resume "flush": `outbox --flush` delivers what the killed process left; "restart": the
    same `replay --deliver` started again resumes it (its alerts' keys are in the outbox)."""
    # police takes each message's keys, then holds its second request open; the mayor's
    # receiver is down (503) until the crash, so all of its deliveries are still pending then
    police = Receiver("police-hold-" + resume, hold=2)
    mayor = Receiver("mayor-crash-" + resume, fail_first=1 << 30)
    state = os.path.join(T, "state-crash-" + resume)
    cfg = os.path.join(T, "crash-%s.yaml" % resume)
    # a long group wait: the alerts that follow the first go in one message when the replay
    # has read everything (all of them in the outbox by then): that is request 2
    drill_config(cfg, state, police.url, mayor.url, grouping="20s")
    out = os.path.join(T, "crash-%s.out" % resume)
    err = os.path.join(T, "crash-%s.err" % resume)
    LOGS.append(err)
    rp = spawn([BIN, "replay", "--config", cfg, "--deliver", os.path.join(FIX, "drill.ndjson")],
               open(out, "w"), open(err, "w"))
    held = wait_until(lambda: police.held.is_set() or rp.poll() is not None, 20)
    was_running = rp.poll() is None
    kill(rp)  # SIGKILL, while the receiver holds request 2 open
    check("crash: request 2 reached the receiver and blikveld was SIGKILLed while it waited",
          held and police.held.is_set() and was_running and rp.returncode == -signal.SIGKILL,
          "held=%s running=%s rc=%s\n%s" % (police.held.is_set(), was_running, rp.returncode,
                                            read(err)))
    police.hold = 0
    police.release.set()  # the held request may end now; later ones are answered at once
    mayor_refused = len(mayor.all_requests())
    mayor.fail_first = 0
    held_keys = list(police.held_keys)
    printed = jsonl(read(out))
    want = keys_of(expected)
    check("crash: the killed replay printed only expected alerts",
          set(keys_of(printed)) <= set(want), "printed %s" % keys_of(printed))

    rc, lst, lerr = blikveld("outbox", "--config", cfg, "--drill", "-", name="crash-list1")
    check("crash: `outbox --drill -` lists the pending deliveries after the crash (exit 1)",
          rc == 1 and "pending" in lst, "rc=%s\n%s%s" % (rc, lst, lerr))
    if resume == "flush":
        rc, fout, ferr = blikveld("outbox", "--config", cfg, "--drill", "-", "--flush",
                                  name="crash-flush")
        check("crash: `outbox --drill - --flush` delivers what was pending, exit 0",
              rc == 0 and "0 failed, 0 still pending" in fout, "rc=%s\n%s%s" % (rc, fout, ferr))
    else:
        rc, fout, ferr = blikveld("replay", "--config", cfg, "--deliver",
                                  os.path.join(FIX, "drill.ndjson"), name="crash-restart")
        check("crash: the same `replay --deliver` restarted resumes what was pending and sends "
              "nothing twice, exit 0",
              rc == 0 and "resumed" in ferr and "0 FAILED, 0 pending" in ferr,
              "rc=%s\n%s" % (rc, ferr))
    check("crash (%s): every alert key accepted exactly once by the receiver that drops repeats"
          % resume,
          sorted(police.accepted) == want and all(v == 1 for v in police.accepted.values()),
          "accepted %s want %s" % (dict(police.accepted), want))
    check("crash: the held request's alerts came again and were dropped by key (%d dropped)"
          % sum(police.dups.values()),
          held_keys and all(police.dups[k] >= 1 for k in held_keys),
          "held %s dups %s" % (held_keys, dict(police.dups)))
    check("crash (%s): none lost: the receiver that was down until the crash got every key, once"
          % resume,
          sorted(mayor.accepted) == want and not mayor.dups,
          "refused %d before the crash; accepted %s dups %s" % (
              mayor_refused, dict(mayor.accepted), dict(mayor.dups)))
    rc, lst, lerr = blikveld("outbox", "--config", cfg, "--drill", "-", name="crash-list2")
    check("crash: `outbox` afterwards: 0 pending, 0 failed (exit 0)",
          rc == 0 and "0 pending, 0 failed" in lst, "rc=%s\n%s%s" % (rc, lst, lerr))


# ---- 3. live: escalation, ack, silence, watchdog ----

LIVE_AUTHORS = ["auth_anna_8801", "auth_bram_8802", "auth_chris_8803", "auth_dana_8804",
                "auth_eva_8805", "auth_femke_8806"]


def live():
    police = Receiver("police-live")
    mayor = Receiver("mayor-live")
    fake_state = os.path.join(T, "fake")
    os.mkdir(fake_state)
    texts = ["Grote brand bij de haven", "brand! rook boven de haven",
             "Rellen in het centrum", "rellen bij het station",
             "Vuurwerk op het plein", "vuurwerk en knallen op het plein"]
    plan = {"tokens": {"mastodon": SECRETS["T_MASTODON"]},
            "posts": {"mastodon": [{"id": str(113000000000000200 + i), "author": LIVE_AUTHORS[i],
                                    "author_num": str(990000 + i), "text": t}
                                   for i, t in enumerate(texts)]}}
    with open(os.path.join(T, "plan.json"), "w") as f:
        json.dump(plan, f)
    fake = spawn([PY, os.path.join(HERE, "fake_platforms.py"), os.path.join(T, "plan.json"),
                  fake_state], subprocess.DEVNULL, open(os.path.join(T, "fake.err"), "w"))
    if not wait_until(lambda: read(os.path.join(fake_state, "port")).strip().isdigit(), 10):
        check("live: the fake platforms start", False, read(os.path.join(T, "fake.err")))
        return
    base = "http://127.0.0.1:%s" % read(os.path.join(fake_state, "port")).strip()
    state = os.path.join(T, "state-live")
    cfg = os.path.join(T, "live.yaml")
    with open(cfg, "w") as f:
        f.write("""event: haven-live
rules: [{rules}]
state_dir: {state}
language: nl
console_url: https://blikveld.gemeente.example
sources:
  - platform: mastodon
    url: {base}/api/v1/streaming/public
    token_env: T_MASTODON
recipients:
  police:
    - webhook: {police}
      headers_env: {{Authorization: POLICE_HOOK_AUTH}}
  mayor:
    - webhook: {mayor}
      headers_env: {{X-Token: MAYOR_HOOK_TOKEN}}
{am}escalation:
  - {{after: 1s, severity: critical, notify: [mayor]}}
watchdog: {{every: 500ms, notify: [police]}}
grouping: {{wait: 200ms, interval: 200ms}}
delivery: {{retry_min: 100ms, retry_max: 400ms, deadline: 60s, timeout: 5s, drain: 2s}}
""".format(rules=yaml_str(os.path.join(FIX, "live-rules.yaml")), state=yaml_str(state), base=base,
           police=police.url, mayor=mayor.url,
           am="alertmanager: http://127.0.0.1:%d\n" % AM_PORT if AM_PORT else ""))

    rc, sout, serr = blikveld("silence", "vuurwerk-plein", "--for", "2h", "--reason",
                              "vuurwerk is aangekondigd", "--by", "politie-oc", "--config", cfg,
                              name="silence")
    check("live: `blikveld silence` mutes a rule (exit 0)", rc == 0, "rc=%s %s%s" % (rc, sout,
                                                                                    serr))
    out, err = os.path.join(T, "run.out"), os.path.join(T, "run.err")
    LOGS.append(err)
    run = spawn([BIN, "run", "--config", cfg], open(out, "w"), open(err, "w"))

    def fired():
        return {a["rule"]: a for a in jsonl(read(out)) if a.get("state") == "firing"}
    ok = wait_until(lambda: "brand-haven" in fired() or run.poll() is not None, 15)
    t_seen = time.monotonic()
    check("live: the posts fire brand-haven", ok and run.poll() is None,
          read(err) + read(os.path.join(T, "fake.err")))
    if not ok or run.poll() is not None:
        kill(run)
        return
    brand = fired()["brand-haven"]["id"]
    rc, aout, aerr = blikveld("ack", brand, "--by", "politie-oc", "--config", cfg, name="ack")
    ack_s = time.monotonic() - t_seen
    # escalation comes 2 s after firing and a running process reads acks once a second: an
    # ack within 1 s of the firing must stop it
    check("live: `blikveld ack` right after it fired, exit 0",
          rc == 0 and ack_s < 1.0, "rc=%s after %.2f s %s%s" % (rc, ack_s, aout, aerr))

    ok = wait_until(lambda: {"rellen-centrum", "vuurwerk-plein"} <= set(fired()), 10)
    check("live: rellen-centrum fires, and the silenced vuurwerk-plein is still printed", ok,
          str(sorted(fired())))
    if not ok:
        kill(run)
        return
    rellen = fired()["rellen-centrum"]["id"]
    vuurwerk = fired()["vuurwerk-plein"]["id"]

    def escalations():
        return [b for b in mayor.bodies() if b.get("kind") == "escalation"]

    def dead():  # no use waiting for a process that died
        return run.poll() is not None
    esc_ok = wait_until(lambda: escalations() or dead(), 10) and escalations()
    not_esc = wait_until(lambda: dead() or re.search(
        "%s: acknowledged by politie-oc, not escalated" % brand, read(err)) is not None, 10) \
        and not dead()
    beats_ok = wait_until(lambda: dead() or sum(1 for b in police.bodies()
                                                if b.get("type") == "heartbeat") >= 2, 10)
    esc = escalations()
    esc_keys = [a.get("key") for b in esc for a in b.get("alerts", [])]
    check("live: the mayor gets exactly one escalation, the unacknowledged alert's "
          "(ID/escalated), none for the acknowledged one",
          esc_ok and not_esc and len(mayor.bodies()) == 1 and esc_keys == [rellen + "/escalated"]
          and esc[0].get("key") == rellen + "/escalated",
          "bodies %s; 'not escalated' logged: %s" % (mayor.bodies(), not_esc))
    beats = [b for b in police.bodies() if b.get("type") == "heartbeat"]
    check("live: the watchdog's heartbeats reach the police (at least 2)",
          beats_ok and all(b.get("event") == "haven-live" and b.get("drill") is False
                           for b in beats), str(beats[:3]))
    if AM_PORT:
        def am_live():
            return {a["labels"].get("alertname"): a for a in am_alerts()
                    if a.get("labels", {}).get("event") == "haven-live"}
        ok = wait_until(lambda: dead() or
                        {"Watchdog", "brand-haven", "rellen-centrum"} <= set(am_live()), 5)
        got = am_live()
        check("live: Alertmanager holds the always-firing Watchdog and the live alerts (no drill "
              "label), not the silenced one",
              ok and "vuurwerk-plein" not in got and
              all("drill" not in a["labels"] for a in got.values()),
              str({k: v.get("labels") for k, v in got.items()}))
    police_rules = {a.get("rule") for b in police.bodies() for a in b.get("alerts", [])}
    police_keys = set(police.accepted)
    check("live: the police got both firing alerts, and nothing of the silenced rule",
          {brand + "/firing", rellen + "/firing"} <= police_keys and
          "vuurwerk-plein" not in police_rules and
          not [k for k in police_keys if k.startswith(vuurwerk)],
          "police keys %s rules %s" % (sorted(police_keys), police_rules))

    # the live outbox is held by the run: a flush refuses, naming the process
    lock = os.path.join(state, "outbox", "live+haven-live.lock")
    wait_until(lambda: read(lock).strip() == str(run.pid), 5)
    rc, fout, ferr = blikveld("outbox", "--config", cfg, "--flush", name="refused-flush")
    check("crash: `outbox --flush` refuses while `run` holds the outbox (exit 1, names its pid)",
          rc == 1 and str(run.pid) in ferr and "running" in ferr,
          "rc=%s\n%s%s" % (rc, fout, ferr))

    died = dead()
    if not died:
        os.killpg(run.pid, signal.SIGTERM)
    try:
        rc = run.wait(timeout=15)
    except subprocess.TimeoutExpired:
        kill(run)
        rc = None
    check("live: the run lasts until SIGTERM and then ends with exit 0", rc == 0 and not died,
          "rc=%s\n%s" % (rc, read(err)[-3000:]))

    rc, aud, aerr = blikveld("audit", "--config", cfg, name="audit")
    recs = jsonl(aud)
    has = collections.defaultdict(list)
    for r in recs:
        has[r.get("what")].append(r)
    want = {
        "ack by politie-oc": any(r.get("id") == brand and r.get("by") == "politie-oc"
                                 for r in has["ack"]),
        "silence": any(r.get("rule") == "vuurwerk-plein" and r.get("by") == "politie-oc"
                       for r in has["silence"]),
        "silenced": any(r.get("id") == vuurwerk or r.get("rule") == "vuurwerk-plein"
                        for r in has["silenced"]),
        "escalated": any(r.get("id") == rellen for r in has["escalated"]),
        "no escalated for the acked": not any(r.get("id") == brand for r in has["escalated"]),
        "delivered": any(r.get("key") == rellen + "/escalated" for r in has["delivered"]) and
        any(r.get("key") == brand + "/firing" for r in has["delivered"]),
    }
    check("live: `blikveld audit` holds ack (by politie-oc), silence, silenced, escalated and "
          "delivered records", rc == 0 and all(want.values()),
          "rc=%s %s\n%s%s" % (rc, want, aud, aerr))
    rc, txt, terr = blikveld("audit", "--config", cfg, "--format", "text", name="audit-text")
    lines = [l for l in txt.splitlines() if l.strip()]
    check("live: `blikveld audit --format text` prints one readable line per record",
          rc == 0 and len(lines) == len(recs) and "politie-oc" in txt and "{" not in txt[:1],
          "rc=%s %d lines for %d records\n%s%s" % (rc, len(lines), len(recs), txt[:2000], terr))
    heartbeat_count(base)
    kill(fake)


def heartbeat_count(base):
    """A heartbeat says how many alerts fire (README "What a webhook receives"), also without
    an Alertmanager in the config: a second run, its own event, the same posts again."""
    police = Receiver("police-beat")
    state = os.path.join(T, "state-beat")
    cfg = os.path.join(T, "beat.yaml")
    with open(cfg, "w") as f:
        f.write("""event: haven-beat
rules: [{rules}]
state_dir: {state}
sources:
  - platform: mastodon
    url: {base}/api/v1/streaming/public
    token_env: T_MASTODON
recipients:
  police:
    - webhook: {police}
watchdog: {{every: 300ms, notify: [police]}}
""".format(rules=yaml_str(os.path.join(FIX, "live-rules.yaml")), state=yaml_str(state), base=base,
           police=police.url))
    out, err = os.path.join(T, "beat.out"), os.path.join(T, "beat.err")
    LOGS.append(err)
    run = spawn([BIN, "run", "--config", cfg], open(out, "w"), open(err, "w"))

    def fired():
        return {a["rule"] for a in jsonl(read(out)) if a.get("state") == "firing"}
    ok = wait_until(lambda: len(fired()) == 3 or run.poll() is not None, 15)
    n = len(police.bodies())

    def later():  # heartbeats received after all three fired (the first may have left before)
        return [b.get("firing") for b in police.bodies()[n:] if b.get("type") == "heartbeat"]
    wait_until(lambda: len(later()) >= 2 or run.poll() is not None, 5)
    check("live: a heartbeat counts the alerts firing (no Alertmanager configured)",
          ok and later() and later()[-1] == 3,
          "%d alerts fired; heartbeats after that say firing=%s" % (len(fired()), later()))
    kill(run, signal.SIGTERM)


# ---- 4. privacy ----

# a sample's public link may name its account (README "Privacy"); the fake Mastodon's links do
PUBLIC_LINK = re.compile(r"https?:(?:\\?/){2}social\.example(?:\\?/)@[A-Za-z0-9_]+(?:\\?/)\d+")


def privacy():
    drill_authors = set()
    for s in jsonl(read(os.path.join(FIX, "drill.ndjson"))):
        acc = s["account"]
        drill_authors |= {acc["id"], acc["username"], acc["display_name"]}
    authors = drill_authors | set(LIVE_AUTHORS) | {a.title() for a in LIVE_AUTHORS} | \
        {str(990000 + i) for i in range(len(LIVE_AUTHORS))}
    texts = {}  # where -> text
    for root, _, files in os.walk(T):
        for name in files:
            p = os.path.join(root, name)
            rel = os.path.relpath(p, T)
            if "/outbox/" in "/" + rel + "/" and name.endswith(".jsonl") or \
                    "/audit/" in "/" + rel and name.endswith(".jsonl") or \
                    "/control/" in "/" + rel and name.endswith(".jsonl") or \
                    rel.startswith("mail/"):
                texts[rel] = read(p, "rb").decode("utf-8", "replace")
    for p in LOGS:
        texts[os.path.relpath(p, T)] = read(p)
    for r in [r for s in servers for r in s.all_requests()]:
        hdr = "\n".join("%s: %s" % (k, v) for k, v in r["headers"]
                        if not (k.lower() == "authorization" and "/police" in r["path"]) and
                        not (k.lower() == "x-token" and "/mayor" in r["path"]))
        texts["request %s %d" % (r["path"], r["n"])] = hdr + "\n" + \
            r["raw"].decode("utf-8", "replace")
    seen = {k: v for k, v in texts.items() if v}
    leaks = []
    for where, text in seen.items():
        bare = PUBLIC_LINK.sub("", text)
        leaks += ["%s: author %s" % (where, a) for a in authors if mentions(bare, a)]
        leaks += ["%s: secret %s..." % (where, s[:6]) for s in SECRET_VALUES if s in text]
    kinds = {"spool": any("outbox" in k for k in seen), "audit": any("audit" in k for k in seen),
             "mail": any(k.startswith("mail/") for k in seen),
             "requests": any(k.startswith("request") for k in seen),
             "logs": any(k.endswith(".err") for k in seen)}
    reports = [os.path.relpath(p, T) for p in LOGS
               if re.search(r"Sanitizer|runtime error:|Segmentation fault", read(p))]
    check("no sanitizer or crash report in blikveld's logs", not reports, str(reports))
    check("privacy: no raw author id or handle and no secret in the spools, audit logs, "
          "received bodies and headers, mails or logs (%d files and requests)" % len(seen),
          all(kinds.values()) and not leaks, "%s %s" % (kinds, leaks[:20]))


def main():
    os.mkdir(os.path.join(T, "certs"))
    subprocess.run([PY, os.path.join(HERE, "..", "unit", "smtp_server.py"), "--make-certs",
                    os.path.join(T, "certs")], check=True)
    rc, expected, err = expected_alerts()
    check("the drill recording fires and resolves both rules",
          rc == 0 and len(expected) == 4 and {a["rule"] for a in expected} == EXPECTED_RULES and
          sorted(a["state"] for a in expected) == ["firing", "firing", "resolved", "resolved"],
          "rc=%s %s %s" % (rc, expected, err))
    t = time.monotonic()
    drill_to_real_peers(expected)
    t1 = time.monotonic() - t
    t = time.monotonic()
    crash_and_resume(expected, "flush")
    crash_and_resume(expected, "restart")
    t2 = time.monotonic() - t
    t = time.monotonic()
    live()
    t3 = time.monotonic() - t
    privacy()
    print("delivery: timings: drill %.1f s, crash %.1f s, live %.1f s, total %.1f s"
          % (t1, t2, t3, time.monotonic() - START))


# a signal ends the test through the cleanup below, which kills every process it started
signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(1))
signal.signal(signal.SIGINT, lambda sig, frame: sys.exit(1))
try:
    main()
finally:
    for p in procs:
        if p.stdin:
            try:
                p.stdin.close()
            except OSError:
                pass
        kill(p)
    for s in servers:
        s.close()
    if failed == 0 and not os.environ.get("KEEP"):
        shutil.rmtree(T, ignore_errors=True)
    else:
        print("delivery: files kept in " + T)
sys.exit(1 if failed else 0)

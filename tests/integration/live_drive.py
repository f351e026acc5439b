#!/usr/bin/python3
"""live_drive.py: `blikveld run` end to end against the local fake platforms
(fake_platforms.py: Mastodon SSE, X NDJSON and its stream rules, Telegram long polling, Reddit
polling, signed Facebook webhooks; tests/unit/jetstream_server.py: Bluesky's Jetstream over a
WebSocket) at once on one loop. Checks that the posts arrive and alert, a repeated post
counts once, a quiet source raises a flatline health alert, SIGUSR1 prints the sources, SIGTERM
ends with exit 0 and a summary, the recording replays to the same alerts, no raw author or
secret reaches the recording, the alerts or the logs, and offsets and cursors survive a
restart. Waits are on conditions with deadlines. Prints PASS/FAIL per check.

Usage: live_drive.py BLIKVELD_BINARY
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from drive_util import mentions  # noqa: E402
BIN = os.path.abspath(sys.argv[1])
PY = "/usr/bin/python3"
failed = 0


def check(name, ok, detail=""):
    global failed
    print("%s live: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else " -- " + detail))
    if not ok:
        failed += 1
    sys.stdout.flush()


def wait_until(pred, timeout):
    """Polls pred until it holds or the deadline passes (waiting for real processes)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def jsonl(path):
    return [json.loads(l) for l in read(path).splitlines() if l.strip()]


T = tempfile.mkdtemp(prefix="bv-live-")
STATE = os.path.join(T, "fake")
os.mkdir(STATE)
SECRETS = {"mastodon": "mtok-SECRET-4821", "x": "xtok-SECRET-9917", "telegram": "123456:tgSECRET77",
           "facebook_secret": "fbappSECRET-5150", "facebook_verify": "fbverifySECRET-33"}
AUTHORS = ["auth_anna_7731", "auth_bram_7732", "auth_chris_7733", "auth_dana_7734",
           "auth_eva_7735", "auth_femke_7736", "auth_gert_7737", "auth_hanna_7738",
           "auth_ivo_7739", "auth_jan_7740", "auth_kim_7741", "auth_lot_7742"]


def post(i, platform_id, author, text):
    return {"id": platform_id, "author": AUTHORS[author], "author_num": str(880000 + author),
            "text": text}


# brand: two posts on each of five platforms (threshold 6 fires on the sixth);
# feest: five authors across platforms (unique_authors 4 fires on the fourth)
PLAN = {
    "tokens": SECRETS,
    "posts": {
        "mastodon": [post(0, "110000000000000001", 0, "Grote brand in de haven van Haren!"),
                     post(1, "110000000000000002", 1, "Rook bij de haven, brand?"),
                     post(2, "110000000000000003", 10, "Wie gaat er naar het feest in Haren?")],
        "x": [post(3, "1800000000000000001", 2, "brand haven Haren, blijf weg"),
              post(4, "1800000000000000002", 3, "Zie vlammen, brand bij de haven"),
              post(5, "1800000000000000003", 11, "feest vanavond, iedereen komt")],
        "telegram": [post(6, "41", 4, "Brand gemeld bij de haven"),
                     post(7, "42", 5, "brand! brandweer onderweg naar de haven"),
                     post(8, "43", 6, "Het feest gaat door")],
        "reddit": [post(9, "1abc01", 6, "Brand in de haven van Haren"),
                   post(10, "1abc02", 7, "Update: brand haven onder controle?"),
                   post(11, "1abc03", 8, "Feest in Haren, wie weet meer?")],
        "facebook": [post(12, "900001", 8, "Brand bij de haven, pas op"),
                     post(13, "900002", 9, "Brand haven Haren: foto's"),
                     post(14, "900003", 9, "Het feest is morgen")],
    },
    "mastodon_repeat": "110000000000000001",
    "mastodon_delete": "110000000000000002",
    "facebook_port_file": os.path.join(STATE, "facebook_port"),
}
with open(os.path.join(T, "plan.json"), "w") as f:
    json.dump(PLAN, f)

RULES = """rules:
  - id: brand-haven
    title: Brand in de haven
    severity: critical
    match: {all: [{keyword: brand}, {keyword: haven}]}
    detectors:
      - {type: threshold, window: 10m, bucket: 1m, count: 6}
  - id: feest-haren
    title: Feest, veel mensen
    match: {keyword: feest}
    detectors:
      - {type: unique_authors, window: 10m, bucket: 1m, count: 4}
"""
with open(os.path.join(T, "rules.yaml"), "w") as f:
    f.write(RULES)

fake = subprocess.Popen([PY, os.path.join(HERE, "fake_platforms.py"), os.path.join(T, "plan.json"),
                         STATE], stdout=subprocess.DEVNULL, stderr=open(os.path.join(T, "fake.err"), "w"))
# Bluesky: the fake Jetstream of the unit tests (python3-websockets), sending the recorded
# events once; a restart must come back with the saved cursor minus the rewind (5 s)
JET_EVENTS = os.path.join(HERE, "..", "fixtures", "platforms", "jetstream", "events.ndjson")
JET_PLAN = [{"cursor": None, "send": -1, "end": "stall"},
            {"cursor": "resume", "send": -1, "end": "stall"}]
JET_LOG = os.path.join(T, "jetstream.log")
jet = subprocess.Popen([PY, os.path.join(HERE, "..", "unit", "jetstream_server.py"), JET_EVENTS,
                        json.dumps(JET_PLAN), "1048576", "5000000"], stdin=subprocess.PIPE,
                       stdout=open(JET_LOG, "w"), stderr=subprocess.STDOUT)
procs = [fake, jet]
DIDS = sorted({w.split('"')[0] for w in read(JET_EVENTS).split('did:plc:')[1:]})
DIDS = ["did:plc:" + d for d in DIDS if d]


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


try:
    if not wait_until(lambda: os.path.exists(os.path.join(STATE, "port")), 10):
        check("fake platforms start", False, read(os.path.join(T, "fake.err")))
        sys.exit(1)
    port = int(read(os.path.join(STATE, "port")))
    if not wait_until(lambda: read(JET_LOG).split("\n")[0].strip().isdigit(), 10):
        check("fake Jetstream starts", False, read(JET_LOG))
        sys.exit(1)
    jport = int(read(JET_LOG).split("\n")[0])
    base = "http://127.0.0.1:%d" % port
    CONFIG = """event: haren-live
rules: [rules.yaml]
state_dir: state
lateness: 2m
record: {{dir: recordings, retention: 30d}}
sources:
  - platform: mastodon
    url: {base}/api/v1/streaming/public
    token_env: T_MASTODON
  - platform: x
    url: {base}/2/tweets/search/stream?tweet.fields=created_at,author_id,lang
    token_env: T_X
    stream_rules: ["brand haven lang:nl", "feest Haren"]
  - platform: telegram
    url: {base}
    token_env: T_TELEGRAM
    poll_timeout: 1s
  - platform: reddit
    url: {base}/r/thehague/new.json
    poll: 200ms
  - platform: facebook
    listen: 127.0.0.1:0
    app_secret_env: T_FB_SECRET
    verify_token_env: T_FB_VERIFY
  - platform: reddit
    name: reddit-quiet
    url: {base}/r/empty/new.json
    poll: 200ms
    flatline: 2s
  - platform: bluesky
    url: ws://127.0.0.1:{jport}/subscribe?wantedCollections=app.bsky.feed.post
""".format(base=base, jport=jport)
    with open(os.path.join(T, "live.yaml"), "w") as f:
        f.write(CONFIG)
    env = dict(os.environ, T_MASTODON=SECRETS["mastodon"], T_X=SECRETS["x"],
               T_TELEGRAM=SECRETS["telegram"], T_FB_SECRET=SECRETS["facebook_secret"],
               T_FB_VERIFY=SECRETS["facebook_verify"], BLIKVELD_LOG="info")
    rec = os.path.join(T, "rec.jsonl")
    out, err = os.path.join(T, "out.jsonl"), os.path.join(T, "run.err")
    run = subprocess.Popen([BIN, "run", "--config", os.path.join(T, "live.yaml"), "--record", rec],
                           stdout=open(out, "w"), stderr=open(err, "w"), env=env)
    procs.append(run)

    def fb_port():
        for line in read(err).splitlines():
            if "source facebook listens on port" in line:
                return line.rsplit(" ", 1)[1]
        return None
    check("facebook receiver reports its port", wait_until(lambda: fb_port() is not None, 10),
          read(err))
    if fb_port():
        with open(PLAN["facebook_port_file"] + ".tmp", "w") as f:
            f.write(fb_port())
        os.replace(PLAN["facebook_port_file"] + ".tmp", PLAN["facebook_port_file"])

    def delivered(p):
        return int(read(os.path.join(STATE, "delivered." + p)) or 0)
    check("every platform delivered its posts",
          wait_until(lambda: all(delivered(p) == len(PLAN["posts"][p]) for p in PLAN["posts"]), 20),
          str({p: delivered(p) for p in PLAN["posts"]}))

    check("the fake Jetstream sent its events to a right request",
          wait_until(lambda: "sent 0 " in read(JET_LOG), 10) and "WRONG" not in read(JET_LOG),
          read(JET_LOG))

    def rules_fired():
        return {a["rule"] for a in jsonl(out) if a["state"] == "firing"}
    want = {"brand-haven", "feest-haren", "flatline-reddit-quiet"}
    check("the posts alert, and the quiet source raises a flatline alert",
          wait_until(lambda: want <= rules_fired(), 20), str(rules_fired()) + read(err))

    run.send_signal(signal.SIGUSR1)
    check("SIGUSR1 prints every source's state",
          wait_until(lambda: "sources:" in read(err) and "reddit-quiet" in read(err), 10), read(err))
    table = read(err)
    check("streams say streaming, posts counted",
          all(any(l.split()[:3] == [n, p, "streaming"] for l in table.splitlines())
              for n, p in (("mastodon", "mastodon"), ("x", "x"))), table)
    run.send_signal(signal.SIGTERM)
    try:
        rc = run.wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc = None
    check("SIGTERM ends the run with exit 0", rc == 0, "rc=%s\n%s" % (rc, read(err)))
    log = read(err)
    check("the summary counts the repeated post once", "duplicates      1" in log, log)
    summary = log.split("summary:")[-1]
    check("the summary lists the sources", "reddit-quiet" in summary and "bluesky" in summary, log)
    bsky = [l.split() for l in summary.splitlines() if l.split()[:2] == ["bluesky", "bluesky"]]
    check("Bluesky posts came through the WebSocket", bsky and int(bsky[0][3]) > 0, summary)
    errors = read(os.path.join(STATE, "errors"))
    check("every request the fake platforms saw was right (path, query, auth, offset, before)",
          errors == "", errors)

    xr = json.loads(read(os.path.join(STATE, "x_rules.json")) or "[]")
    check("X's stream rules are the configured ones (the stale one deleted)",
          sorted(r["value"] for r in xr) == ["brand haven lang:nl", "feest Haren"], str(xr))

    live = jsonl(out)
    flat = [a for a in live if a["rule"] == "flatline-reddit-quiet"]
    check("the flatline alert is a health alert", flat and flat[0].get("health") is True, str(flat))

    # the recording: one envelope per received post, deletes as deletes
    envs = jsonl(rec)
    n_posts = sum(len(v) for v in PLAN["posts"].values()) + 1  # + the repeated status
    kinds = [e["kind"] for e in envs if e["platform"] != "bluesky"]
    check("the recording holds every received post and the delete",
          kinds.count("post") == n_posts and kinds.count("delete") == 1,
          "%d posts, %d deletes" % (kinds.count("post"), kinds.count("delete")))
    check("the recording holds the Bluesky posts",
          sum(1 for e in envs if e["platform"] == "bluesky") == int(bsky[0][3]) + int(bsky[0][4]),
          str(bsky))

    # privacy: no raw author id, handle or name and no secret in the recording or the logs, nor
    # in the alerts apart from a sample's link (a Mastodon link is the post's public address,
    # which names its account: README "Privacy")
    alerts_text = ""
    for a in jsonl(out):
        for smp in a.get("samples", []):
            smp.pop("url", None)
        alerts_text += json.dumps(a)
    text = read(rec) + log + alerts_text
    leaks = [a for a in AUTHORS if a in text or a.split("_")[1].title() + "\"" in text]
    leaks += [s for s in SECRETS.values() if s in text]
    leaks += [str(880000 + i) for i in range(len(AUTHORS)) if mentions(text, str(880000 + i))]
    leaks += [d for d in DIDS if d in text]
    check("no raw author, DID or secret in the recording, the logs or the alerts", not leaks,
          str(leaks))

    rdir = os.path.join(T, "recordings")
    days = sorted(os.listdir(rdir)) if os.path.isdir(rdir) else []
    check("record: dir gets the same lines in day files (EVENT-YYYY-MM-DD.jsonl)",
          days and all(d.startswith("haren-live-") and d.endswith(".jsonl") for d in days) and
          "".join(read(os.path.join(rdir, d)) for d in days) == read(rec), str(days))

    # live and replay agree
    rep_out = os.path.join(T, "replay.jsonl")
    r = subprocess.run([BIN, "replay", "--rules", os.path.join(T, "rules.yaml"), "--event",
                        "haren-live", "-q", rec], stdout=open(rep_out, "w"),
                       stderr=subprocess.PIPE, env=env)

    def shape(alerts):
        return sorted((a["rule"], a["state"], a["at"], json.dumps(a["detectors"], sort_keys=True))
                      for a in alerts if not a.get("health"))
    rep = jsonl(rep_out)
    check("the recording replays to the same alerts (rule, state, time, evidence)",
          r.returncode == 0 and shape(rep) == shape(live) and len(shape(live)) >= 2,
          "live %s\nreplay %s\n%s" % (shape(live), shape(rep), r.stderr.decode()))

    # a restart goes on from the saved offset and cursor (the fake servers check them)
    st = os.path.join(T, "state")
    check("telegram offset and reddit cursor are kept in state_dir",
          read(os.path.join(st, "telegram-telegram.offset")).strip() == "700003" and
          read(os.path.join(st, "reddit-reddit.cursor")).strip() == "t3_1abc03",
          str(os.listdir(st)))
    before = {p: delivered(p) for p in ("telegram", "reddit")}
    err2 = os.path.join(T, "run2.err")
    run2 = subprocess.Popen([BIN, "run", "--config", os.path.join(T, "live.yaml")],
                            stdout=subprocess.DEVNULL, stderr=open(err2, "w"), env=env)
    procs.append(run2)
    polls = {p: delivered("requests." + p) for p in ("telegram", "reddit")}
    check("after a restart telegram and reddit poll again",
          wait_until(lambda: all(delivered("requests." + p) >= polls[p] + 2 for p in polls), 10),
          read(err2))
    run2.send_signal(signal.SIGUSR1)
    wait_until(lambda: "reddit-quiet" in read(err2), 10)
    run2.send_signal(signal.SIGTERM)
    rc2 = run2.wait(timeout=15)
    errors = read(os.path.join(STATE, "errors"))
    check("after a restart nothing is fetched twice (offset and before= from state_dir)",
          rc2 == 0 and errors == "" and {p: delivered(p) for p in before} == before,
          "rc=%s errors=%s %s" % (rc2, errors, read(err2)))
    leaks = [x for x in list(SECRETS.values()) + AUTHORS + DIDS if x in read(err2)]
    check("no raw author or secret in the second run's log", not leaks, str(leaks))
    check("after a restart Bluesky resumes from the saved cursor minus the rewind",
          "conn 1 ok" in read(JET_LOG) and "WRONG" not in read(JET_LOG), read(JET_LOG))

    # with a Redis that is not there, the first signal waits for it; a second one stops at once
    with open(os.path.join(T, "redis.yaml"), "w") as f:
        f.write("rules: [rules.yaml]\nstate_dir: state\nredis: {url: 'redis://127.0.0.1:1'}\n"
                "sources:\n  - {platform: reddit, name: reddit-quiet, url: '%s/r/empty/new.json'}\n"
                % base)
    err3 = os.path.join(T, "run3.err")
    run3 = subprocess.Popen([BIN, "run", "--config", os.path.join(T, "redis.yaml")],
                            stdout=subprocess.DEVNULL, stderr=open(err3, "w"), env=env)
    procs.append(run3)
    wait_until(lambda: "store redis://" in read(err3), 10)
    run3.send_signal(signal.SIGTERM)
    wait_until(lambda: "stopping" in read(err3), 10)
    waiting = run3.poll() is None
    run3.send_signal(signal.SIGTERM)
    try:
        rc3 = run3.wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc3 = None
    check("with Redis away a second signal stops without waiting (exit 1)",
          waiting and rc3 == 1 and "without waiting for the store" in read(err3), read(err3))
finally:
    cleanup()
    if failed == 0 and not os.environ.get("KEEP"):
        shutil.rmtree(T, ignore_errors=True)
    else:
        print("live: files kept in " + T)
sys.exit(1 if failed else 0)

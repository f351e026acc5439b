#!/usr/bin/python3
"""fake_platforms.py: local stand-ins for the platforms `blikveld run` reads, speaking their
real wire formats, with payloads built from the recorded samples in tests/fixtures/platforms
(each post is a fixture object with its id, time, text and author replaced).

  Mastodon  GET /api/v1/streaming/public          SSE: `update` and `delete` events, :thump
  X         GET /2/tweets/search/stream           NDJSON over chunked HTTP, blank keep-alives
  Telegram  GET /bot<TOKEN>/getUpdates            long polling with offsets
  Reddit    GET /r/<sub>/new.json                 listing with before= paging, rate headers
  Facebook  (we POST)                             signed webhook deliveries to blikveld

Usage: fake_platforms.py PLAN.json STATE_DIR
PLAN holds the tokens the server expects and the posts to hand out per platform:
  {"tokens": {"mastodon": T, "x": T, "telegram": T, "facebook_secret": S},
   "posts": {"mastodon": [{"id":..,"author":..,"text":..}, ...], "x": [...], ...},
   "mastodon_repeat": ID, "mastodon_delete": ID, "facebook_port_file": PATH}
Every request is checked (path, query, Authorization, offset, before); a wrong one is answered
with an error and written to STATE_DIR/errors, which the test reads. STATE_DIR/delivered.PLATFORM
counts the posts handed out, STATE_DIR/delivered.requests.PLATFORM the polls; STATE_DIR/port holds the port this server listens on.
"""
import datetime
import hashlib
import hmac
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
import urllib.request

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "platforms")
PLAN = json.load(open(sys.argv[1]))
STATE = sys.argv[2]
LOCK = threading.Lock()
STOP = threading.Event()


def fixture(path):
    with open(os.path.join(FIX, path)) as f:
        return f.read()


MASTODON = json.loads(fixture("mastodon/status.json"))
X_MSG = json.loads([l for l in fixture("x-v2/stream.ndjson").splitlines() if l.strip()][0])
TG = json.loads(fixture("telegram/getUpdates.json"))
REDDIT = json.loads(fixture("reddit/new.json"))
FB = json.loads(fixture("facebook/webhook_feed.json"))
X_RULES = [{"id": "1273026480692322304", "value": "cat has:images", "tag": "stale"}]


def error(msg):
    with LOCK:
        with open(os.path.join(STATE, "errors"), "a") as f:
            f.write(msg + "\n")


def delivered(platform, n=1):
    with LOCK:
        p = os.path.join(STATE, "delivered." + platform)
        old = int(open(p).read()) if os.path.exists(p) else 0
        with open(p + ".tmp", "w") as f:
            f.write(str(old + n))
        os.replace(p + ".tmp", p)


def iso_now():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def mastodon_status(p):
    s = json.loads(json.dumps(MASTODON))
    s["id"] = p["id"]
    s["created_at"] = iso_now()
    s["content"] = "<p>%s</p>" % p["text"]
    s["language"] = "nl"
    s["account"]["id"] = p["author"] + "-id"
    s["account"]["username"] = p["author"]
    s["account"]["acct"] = p["author"] + "@social.example"
    s["account"]["display_name"] = p["author"].title()
    s["account"]["url"] = "https://social.example/@" + p["author"]
    s["url"] = "https://social.example/@%s/%s" % (p["author"], p["id"])
    s["uri"] = "https://social.example/users/%s/statuses/%s" % (p["author"], p["id"])
    s["mentions"] = []
    return s


def x_message(p):
    m = json.loads(json.dumps(X_MSG))
    m["data"].update({"id": p["id"], "text": p["text"], "author_id": p["author"] + "0",
                      "created_at": iso_now(), "lang": "nl", "edit_history_tweet_ids": [p["id"]]})
    m["includes"]["users"] = [{"id": p["author"] + "0", "username": p["author"]}]
    return m


def telegram_update(p, update_id):
    # the fixture's channel post, as a group message (a group's members are its authors)
    u = json.loads(json.dumps(TG["result"][0]))
    post = u.pop("channel_post")
    u["update_id"] = update_id
    u["message"] = post
    post["message_id"] = int(p["id"])
    post["date"] = int(time.time())
    post["text"] = p["text"]
    post.pop("author_signature", None)
    post.pop("entities", None)
    post["chat"]["type"] = "supergroup"
    post["from"] = {"id": int(p["author_num"]), "is_bot": False,
                    "first_name": p["author"].title(), "username": p["author"]}
    return u


def reddit_child(p):
    c = json.loads(json.dumps(REDDIT["data"]["children"][0]))
    d = c["data"]
    d.update({"id": p["id"], "name": "t3_" + p["id"], "title": p["text"], "selftext": "",
              "author": p["author"], "author_fullname": "t2_" + p["author"],
              "created_utc": float(int(time.time())), "subreddit": "thehague",
              "permalink": "/r/thehague/comments/%s/x/" % p["id"]})
    return c


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def deny(self, code, what):
        error("%s %s: %s" % (self.command, self.path, what))
        body = json.dumps({"error": what}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def bearer(self, token):
        return self.headers.get("Authorization") == "Bearer " + token

    # X stream rules: the server holds one stale rule; blikveld must delete it and add the
    # configured ones. STATE_DIR/x_rules.json holds the rules in the end.
    def x_rules_reply(self, obj):
        with open(os.path.join(STATE, "x_rules.json.tmp"), "w") as f:
            json.dump(X_RULES, f)
        os.replace(os.path.join(STATE, "x_rules.json.tmp"), os.path.join(STATE, "x_rules.json"))
        self.json_reply(obj)

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path != "/2/tweets/search/stream/rules":
            return self.deny(404, "no such endpoint")
        if not self.bearer(PLAN["tokens"]["x"]):
            return self.deny(401, "x rules: bad or missing bearer token")
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return self.deny(400, "x rules: Content-Type must be application/json")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "delete" in body:
            ids = body["delete"]["ids"]
            if any(i not in [r["id"] for r in X_RULES] for i in ids):
                return self.deny(400, "x rules: delete of an unknown id")
            X_RULES[:] = [r for r in X_RULES if r["id"] not in ids]
            return self.x_rules_reply({"meta": {"sent": iso_now(), "summary": {
                "deleted": len(ids), "not_deleted": 0}}})
        if "add" in body:
            added = []
            for r in body["add"]:
                added.append({"id": str(1900000000000000000 + len(X_RULES)), "value": r["value"],
                              "tag": r.get("tag", "")})
                X_RULES.append(added[-1])
            return self.x_rules_reply({"data": added, "meta": {"sent": iso_now(), "summary": {
                "created": len(added), "not_created": 0, "valid": len(added), "invalid": 0}}})
        return self.deny(400, "x rules: neither add nor delete")

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        try:
            if u.path == "/2/tweets/search/stream/rules":
                if not self.bearer(PLAN["tokens"]["x"]):
                    return self.deny(401, "x rules: bad or missing bearer token")
                return self.x_rules_reply({"data": X_RULES, "meta": {
                    "sent": iso_now(), "result_count": len(X_RULES)}} if X_RULES else
                    {"meta": {"sent": iso_now(), "result_count": 0}})
            if u.path == "/api/v1/streaming/public":
                return self.mastodon()
            if u.path == "/2/tweets/search/stream":
                return self.x(q)
            if u.path.startswith("/bot") and u.path.endswith("/getUpdates"):
                delivered("requests.telegram")
                return self.telegram(u.path, q)
            if u.path == "/r/thehague/new.json":
                return self.reddit(q)
            if u.path == "/r/empty/new.json":
                return self.json_reply({"kind": "Listing", "data": {"children": [], "after": None,
                                                                    "before": None}})
        except (BrokenPipeError, ConnectionResetError):
            return
        self.deny(404, "no such endpoint")

    # Mastodon: SSE; the planned statuses (one of them twice, as after a reconnect), a delete,
    # then :thump heartbeats until the client goes away.
    def mastodon(self):
        if not self.bearer(PLAN["tokens"]["mastodon"]):
            return self.deny(401, "mastodon: bad or missing bearer token")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(b":)\n")
        for p in PLAN["posts"].get("mastodon", []):
            s = json.dumps(mastodon_status(p))
            self.wfile.write(("event: update\ndata: %s\n\n" % s).encode())
            if p["id"] == PLAN.get("mastodon_repeat"):
                self.wfile.write(("event: status.update\ndata: %s\n\n" % s).encode())
            self.wfile.flush()
            delivered("mastodon")
        if PLAN.get("mastodon_delete"):
            self.wfile.write(("event: delete\ndata: %s\n\n" % PLAN["mastodon_delete"]).encode())
        self.wfile.flush()
        while not STOP.wait(0.2):
            self.wfile.write(b":thump\n")
            self.wfile.flush()

    # X: NDJSON in chunks, one message split over two chunks, blank-line keep-alives.
    def x(self, q):
        if not self.bearer(PLAN["tokens"]["x"]):
            return self.deny(401, "x: bad or missing bearer token")
        if "tweet.fields" not in q or "created_at" not in q["tweet.fields"][0]:
            return self.deny(400, "x: tweet.fields=created_at,... missing")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(b):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
            self.wfile.flush()
        for p in PLAN["posts"].get("x", []):
            line = (json.dumps(x_message(p)) + "\r\n").encode()
            chunk(line[:17])
            chunk(line[17:])
            delivered("x")
        while not STOP.wait(0.2):
            chunk(b"\r\n")

    # Telegram: all planned updates for offset 0, then empty long polls; the offset must be
    # one more than the last update id handed out.
    def telegram(self, path, q):
        if path != "/bot%s/getUpdates" % PLAN["tokens"]["telegram"]:
            return self.deny(401, "telegram: bad token in the path")
        offset = int(q.get("offset", ["0"])[0])
        timeout = int(q.get("timeout", ["0"])[0])
        posts = PLAN["posts"].get("telegram", [])
        first = 700000
        if offset in (0, first):
            result = [telegram_update(p, first + i) for i, p in enumerate(posts)]
            delivered("telegram", len(result))
        elif offset == first + len(posts):
            STOP.wait(min(timeout, 0.3))
            result = []
        else:
            return self.deny(400, "telegram: unexpected offset %d" % offset)
        self.json_reply({"ok": True, "result": result})

    # Reddit: the listing once; then before=<newest fullname> must come back, answered empty.
    def reddit(self, q):
        posts = PLAN["posts"].get("reddit", [])
        newest = "t3_" + posts[-1]["id"] if posts else None
        delivered("requests.reddit")
        if "before" not in q:
            children = [reddit_child(p) for p in reversed(posts)]
            delivered("reddit", len(children))
        elif q["before"][0] == newest:
            children = []
        else:
            return self.deny(400, "reddit: before=%s, expected %s" % (q["before"][0], newest))
        body = {"kind": "Listing", "data": {"after": None, "before": None, "modhash": "",
                                            "children": children}}
        self.json_reply(body, {"x-ratelimit-remaining": "99.0", "x-ratelimit-used": "1",
                               "x-ratelimit-reset": "300"})

    def json_reply(self, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def facebook_deliveries():
    """POSTs the planned Page feed changes to blikveld's receiver, signed as Meta signs them."""
    posts = PLAN["posts"].get("facebook", [])
    if not posts:
        return
    port_file = PLAN["facebook_port_file"]
    while not STOP.is_set() and not os.path.exists(port_file):
        STOP.wait(0.05)
    if STOP.is_set():
        return
    port = int(open(port_file).read())
    url = "http://127.0.0.1:%d/" % port
    secret = PLAN["tokens"]["facebook_secret"].encode()
    for p in posts:
        body = json.loads(json.dumps(FB))
        ch = body["entry"][0]["changes"][0]["value"]
        ch["from"] = {"id": p["author"] + "-fb", "name": p["author"].title()}
        ch["post_id"] = "44444444_" + p["id"]
        ch["message"] = p["text"]
        ch["created_time"] = int(time.time())
        body["entry"][0]["time"] = int(time.time())
        raw = json.dumps(body).encode()
        sig = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        req = urllib.request.Request(url, data=raw, method="POST", headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sig})
        for _ in range(100):
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status != 200:
                        error("facebook: blikveld answered %d" % r.status)
                break
            except OSError:
                if STOP.wait(0.05):
                    return
        delivered("facebook")
    # one unsigned delivery: blikveld must refuse it (403) and count it
    req = urllib.request.Request(url, data=b'{"object":"page","entry":[]}', method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5)
        error("facebook: an unsigned body was accepted")
    except urllib.error.HTTPError as e:
        if e.code != 403:
            error("facebook: an unsigned body got %d, not 403" % e.code)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    with open(os.path.join(STATE, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
    threading.Thread(target=facebook_deliveries, daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        STOP.set()


if __name__ == "__main__":
    main()

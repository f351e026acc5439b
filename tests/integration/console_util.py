#!/usr/bin/python3
"""console_util.py: the helpers tests/integration/console.sh drives the console with (test code
only, standard library only). Each subcommand does one thing and says what it saw on stdout.

  free-port                       a TCP port of 127.0.0.1 that was free a moment ago
  fb PORT SECRET FIRST N TEXT     POSTs N Facebook Page feed changes (post ids FIRST..FIRST+N-1,
                                  one author per post) to blikveld's webhook receiver, signed with
                                  X-Hub-Signature-256 as Meta signs them; exit 1 unless all got 200
  receiver DIR                    a webhook receiver: writes its port to DIR/port, appends each
                                  body it gets to DIR/bodies.jsonl, answers 200; runs until killed
  prom FILE OUT.json              parses FILE as Prometheus text exposition (format 0.0.4),
                                  strictly; writes the samples it could read to OUT.json
                                  ([{"name","labels","value"}]); prints "ok: ..." (exit 0) or the
                                  problems (exit 1)
  sse FILE                        an SSE stream as JSON lines: {"event","data"} per message (data
                                  parsed as JSON when it is), {"comment"} per comment line
  raw HOST PORT KIND              one abusive request on a raw socket (KIND: nonsense, bigheader,
                                  bigbody, http09, half, badchunk, negative); prints the status
                                  line it got, or "closed"
  feeds PORT TOKEN N              opens N /events connections at once; while they are open, times
                                  GET /api/me and /healthz on another connection; prints
                                  {"ok":N200,"busy":N503,"other":[...],"me_ms":..,"me_status":..}
                                  then closes them all
  listening PORT                  the local addresses listening on TCP PORT (/proc/net/tcp, tcp6)
"""
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import socketserver
import sys
import threading
import time
import urllib.request


def cmd_free_port(args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_fb(args):
    port, secret, first, n, text = int(args[0]), args[1].encode(), int(args[2]), int(args[3]), args[4]
    url = "http://127.0.0.1:%d/" % port
    for i in range(first, first + n):
        now = int(time.time())
        body = {"object": "page", "entry": [{"id": "44444444", "time": now, "changes": [{
            "field": "feed", "value": {
                "from": {"id": "fb-author-%d" % i, "name": "Author %d" % i}, "item": "post",
                "post_id": "44444444_%d" % (900000 + i), "verb": "add", "created_time": now,
                "is_hidden": False, "message": text}}]}]}
        raw = json.dumps(body).encode()
        sig = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        req = urllib.request.Request(url, data=raw, method="POST", headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sig})
        with urllib.request.urlopen(req, timeout=5) as r:
            if r.status != 200:
                print("post %d: HTTP %d" % (i, r.status))
                sys.exit(1)


def cmd_receiver(args):
    d = args[0]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            with lock:
                with open(os.path.join(d, "bodies.jsonl"), "ab") as f:
                    f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    srv.serve_forever(poll_interval=0.1)


# ---- Prometheus text format 0.0.4, strictly ----

METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def family_of(name, types):
    """The family a sample name belongs to (histogram and summary samples have suffixes)."""
    for suf in ("_bucket", "_count", "_sum"):
        if name.endswith(suf) and types.get(name[:-len(suf)]) in ("histogram", "summary"):
            return name[:-len(suf)]
    return name


def unescape(s, allowed, where, errs):
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in allowed:
                errs.append("%s: a bad escape in %r" % (where, s))
                return s
            out.append({"\\": "\\", "n": "\n", '"': '"'}[s[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_value(s):
    if s in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not NUMBER.fullmatch(s):
        raise ValueError(s)
    return float(s)


def parse_labels(s, i, where, errs):
    """Labels from s[i] == '{'; returns (dict, index after '}') or (None, i) on error."""
    labels = {}
    i += 1
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            errs.append("%s: a bad label name at column %d" % (where, i + 1))
            return None, i
        name = m.group(0)
        if name.startswith("__"):
            errs.append("%s: label name %s is reserved" % (where, name))
        if name in labels:
            errs.append("%s: label %s given twice" % (where, name))
        i = m.end()
        if s[i:i + 2] != '="':
            errs.append("%s: expected =\" after label %s" % (where, name))
            return None, i
        i += 2
        j, raw = i, []
        while j < len(s) and s[j] != '"':
            if s[j] == "\\":
                raw.append(s[j:j + 2])
                j += 2
            else:
                raw.append(s[j])
                j += 1
        if j >= len(s):
            errs.append("%s: an unterminated label value" % where)
            return None, j
        labels[name] = unescape("".join(raw), '\\n"', where, errs)
        i = j + 1
        if i < len(s) and s[i] == ",":
            i += 1
        elif i < len(s) and s[i] != "}":
            errs.append("%s: expected , or } at column %d" % (where, i + 1))
            return None, i


def prom_parse(text):
    errs, samples = [], []
    helps, types, series = {}, {}, set()
    done, current = set(), None  # families whose group has ended; the one being read

    def enter(fam, where):
        nonlocal current
        if fam != current:
            if fam in done:
                errs.append("%s: family %s is not one group (its lines come after those of %s)"
                            % (where, fam, current))
            if current is not None:
                done.add(current)
            current = fam

    if text and not text.endswith("\n"):
        errs.append("the last line does not end with a newline")
    for no, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else
                              text.split("\n"), 1):
        where = "line %d" % no
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC.fullmatch(name):
                    errs.append("%s: bad metric name %r" % (where, name))
                    continue
                enter(name, where)
                if any(s["family"] == name for s in samples):
                    errs.append("%s: %s of %s after its samples" % (where, parts[1], name))
                if parts[1] == "HELP":
                    if name in helps:
                        errs.append("%s: a second HELP for %s" % (where, name))
                    helps[name] = unescape(parts[3] if len(parts) > 3 else "", "\\n", where, errs)
                else:
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        errs.append("%s: bad type %r for %s" % (where, t, name))
                    if name in types:
                        errs.append("%s: a second TYPE for %s" % (where, name))
                    types[name] = t
            continue  # other comments
        m = METRIC.match(line)
        if not m:
            errs.append("%s: bad metric name in %r" % (where, line))
            continue
        name, i, labels = m.group(0), m.end(), {}
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i, where, errs)
            if labels is None:
                continue
        if i >= len(line) or line[i] != " ":
            errs.append("%s: expected a space before the value in %r" % (where, line))
            continue
        rest = line[i + 1:].split(" ")
        if len(rest) not in (1, 2) or (len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1])):
            errs.append("%s: expected VALUE [TIMESTAMP] in %r" % (where, line))
            continue
        try:
            value = parse_value(rest[0])
        except ValueError:
            errs.append("%s: bad value %r" % (where, rest[0]))
            continue
        fam = family_of(name, types)
        enter(fam, where)
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            errs.append("%s: the series %s%s is given twice" % (where, name, labels))
        series.add(key)
        if types.get(fam) == "counter" and value < 0:
            errs.append("%s: counter %s is negative" % (where, name))
        samples.append({"name": name, "family": fam, "labels": labels, "value": value})
    return errs, samples, types


def json_value(v):
    """NaN as null and the infinities as strings: JSON has neither."""
    if v != v:
        return None
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return v


def cmd_prom(args):
    text = open(args[0], encoding="utf-8").read()
    errs, samples, types = prom_parse(text)
    with open(args[1], "w") as f:
        json.dump([{"name": s["name"], "labels": s["labels"], "value": json_value(s["value"])}
                   for s in samples], f)
    if errs:
        print("; ".join(errs[:6]) + (" (%d problems)" % len(errs) if len(errs) > 6 else ""))
        sys.exit(1)
    print("ok: %d families, %d samples" % (len(types), len(samples)))


def cmd_sse(args):
    data = open(args[0], "rb").read().decode("utf-8", "replace")
    for block in data.split("\n\n")[:-1]:  # only complete messages
        ev, lines = None, []
        for line in block.split("\n"):
            if line.startswith(":"):
                print(json.dumps({"comment": line[1:].strip()}))
            elif line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
        if ev is None and not lines:
            continue
        d = "\n".join(lines)
        try:
            d = json.loads(d)
        except ValueError:
            pass
        print(json.dumps({"event": ev or "message", "data": d}))


def read_status(s, timeout=5):
    """The first line the server answers on s, or "closed"."""
    s.settimeout(timeout)
    buf = b""
    try:
        while b"\n" not in buf:
            b = s.recv(4096)
            if not b:
                break
            buf += b
    except OSError as e:
        if not buf:
            return "closed (%s)" % e.__class__.__name__
    line = buf.split(b"\n", 1)[0].strip().decode("latin-1")
    return line or "closed"


def cmd_raw(args):
    host, port, kind = args[0], int(args[1]), args[2]
    s = socket.create_connection((host, port), timeout=5)
    try:
        if kind == "nonsense":
            s.sendall(b"\x16\x03\x01\x00\xff\x00garbage \x00\x01\x02 BLAH BLAH\r\n\r\n" +
                      bytes(range(256)) + b"\r\n\r\n")
        elif kind == "bigheader":
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 102400 +
                      b"\r\n\r\n")
        elif kind == "bigbody":
            s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      b"application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n")
            try:
                s.sendall(b"token=" + b"x" * (1048576 - 6))
            except OSError:
                pass  # the server may stop reading and close: that is fine
        elif kind == "http09":
            s.sendall(b"GET /\r\n")
        elif kind == "half":
            s.sendall(b"GET /api/me HTTP/1.1\r\nHost: 127")
            s.close()
            print("closed by us")
            return
        elif kind == "badchunk":
            s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\nzzzz\r\nhello\r\n-5\r\n\r\n")
        elif kind == "negative":
            s.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n")
        else:
            print("unknown kind " + kind)
            sys.exit(2)
        print(read_status(s))
    finally:
        s.close()


def http_get(port, path, token, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
               "Connection: close\r\n\r\n" % (path, port, token)).encode())
    st = read_status(s, timeout)
    s.close()
    return st


def cmd_feeds(args):
    port, token, n = int(args[0]), args[1], int(args[2])
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        socks.append(s)
    for s in socks:
        s.sendall(("GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                   "Accept: text/event-stream\r\n\r\n" % (port, token)).encode())
    res = {"ok": 0, "busy": 0, "other": []}
    for s in socks:
        st = read_status(s)
        if st.startswith("HTTP/1.1 200"):
            res["ok"] += 1
        elif st.startswith("HTTP/1.1 503"):
            res["busy"] += 1
        else:
            res["other"].append(st)
    t0 = time.monotonic()
    res["me_status"] = http_get(port, "/api/me", token)
    res["healthz_status"] = http_get(port, "/healthz", token)
    res["me_ms"] = round((time.monotonic() - t0) * 1000)
    for s in socks:
        s.close()
    print(json.dumps(res))


def cmd_listening(args):
    port = int(args[0])
    out = []
    for f, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state = parts[1], parts[3]
            addr, p = local.split(":")
            if int(p, 16) != port or state != "0A":  # 0A: LISTEN
                continue
            raw = bytes.fromhex(addr)
            if v6:
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                out.append(socket.inet_ntop(socket.AF_INET6, raw))
            else:
                out.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
    print(" ".join(sorted(out)))


def main():
    cmds = {"free-port": cmd_free_port, "fb": cmd_fb, "receiver": cmd_receiver,
            "prom": cmd_prom, "sse": cmd_sse, "raw": cmd_raw, "feeds": cmd_feeds,
            "listening": cmd_listening}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

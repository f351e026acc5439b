#!/usr/bin/python3
"""jetstream_server.py: a fake Bluesky Jetstream (v1 /subscribe) for tests/unit/test_jetstream.c,
on Debian's python3-websockets (10.4, the legacy asyncio API).

    jetstream_server.py EVENTS.ndjson PLAN.json MAX_SIZE REWIND_US

It serves on 127.0.0.1, a free port, printed first on stdout. It speaks Jetstream's wire format:
one event per text message, the lines of EVENTS.ndjson as they are, sent in increasing time_us
as the real server does; commits filtered by wantedCollections (identity and account events
always pass); cursor = replay from that time_us on.

PLAN is a JSON list, one entry per connection (the last one repeats):
    {"status": 503}          refuse the upgrade with this HTTP status
    {"cursor": null}         expect no cursor; "resume": expect the time_us of the last event
                             sent before, minus REWIND_US; a number: exactly that
    {"send": N}              send N events (-1: all) from the cursor on
    {"unfiltered": true}     ignore wantedCollections (send every collection)
    {"pre": [...], "post": [...]}  extra messages before / after the events: "malformed",
                             "array", "shape", "binary", "deep", "oversize" (MAX_SIZE + 100 bytes)
    {"end": "drop"}          then: "drop" TCP without a close frame, "close" with 1000, or
                             "stall" (send nothing, wait for the client to go)
Every request is checked: path /subscribe, wantedCollections=app.bsky.feed.post,
maxMessageSizeBytes=MAX_SIZE, the cursor as planned, no other parameter. A wrong request gets
HTTP 400 and a line "conn I WRONG ..." on stdout; a right one "conn I ok t=MS cursor=C". Once
the messages of a connection are out: "sent I n=N resent=R" (N: messages, extras included; R:
events at or before the last one sent on an earlier connection); when it ends: "end I code=CODE
sent=N resent=R" (CODE: the client's close code). Test code only.
"""
import asyncio
import http
import json
import os
import stat
import sys
import time
from urllib.parse import parse_qs, urlsplit

import websockets

EVENTS = []  # (time_us, text, kind, collection), sorted by time_us
PLAN = []
MAX_SIZE = 0
REWIND_US = 0
STATE = {"conns": 0, "last_sent": None}


def extra(name):
    if name == "malformed":
        return "{not json"
    if name == "array":
        return "[1,2,3]"
    if name == "shape":
        return '{"hello":"world"}'
    if name == "binary":
        return b"\x28\xb5\x2f\xfd\x00\x58\x00\x00"
    if name == "deep":
        return "[" * 1000 + "]" * 1000
    if name == "oversize":
        pad = "x" * (MAX_SIZE + 100)
        return '{"did":"did:plc:big","time_us":1,"kind":"commit","pad":"' + pad + '"}'
    raise ValueError(name)


def check(n, spec, path):
    """What is wrong with the request of connection n, or None."""
    u = urlsplit(path)
    q = parse_qs(u.query, keep_blank_values=True)
    if u.path != "/subscribe":
        return f"path {u.path}"
    if q.pop("wantedCollections", None) != ["app.bsky.feed.post"]:
        return "wantedCollections"
    if q.pop("maxMessageSizeBytes", None) != [str(MAX_SIZE)]:
        return "maxMessageSizeBytes"
    cursor = q.pop("cursor", None)
    want = spec.get("cursor")
    if want == "resume":
        last = STATE["last_sent"]
        want = None if last is None else last - REWIND_US
    if want is None and cursor is not None:
        return f"cursor {cursor}, expected none"
    if want is not None and cursor != [str(want)]:
        return f"cursor {cursor}, expected {want}"
    if q:
        return f"unknown parameters {sorted(q)}"
    return None


class Protocol(websockets.WebSocketServerProtocol):
    async def process_request(self, path, headers):
        n = STATE["conns"]
        STATE["conns"] += 1
        spec = PLAN[min(n, len(PLAN) - 1)]
        self.bv_n, self.bv_spec = n, spec
        t = int(time.monotonic() * 1000)
        wrong = check(n, spec, path)
        if wrong:
            print(f"conn {n} WRONG {wrong}", flush=True)
            return http.HTTPStatus.BAD_REQUEST, [], f"invalid request: {wrong}\n".encode()
        if spec.get("status"):
            print(f"conn {n} ok t={t} refused {spec['status']}", flush=True)
            return http.HTTPStatus(spec["status"]), [], b"refused by the plan\n"
        q = parse_qs(urlsplit(path).query)
        self.bv_cursor = int(q["cursor"][0]) if "cursor" in q else None
        print(f"conn {n} ok t={t} cursor={self.bv_cursor}", flush=True)
        return None


async def handler(ws):
    n, spec, cursor = ws.bv_n, ws.bv_spec, ws.bv_cursor
    prev_last = STATE["last_sent"]
    sent = resent = 0
    try:
        for name in spec.get("pre", []):
            await ws.send(extra(name))
        todo = spec.get("send", -1)
        for t, text, kind, coll in EVENTS:
            if todo == 0:
                break
            if cursor is not None and t < cursor:
                continue
            if not spec.get("unfiltered") and kind == "commit" and coll != "app.bsky.feed.post":
                continue
            await ws.send(text)
            STATE["last_sent"] = t
            sent += 1
            if prev_last is not None and t <= prev_last:
                resent += 1
            todo -= 1
        for name in spec.get("post", []):
            await ws.send(extra(name))
        extras = len(spec.get("pre", [])) + len(spec.get("post", []))
        print(f"sent {n} n={sent + extras} resent={resent}", flush=True)
        end = spec.get("end", "stall")
        if end == "drop":
            ws.transport.close()  # FIN after the buffered bytes, no close frame
        elif end == "close":
            await ws.close(1000, "bye")
        else:
            await ws.wait_closed()
    except websockets.ConnectionClosed:
        pass
    print(f"end {n} code={ws.close_code} sent={sent} resent={resent}", flush=True)


def exit_with_parent():
    """When stdin is a pipe from the test, its end (the test exited, even by a crash) ends us."""
    if stat.S_ISFIFO(os.fstat(0).st_mode):
        def readable():
            if not os.read(0, 4096):
                os._exit(0)
        asyncio.get_running_loop().add_reader(0, readable)


async def serve():
    server = await websockets.serve(handler, "127.0.0.1", 0, create_protocol=Protocol,
                                    compression=None, ping_interval=None, max_size=None)
    print(server.sockets[0].getsockname()[1], flush=True)
    exit_with_parent()
    await asyncio.Future()


def main():
    global PLAN, MAX_SIZE, REWIND_US
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                ev = json.loads(line)
                coll = ev.get("commit", {}).get("collection")
                EVENTS.append((ev["time_us"], line, ev["kind"], coll))
    EVENTS.sort(key=lambda e: e[0])
    PLAN = json.loads(sys.argv[2])
    MAX_SIZE = int(sys.argv[3])
    REWIND_US = int(sys.argv[4])
    asyncio.run(serve())


if __name__ == "__main__":
    main()

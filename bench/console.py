#!/usr/bin/python3
"""bench/console.py: (i) what the console costs a replay. The same replay of the corpus with
the 200-rule set, three ways, best of 3 each, on core 0:
  plain     replay --speed max
  report    replay --report FILE: quiet rules probed once a minute of event time, every
            rule's history kept, the debrief page written
  console   replay --console: the same, and the HTTP server with a page client's feed
            (/events) connected all along; timed until it says it serves the drill
Prints posts per second and the ratio to plain, and the report's size. Never fails for being
slow: benchmarks are not tests."""
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(binary, corpus, rules, extra, feed):
    with tempfile.TemporaryDirectory() as d:
        args = ["taskset", "-c", "0", binary, "replay", "--rules", rules, "--speed", "max",
                "-q", "--state-dir", d] + extra(d) + [corpus]
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if feed is None:
            p.wait()
            return time.monotonic() - t0, d
        # the console: connect a feed client as soon as it listens, read until it serves
        sock = None
        for line in p.stderr:
            if sock is None and "console at" in line:
                sock = socket.create_connection(("127.0.0.1", feed))
                sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                sock.setblocking(False)
            if sock is not None:
                try:
                    while sock.recv(65536):
                        pass
                except BlockingIOError:
                    pass
            if "serves the drill" in line:
                break
        dt = time.monotonic() - t0
        p.terminate()
        p.wait()
        if sock is not None:
            sock.close()
        return dt, d


def main():
    binary, corpus, rules = sys.argv[1:4]
    posts = sum(1 for _ in open(corpus, "rb"))
    out = {}
    size = 0
    for name in ("plain", "report", "console"):
        best = None
        for _ in range(3):
            port = free_port()
            if name == "plain":
                dt, _ = run(binary, corpus, rules, lambda d: [], None)
            elif name == "report":
                rep = os.path.join(tempfile.gettempdir(), "bv-bench-debrief.html")
                dt, _ = run(binary, corpus, rules, lambda d: ["--report", rep], None)
                size = os.path.getsize(rep)
                os.unlink(rep)
            else:
                dt, _ = run(binary, corpus, rules,
                            lambda d: ["--console", "--listen", "127.0.0.1:%d" % port], port)
            best = dt if best is None or dt < best else best
        out[name] = best
    print("(i) the console's cost on a replay (%d lines, 200 rules, best of 3, core 0)" % posts)
    print("  %-8s %10s %12s %8s" % ("replay", "seconds", "lines/s", "ratio"))
    for name in ("plain", "report", "console"):
        print("  %-8s %10.2f %12.0f %7.2fx" % (name, out[name], posts / out[name],
                                              out["plain"] / out[name]))
    print("  debrief page: %.0f KB" % (size / 1024.0))


if __name__ == "__main__":
    main()

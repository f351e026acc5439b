#!/usr/bin/python3
"""redis_drive.py: the test driver for tests/integration/redis.sh. Our own code, standard library
only (a few lines of RESP instead of a client package).

  redis_drive.py sort IN OUT
      orders a recording of blikveld envelopes by the posts' creation time (stable)
  redis_drive.py wait PORT NS_REF NS UNTIL_MS
      waits until every bucket key under NS that ends at or before UNTIL_MS holds the count the
      same key holds under NS_REF (the reference run): the process has flushed them
  redis_drive.py split PORT NS_REF NS OUT_PREFIX RECORDING -- BLIKVELD ARGS...
      runs two `BLIKVELD ARGS... -` processes and feeds each half of the posts (alternating),
      one minute of event time at a time; after each minute, waits until both have flushed it
      (the counts equal the reference run's), so the two go through event time together, as
      live processes do. Alerts go to OUT_PREFIX.1/.2, summaries to OUT_PREFIX.1.err/.2.err.
  redis_drive.py counts PORT NS
      prints "bucket-key-suffix count pfcount" for every bucket under NS, sorted
"""
import json
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

DEADLINE_S = 60  # per wait: generous, only a broken run takes this long


class Resp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def scan(self, pattern):
        cur, keys = b"0", []
        while True:
            cur, batch = self.cmd("SCAN", cur, "MATCH", pattern, "COUNT", 1000)
            keys += [k.decode() for k in batch]
            if cur == b"0":
                return keys


def ms(iso):
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
               .replace(tzinfo=timezone.utc).timestamp() * 1000)


def created_ms(line):
    e = json.loads(line)
    p = e.get("payload", {})
    if e.get("platform") == "bluesky":  # the record's createdAt, as the codec takes it
        rec = p.get("commit", {}).get("record", {})
        return ms(rec["createdAt"]) if "createdAt" in rec else p.get("time_us", 0) // 1000
    if e.get("platform") == "x":
        return ms(p["data"]["created_at"])
    return ms(p["created_at"])


def ref_buckets(r, ns_ref):
    """{(tag-suffix, bucket_ms, start): count} of the reference run"""
    out = {}
    prefix = "bv:{%s/" % ns_ref
    for k in r.scan(prefix.replace("{", "\\{") + "*:n"):
        rule_and_rest = k[len(prefix):]
        rule, rest = rule_and_rest.split("}:", 1)
        bucket_ms, start, _ = rest.split(":")
        out[(rule, int(bucket_ms), int(start))] = int(r.cmd("GET", k))
    return out


def wait_flushed(r, ns, ref, until_ms):
    keys = [(k, v) for k, v in ref.items() if k[2] + k[1] <= until_ms]
    todo = {k: v for k, v in keys}
    t_end = time.monotonic() + DEADLINE_S
    while todo:
        names = ["bv:{%s/%s}:%d:%d:n" % (ns, k[0], k[1], k[2]) for k in todo]
        got = r.cmd("MGET", *names)
        for k, g in zip(list(todo), got):
            if g is not None and int(g) >= todo[k]:
                del todo[k]
        if todo:
            if time.monotonic() > t_end:
                raise SystemExit("redis_drive: %d buckets never reached the reference counts, "
                                 "e.g. %r" % (len(todo), next(iter(todo))))
            time.sleep(0.002)  # polling a real server; bounded by the deadline above
    for k, _ in keys:
        ref.pop(k, None)  # done with these


def main(argv):
    if argv[1] == "sort":
        lines = [l for l in open(argv[2]) if l.strip()]
        lines.sort(key=created_ms)
        open(argv[3], "w").writelines(lines)
    elif argv[1] == "wait":
        r = Resp(argv[2])
        wait_flushed(r, argv[4], ref_buckets(r, argv[3]), int(argv[5]))
    elif argv[1] == "counts":
        r = Resp(argv[2])
        prefix = "bv:{%s/" % argv[3]
        rows = []
        for k in r.scan(prefix.replace("{", "\\{") + "*:n"):
            hk = k[:-2] + ":a"
            pf = r.cmd("PFCOUNT", hk)
            rows.append("%s %s %s" % (k[len(prefix):], int(r.cmd("GET", k)), pf))
        print("\n".join(sorted(rows)))
    elif argv[1] == "split":
        port, ns_ref, ns, out, rec = argv[2:7]
        cmd = argv[argv.index("--") + 1:] + ["-"]
        r = Resp(port)
        ref = ref_buckets(r, ns_ref)
        procs = []
        for i in (1, 2):
            procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                          stdout=open("%s.%d" % (out, i), "w"),
                                          stderr=open("%s.%d.err" % (out, i), "w")))
        lines = [l for l in open(rec) if l.strip()]
        minute, n = None, 0
        for line in lines:
            m = created_ms(line) // 60000 * 60000
            if minute is not None and m != minute:
                for p in procs:
                    p.stdin.flush()
                wait_flushed(r, ns, ref, minute + 60000)
            minute = m
            procs[n % 2].stdin.write(line.encode())
            n += 1
        rc = 0
        for p in procs:
            p.stdin.close()
        for p in procs:
            rc |= p.wait(timeout=120)
        sys.exit(rc)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

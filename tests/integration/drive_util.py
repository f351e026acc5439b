"""drive_util.py: what the delivery test drivers share (test code only): polling a condition
with a deadline, reading files that may not exist yet, JSON lines, free ports, YAML strings,
stopping a child's whole process group, finding an author's id in text, and an HTTP receiver."""
import http.server
import json
import os
import re
import socketserver
import threading
import signal
import socket
import subprocess
import time


def wait_until(pred, timeout):
    """Polls pred until it holds or the deadline passes (waiting for real processes)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.03)
    return pred()


def read(path, mode="r"):
    """The file's text (bytes with mode "rb"); empty when it cannot be read."""
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return "" if mode == "r" else b""


def jsonl(text):
    """The JSON objects of text, one per line; lines that do not parse are left out."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def mentions(text, needle):
    """Whether needle occurs in text; a numeric id only as a whole word, not inside a longer
    number or hex digest (a millisecond timestamp ends in 880000 one time in a thousand). A
    handle anywhere."""
    if needle.isdigit():
        return re.search(r"(?<![0-9A-Za-z])%s(?![0-9A-Za-z])" % needle, text) is not None
    return needle in text


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def yaml_str(s):
    return json.dumps(s)  # a JSON string is a YAML flow scalar


def kill(p, sig=signal.SIGKILL, timeout=10):
    """Sends sig to p's process group (p leads one) and waits; SIGKILL when a softer signal
    was not enough within timeout."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if sig != signal.SIGKILL:
            kill(p)


def serve_posts(take, release):
    """A threaded HTTP server on a free loopback port, started: each POST's body goes to
    take(path, headers, raw) -> (status, hold); with hold it waits for the release event (at
    most 60 s) before answering status. Returns (server, port)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, hold = take(self.path, self.headers.items(), raw)
            if hold:
                release.wait(60)
            body = b'{"ok":true}' if status == 200 else b'{"error":"busy"}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return srv, srv.server_address[1]

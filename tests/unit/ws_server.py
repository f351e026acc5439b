#!/usr/bin/python3
"""ws_server.py: a WebSocket server for tests/unit/test_ws.c, on Debian's python3-websockets
(10.4, the legacy asyncio API): an implementation independent of the client under test.

    ws_server.py [--tls CERT KEY]   serve on 127.0.0.1, a free port, printed first on stdout
    ws_server.py --make-certs DIR   make a test CA and certificates with the openssl command

What each connection gets depends on its request path:
    /echo            sends every message back
    /hello           sends "hello", then waits for the client
    /query...        sends the request path and query back, then waits
    /header          sends the X-Test request header back, then waits
    /fragments       a text message in three fragments (continuation frames) with a ping
                     between fragments; waits for each pong before the next fragment
    /big             a 70000-byte text message (a 64-bit length), then a 70000-byte binary one
    /oversize/N      a text message of N bytes
    /abrupt          sends "bye", then drops TCP without a close frame
    /close           sends "closing", then closes with code 4000, reason "bye"
    /silent          sends nothing
    /refuse/NNN      answers the upgrade with HTTP NNN (Retry-After: 7 with 429 and 503)
It prints "end PATH CODE" when a connection ends (CODE: the client's close code, 1006 for none).
Test code only.
"""
import asyncio
import http
import os
import ssl
import stat
import subprocess
import sys

import websockets
from websockets.frames import OP_CONT, OP_TEXT

PATTERN = bytes(range(ord("a"), ord("z") + 1))


def pattern(n):
    """n bytes of a b c ... z a b ..., the content the client checks."""
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certs(d):
    """ca.pem/ca.key: the test CA; server.pem/server.key: 127.0.0.1 and localhost, signed by
    it; wrong.pem/wrong.key: example.invalid only, signed by it; other-ca.pem: an unrelated CA."""
    def ca(name):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.pem", "-days", "2",
                "-subj", f"/CN=blikveld test {name}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(name, san):
        ext = f"{d}/{name}.ext"
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr",
                "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey",
                f"{d}/ca.key", "-set_serial", "2" if name == "server" else "3", "-days", "2",
                "-out", f"{d}/{name}.pem", "-extfile", ext)
        os.unlink(f"{d}/{name}.csr")
        os.unlink(ext)

    ca("ca")
    ca("other-ca")
    leaf("server", "IP:127.0.0.1,DNS:localhost")
    leaf("wrong", "DNS:example.invalid")


async def process_request(path, headers):
    if path.startswith("/refuse/"):
        code = int(path[len("/refuse/"):])
        extra = [("Retry-After", "7")] if code in (429, 503) else []
        return http.HTTPStatus(code), extra, f"refused: {code}\n".encode()
    return None


async def handler(ws):
    path = ws.path
    try:
        if path == "/echo":
            async for m in ws:
                await ws.send(m)
        elif path == "/hello":
            await ws.send("hello")
            await ws.wait_closed()
        elif path.startswith("/query"):
            await ws.send(path)
            await ws.wait_closed()
        elif path == "/header":
            await ws.send(ws.request_headers.get("X-Test", "(none)"))
            await ws.wait_closed()
        elif path == "/fragments":
            parts = [b"frag-1 ", b"frag-2 ", b"frag-3"]
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                await ws.write_frame(last, OP_TEXT if i == 0 else OP_CONT, part)
                if not last:
                    pong = await ws.ping(f"between-{i}".encode())
                    await asyncio.wait_for(pong, 5)
            print("pongs 2", flush=True)
            await ws.wait_closed()
        elif path == "/big":
            await ws.send(pattern(70000).decode())
            await ws.send(pattern(70000))
            await ws.wait_closed()
        elif path.startswith("/oversize/"):
            await ws.send(pattern(int(path[len("/oversize/"):])).decode())
            await ws.wait_closed()
        elif path == "/abrupt":
            await ws.send("bye")
            ws.transport.close()  # FIN after the buffered bytes; no close frame
        elif path == "/close":
            await ws.send("closing")
            await ws.close(4000, "bye")
        elif path == "/silent":
            await ws.wait_closed()
        else:
            await ws.close(1008, "unknown path")
    except websockets.ConnectionClosed:
        pass
    print(f"end {path} {ws.close_code}", flush=True)


def exit_with_parent():
    """When stdin is a pipe from the test, its end (the test exited, even by a crash) ends us."""
    if stat.S_ISFIFO(os.fstat(0).st_mode):
        def readable():
            if not os.read(0, 4096):
                os._exit(0)
        asyncio.get_running_loop().add_reader(0, readable)


async def serve(tls):
    ctx = None
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
    server = await websockets.serve(handler, "127.0.0.1", 0, ssl=ctx, compression=None,
                                    ping_interval=None, process_request=process_request,
                                    max_size=None)
    print(server.sockets[0].getsockname()[1], flush=True)
    exit_with_parent()
    await asyncio.Future()


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--make-certs":
        make_certs(args[1])
        return
    tls = args[1:3] if len(args) == 3 and args[0] == "--tls" else None
    if args and tls is None:
        sys.exit(__doc__)
    asyncio.run(serve(tls))


if __name__ == "__main__":
    main()

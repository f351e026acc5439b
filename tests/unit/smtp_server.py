#!/usr/bin/python3
"""smtp_server.py: a real SMTP server for tests/unit/test_sink_email.c, on Debian's
python3-aiosmtpd (1.4.3): an implementation independent of the client under test (libcurl).

    smtp_server.py --make-certs DIR   a throwaway CA (ca.pem) and a server certificate for
                                      127.0.0.1 and localhost (server.pem, server.key) signed by
                                      it, made with the openssl command; then exits
    smtp_server.py --out DIR [options]
        serve on 127.0.0.1, a free port (port 0), printed first on stdout
        --cert FILE --key FILE    offer STARTTLS with this certificate
        --require-starttls        refuse everything but EHLO, STARTTLS, NOOP, QUIT before TLS
        --auth USER:PASSWORD      offer AUTH (PLAIN, LOGIN) and require it for MAIL
        --auth-require-tls        offer AUTH only after STARTTLS
        --reject ADDRESS          answer RCPT TO for this address with 550 (may repeat)
        --fail-data N             answer the first N messages (after DATA) with 451

Each accepted message is written to DIR/msg-N.eml as received, then DIR/msg-N.json (N from 1,
written to a temporary name and renamed, so a reader never sees half a file): the envelope, whether the session was under TLS,
the login used, and the message as Python's email module (policy.default) reads it: multipart
or not, the content types of its parts, the decoded Subject, Message-ID, X-Blikveld-Key,
X-Blikveld-Drill, Auto-Submitted, Date, From, To, the plain and the HTML text, the Subject as it
was on the wire and the longest line. It prints "rcpt-rejected ADDRESS", "data-failed N" and
"accepted N" lines on stdout as things happen.

The server ends when stdin reaches its end (the test closed the pipe or died) or on SIGTERM.
Test code only.
"""
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certs(d):
    """EC keys (fast to make): the CA, then a leaf for 127.0.0.1 and localhost signed by it."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2",
            "-subj", "/CN=blikveld smtp test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(f"{d}/server.ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "authorityKeyIdentifier=keyid\n"
                "subjectKeyIdentifier=hash\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
            "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem",
            "-CAkey", f"{d}/ca.key", "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
            "-days", "2", "-extfile", f"{d}/server.ext", "-out", f"{d}/server.pem")
    for name in ("server.csr", "server.ext", "ca.key"):
        os.unlink(f"{d}/{name}")


def text_of(part):
    return part.get_content() if part is not None else None


def summary(session, envelope):
    raw = envelope.original_content or envelope.content
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    wire = email.message_from_bytes(raw, policy=email.policy.compat32)
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    parts = [p.get_content_type() for p in msg.walk()]
    auth = session.auth_data
    login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None

    def header(name):
        v = msg.get(name)
        return str(v) if v is not None else None

    return {
        "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos),
        "tls": session.ssl is not None,
        "auth_login": login,
        "is_multipart": msg.is_multipart(),
        "content_type": msg.get_content_type(),
        "parts": parts,
        "attachments": sum(1 for p in msg.walk() if p.is_attachment()),
        "plain_charset": plain.get_content_charset() if plain is not None else None,
        "html_charset": html.get_content_charset() if html is not None else None,
        "subject": header("Subject"),
        "raw_subject": wire.get("Subject"),
        "message_id": header("Message-ID"),
        "key": header("X-Blikveld-Key"),
        "drill": header("X-Blikveld-Drill"),
        "auto_submitted": header("Auto-Submitted"),
        "date": header("Date"),
        "from": header("From"),
        "to": header("To"),
        "mime_version": header("MIME-Version"),
        "defects": len(msg.defects),
        "max_line": max((len(line) for line in raw.split(b"\r\n")), default=0),
        "plain": text_of(plain),
        "html": text_of(html),
    }


class Handler:
    def __init__(self, out, reject, fail_data):
        self.out = out
        self.reject = {a.lower() for a in reject}
        self.fail_data = fail_data
        self.datas = 0
        self.accepted = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            print(f"rcpt-rejected {address}", flush=True)
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.datas += 1
        if self.datas <= self.fail_data:
            print(f"data-failed {self.datas}", flush=True)
            return "451 4.3.0 Try again later"
        self.accepted += 1
        n = self.accepted
        with open(os.path.join(self.out, f"msg-{n}.eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        path = os.path.join(self.out, f"msg-{n}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(summary(session, envelope), f, indent=1)
        os.rename(path + ".tmp", path)
        print(f"accepted {n}", flush=True)
        return f"250 2.0.0 Ok: queued as Q{n}"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return check


async def serve(opts):
    loop = asyncio.get_running_loop()
    handler = Handler(opts["out"], opts["reject"], opts["fail_data"])
    kw = {"hostname": "localhost", "timeout": 30}
    if opts["cert"]:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(opts["cert"], opts["key"])
        kw["tls_context"] = ctx
        kw["require_starttls"] = opts["require_starttls"]
    if opts["auth"]:
        user, _, password = opts["auth"].partition(":")
        kw["authenticator"] = authenticator(user, password)
        kw["auth_required"] = True
        kw["auth_require_tls"] = opts["auth_require_tls"]
    server = await loop.create_server(lambda: SMTP(handler, **kw), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)

    stop = loop.create_future()

    def end():
        if not stop.done():
            stop.set_result(None)

    loop.add_signal_handler(signal.SIGTERM, end)

    def on_stdin():
        if not os.read(0, 4096):
            loop.remove_reader(0)
            end()

    if not os.isatty(0):
        loop.add_reader(0, on_stdin)
    await stop
    server.close()


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--make-certs":
        make_certs(args[1])
        return
    opts = {"out": None, "cert": None, "key": None, "require_starttls": False, "auth": None,
            "auth_require_tls": False, "reject": [], "fail_data": 0}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--out", "--cert", "--key", "--auth", "--reject", "--fail-data"):
            if i + 1 >= len(args):
                sys.exit(f"{a} needs a value")
            v = args[i + 1]
            i += 2
            if a == "--reject":
                opts["reject"].append(v)
            elif a == "--fail-data":
                opts["fail_data"] = int(v)
            else:
                opts[a[2:]] = v
        elif a == "--require-starttls":
            opts["require_starttls"] = True
            i += 1
        elif a == "--auth-require-tls":
            opts["auth_require_tls"] = True
            i += 1
        else:
            sys.exit(f"unknown argument {a}")
    if opts["out"] is None or bool(opts["cert"]) != bool(opts["key"]):
        sys.exit(__doc__)
    warnings.simplefilter("ignore")  # aiosmtpd warns about AUTH without TLS: tested on purpose
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    asyncio.run(serve(opts))


if __name__ == "__main__":
    main()

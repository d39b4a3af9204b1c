#!/usr/bin/python3
"""spec/support/smtp_server.py -- loopback SMTP server for the e-mail specs.

Owned by the test harness; started and stopped by spec/support/smtp.lua (never by the library).
Needs Debian's python3-aiosmtpd (aiosmtpd 1.4), run with the Python that has it
(/usr/bin/python3 on Debian, not a pyenv or venv one).

Listens on 127.0.0.1 twice:
  * --port:     plain SMTP offering STARTTLS;
  * --tls-port: implicit TLS (SMTPS) from the first byte.
AUTH PLAIN and LOGIN check --user/--password (any credentials pass when no --user is given);
on the plain port AUTH is refused (538) before STARTTLS unless --auth-require-tls 0. With
--auth-required 1 (smtp.lua's default when a user is given) MAIL is refused (530) until AUTH.

A recipient whose local part is "reject" (or starts with "reject-") gets 550 at RCPT, "defer"
gets 451. "deferN-tag" gets 451 and "fullN-tag" 452 for its first N RCPTs (counted per address
for the life of the server: give each test its own tag), then it is accepted.
A message with a line over 998 octets (RFC 5322 2.1.1) gets 500 at the end of DATA.

Every accepted message is written to --spool as <seq>.json (written to a temp name, then
renamed, so a reader never sees half a file):
  {"seq": n, "mail_from": "...", "rcpt_tos": [...], "data": "<RFC 5322 text>", "size": bytes,
   "tls": bool, "auth_user": "..." or null, "helo": "...", "mail_options": [...],
   "rcpt_options": [...], "peer": "127.0.0.1", "time": unix_seconds}
"data" is the raw message decoded as UTF-8 (invalid bytes replaced), line ends as sent (CRLF).

Once both ports listen, it writes {"port": P, "tls_port": Q, "pid": pid} to --ready (atomically).
It exits on SIGTERM/SIGINT, and by itself once --parent-pid is gone (so a crashed test run does
not leave it behind).
"""

import argparse
import asyncio
import json
import os
import re
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class TestSMTP(SMTP):
    """aiosmtpd's SMTP that knows whether its connection started with TLS."""

    implicit_tls = False

    def over_tls(self):
        return self.implicit_tls or self._tls_protocol is not None


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
    os.rename(tmp, path)


class Handler:
    def __init__(self, spool):
        self.spool = spool
        self.seq = 0
        self.tries = {}

    def transient(self, address, local):
        m = re.match(r"^(defer|full)(\d+)-", local)
        if not m:
            return None
        seen = self.tries.get(address, 0)
        self.tries[address] = seen + 1
        if seen >= int(m.group(2)):
            return None
        if m.group(1) == "full":
            return "452 4.2.2 <%s>: Mailbox full, try again later" % address
        return "451 4.3.0 <%s>: Temporary failure, try again later" % address

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "reject" or local.startswith("reject-"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local == "defer":
            return "451 4.3.0 <%s>: Temporary failure, try again later" % address
        busy = self.transient(address, local)
        if busy:
            return busy
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if any(len(line) > 998 for line in raw.split(b"\r\n")):
            return "500 5.5.2 Line too long (RFC 5322: at most 998 octets)"
        auth = session.auth_data
        auth_user = None
        if isinstance(auth, LoginPassword):
            auth_user = auth.login.decode("utf-8", "replace")
        elif session.authenticated and session.login_data is not None:
            auth_user = str(session.login_data)
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        record = {
            "seq": self.seq,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": raw.decode("utf-8", "replace"),
            "size": len(raw),
            "tls": bool(server.over_tls()),
            "auth_user": auth_user,
            "helo": session.host_name,
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "peer": peer,
            "time": time.time(),
        }
        write_atomic(os.path.join(self.spool, "%08d.json" % self.seq),
                     json.dumps(record, ensure_ascii=False))
        return "250 2.0.0 Ok: queued as %08d" % self.seq


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if user is None or (auth_data.login == user.encode("utf-8")
                            and auth_data.password == password.encode("utf-8")):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)
    return authenticator


def parent_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-port", type=int, default=0)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--spool", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--user")
    p.add_argument("--password", default="")
    p.add_argument("--auth-require-tls", type=int, default=1)
    p.add_argument("--auth-required", type=int, default=0)
    p.add_argument("--require-starttls", type=int, default=0)
    p.add_argument("--hostname", default="notifyhub-test-smtp")
    p.add_argument("--parent-pid", type=int)
    args = p.parse_args()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)

    handler = Handler(args.spool)
    authenticator = make_authenticator(args.user, args.password)
    common = dict(
        hostname=args.hostname,
        enable_SMTPUTF8=True,
        auth_required=bool(args.auth_required),
        authenticator=authenticator,
        loop=loop,
    )

    def plain_factory():
        return TestSMTP(handler, tls_context=ctx,
                        require_starttls=bool(args.require_starttls),
                        auth_require_tls=bool(args.auth_require_tls), **common)

    def tls_factory():
        # The connection is TLS already: AUTH is fine (aiosmtpd only knows about STARTTLS).
        s = TestSMTP(handler, auth_require_tls=False, **common)
        s.implicit_tls = True
        return s

    import warnings
    warnings.simplefilter("ignore")   # aiosmtpd warns about auth_required without TLS

    plain = loop.run_until_complete(loop.create_server(plain_factory, args.host, args.port))
    tls = loop.run_until_complete(loop.create_server(tls_factory, args.host, args.tls_port,
                                                     ssl=ctx))
    port = plain.sockets[0].getsockname()[1]
    tls_port = tls.sockets[0].getsockname()[1]

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)

    if args.parent_pid:
        def watch():
            if parent_gone(args.parent_pid):
                loop.stop()
            else:
                loop.call_later(0.5, watch)
        loop.call_later(0.5, watch)

    write_atomic(args.ready, json.dumps({"port": port, "tls_port": tls_port,
                                         "pid": os.getpid()}))
    try:
        loop.run_forever()
    finally:
        plain.close()
        tls.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

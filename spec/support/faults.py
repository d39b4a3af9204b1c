#!/usr/bin/python3
r"""spec/support/faults.py -- a loopback HTTP server that misbehaves on purpose.

Owned by the test harness (spec/support/faults.lua starts and stops it); used by
spec/faults_spec.lua and spec/stress_spec.lua, never by the library. Python 3, standard
library only, plus the `openssl` command line tool (a throw-away CA and a server
certificate for 127.0.0.1 / localhost, made at start).

It listens on 127.0.0.1 on two plain ports and one TLS port (the same paths on all: the
second plain port is "another origin" for redirect specs), binds a port without listening
on it (connections to it are refused), and runs a recording SMTP responder on one more
port (it accepts any AUTH and any message and records the whole session). The fault is
chosen by the request path (the query string is ignored):

  /ok             200 application/json {"ok":true}   (keep-alive)
  /feishu-ok      200 application/json {"code":0,"msg":"success","data":{}}   (keep-alive)
  /reset          the status line, the headers and part of the body, then RST
                  (SO_LINGER 0 and close)
  /close-early    reads the request, closes without answering (FIN, nothing sent)
  /drip           a valid status line and headers with Content-Length 1000, then one
                  byte every 0.5 s
  /hang           reads the request and never answers (until the client goes away)
  /slow           200 application/json {"ok":true} after 0.3 s   (keep-alive)
  /garbage        200 text/plain, 256 random bytes   (keep-alive)
  /notjson        200 application/json, body `this is not json`   (keep-alive)
  /nul            200 text/plain, the 7 bytes "ab\0cd\0e" (NUL bytes inside)   (keep-alive)
  /huge           200 with a 50 MB body (Content-Length), streamed in 256 KB writes
  /redirect-http  302 to /ok on the same server   (keep-alive)
  /redirect-ftp   302 to ftp://127.0.0.1/x   (keep-alive)
  /redirect/<status>/<to>  <status> (301, 302, 303, 307, 308) with Location: /capture on
                  the same server and port (to = same), on the other plain port (other),
                  on the TLS port with https (scheme), or to itself again (loop)
  /capture...     200 {"ok":true}; records method, raw target, headers, body and the port
  /__captured     GET: the JSON list of what /capture and the SMTP port recorded
  /__captured-clear  forgets it
  /random         ok (50%), or one of reset, close-early, garbage, notjson, redirect-http,
                  redirect-ftp (the rest, evenly): the fast faults, for the stress test
  /__stats        GET: JSON counts of the connections, of the requests per path and of
                  the outcomes of /random (for the specs' diagnostics)
  anything else   404

One thread per connection (the specs keep at most a few hundred connections alive at
once); requests are parsed by hand (much cheaper than http.server), so a stress test of
100,000 requests is answered about as fast as the client sends them.

Usage:
  faults.py [--dir DIR] [--ready FILE] [--parent-pid PID] [--port P] [--tls-port Q]

Writes DIR/ca.pem, DIR/server.pem, DIR/server.key (DIR defaults to a new temp dir,
removed at exit), then, once every socket is bound and listening, FILE (default
DIR/ready.json), atomically, and the same line on stdout:
  {"port": P, "tls_port": Q, "other_port": O, "smtp_port": S, "closed_port": R,
   "ca_file": "DIR/ca.pem", "pid": N}
Exits on SIGTERM/SIGINT, and by itself once --parent-pid is gone (so a crashed test run
does not leave it behind).
"""

import argparse
import base64
import json
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

OK_BODY = b'{"ok":true}'
FEISHU_OK_BODY = b'{"code":0,"msg":"success","data":{}}'
NOTJSON_BODY = b"this is not json"
NUL_BODY = b"ab\0cd\0e"
HUGE_SIZE = 50 * 1024 * 1024
HUGE_CHUNK = b"x" * (256 * 1024)
DRIP_LENGTH = 1000
DRIP_INTERVAL = 0.5
SLOW_DELAY = 0.3
IDLE_TIMEOUT = 300          # seconds a kept-alive connection may stay idle
MAX_HEADER = 64 * 1024
RANDOM_FAULTS = ("reset", "close-early", "garbage", "notjson", "redirect-http",
                 "redirect-ftp")

stats_lock = threading.Lock()
stats = {"connections": 0, "tls_handshake_failures": 0, "requests": {}, "random": {}}
captured = []               # what /capture and the SMTP responder saw, under stats_lock
ports = {}                  # "port", "other_port", "tls_port": for redirect Locations
REDIRECT_TO = {"same": "%(self)s/capture", "other": "http://127.0.0.1:%(other_port)d/capture",
               "scheme": "https://127.0.0.1:%(tls_port)d/capture",
               "loop": "%(self)s/redirect/307/loop",
               # the same origin written otherwise, and other origins in disguise
               "absolute": "http://127.0.0.1:%(port)d/capture",
               "upper": "HTTP://127.0.0.1:%(port)d/capture",
               "relative": "capture",
               "userinfo": "http://someone:pw@127.0.0.1:%(port)d/capture",
               "protorel": "//127.0.0.1:%(other_port)d/capture",
               "userhost": "http://127.0.0.1:%(port)d@127.0.0.1:%(other_port)d/capture",
               "hostname": "http://localhost:%(port)d/capture"}


def count(kind, key):
    with stats_lock:
        d = stats[kind]
        d[key] = d.get(key, 0) + 1


def make_certs(d):
    """A CA and a server certificate (EC P-256, 2 days) for 127.0.0.1 and localhost."""
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                "subjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid, issuer\n")
    serial = "0x%016x" % random.getrandbits(63)
    cmds = [
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
         "-days", "2", "-subj", "/CN=notifyhub faults test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
         "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-set_serial", serial, "-days", "2", "-sha256", "-extfile", "server.ext",
         "-out", "server.pem"],
    ]
    for cmd in cmds:
        r = subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            sys.stderr.write("faults.py: %s failed:\n%s\n"
                             % (" ".join(cmd[:2]), r.stdout.decode(errors="replace")))
            sys.exit(1)
    return (os.path.join(d, "ca.pem"), os.path.join(d, "server.pem"),
            os.path.join(d, "server.key"))


class Closed(Exception):
    """The peer went away, or the connection must end (no answer to write)."""


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def recv_more(self):
        data = self.sock.recv(65536)
        if not data:
            raise Closed()
        self.buf += data

    def read_request(self):
        """-> (method, path, version, headers) with the body read (kept in self.body and
        the raw target in self.target); raises
        Closed when the connection ends between requests."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(self.buf) > MAX_HEADER:
                raise Closed()
            self.recv_more()
        head = self.buf[:i].decode("latin-1")
        self.buf = self.buf[i + 4:]
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            raise Closed()
        method, target, version = parts
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        if headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.body = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.skip_chunked()
        else:
            n = int(headers.get("content-length", "0") or "0")
            while len(self.buf) < n:
                self.recv_more()
            self.body, self.buf = self.buf[:n], self.buf[n:]
        self.target = target
        path = target.split("?", 1)[0]
        return method, path, version, headers

    def skip_chunked(self):
        while True:
            while b"\r\n" not in self.buf:
                self.recv_more()
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailers end with an empty line.
                while True:
                    while b"\r\n" not in self.buf:
                        self.recv_more()
                    line, self.buf = self.buf.split(b"\r\n", 1)
                    if line == b"":
                        return
            while len(self.buf) < size + 2:
                self.recv_more()
            self.buf = self.buf[size + 2:]

    def reset(self):
        """Abort the connection with an RST: SO_LINGER on, 0 seconds, then close."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def response(status, ctype, body, keep_alive, extra=""):
    reason = {200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other",
              307: "Temporary Redirect", 308: "Permanent Redirect",
              404: "Not Found"}.get(status, "Status")
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    if ctype:
        head += "Content-Type: %s\r\n" % ctype
    head += extra
    head += "Content-Length: %d\r\n" % len(body)
    if not keep_alive:
        head += "Connection: close\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def handle_one(conn, method, path, version, headers):
    """Answer one request. Returns True when the connection may carry another one."""
    count("requests", path)
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    kind = path.lstrip("/")
    if path == "/random":
        kind = "ok" if random.random() < 0.5 else random.choice(RANDOM_FAULTS)
        count("random", kind)
    send = conn.sock.sendall

    if kind == "ok":
        send(response(200, "application/json", OK_BODY, keep_alive))
        return keep_alive
    if kind == "feishu-ok":
        send(response(200, "application/json", FEISHU_OK_BODY, keep_alive))
        return keep_alive
    if kind == "reset":
        # The status line, the headers, part of the body; then RST.
        send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100\r\n\r\n{\"ok\":")
        conn.reset()
        return False
    if kind == "close-early":
        conn.close()
        return False
    if kind == "drip":
        send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
             b"Content-Length: %d\r\n\r\n" % DRIP_LENGTH)
        for _ in range(DRIP_LENGTH):
            time.sleep(DRIP_INTERVAL)
            send(b"z")                     # raises once the client has gone
        return keep_alive
    if kind == "hang":
        while conn.sock.recv(65536):       # until the client closes (or the idle timeout)
            pass
        return False
    if kind == "slow":
        time.sleep(SLOW_DELAY)
        send(response(200, "application/json", OK_BODY, keep_alive))
        return keep_alive
    if kind == "garbage":
        send(response(200, "text/plain", os.urandom(256), keep_alive))
        return keep_alive
    if kind == "notjson":
        send(response(200, "application/json", NOTJSON_BODY, keep_alive))
        return keep_alive
    if kind == "nul":
        send(response(200, "text/plain", NUL_BODY, keep_alive))
        return keep_alive
    if kind == "huge":
        send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Length: %d\r\n\r\n" % HUGE_SIZE)
        left = HUGE_SIZE
        while left > 0:
            chunk = HUGE_CHUNK if left >= len(HUGE_CHUNK) else HUGE_CHUNK[:left]
            send(chunk)                    # raises once the client has gone
            left -= len(chunk)
        return keep_alive
    if kind == "redirect-http":
        send(response(302, "text/plain", b"moved", keep_alive, "Location: /ok\r\n"))
        return keep_alive
    if kind == "redirect-ftp":
        send(response(302, "text/plain", b"moved", keep_alive,
                      "Location: ftp://127.0.0.1/x\r\n"))
        return keep_alive
    if kind.startswith("redirect/"):
        _, code, to = (kind.split("/") + ["", ""])[:3]
        if code not in ("301", "302", "303", "307", "308") or to not in REDIRECT_TO:
            send(response(404, "text/plain", b"no such redirect", keep_alive))
            return keep_alive
        where = REDIRECT_TO[to] % dict(ports, self="")
        send(response(int(code), "text/plain", b"moved", keep_alive,
                      "Location: %s\r\n" % where))
        return keep_alive
    if kind.startswith("capture"):
        with stats_lock:
            captured.append({"port": conn.sock.getsockname()[1], "method": method,
                             "target": conn.target, "headers": headers,
                             "body": conn.body.decode("latin-1")})
        send(response(200, "application/json", OK_BODY, keep_alive))
        return keep_alive
    if kind in ("__captured", "__captured-clear"):
        with stats_lock:
            body = json.dumps(captured).encode()
            if kind == "__captured-clear":
                captured.clear()
        send(response(200, "application/json", body, keep_alive))
        return keep_alive
    if kind == "__stats":
        with stats_lock:
            body = json.dumps(stats, sort_keys=True).encode()
        send(response(200, "application/json", body, keep_alive))
        return keep_alive
    send(response(404, "text/plain", b"no such fault", keep_alive))
    return keep_alive


def serve_connection(sock, ctx):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(IDLE_TIMEOUT)
        if ctx is not None:
            try:
                sock = ctx.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                with stats_lock:
                    stats["tls_handshake_failures"] += 1
                sock.close()
                return
        conn = Conn(sock)
        while True:
            method, path, version, headers = conn.read_request()
            if not handle_one(conn, method, path, version, headers):
                break
        conn.close()
    except (Closed, OSError, ValueError, ssl.SSLError):
        try:
            sock.close()
        except OSError:
            pass


def auth_answer(data):
    """235, or for credentials holding "echo" a 535 that echoes them (raw and decoded)."""
    try:
        plain = base64.b64decode(data.strip(), validate=False).decode("latin-1")
    except (ValueError, TypeError):
        plain = ""
    if "echo" not in plain:
        return "235 ok"
    if "echo-cut" in plain:
        # the password (after the last NUL) starts 290 bytes into the reply
        head = "535 5.7.8 rejected "
        return head + "." * (290 - len(head)) + plain.split("\0")[-1]
    return "535 5.7.8 credentials %s (%s) rejected" % (data.strip(), plain.replace("\0", " "))


def smtp_session(sock):
    """A recording SMTP responder: accepts any AUTH, sender, recipient and message."""
    rec = {"port": ports.get("smtp_port"), "smtp": ""}
    with stats_lock:
        captured.append(rec)        # filled as lines come: a client may never QUIT
    f = sock.makefile("rb")

    def say(text):
        sock.sendall(text.encode("latin-1") + b"\r\n")   # echoed bytes as they came
    try:
        sock.settimeout(30)
        say("220 capture ESMTP")
        in_data = in_auth = False
        for raw in f:
            line = raw.decode("latin-1").rstrip("\r\n")
            with stats_lock:
                rec["smtp"] += line + "\n"
            verb = line.split(" ", 1)[0].upper()
            if in_auth:
                in_auth = False
                say(auth_answer(line))
            elif in_data:
                if line == ".":
                    in_data = False
                    say("250 ok")
            elif verb in ("EHLO", "HELO"):
                say("250-capture\r\n250 AUTH PLAIN LOGIN")
            elif verb == "AUTH" and len(line.split()) < 3:
                in_auth = True          # the credentials come on the next line
                say("334 ")
            elif verb == "AUTH":
                say(auth_answer(line.split()[2]))
            elif verb == "DATA":
                in_data = True
                say("354 go on")
            elif verb == "QUIT":
                say("221 bye")
                break
            else:
                say("250 ok")
    except (OSError, ValueError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def smtp_loop(lsock):
    while True:
        try:
            sock, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=smtp_session, args=(sock,), daemon=True).start()


def accept_loop(lsock, ctx):
    while True:
        try:
            sock, _ = lsock.accept()
        except OSError:
            return
        with stats_lock:
            stats["connections"] += 1
        threading.Thread(target=serve_connection, args=(sock, ctx), daemon=True).start()


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4096)
    return s


def parent_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X")
    except FileNotFoundError:
        return True
    except OSError:
        return False


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    p = argparse.ArgumentParser(description="a loopback HTTP server that misbehaves")
    p.add_argument("--dir", help="where the certificates go (default: a new temp dir, "
                   "removed at exit)")
    p.add_argument("--ready", help="the JSON file written once listening "
                   "(default DIR/ready.json)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-port", type=int, default=0)
    p.add_argument("--parent-pid", type=int)
    args = p.parse_args()

    own_dir = None
    d = args.dir
    if not d:
        own_dir = tempfile.TemporaryDirectory(prefix="notifyhub-faults.")
        d = own_dir.name
    ca_file, cert, key = make_certs(d)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    plain = listener(args.port)
    tls = listener(args.tls_port)
    other = listener(0)
    smtp = listener(0)
    # Bound but never listening: a connection to it is refused (RST), with no race against
    # another process taking a port we closed.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))

    ports.update(port=plain.getsockname()[1], tls_port=tls.getsockname()[1],
                 other_port=other.getsockname()[1], smtp_port=smtp.getsockname()[1])
    for lsock, c in ((plain, None), (tls, ctx), (other, None)):
        threading.Thread(target=accept_loop, args=(lsock, c), daemon=True).start()
    threading.Thread(target=smtp_loop, args=(smtp,), daemon=True).start()

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    info = dict(ports, closed_port=closed.getsockname()[1], ca_file=ca_file, pid=os.getpid())
    write_atomic(args.ready or os.path.join(d, "ready.json"), json.dumps(info))
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()

    while not stop.wait(0.5):
        if args.parent_pid and parent_gone(args.parent_pid):
            break
    for s in (plain, tls, other, smtp, closed):
        try:
            s.close()
        except OSError:
            pass
    if own_dir is not None:
        own_dir.cleanup()
    # Daemon threads (kept-alive connections, drips) end with the process.
    os._exit(0)


if __name__ == "__main__":
    main()

"""A loopback HTTP server that misbehaves on purpose, for spec/faults_spec.lua.

    python3 faults.py DIR   -> writes DIR/ports ("PLAIN TLS") once both listen;
                               DIR holds a throw-away CA and server certificate

Paths: /ok, /random (half /ok, half the fast faults: for the stress spec),
/error (500), /reset (RST mid-response), /close-early (no answer at all),
/drip (one byte every 0.5 s), /garbage (random bytes), /notjson,
/huge (50 MB), /redirect-http, /redirect-ftp. Exits when stdin closes.
"""
import os
import random
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time

DIR = sys.argv[1]


def make_certs():
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=DIR)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=notifyhub test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(DIR, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem")


def answer(status, body, ctype="application/json", extra=""):
    head = "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (status, ctype, len(body), extra)
    return head.encode() + body


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            path = line.split()[1].decode() if len(line.split()) > 1 else "/"
            length = 0
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            if length:
                self.rfile.read(length)
            if not self.serve(path.split("?")[0]):
                return

    def serve(self, path):
        w = self.wfile
        if path == "/random":                  # the stress spec: half fine, half faults
            path = random.choice(["/ok"] * 5 + ["/reset", "/close-early", "/garbage", "/notjson",
                                                 "/redirect-http", "/error"])
        if path == "/error":
            w.write(answer("500 Internal Server Error", b'{"error":"injected"}'))
        elif path == "/ok":
            w.write(answer("200 OK", b'{"ok":true}'))
        elif path == "/reset":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":")
            w.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        elif path == "/close-early":
            return False
        elif path == "/drip":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            try:
                for _ in range(1000):
                    w.write(b" ")
                    w.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return False
        elif path == "/garbage":
            w.write(answer("200 OK", os.urandom(2000), "text/plain"))
        elif path == "/notjson":
            w.write(answer("200 OK", b"this is not json"))
        elif path == "/huge":
            size = 50 * 1024 * 1024
            w.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size).encode())
            chunk = b"x" * 65536
            try:
                for _ in range(size // len(chunk)):
                    w.write(chunk)
            except OSError:
                pass
            return False
        elif path == "/redirect-http":
            w.write(answer("302 Found", b"", extra="Location: /ok\r\n"))
        elif path == "/redirect-ftp":
            w.write(answer("302 Found", b"", extra="Location: ftp://127.0.0.1/x\r\n"))
        else:
            w.write(answer("404 Not Found", b'{"error":"no such fault"}'))
        w.flush()
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TLSServer(Server):
    def get_request(self):
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True), addr


def main():
    make_certs()
    plain = Server(("127.0.0.1", 0), Handler)
    tls = TLSServer(("127.0.0.1", 0), Handler)
    tls.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.context.load_cert_chain(os.path.join(DIR, "server.pem"), os.path.join(DIR, "server.key"))
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with open(os.path.join(DIR, "ports.tmp"), "w") as f:
        f.write("%d %d\n" % (plain.server_address[1], tls.server_address[1]))
    os.rename(os.path.join(DIR, "ports.tmp"), os.path.join(DIR, "ports"))
    sys.stdin.read()          # until the test process goes away


if __name__ == "__main__":
    main()

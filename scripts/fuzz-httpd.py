#!/usr/bin/env python3
"""Mutation fuzzing of the live httpd over loopback TCP, or over TLS with --tls.

Starts the release httpd (build it first: `cargo build --release --example httpd`) on a free
127.0.0.1 port with a site it creates in a temporary directory, then, for a bounded time,
opens connections that send one to three mutated requests (whole, or in small pieces), shut
their sending side down and read until the server closes.

With --tls the server serves HTTPS with a certificate made here (`openssl`, ECDSA P-256), and
the clients speak TLS (Python's ssl module over memory BIOs, so each piece is its own record):
the handshake, the mutated requests, then the end of their sending side as a close_notify
and a FIN, or a bare FIN; a fifth of the connections instead send a mutated ClientHello
(mutated like the requests), shut down and read what comes back, which must not be HTTP.

Fails (exit 1) when:

- the server dies or stops accepting,
- a connection is neither answered nor closed within 3 seconds (the server's own timeouts
  are set to 60 s, so a connection it forgot shows up here),
- a response does not start with a well-formed status line, or has a 5xx other than
  501/505,
- the server still holds a connection once every client has closed (RSS before and
  after is printed: it grows with the connection rate times the timeouts, whose timer
  entries are dropped lazily, then levels off),
- a clean request after the run is not answered with the file (the server must still serve).

Usage: scripts/fuzz-httpd.py [--tls] [--seconds N] [--seed S] [--binary PATH] [-- HTTPD FLAGS...]
(e.g. `-- --design pool` for the thread-pool design)
Traffic goes only to 127.0.0.1. The server is stopped (by its PID) at the end, also on error.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT_TIMEOUT = 3.0

SEEDS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"HEAD /sub/a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n\r\n",
    b"GET /sub/ HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\n"
    b"If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /index.html HTTP/1.1\r\nHost: a\r\nRange: bytes=-5,7-\r\n"
    b"If-Range: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://a/index.html?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /out/secret HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"GET /big.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=1000-\r\n\r\n",
]

PIECES = [
    b"\r\n", b"\n", b"\r", b" ", b"\t", b":", b"%", b"%00", b"%2f", b"%2e", b"..", b"/",
    b"\\", b"\x00", b"\x7f", b"\xff", b"9" * 24, b"-", b",", b"=", b"bytes=",
    b"Range: ", b"Content-Length: ", b"Transfer-Encoding: chunked\r\n", b"Host: a\r\n",
    b"Connection: close\r\n", b"Connection: keep-alive\r\n", b"HTTP/1.1", b"HTTP/1.0",
    b"HTTP/2.0", b"*", b"?", b"#", b"GET ", b"HEAD ",
]


def mutate(rng, data):
    s = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        at = rng.randint(0, len(s))
        if op < 0.3 and s:
            del s[rng.randrange(len(s))]
        elif op < 0.6:
            s[at:at] = rng.choice(PIECES)
        elif op < 0.8 and s:
            s[rng.randrange(len(s))] = rng.randrange(256)
        else:
            # Repeat a slice of itself somewhere else.
            start = rng.randint(0, len(s))
            s[at:at] = s[start:start + rng.randint(0, 40)]
    return bytes(s)


def make_site(top):
    site = os.path.join(top, "site")
    os.makedirs(os.path.join(site, "sub"))
    os.makedirs(os.path.join(top, "outside"))
    with open(os.path.join(site, "index.html"), "wb") as f:
        f.write(b"<h1>fuzz</h1>\n" * 64)
    with open(os.path.join(site, "sub", "a.txt"), "wb") as f:
        f.write(b"hello\n")
    with open(os.path.join(site, "big.bin"), "wb") as f:
        f.write(bytes(range(256)) * 1024)
    with open(os.path.join(top, "outside", "secret"), "wb") as f:
        f.write(b"never served\n")
    os.symlink(os.path.join(top, "outside"), os.path.join(site, "out"))
    return site


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def socket_count(pid):
    """The server's open sockets (its listeners and connections; the file cache's
    descriptors, which each worker opens on first use, are not counted)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def check_statuses(data, problems, req):
    """Every response in `data` starts with a status line; no unexpected 5xx."""
    seen = 0
    for line in data.split(b"\r\n"):
        if line.startswith(b"HTTP/"):
            parts = line.split(b" ", 2)
            if len(parts) < 2 or parts[0] != b"HTTP/1.1" or not parts[1].isdigit():
                problems.append(f"malformed status line {line[:80]!r} for {req[:120]!r}")
                continue
            status = int(parts[1])
            if status >= 500 and status not in (501, 505):
                problems.append(f"status {status} for {req[:120]!r}")
            seen += 1
    if data and not data.startswith(b"HTTP/1.1 "):
        problems.append(f"response starts with {data[:40]!r} for {req[:120]!r}")
    return seen


def recv_until_closed(c, data):
    """Appends what the socket receives to `data` (a bytearray) until the peer closes."""
    while True:
        d = c.recv(65536)
        if not d:
            return data
        data += d


class TlsClient:
    """A TLS client session over a connected socket, through memory BIOs: every write is
    its own record, and the socket's FIN is under the caller's control."""

    def __init__(self, ctx, sock):
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.eof = False

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def fill(self):
        d = self.sock.recv(65536)
        if d:
            self.incoming.write(d)
        else:
            self.incoming.write_eof()
            self.eof = True

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                if self.eof:
                    raise ConnectionError("closed during the handshake")
                self.fill()

    def sendall(self, data):
        self.obj.write(data)
        self.flush()

    def close_notify(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        self.flush()

    def read_all(self):
        """The plaintext until the server's close_notify or the end of the stream."""
        data = b""
        while True:
            try:
                chunk = self.obj.read(65536)
                if not chunk:
                    return data
                data += chunk
            except ssl.SSLWantReadError:
                if self.eof:
                    return data
                self.fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return data


def client_hello(ctx):
    """The first flight of a real TLS client."""
    t = TlsClient(ctx, None)
    try:
        t.obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return t.outgoing.read()


def bad_hello_connection(rng, port, ctx, stats, problems):
    """A mutated ClientHello: the answer is an alert or nothing, never HTTP, and the
    connection is closed."""
    hello = mutate(rng, client_hello(ctx))
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    except OSError as e:
        problems.append(f"connect failed: {e}")
        return
    data = bytearray()
    try:
        c.sendall(hello)
        c.shutdown(socket.SHUT_WR)
        recv_until_closed(c, data)
    except socket.timeout:
        problems.append(f"mutated ClientHello neither answered nor closed: {hello[:80]!r}")
    except OSError:
        stats["reset"] = stats.get("reset", 0) + 1
    finally:
        c.close()
    if data.startswith(b"HTTP") or (data and data[0] not in (0x15, 0x16)):
        problems.append(f"mutated ClientHello answered with {data[:40]!r}")
    stats["hellos"] = stats.get("hellos", 0) + 1
    stats["connections"] = stats.get("connections", 0) + 1


def one_connection(rng, port, stats, problems, ctx=None):
    if ctx is not None and rng.random() < 0.2:
        bad_hello_connection(rng, port, ctx, stats, problems)
        return
    reqs = b"".join(mutate(rng, rng.choice(SEEDS)) for _ in range(rng.randint(1, 3)))
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    except OSError as e:
        problems.append(f"connect failed: {e}")
        return
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = bytearray()
    start = time.monotonic()
    try:
        out = c
        if ctx is not None:
            out = TlsClient(ctx, c)
            try:
                out.handshake()
            except (ssl.SSLError, ConnectionError) as e:
                problems.append(f"TLS handshake failed: {e!r}")
                return
        if rng.random() < 0.3:
            step = rng.randint(1, 7)
            for k in range(0, len(reqs), step):
                out.sendall(reqs[k:k + step])
        else:
            out.sendall(reqs)
        if ctx is not None and rng.random() < 0.5:
            out.close_notify()
        c.shutdown(socket.SHUT_WR)
        if ctx is not None:
            data += out.read_all()
        else:
            recv_until_closed(c, data)
    except socket.timeout:
        problems.append(
            f"no answer and no close within {CLIENT_TIMEOUT} s "
            f"({time.monotonic() - start:.1f} s) for {reqs[:160]!r}; got {data[:80]!r}"
        )
    except OSError:
        # The server may reset a connection it refused (bytes after an error).
        stats["reset"] = stats.get("reset", 0) + 1
    finally:
        c.close()
    stats["responses"] = stats.get("responses", 0) + check_statuses(data, problems, reqs)
    stats["connections"] = stats.get("connections", 0) + 1


def make_certificate(top):
    """A self-signed ECDSA P-256 certificate for localhost and its key."""
    cert, key = os.path.join(top, "cert.pem"), os.path.join(top, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    return cert, key


def serves_afterwards(port, ctx):
    """A clean request gets the index file."""
    c = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    try:
        out = c
        if ctx is not None:
            out = TlsClient(ctx, c)
            out.handshake()
        out.sendall(b"GET /index.html HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = out.read_all() if ctx is not None else recv_until_closed(c, bytearray())
    finally:
        c.close()
    return data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"<h1>fuzz</h1>\n" * 64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tls", action="store_true", help="serve and fuzz over TLS")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument(
        "--binary", default=os.path.join(ROOT, "target", "release", "examples", "httpd")
    )
    ap.add_argument("httpd_flags", nargs="*", help="more httpd flags, after --")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} not found: cargo build --release --example httpd")

    top = tempfile.mkdtemp(prefix="lp-test-fuzz-httpd-")
    server = None
    try:
        site = make_site(top)
        port = free_port()
        ctx, tls_flags = None, []
        if args.tls:
            cert, key = make_certificate(top)
            tls_flags = ["--tls-cert", cert, "--tls-key", key]
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        server = subprocess.Popen(
            [args.binary, "--port", str(port), "--bind", "127.0.0.1", "--root", site,
             "--workers", "2", "--header-timeout", "60", "--keepalive-timeout", "60",
             *tls_flags, *args.httpd_flags],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("httpd did not start")
                time.sleep(0.05)
        fds0, rss0 = socket_count(server.pid), rss_kib(server.pid)

        rng = random.Random(args.seed)
        stats, problems = {}, []
        end = time.monotonic() + args.seconds
        while time.monotonic() < end and len(problems) < 10:
            one_connection(rng, port, stats, problems, ctx)
            if server.poll() is not None:
                problems.append(f"httpd exited with {server.returncode}")
                break

        alive = server.poll() is None
        fds1 = fds0
        served = ""
        if alive:
            # Every connection is closed on the client's side: the server's must go too.
            wait_until = time.monotonic() + 5
            while time.monotonic() < wait_until:
                fds1 = socket_count(server.pid)
                if fds1 <= fds0:
                    break
                time.sleep(0.05)
            if fds1 > fds0:
                problems.append(f"{fds1 - fds0} connections still open ({fds0} -> {fds1} sockets)")
            rss1 = rss_kib(server.pid)
            try:
                if serves_afterwards(port, ctx):
                    served = "; served afterwards"
                else:
                    problems.append("a clean request after the run was not answered with the file")
            except OSError as e:
                problems.append(f"a clean request after the run failed: {e}")
        print(
            f"fuzz-httpd{' (TLS)' if args.tls else ''}: seed {args.seed}, {args.seconds:.0f} s: "
            f"{stats.get('connections', 0)} connections, {stats.get('responses', 0)} responses, "
            + (f"{stats.get('hellos', 0)} mutated ClientHellos, " if args.tls else "")
            + f"{stats.get('reset', 0)} resets; sockets {fds0} -> {fds1}"
            + (f"; RSS {rss0} -> {rss1} KiB" if alive else "")
            + served
        )
        if problems:
            for p in problems:
                print("  PROBLEM:", p)
            sys.exit(1)
    finally:
        if server is not None and server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()

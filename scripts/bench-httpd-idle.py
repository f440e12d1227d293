#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on each and reads its
response, then holds them idle while the caller measures the server's RSS.

usage: bench-httpd-idle.py PORT N PATH HOLD_FILE [--tls]
With --tls each connection is TLS (the server's certificate is not checked: the caller made
it): the handshake and one request, so the server holds a TLS session per idle connection.
Prints 'ready' once all N are open and answered; closes everything when HOLD_FILE disappears
(or after 120 s)."""
import os
import socket
import ssl
import sys
import time

port, n, path, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
tls = None
if sys.argv[5:] == ["--tls"]:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
elif sys.argv[5:]:
    raise SystemExit("usage: bench-httpd-idle.py PORT N PATH HOLD_FILE [--tls]")
req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def read_response(t):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = t.recv(65536)
        if not chunk:
            raise SystemExit("server closed a connection")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = t.recv(65536)
        if not chunk:
            break
        body += chunk



def connect():
    t = socket.create_connection(("127.0.0.1", port), timeout=30)
    return tls.wrap_socket(t) if tls else t


socks = []
for start in range(0, n, 500):
    batch = [connect() for _ in range(min(500, n - start))]
    for t in batch:
        t.sendall(req)
    for t in batch:
        read_response(t)
    socks.extend(batch)
print("ready", flush=True)
deadline = time.time() + 120
while os.path.exists(hold) and time.time() < deadline:
    time.sleep(0.1)
for s in socks:
    s.close()

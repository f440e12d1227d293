"""An allocation-heavy Python workload across threads, with deterministic output.

Threads build and tear down dicts, lists, strings, bytes and bytearrays, pass objects to each
other through queues (so they are freed on another thread than the one that made them), and
use C extensions that call malloc directly (zlib, sqlite3, json, re, hashlib). Each part prints
a digest, so a run under another malloc must print exactly the same lines.

Usage: workload.py [scale] (default 1; the bench uses smaller values).
"""

import hashlib
import json
import queue
import re
import sqlite3
import sys
import threading
import zlib

SCALE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
THREADS = 4


def rng(seed):
    x = seed * 2654435761 % 2**32 or 1
    while True:
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        yield x


def churn(tid, n):
    """Random replacement of objects of many sizes in a slot table."""
    r = rng(tid + 1)
    slots = [None] * 2048
    h = hashlib.sha256()
    for _ in range(n):
        v = next(r)
        i = v % len(slots)
        kind = v % 7
        if kind == 0:
            obj = {str(k): k * v for k in range(v % 40)}
        elif kind == 1:
            obj = [v] * (v % 300)
        elif kind == 2:
            obj = ("x%d" % v) * (v % 200)
        elif kind == 3:
            obj = bytes(v % 5000)
        elif kind == 4:
            obj = bytearray(b"ab") * (v % 3000)
        elif kind == 5:
            obj = bytes(100_000 + v % 400_000) if v % 97 == 0 else (v, str(v))
        else:
            obj = sorted(str(v))
        old = slots[i]
        slots[i] = obj
        if old is not None:
            h.update(repr(type(old)).encode())
            h.update(str(len(old)).encode())
    return h.hexdigest()[:16]


def exchange(n):
    """Producers make objects, consumers on other threads free them."""
    q = queue.Queue(maxsize=256)
    out = []

    def produce(tid):
        r = rng(100 + tid)
        for _ in range(n):
            v = next(r)
            q.put({"id": v, "payload": "p" * (v % 700), "items": list(range(v % 50))})
        q.put(None)

    def consume():
        total, done = 0, 0
        while done < 2:
            item = q.get()
            if item is None:
                done += 1
                continue
            total += len(item["payload"]) + sum(item["items"])
        out.append(total)

    ts = [threading.Thread(target=produce, args=(i,)) for i in range(2)]
    ts.append(threading.Thread(target=consume))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out[0]


def extensions(tid, n):
    r = rng(1000 + tid)
    h = hashlib.sha256()
    db = sqlite3.connect(":memory:")
    db.execute("create table t (k integer primary key, v text, b blob)")
    rows = []
    for i in range(n):
        v = next(r)
        rows.append((i, "v%08x" % v * (v % 20 + 1), bytes(v % 3000)))
    db.executemany("insert into t values (?, ?, ?)", rows)
    for (count, total) in db.execute("select count(*), sum(length(v)) + sum(length(b)) from t"):
        h.update(b"%d %d" % (count, total))
    for row in db.execute("select v from t where k % 17 = 3 order by v limit 50"):
        h.update(row[0].encode())
    db.close()
    doc = {"rows": [{"k": i, "v": "v%x" % (i * 7919)} for i in range(n)]}
    text = json.dumps(doc, sort_keys=True)
    packed = zlib.compress(text.encode() * 4, 6)
    h.update(packed)
    back = json.loads(zlib.decompress(packed)[: len(text)])
    h.update(str(len(back["rows"])).encode())
    h.update(str(len(re.findall(r'"v": "v([0-9a-f]*7[0-9a-f]*)"', text))).encode())
    return h.hexdigest()[:16]


def run_threads(fn, args_list):
    results = [None] * len(args_list)

    def wrap(i, args):
        results[i] = fn(*args)

    ts = [threading.Thread(target=wrap, args=(i, a)) for i, a in enumerate(args_list)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def main():
    n = int(60_000 * SCALE)
    print("churn", run_threads(churn, [(t, n) for t in range(THREADS)]))
    print("exchange", exchange(int(20_000 * SCALE)))
    print("extensions", run_threads(extensions, [(t, int(8_000 * SCALE)) for t in range(THREADS)]))
    # Short-lived threads whose objects outlive them.
    keep = []
    for wave in range(int(20 * SCALE) + 1):
        keep.append(run_threads(lambda s: [str(s) * 50 for _ in range(200)], [(wave * 8 + i,) for i in range(8)]))
        if len(keep) > 5:
            keep.pop(0)
    print("waves", sum(len(x) for w in keep for t in w for x in t))


main()

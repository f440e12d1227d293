#!/bin/sh
# Start-to-exit time of `container run IMAGE /bin/true` (an overlay of the image's layer with
# a writable layer of the run's own, made and removed by the run) against the same busybox
# root filesystem as a plain directory (`--rootfs DIR --rootfs-write`, no overlay), and
# `--rootfs DIR` (an overlay on the directory). Each is the whole `container` process, timed
# from fork to exit; runs are interleaved (one of each per round); medians, p95 and the
# differences to the plain directory are printed with the CPU model and the load average.
# With BASELINE=/path/to/other/container (e.g. a build of an older commit), its three cases
# run interleaved with these in the same rounds, for a side-by-side table.
#
#   sudo [BASELINE=BIN] scripts/bench-image.sh [ROUNDS]      (default 50)
#
# Needs root and busybox (busybox-static). Everything it creates (rootfs, image store) is
# removed at the end, also on failure.
set -eu

ROUNDS=${1:-50}
[ "$(id -u)" = 0 ] || { echo "bench-image.sh: run as root" >&2; exit 1; }
BUSYBOX=$(command -v busybox) || { echo "bench-image.sh: needs busybox (busybox-static)" >&2; exit 1; }
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --example container --manifest-path "$ROOT_DIR/Cargo.toml"
BIN="$ROOT_DIR/target/release/examples/container"

WORK=$(mktemp -d /var/tmp/lp-bench-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp" "$WORK/rootfs/proc" "$WORK/rootfs/dev"
cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$WORK/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$WORK/rootfs/etc/passwd"
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
export CONTAINER_IMAGES="$WORK/store" CONTAINER_NET=none
"$BIN" import "$WORK/rootfs.tar" lp-bench-bb >/dev/null

python3 - "$BIN" "$WORK/rootfs" "$ROUNDS" "${BASELINE:-}" <<'PY'
import os, subprocess, sys, time
binary, rootfs, rounds, baseline = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
shapes = [
    ("plain directory (--rootfs DIR --rootfs-write)", ["run", "--rootfs", rootfs, "--rootfs-write", "--", "/bin/true"]),
    ("image overlay (run IMAGE /bin/true)", ["run", "lp-bench-bb", "/bin/true"]),
    ("directory overlay (--rootfs DIR)", ["run", "--rootfs", rootfs, "--", "/bin/true"]),
]
builds = [("", binary)] + ([("baseline: ", baseline)] if baseline else [])
cases = [(tag + name, [b] + args) for tag, b in builds for name, args in shapes]
times = {name: [] for name, _ in cases}
for _ in range(3):  # warm-up
    for _, argv in cases:
        subprocess.run(argv, check=True)
for _ in range(rounds):
    for name, argv in cases:
        t = time.perf_counter()
        subprocess.run(argv, check=True)
        times[name].append((time.perf_counter() - t) * 1e3)
try:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next(l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name"))
except (OSError, StopIteration):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
load = " ".join(open("/proc/loadavg").read().split()[:3])
print(f"container start-to-exit of /bin/true, {rounds} interleaved rounds, {cpu}, "
      f"{os.cpu_count()} CPUs, load average {load}")
if baseline:
    print(f"baseline: {baseline}")
print(f"{'case':<58} {'median ms':>10} {'p95 ms':>8} {'vs plain':>10}")
for i, (name, _) in enumerate(cases):
    v = sorted(times[name])
    med, p95 = v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.95))]
    if i % len(shapes) == 0:
        base = med
    print(f"{name:<58} {med:>10.3f} {p95:>8.3f} {med - base:>+9.3f}")
PY

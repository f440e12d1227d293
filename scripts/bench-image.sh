#!/bin/sh
# Start-to-exit time of `container run IMAGE /bin/true` (an overlay of the image's layer with
# a writable layer of the run's own, made and removed by the run) against the same busybox
# root filesystem as a plain directory (`--rootfs DIR --rootfs-write`, no overlay), and
# `--rootfs DIR` (an overlay on the directory). Each is the whole `container` process, timed
# from fork to exit; runs are interleaved (one of each per round); medians, p95 and the
# differences to the plain directory are printed with the CPU model.
#
#   sudo scripts/bench-image.sh [ROUNDS]      (default 50)
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

python3 - "$BIN" "$WORK/rootfs" "$ROUNDS" <<'PY'
import subprocess, sys, time
binary, rootfs, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
cases = [
    ("plain directory (--rootfs DIR --rootfs-write)", ["run", "--rootfs", rootfs, "--rootfs-write", "--", "/bin/true"]),
    ("image overlay (run IMAGE /bin/true)", ["run", "lp-bench-bb", "/bin/true"]),
    ("directory overlay (--rootfs DIR)", ["run", "--rootfs", rootfs, "--", "/bin/true"]),
]
times = {name: [] for name, _ in cases}
for _ in range(3):  # warm-up
    for _, args in cases:
        subprocess.run([binary] + args, check=True)
for _ in range(rounds):
    for name, args in cases:
        t = time.perf_counter()
        subprocess.run([binary] + args, check=True)
        times[name].append((time.perf_counter() - t) * 1e3)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"container start-to-exit of /bin/true, {rounds} interleaved rounds, {cpu}")
print(f"{'case':<48} {'median ms':>10} {'p95 ms':>8} {'vs plain':>10}")
base = None
for name, _ in cases:
    v = sorted(times[name])
    med, p95 = v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.95))]
    base = med if base is None else base
    print(f"{name:<48} {med:>10.3f} {p95:>8.3f} {med - base:>+9.3f}")
PY

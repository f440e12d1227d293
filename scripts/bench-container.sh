#!/bin/sh
# Start-to-exit time of `/bin/true` in a container: `container` (this repo's example, with a
# 100 MiB memory and 64 pids limit, hardened as by default: capabilities, seccomp, masked
# paths, descriptors), the same with one hardening part off each (c-noseccomp, c-nomasks,
# c-nocaps: seccomp and masks off and every capability kept, c-privileged), crun and runc
# (same limits), `bwrap --unshare-all` and plain `unshare` as the floor. Runs are interleaved
# (one of each per round) and each tool's median and p95 are printed with the ratio to crun.
#
#   sudo scripts/bench-container.sh [ROUNDS]      (default 200; CI runs 2)
#
# Installs crun, runc, bubblewrap and busybox-static from Debian when missing. Needs root.
# Everything it creates (rootfs, bundles, cgroups) is removed at the end, also on failure.
set -eu

ROUNDS=${1:-200}
[ "$(id -u)" = 0 ] || { echo "bench-container.sh: run as root" >&2; exit 1; }

missing=""
command -v crun >/dev/null || missing="$missing crun"
command -v runc >/dev/null || missing="$missing runc"
command -v bwrap >/dev/null || missing="$missing bubblewrap"
command -v nft >/dev/null || missing="$missing nftables"
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && file -L /bin/busybox 2>/dev/null | grep -c static >/dev/null \
    || [ -x /usr/bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
BUSYBOX=$(command -v busybox)

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT_DIR/target}
(cd "$ROOT_DIR" && cargo build --release --example container -q)
CONTAINER=$TARGET/release/examples/container

WORK=$(mktemp -d /var/tmp/lp-bench-XXXXXX)
MEM_OWN=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
CG_PARENT=${MEM_OWN%/}/lp-bench-$$
cleanup() {
    runc delete -f lp-bench-runc >/dev/null 2>&1 || true
    crun delete -f lp-bench-crun >/dev/null 2>&1 || true
    # runc/crun create the absolute cgroup path in every v1 hierarchy: remove what is ours
    # (the leaf, then parents that did not exist before; see the list saved below).
    if [ -f "$WORK/created-cgroups" ]; then
        sort -r "$WORK/created-cgroups" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
    fi
    for h in /sys/fs/cgroup/*/; do
        [ -d "$h${CG_PARENT#/}" ] && find "$h${CG_PARENT#/}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    # The private bridge network of the c-bridge row.
    ip link del lp-bench0 2>/dev/null || true
    nft delete table ip lp_bench 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Parents of the test cgroup path that do not exist yet in some hierarchy: remember them so
# that only they are removed afterwards.
: > "$WORK/created-cgroups"
for h in /sys/fs/cgroup/*/; do
    [ "$(stat -f -c %T "$h")" = cgroupfs ] || continue
    p=""
    for comp in $(echo "${CG_PARENT#/}" | tr / ' '); do
        p="$p/$comp"
        [ -d "${h%/}$p" ] || echo "${h%/}$p" >> "$WORK/created-cgroups"
    done
done

# A busybox-static root filesystem.
RFS=$WORK/rootfs
mkdir -p "$RFS/bin" "$RFS/proc" "$RFS/dev" "$RFS/sys" "$RFS/etc" "$RFS/tmp"
cp "$BUSYBOX" "$RFS/bin/busybox"
for app in sh true; do ln -s busybox "$RFS/bin/$app"; done
: > "$RFS/etc/hostname"; : > "$RFS/etc/resolv.conf"

# OCI bundles for crun and runc with the same limits and an absolute cgroup path below our
# own memory cgroup (they nest relative paths under the caller's cgroup).
for rt in crun runc; do
    B=$WORK/bundle-$rt
    mkdir -p "$B"
    (cd "$B" && runc spec)
    python3 - "$B/config.json" "$RFS" "$CG_PARENT/$rt" <<'PY'
import json, sys
path, rootfs, cg = sys.argv[1:4]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": rootfs, "readonly": True}
c["hostname"] = "bench"
c["linux"]["cgroupsPath"] = cg
c["linux"]["resources"] = {"memory": {"limit": 100 << 20}, "pids": {"limit": 64},
                           "devices": c["linux"].get("resources", {}).get("devices", [])}
json.dump(c, open(path, "w"))
PY
done

# crun refuses this machine's hybrid layout (cgroup2 without controllers at
# /sys/fs/cgroup/unified) unless that mount is hidden, so the whole measurement runs in a
# private mount namespace with a tmpfs over it; the other tools do not care.
# c-bridge: the container row on a private bridge network (veth, address, route, NAT table),
# on a 10.213.x.0/24 that no host route uses.
SUBNET=""
routes=$(ip -4 route show table all) # read whole, then match with `case` (POSIX sh: no <<<)
for x in 240 241 242 243 244 245 246 247 248 249; do
    case $routes in *"10.213.$x."*) ;; *) SUBNET=10.213.$x.0/24; break ;; esac
done
[ -n "$SUBNET" ] || { echo "bench-container.sh: no free 10.213.x.0/24 for the bridge row" >&2; exit 1; }
unshare -m sh -c 'mount -t tmpfs none /sys/fs/cgroup/unified 2>/dev/null || true; exec python3 - "$@"' bench \
    "$ROUNDS" "$CONTAINER" "$RFS" "$WORK" "$SUBNET" <<'PY'
import os, sys, time

rounds, container, rfs, work, subnet = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
bridge = ["--net", "bridge", "--bridge", "lp-bench0", "--subnet", subnet, "--nft-table", "lp_bench",
          "--veth-prefix", "lp-bench-", "--lease-dir", f"{work}/leases"]
tools = [
    ("container", [container, "run", "--net", "none", "--rootfs", rfs, "--memory", "100M", "--pids", "64", "/bin/true"]),
    ("c-bridge", [container, "run", *bridge, "--rootfs", rfs, "--memory", "100M", "--pids", "64", "/bin/true"]),
    # The cost of each hardening part: the same run with one part switched off.
    ("c-noseccomp", [container, "run", "--net", "none", "--seccomp", "unconfined", "--rootfs", rfs, "--memory", "100M", "--pids", "64", "/bin/true"]),
    ("c-nomasks", [container, "run", "--net", "none", "--system-paths", "unconfined", "--rootfs", rfs, "--memory", "100M", "--pids", "64", "/bin/true"]),
    ("c-nocaps", [container, "run", "--net", "none", "--seccomp", "unconfined", "--system-paths", "unconfined", "--cap-add", "ALL", "--rootfs", rfs, "--memory", "100M", "--pids", "64", "/bin/true"]),
    ("c-privileged", [container, "run", "--net", "none", "--privileged", "--rootfs", rfs, "--memory", "100M", "--pids", "64", "/bin/true"]),
    ("crun", ["crun", "run", "--bundle", f"{work}/bundle-crun", "lp-bench-crun"]),
    ("runc", ["runc", "run", "--bundle", f"{work}/bundle-runc", "lp-bench-runc"]),
    ("bwrap", ["bwrap", "--unshare-all", "--ro-bind", rfs, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"]),
    ("unshare", ["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--root", rfs, "/bin/true"]),
]
devnull = os.open(os.devnull, os.O_RDWR)

def once(argv):
    fa = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1)]
    t = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=fa)
    _, st = os.waitpid(pid, 0)
    dt = time.perf_counter_ns() - t
    if os.waitstatus_to_exitcode(st) != 0:
        sys.exit(f"{argv[0]} failed (status {st}): run it by hand to see why: {' '.join(argv)}")
    return dt / 1e6

for name, argv in tools:  # warm up caches, and fail early
    once(argv)
times = {name: [] for name, _ in tools}
for _ in range(rounds):
    for name, argv in tools:
        times[name].append(once(argv))

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]

crun_med = pct(times["crun"], 50)
print(f"start-to-exit of /bin/true, {rounds} interleaved rounds (ms)")
print(f"{'tool':<12} {'median':>8} {'p95':>8} {'vs crun':>8}")
for name, _ in tools:
    m, p = pct(times[name], 50), pct(times[name], 95)
    print(f"{name:<12} {m:8.2f} {p:8.2f} {m / crun_med:7.2f}x")
PY

#!/usr/bin/env bash
# Container benchmarks, one table in one run (CPU model printed first):
# 1. start-to-exit of `/bin/true`: `container` (this repo's example, with a 100 MiB memory
#    and 64 pids limit, hardened as by default: capabilities, seccomp, masked paths,
#    descriptors), the same with one hardening part off each (c-noseccomp, c-nomasks,
#    c-nocaps: seccomp and masks off and every capability kept, c-privileged), crun and runc
#    (`run`, same limits), `bwrap --unshare-all` and plain `unshare` as the floor;
# 2. the OCI lifecycle of one container, create + start + wait + delete of `/bin/true` in a
#    bundle (same limits), called the way conmon and containerd's shim call a runtime (this
#    script is the subreaper that waits for the container's process) for isorun (this repo's
#    OCI runtime), crun and runc, with each command's peak RSS (`/usr/bin/time -f %M`, in
#    separate untimed passes); `state` and `exec` of `/bin/true` into a running container
#    (and `container exec` into a `container run -d` one);
# 3. the clients: `podman run --rm IMAGE true` and `ctr run --rm IMAGE ID true` with each
#    runtime (a private podman store and a containerd of our own, stopped by its pid).
# Runs are interleaved (one of each per round); each row shows median and p90 (ms), the
# ratio to crun's row of the same kind and, for the start, state and exec rows, the median
# CPU time (user + system of the command and the children it waited for: the figure to read
# on a loaded machine, where wall times swing by tens of percent). A runtime or client that is missing or fails gets a
# row saying so; every command has a time limit, so the script always ends.
#
#   sudo scripts/bench-container.sh [ROUNDS]      (default 200; CI runs 2)
#   CLIENT_ROUNDS=N (default: ROUNDS, at most 30) rounds of the podman/ctr rows
#
# Installs crun, runc, bubblewrap, time and busybox-static from Debian when missing (podman and
# containerd are used when present). Needs root. Everything it creates (rootfs, bundles,
# cgroups, containers, the podman store, containerd and its state) is removed at the end,
# also on failure.
set -euo pipefail

ROUNDS=${1:-200}
CLIENT_ROUNDS=${CLIENT_ROUNDS:-$(( ROUNDS < 30 ? ROUNDS : 30 ))}
[ "$(id -u)" = 0 ] || { echo "bench-container.sh: run as root" >&2; exit 1; }

missing=""
command -v crun >/dev/null || missing="$missing crun"
command -v runc >/dev/null || missing="$missing runc"
command -v bwrap >/dev/null || missing="$missing bubblewrap"
[ -x /usr/bin/time ] || missing="$missing time"
command -v nft >/dev/null || missing="$missing nftables"
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && file -L /bin/busybox 2>/dev/null | grep -c static >/dev/null \
    || [ -x /usr/bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
BUSYBOX=$(command -v busybox)

ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT_DIR/target}
# container and isorun are built as the README and examples/isorun/README.md say to install
# them: glibc linked in statically (`crt-static` for the final binary only, so no dependency
# rebuilds), which saves the dynamic loader's work and libc's pages on every command (~0.4 ms
# CPU and ~900 KiB RSS each; container run /bin/true: ~0.5 ms CPU, exec: ~0.6 ms).
(cd "$ROOT_DIR" && cargo rustc --release --example container -q -- -C target-feature=+crt-static)
CONTAINER=$TARGET/release/examples/container
# isorun: a missing or failing build gives its rows a "missing" note, not a failed script.
ISORUN=$TARGET/release/examples/isorun
(cd "$ROOT_DIR" && cargo rustc --release --example isorun -q -- -C target-feature=+crt-static) \
    || rm -f "$ISORUN"

WORK=$(mktemp -d /var/tmp/lp-bench-XXXXXX)
# Host directories the clients create on first use; those that are new are removed at the end.
NEW_HOST_DIRS=""
for d in /var/lib/containers /run/containers /run/containerd /etc/containers/networks; do
    [ -e "$d" ] || NEW_HOST_DIRS="$NEW_HOST_DIRS $d"
done
MEM_OWN=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
CG_PARENT=${MEM_OWN%/}/lp-bench-$$
cleanup() {
    # Best effort: one failing step must not stop the others.
    set +e
    runc delete -f lp-bench-runc >/dev/null 2>&1
    crun delete -f lp-bench-crun >/dev/null 2>&1
    # Lifecycle rows: containers left in the private state roots by an interrupted run.
    for rt in isorun crun runc; do
        bin=$rt; [ "$rt" = isorun ] && bin=$ISORUN
        [ -d "$WORK/root-$rt" ] && [ -n "$bin" ] && command -v "$bin" >/dev/null 2>&1 || continue
        for id in $("$bin" --root "$WORK/root-$rt" list -q 2>/dev/null); do
            "$bin" --root "$WORK/root-$rt" delete --force "$id" >/dev/null 2>&1
        done
    done
    # The `exec container` row's detached container.
    [ -d "$WORK/root-container" ] && CONTAINER_ROOT=$WORK/root-container CONTAINER_IMAGES=$WORK/images \
        "$CONTAINER" rm -f lp-bench-cexec >/dev/null 2>&1
    # Mounts below $WORK (the clients' overlay layers, if one escaped the private namespace).
    grep -o " $WORK[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m"; done
    # The cgroups: runc/crun create the absolute path in every v1 hierarchy, podman and ctr
    # their containers' below it. The subtree below our parent goes (retried while conmon or a
    # shim is still leaving it), then the parents that did not exist before (saved below).
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        left=0
        for h in /sys/fs/cgroup/*/; do
            [ -d "$h${CG_PARENT#/}" ] || continue
            find "$h${CG_PARENT#/}" -depth -type d -exec rmdir {} \; 2>/dev/null
            [ -d "$h${CG_PARENT#/}" ] && left=1
        done
        [ "$left" = 0 ] && break
        sleep 0.5
    done
    if [ -f "$WORK/created-cgroups" ]; then
        sort -r "$WORK/created-cgroups" | while read -r d; do rmdir "$d" 2>/dev/null; done
    fi
    # The private bridge network of the c-bridge row.
    ip link del lp-bench0 2>/dev/null
    nft delete table ip lp_bench 2>/dev/null
    for d in $NEW_HOST_DIRS; do
        case $d in
            /var/lib/containers) rm -rf "$d" ;; # podman's blob-info cache only
            *) [ -d "$d" ] && find "$d" -depth -type d -empty -delete 2>/dev/null ;;
        esac
    done
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
for app in sh true sleep; do ln -s busybox "$RFS/bin/$app"; done
: > "$RFS/etc/hostname"; : > "$RFS/etc/resolv.conf"

# OCI bundles for crun and runc with the same limits and an absolute cgroup path below our
# own memory cgroup (they nest relative paths under the caller's cgroup).
# The lifecycle rows use one bundle per runtime the same way (life-RT: /bin/true; idle-RT:
# a long sleep to exec into).
for rt in crun runc life-isorun life-crun life-runc idle-isorun idle-crun idle-runc; do
    B=$WORK/bundle-$rt
    mkdir -p "$B"
    (cd "$B" && runc spec)
    args='["/bin/true"]'
    case $rt in idle-*) args='["/bin/sleep", "600"]' ;; esac
    python3 - "$B/config.json" "$RFS" "$CG_PARENT/$rt" "$args" <<'PY'
import json, sys
path, rootfs, cg, args = sys.argv[1:5]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = json.loads(args)
# `runc spec` asks for ambient capabilities that are not inheritable, which the kernel cannot
# grant (runc drops them silently, isorun refuses): none, as docker and podman ask.
c["process"]["capabilities"].pop("ambient", None)
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
routes=$(ip -4 route show table all)
for x in 240 241 242 243 244 245 246 247 248 249; do
    grep -q "10\.213\.$x\." <<<"$routes" || { SUBNET=10.213.$x.0/24; break; }
done
[ -n "$SUBNET" ] || { echo "bench-container.sh: no free 10.213.x.0/24 for the bridge row" >&2; exit 1; }
CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
[ -x "$ISORUN" ] || ISORUN=""
unshare -m sh -c 'mount -t tmpfs none /sys/fs/cgroup/unified 2>/dev/null || true; exec python3 - "$@"' bench \
    "$ROUNDS" "$CLIENT_ROUNDS" "$CONTAINER" "$RFS" "$WORK" "$SUBNET" "$CG_PARENT" "$ISORUN" "$CPU_MODEL" <<'PY'
import ctypes, json, os, resource, shutil, signal, subprocess, sys, time

(rounds, client_rounds, container, rfs, work, subnet, cg_parent, isorun, cpu_model) = (
    int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:10])
devnull = os.open(os.devnull, os.O_RDWR)
errlog = f"{work}/stderr.log"
errfd = os.open(errlog, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
libc = ctypes.CDLL(None, use_errno=True)


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


signal.signal(signal.SIGALRM, on_alarm)


def wait_limited(pid, limit):
    """wait4(pid) for at most `limit` s (then SIGKILL): (status or None, rusage)."""
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        _, st, ru = os.wait4(pid, 0)
        return st, ru
    except Timeout:
        os.kill(pid, signal.SIGKILL)
        _, st, ru = os.wait4(pid, 0)
        return None, ru
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# The CPU time (user + system, ms) of the last call's process and the children it waited
# for: unlike wall time, it hardly moves with the load of a shared machine.
last_cpu = 0.0


def call(argv, limit=60.0, env=None):
    """Runs argv (stdio /dev/null, stderr kept): (exit code or None, ms, ru_maxrss); its
    CPU time in last_cpu."""
    global last_cpu
    os.ftruncate(errfd, 0)
    os.lseek(errfd, 0, os.SEEK_SET)
    fa = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
          (os.POSIX_SPAWN_DUP2, errfd, 2)]
    t = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, env or os.environ, file_actions=fa)
    st, ru = wait_limited(pid, limit)
    ms = (time.perf_counter_ns() - t) / 1e6
    code = None if st is None else os.waitstatus_to_exitcode(st)
    last_cpu = (ru.ru_utime + ru.ru_stime) * 1e3
    return code, ms, ru.ru_maxrss


def last_error(argv, code):
    err = open(errlog, errors="replace").read().strip().splitlines()
    why = "timed out" if code is None else f"exit {code}"
    return f"`{' '.join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv[:3]))} ...` {why}: {err[-1][:90] if err else ''}"


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# name -> {"group", "ms": [], "cpu": [ms], "rss": {command: [KiB]}, "note"}; groups print in
# this order.
rows = {}
GROUPS = ["start-to-exit", "lifecycle", "state", "exec", "podman", "ctr"]


def row(group, name, note=None):
    rows[name] = {"group": group, "ms": [], "cpu": [], "rss": {}, "note": note}
    return rows[name]


def fail(name, why):
    if rows[name]["note"] is None:
        rows[name]["note"] = why


def live(name):
    return rows[name]["note"] is None


def rt_bin(rt):
    return (isorun or None) if rt == "isorun" else shutil.which(rt)


RUNTIMES = ["isorun", "crun", "runc"]

# ---- 1. start-to-exit of /bin/true ------------------------------------------------------
bridge = ["--net", "bridge", "--bridge", "lp-bench0", "--subnet", subnet, "--nft-table", "lp_bench",
          "--veth-prefix", "lp-bench-", "--lease-dir", f"{work}/leases"]
# The root as crun's and runc's bundles have it: the directory itself, read-only (without
# --rootfs-write, container would put a copy-on-write overlay on it: scripts/bench-image.sh
# measures that).
limits = ["--rootfs", rfs, "--rootfs-write", "--read-only", "--memory", "100M", "--pids", "64",
          "/bin/true"]
tools = [
    ("container", [container, "run", "--net", "none", *limits]),
    ("c-bridge", [container, "run", *bridge, *limits]),
    # The cost of each hardening part: the same run with one part switched off.
    ("c-noseccomp", [container, "run", "--net", "none", "--seccomp", "unconfined", *limits]),
    ("c-nomasks", [container, "run", "--net", "none", "--system-paths", "unconfined", *limits]),
    ("c-nocaps", [container, "run", "--net", "none", "--seccomp", "unconfined", "--system-paths", "unconfined", "--cap-add", "ALL", *limits]),
    ("c-privileged", [container, "run", "--net", "none", "--privileged", *limits]),
    ("crun", ["crun", "run", "--bundle", f"{work}/bundle-crun", "lp-bench-crun"]),
    ("runc", ["runc", "run", "--bundle", f"{work}/bundle-runc", "lp-bench-runc"]),
    ("bwrap", ["bwrap", "--unshare-all", "--ro-bind", rfs, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"]),
    ("unshare", ["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--root", rfs, "/bin/true"]),
]
for name, argv in tools:
    row("start-to-exit", name)
    code, _, _ = call(argv)  # warm up caches, and find the broken ones early
    if code != 0:
        fail(name, last_error(argv, code))
for _ in range(rounds):
    for name, argv in tools:
        if not live(name):
            continue
        code, ms, _ = call(argv)
        if code != 0:
            fail(name, last_error(argv, code))
            continue
        rows[name]["ms"].append(ms)
        rows[name]["cpu"].append(last_cpu)

# ---- 2. the OCI lifecycle, state and exec, as conmon / containerd's shim drive it ---------
# This process becomes a subreaper, so that the container's process is ours to wait for
# once `create` has exited (what conmon and the shim do).
PR_SET_CHILD_SUBREAPER = 36
libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def rt_cmd(rt, *args):
    return [rt_bin(rt), "--root", f"{work}/root-{rt}", *args]


def wait_container(pid, limit=30.0):
    try:
        wait_limited(pid, limit)
    except ChildProcessError:
        # Not our descendant after all: poll until it is gone.
        deadline = time.monotonic() + limit
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.0002)


def timed_rss(argv):
    """`/usr/bin/time -f %M ARGV`: the command's peak RSS in KiB (None if it failed).
    (wait4's ru_maxrss of a child spawned from this process would count Python's own pages.)"""
    out = f"{work}/rss.out"
    code, _, _ = call(["/usr/bin/time", "-f", "%M", "-o", out, *argv])
    if code != 0:
        return None
    return int(open(out).read().split()[-1])


def lifecycle_once(rt, rss=None):
    """create + start + wait + delete of /bin/true: total ms, or an error. With `rss` (a dict),
    each command runs under /usr/bin/time and its peak RSS is added to `rss` (no timing)."""
    cid, pidf = f"lp-bench-life-{rt}", f"{work}/pid-life-{rt}"
    if os.path.exists(pidf):
        os.unlink(pidf)
    t = time.perf_counter_ns()
    for step in ("create", "start", "delete"):
        if step == "create":
            argv = rt_cmd(rt, "create", "--bundle", f"{work}/bundle-life-{rt}", "--pid-file", pidf, cid)
        else:
            argv = rt_cmd(rt, step, cid)
        if rss is None:
            code, _, _ = call(argv)
        else:
            kib = timed_rss(argv)
            code = 0 if kib is not None else 1
            if kib is not None:
                rss.setdefault(step, []).append(kib)
        if code != 0:
            err = last_error(argv, code)
            call(rt_cmd(rt, "delete", "--force", cid))
            return None, err
        if step == "start":
            try:
                pid = int(open(pidf).read().strip())
            except (OSError, ValueError) as e:
                return None, f"--pid-file: {e}"
            wait_container(pid)
    return (time.perf_counter_ns() - t) / 1e6, None


idle = {}
for rt in RUNTIMES:
    for g, name in (("lifecycle", f"lifecycle {rt}"), ("state", f"state {rt}"), ("exec", f"exec {rt}")):
        row(g, name, None if rt_bin(rt) else f"{rt} not installed / not built")
    if not rt_bin(rt):
        continue
    res, err = lifecycle_once(rt)  # warm up
    if err:
        fail(f"lifecycle {rt}", err)
    # A running container for state and exec.
    cid = f"lp-bench-idle-{rt}"
    argv = rt_cmd(rt, "create", "--bundle", f"{work}/bundle-idle-{rt}", cid)
    code, _, _ = call(argv)
    if code == 0:
        code, _, _ = call(rt_cmd(rt, "start", cid))
    if code != 0:
        fail(f"state {rt}", last_error(argv, code))
        fail(f"exec {rt}", last_error(argv, code))
    else:
        idle[rt] = cid
        for name, argv in ((f"state {rt}", rt_cmd(rt, "state", cid)),
                           (f"exec {rt}", rt_cmd(rt, "exec", cid, "/bin/true"))):
            code, _, _ = call(argv)
            if code != 0:
                fail(name, last_error(argv, code))
# `container exec` into a detached container (`run -d`, its own state root and image store).
CEXEC = "exec container"
cenv = dict(os.environ, CONTAINER_ROOT=f"{work}/root-container", CONTAINER_IMAGES=f"{work}/images")
cexec = [container, "exec", "lp-bench-cexec", "/bin/true"]
row("exec", CEXEC)
argv = [container, "run", "-d", "--net", "none", "--name", "lp-bench-cexec", "--rootfs", rfs,
        "--memory", "100M", "--pids", "64", "/bin/sleep", "600"]
code, _, _ = call(argv, env=cenv)
if code == 0:
    code, _, _ = call(cexec, env=cenv)
    argv = cexec
if code != 0:
    fail(CEXEC, last_error(argv, code))
for _ in range(rounds):
    if live(CEXEC):
        code, ms, _ = call(cexec, env=cenv)
        if code != 0:
            fail(CEXEC, last_error(cexec, code))
        else:
            rows[CEXEC]["ms"].append(ms)
            rows[CEXEC]["cpu"].append(last_cpu)
    for rt in RUNTIMES:
        name = f"lifecycle {rt}"
        if live(name):
            ms, err = lifecycle_once(rt)
            if err:
                fail(name, err)
            else:
                rows[name]["ms"].append(ms)
        for verb in ("state", "exec"):
            name = f"{verb} {rt}"
            if not live(name):
                continue
            argv = rt_cmd(rt, verb, idle[rt], *(["/bin/true"] if verb == "exec" else []))
            code, ms, _ = call(argv)
            if code != 0:
                fail(name, last_error(argv, code))
                continue
            rows[name]["ms"].append(ms)
            rows[name]["cpu"].append(last_cpu)
    reap_orphans()
# Peak RSS per command, under /usr/bin/time, in 3 untimed passes (the median is printed).
for _ in range(3):
    for rt in RUNTIMES:
        if live(f"lifecycle {rt}") and rows[f"lifecycle {rt}"]["ms"]:
            lifecycle_once(rt, rows[f"lifecycle {rt}"]["rss"])
        for verb in ("state", "exec"):
            name = f"{verb} {rt}"
            if live(name) and rows[name]["ms"]:
                argv = rt_cmd(rt, verb, idle[rt], *(["/bin/true"] if verb == "exec" else []))
                kib = timed_rss(argv)
                if kib is not None:
                    rows[name]["rss"].setdefault(verb, []).append(kib)
    reap_orphans()
    if live(CEXEC) and rows[CEXEC]["ms"]:
        code, _, _ = call(["/usr/bin/time", "-f", "%M", "-o", f"{work}/rss.out", *cexec], env=cenv)
        if code == 0:
            rows[CEXEC]["rss"].setdefault("exec", []).append(int(open(f"{work}/rss.out").read().split()[-1]))
for rt, cid in idle.items():
    call(rt_cmd(rt, "delete", "--force", cid))
call([container, "rm", "-f", "lp-bench-cexec"], env=cenv)
reap_orphans()
libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

# ---- 3. the clients: podman run --rm and ctr run --rm with each runtime --------------------
IMAGE = "localhost/lp-bench-busybox:latest"
pd = f"{work}/podman"
os.makedirs(pd)
with open(f"{pd}/containers.conf", "w") as f:
    f.write(f'[containers]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
            f'events_logfile_path = "{pd}/events.log"\nlock_type = "file"\n'
            f'[network]\nnetwork_config_dir = "{pd}/networks"\n')
with open(f"{pd}/storage.conf", "w") as f:
    f.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{pd}/root"\nrunroot = "{pd}/runroot"\n')
penv = dict(os.environ, CONTAINERS_CONF=f"{pd}/containers.conf",
            CONTAINERS_STORAGE_CONF=f"{pd}/storage.conf")
podman = ["podman", "--root", f"{pd}/root", "--runroot", f"{pd}/runroot", "--tmpdir", f"{pd}/tmp",
          "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
# podman's default rlimits fail here (no CAP_SYS_RESOURCE in the bounding set): our own.
nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1 << 20)
nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
have_podman = bool(shutil.which("podman"))
image_note = None if have_podman else "podman not installed"
if have_podman:
    subprocess.run(["tar", "-C", rfs, "-cf", f"{work}/rootfs.tar", "."], check=True)
    for argv in (podman + ["import", f"{work}/rootfs.tar", IMAGE],
                 podman + ["save", "--format", "docker-archive", "-o", f"{work}/image.tar", IMAGE]):
        code, _, _ = call(argv, env=penv)
        if code != 0:
            image_note = last_error(argv, code)
            break


def podman_run(rt):
    return podman + ["run", "--rm", "--runtime", rt_bin(rt), "--runtime-flag", f"root={work}/proot-{rt}",
                     "--pull", "never", "--network", "none",
                     "--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}",
                     "--cgroup-parent", f"{cg_parent}/podman", IMAGE, "true"]


cd = f"{work}/containerd"
os.makedirs(f"{cd}/fifo")
sock = f"{cd}/containerd.sock"
ctr_note = image_note or (None if shutil.which("containerd") and shutil.which("ctr") else "containerd not installed")
daemon = None
if ctr_note is None:
    with open(f"{cd}/config.toml", "w") as f:
        plugins = ", ".join(f'"io.containerd.{p}"' for p in (
            "grpc.v1.cri", "internal.v1.opt", "snapshotter.v1.btrfs", "snapshotter.v1.zfs",
            "snapshotter.v1.devmapper", "snapshotter.v1.aufs", "tracing.processor.v1.otlp",
            "internal.v1.tracing"))
        f.write(f'version = 2\nroot = "{cd}/root"\nstate = "{cd}/state"\ndisabled_plugins = [{plugins}]\n'
                f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n'
                f'[debug]\n  address = ""\n[metrics]\n  address = ""\n')
    log = open(f"{cd}/containerd.log", "w")
    daemon = subprocess.Popen(["containerd", "--config", f"{cd}/config.toml"], stdin=subprocess.DEVNULL,
                              stdout=log, stderr=log, cwd=cd)
ctr = ["ctr", "--address", sock, "--namespace", "lp-bench"]
if daemon:
    deadline = time.monotonic() + 30
    while call(ctr + ["version"], limit=5)[0] != 0:
        if time.monotonic() > deadline or daemon.poll() is not None:
            ctr_note = "containerd did not answer in 30 s"
            break
        time.sleep(0.05)
    if ctr_note is None:
        argv = ctr + ["image", "import", f"{work}/image.tar"]
        code, _, _ = call(argv)
        if code != 0:
            ctr_note = last_error(argv, code)


def ctr_run(rt, n):
    return ctr + ["run", "--rm", "--runc-binary", rt_bin(rt), "--runc-root", f"{cd}/runc-root-{rt}",
                  "--fifo-dir", f"{cd}/fifo", "--cgroup", f"{cg_parent}/ctr-{rt}-{n}", IMAGE,
                  f"lp-bench-{rt}-{n}", "true"]


for rt in RUNTIMES:
    missing = None if rt_bin(rt) else f"{rt} not installed / not built"
    row("podman", f"podman run {rt}", missing or image_note)
    row("ctr", f"ctr run {rt}", missing or ctr_note)
for n in range(client_rounds + 1):  # round 0 warms up
    for rt in RUNTIMES:
        for name, argv, env in ((f"podman run {rt}", podman_run(rt) if rt_bin(rt) else None, penv),
                                (f"ctr run {rt}", ctr_run(rt, n) if rt_bin(rt) else None, None)):
            if not live(name):
                continue
            code, ms, _ = call(argv, env=env)
            if code != 0:
                fail(name, last_error(argv, code))
            elif n > 0:
                rows[name]["ms"].append(ms)
if daemon:
    daemon.terminate()
    try:
        daemon.wait(15)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()

# ---- the table ------------------------------------------------------------------------------
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


BASE = {"start-to-exit": "crun", "lifecycle": "lifecycle crun", "state": "state crun",
        "exec": "exec crun", "podman": "podman run crun", "ctr": "ctr run crun"}
print(f"CPU: {cpu_model} ({os.cpu_count()} CPUs); {rounds} interleaved rounds, {client_rounds} for podman/ctr; "
      f"load average {os.getloadavg()[0]:.2f}")
print(f"{'row':<22} {'median ms':>10} {'p90 ms':>9} {'vs crun':>8} {'CPU ms':>7}  peak RSS per command, KiB (/usr/bin/time %M)")
for g in GROUPS:
    base = rows.get(BASE[g])
    base_med = pct(base["ms"], 50) if base and base["ms"] else None
    for name, r in rows.items():
        if r["group"] != g:
            continue
        if not r["ms"]:
            print(f"{name:<22} {'-':>10} {'-':>9} {'-':>8} {'-':>7}  {r['note'] or 'no rounds'}")
            continue
        m, p90 = pct(r["ms"], 50), pct(r["ms"], 90)
        ratio = f"{m / base_med:7.2f}x" if base_med else f"{'-':>8}"
        cpu = f"{pct(r['cpu'], 50):7.2f}" if r["cpu"] else f"{'-':>7}"
        rss = " ".join(f"{k} {pct(v, 50)}" for k, v in r["rss"].items())
        note = f"  ({r['note']})" if r["note"] else ""
        print(f"{name:<22} {m:10.2f} {p90:9.2f} {ratio} {cpu}  {rss}{note}")
PY

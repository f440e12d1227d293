#!/bin/sh
# Runs the black-box probe (tests/probe/probe.c, built static) inside a default `container`
# and inside runc's default container as Docker configures it (Docker's default capability
# set, no_new_privs, runc's masked/read-only paths and devices cgroup, and the default
# seccomp profile of containers-common, i.e. podman's, which is Docker's with a few more
# calls allowed), prints the outputs side by side and checks them:
#   - these must be equal: the five capability sets, NoNewPrivs, Seccomp mode, uid, cwd,
#     open fds, device nodes, masked files and directories, read-only /proc/sys;
#   - these must be refused in `container` (any error), whatever runc answers: every denied
#     system call, mount, using a device node made with mknod.
# Exit status 0 when every check holds. Used by tests/container_security.rs.
#
#   sudo scripts/compare-runc.sh [CONTAINER_BINARY]
#
# Installs runc, busybox-static, gcc and golang-github-containers-common (for the seccomp
# profile) from Debian when missing. Needs root. Everything it creates (rootfs, bundle,
# runc state and cgroups) is removed at the end, also on failure.
set -eu

[ "$(id -u)" = 0 ] || { echo "compare-runc.sh: run as root" >&2; exit 1; }
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)

missing=""
command -v runc >/dev/null || missing="$missing runc"
command -v busybox >/dev/null || missing="$missing busybox-static"
command -v gcc >/dev/null || missing="$missing gcc libc6-dev"
[ -f /usr/share/containers/seccomp.json ] || missing="$missing golang-github-containers-common"
if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if [ $# -ge 1 ]; then
    CONTAINER=$1
else
    TARGET=${CARGO_TARGET_DIR:-$ROOT_DIR/target}
    (cd "$ROOT_DIR" && cargo build --example container -q)
    CONTAINER=$TARGET/debug/examples/container
fi

ID=lp-test-runc-$$
WORK=$(mktemp -d /var/tmp/lp-test-compare-XXXXXX)
cleanup() {
    runc delete -f "$ID" >/dev/null 2>&1 || true
    for h in /sys/fs/cgroup/*/; do
        [ -d "$h$ID" ] && rmdir "$h$ID" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

gcc -static -O1 -o "$WORK/probe" "$ROOT_DIR/tests/probe/probe.c"

RFS=$WORK/rootfs
mkdir -p "$RFS/bin" "$RFS/proc" "$RFS/dev" "$RFS/sys" "$RFS/etc" "$RFS/tmp" "$RFS/mnt"
chmod 1777 "$RFS/tmp"
cp "$(command -v busybox)" "$RFS/bin/busybox"
ln -s busybox "$RFS/bin/sh"
cp "$WORK/probe" "$RFS/probe"
: > "$RFS/etc/hostname"; : > "$RFS/etc/resolv.conf"

B=$WORK/bundle
mkdir -p "$B"
(cd "$B" && runc spec)
python3 - "$B/config.json" "$RFS" "/$ID" <<'PY'
import json, platform, sys
path, rootfs, cg = sys.argv[1:4]
c = json.load(open(path))
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
p = c["process"]
p["terminal"] = False
p["args"] = ["/probe"]
p["noNewPrivileges"] = True
p["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
c["root"] = {"path": rootfs, "readonly": False}
c["hostname"] = "probe"
c["linux"]["cgroupsPath"] = cg
arch = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
native = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}[arch]
prof = json.load(open("/usr/share/containers/seccomp.json"))
sec = {"defaultAction": prof["defaultAction"], "architectures": [native], "syscalls": []}
if "defaultErrnoRet" in prof:
    sec["defaultErrnoRet"] = prof["defaultErrnoRet"]
for a in prof.get("archMap", []):
    if a["architecture"] == native:
        sec["architectures"] += a.get("subArchitectures", [])
have = set(caps)
for s in prof["syscalls"]:
    inc, exc = s.get("includes") or {}, s.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= have:
        continue
    if inc.get("arches") and arch not in inc["arches"]:
        continue
    if exc.get("caps") and set(exc["caps"]) & have:
        continue
    if exc.get("arches") and arch in exc["arches"]:
        continue
    e = {"names": s["names"], "action": s["action"]}
    if s.get("args"):
        e["args"] = s["args"]
    if "errnoRet" in s:
        e["errnoRet"] = s["errnoRet"]
    sec["syscalls"].append(e)
c["linux"]["seccomp"] = sec
json.dump(c, open(path, "w"))
PY

runc run --bundle "$B" "$ID" > "$WORK/runc.out" 2> "$WORK/runc.err" || {
    echo "runc failed:" >&2; cat "$WORK/runc.err" >&2; exit 1; }
"$CONTAINER" run --net none --rootfs "$RFS" --hostname probe -- /probe > "$WORK/container.out" 2> "$WORK/container.err" || {
    echo "container failed:" >&2; cat "$WORK/container.err" >&2; exit 1; }

python3 - "$WORK/container.out" "$WORK/runc.out" <<'PY'
import sys
def load(p):
    d = {}
    for line in open(p):
        k, _, v = line.rstrip("\n").partition(": ")
        d[k] = v
    return d
ours, runc = load(sys.argv[1]), load(sys.argv[2])
equal = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "uid", "cwd",
         "open fds", "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
         "/proc/acpi", "/proc/scsi", "/sys/firmware", "write /proc/sys/kernel/domainname",
         "write /proc/sysrq-trigger", "write /sys/kernel/uevent_helper", "dev nodes"}
denied_calls = {k for k in ours if k.split("(")[0].split(" ")[0] in {
    "keyctl", "add_key", "bpf", "perf_event_open", "unshare", "clone", "setns", "mount",
    "umount2", "pivot_root", "open_by_handle_at", "init_module", "finit_module",
    "delete_module", "kexec_load", "reboot", "ptrace", "userfaultfd", "iopl", "acct", "swapoff",
    "settimeofday", "personality"}}
failures = []
w = max(len(k) for k in ours)
print(f"{'probe':<{w}}  {'container':<34} {'runc (docker defaults)':<34} check")
for k in ours:
    a, b = ours[k], runc.get(k, "-")
    if k in equal:
        ok = a == b
        check = "equal" if ok else "DIFFERS"
    elif k in denied_calls:
        ok = a != "ok"
        check = "refused" if ok else "ALLOWED"
        if ok and b == "ok":
            check = "refused (runc allows)"
    elif k.startswith("mknod"):
        ok = not a.endswith("open ok")
        check = "unusable" if ok else "USABLE"
    else:
        ok, check = True, ""
    if not ok:
        failures.append(k)
    print(f"{k:<{w}}  {a:<34} {b:<34} {check}")
missing = [k for k in runc if k not in ours]
if missing:
    failures += missing
    print("only in runc's output:", ", ".join(missing))
if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print("all checks hold")
PY

#!/usr/bin/env bash
# alloc-core's malloc shim against glibc and the usual preloaded allocators, on whole programs:
#   larson   - larson-style server: random replacement in per-thread slot tables, each table
#              handed to a new thread every round (scripts/preload-bench/larson.c)
#   xmalloc  - producer/consumer: producers allocate, consumers on other threads free
#              (scripts/preload-bench/xmalloc.c)
#   bignum   - cfrac-like: short-lived small bignums of mixed sizes, LIFO frees, some realloc
#   tree     - barnes-like: a quadtree of small nodes rebuilt and freed every step
#   mthread1 - glibc bench-malloc-thread style: free/malloc of inverse-square random sizes
#              (4..32768) in 1,024 slots, 1 thread; mthread2: the same on 2 threads
#   leak     - mleak-like: blocks die young but one in 64 leaks for good
#              (scripts/preload-bench/{bignum,tree,mthread,leak}.c, shared report.h)
#   python3  - scripts/preload-test/workload.py (threads, dicts, strings, sqlite, zlib)
#   sort     - GNU sort of generated text lines
# each with glibc, the shim, and Debian's libjemalloc2 / libmimalloc2.0 / libtcmalloc-minimal4
# preloaded (installed with apt-get when missing), in one run. Rounds interleave the
# allocators so that load from other processes hits them alike; the table gives medians.
#
#   scripts/bench-preload.sh            # ROUNDS=5 SECONDS_PER_RUN=2 SORT_MB=50: about 9 min
#   ROUNDS=9 scripts/bench-preload.sh   # steadier on a busy machine
#
# Throughput is reported per CPU-second (process CPU time, CLOCK_PROCESS_CPUTIME_ID) and per
# wall second; on a machine shared with other work the CPU-second figure is the steadier one.
# Peak RSS is the process's ru_maxrss from wait4. The last lines give each allocator's geometric
# mean over the workloads of its time relative to glibc's (below 1: faster than glibc), per CPU
# second and per wall second, as the external suite of issue #20 reports it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
ROUNDS=${ROUNDS:-5}
SECS=${SECONDS_PER_RUN:-2}
SORT_MB=${SORT_MB:-50}
PY_SCALE=${PY_SCALE:-0.5}
THREADS=${THREADS:-4}
PAIRS=${PAIRS:-2}
work=$(mktemp -d /tmp/lp-bench-preload.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== building the shim and the benchmarks"
# SHIM=/path/to/libmalloc_shim.so uses a shim built before instead.
if [ -z "${SHIM:-}" ]; then
    (cd "$root" && cargo build --quiet --release -p benchmarks --example malloc_shim)
fi
shim=${SHIM:-$target/release/examples/libmalloc_shim.so}
bench=$root/scripts/preload-bench
tests=$root/scripts/preload-test
for prog in larson xmalloc runrss bignum tree mthread leak; do
    gcc -O2 -Wall -pthread -o "$work/$prog" "$bench/$prog.c"
done
gcc -O2 -o "$work/genlines" "$tests/genlines.c"
"$work/genlines" "$SORT_MB" >"$work/lines.txt"

libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
declare -A peer_pkg=([jemalloc]=libjemalloc2 [mimalloc]=libmimalloc2.0 [tcmalloc]=libtcmalloc-minimal4)
declare -A peer_lib=([jemalloc]=libjemalloc.so.2 [mimalloc]=libmimalloc.so.2 [tcmalloc]=libtcmalloc_minimal.so.4)
missing=()
for p in jemalloc mimalloc tcmalloc; do
    [ -f "$libdir/${peer_lib[$p]}" ] || missing+=("${peer_pkg[$p]}")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "== installing ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >"$work/apt.log" 2>&1 ||
        echo "   (apt-get failed; the missing allocators are left out: $(tail -1 "$work/apt.log"))"
fi

names=(glibc alloc-core)
libs=("" "$shim")
for p in jemalloc mimalloc tcmalloc; do
    if [ -f "$libdir/${peer_lib[$p]}" ]; then
        names+=("$p")
        libs+=("$libdir/${peer_lib[$p]}")
    else
        echo "   $p not available: left out"
    fi
done

workloads=(larson xmalloc bignum tree mthread1 mthread2 leak python3 sort)
cmd_for() {
    case $1 in
        larson) echo "$work/larson $SECS $THREADS 5000 8 1000 20000" ;;
        xmalloc) echo "$work/xmalloc $SECS $PAIRS 16 512" ;;
        bignum | tree | leak) echo "$work/$1 $SECS" ;;
        mthread1) echo "$work/mthread $SECS 1" ;;
        mthread2) echo "$work/mthread $SECS 2" ;;
        python3) echo "python3 $tests/workload.py $PY_SCALE" ;;
        sort) echo "env LC_ALL=C sort -o /dev/null $work/lines.txt" ;;
    esac
}

cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
echo "== $ROUNDS rounds x ${#workloads[@]} workloads x ${#names[@]} allocators"
echo "   CPU: ${cpu_model:-unknown}, $(nproc) CPUs; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
results=$work/results.tsv
: >"$results"
n=${#names[@]}
for round in $(seq 1 "$ROUNDS"); do
    for w in "${workloads[@]}"; do
        for k in $(seq 0 $((n - 1))); do
            i=$(((k + round) % n)) # rotate the order each round
            # shellcheck disable=SC2046
            if ! "$work/runrss" "$work/report" "${libs[$i]}" $(cmd_for "$w") >"$work/out" 2>&1; then
                echo "FAIL: $w under ${names[$i]}: $(tail -3 "$work/out")"
                exit 1
            fi
            mops_wall=$(sed -n 's/.*: \([0-9.]*\) Mops\/s wall, \([0-9.]*\) Mops per CPU-second.*/\1/p' "$work/out")
            mops_cpu=$(sed -n 's/.*: \([0-9.]*\) Mops\/s wall, \([0-9.]*\) Mops per CPU-second.*/\2/p' "$work/out")
            # shellcheck disable=SC1090
            eval "$(tr ' ' '\n' <"$work/report")"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "${names[$i]}" "${mops_cpu:--}" "${mops_wall:--}" \
                "$wall" "$cpu" "$maxrss_kb" >>"$results"
        done
    done
    echo "   round $round done (load average $(cut -d' ' -f1-3 /proc/loadavg))"
done

python3 - "$results" "${workloads[*]}" "${names[@]}" <<'EOF'
import math
import statistics
import sys

path, workloads, names = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
rows = {}
for line in open(path):
    w, name, mcpu, mwall, wall, cpu, rss = line.rstrip("\n").split("\t")
    rows.setdefault((w, name), []).append(
        (None if mcpu == "-" else float(mcpu), None if mwall == "-" else float(mwall),
         float(wall), float(cpu), int(rss)))


def med(xs):
    return statistics.median(xs)


print()
# Per allocator, time relative to glibc's of each workload (CPU-based, wall-based).
rel = {name: ([], []) for name in names}
print("workload  allocator    per CPU-s  x glibc |  wall      x glibc | peak RSS  x glibc")
for w in workloads:
    base = rows.get((w, "glibc"))
    if not base:
        continue
    for name in names:
        r = rows.get((w, name))
        if not r:
            continue
        rss = med([x[4] for x in r]) / 1024
        base_rss = med([x[4] for x in base]) / 1024
        if r[0][0] is not None:
            cpu_m, wall_m = med([x[0] for x in r]), med([x[1] for x in r])
            bc, bw = med([x[0] for x in base]), med([x[1] for x in base])
            a = f"{cpu_m:6.2f} Mops  {cpu_m / bc:5.2f}x"
            b = f"{wall_m:6.2f} Mops/s {wall_m / bw:5.2f}x"
            rel[name][0].append((w, bc / cpu_m))
            rel[name][1].append((w, bw / wall_m))
        else:
            # Programs: seconds (lower is better); the ratio is glibc's time over this one's.
            cpu_s, wall_s = med([x[3] for x in r]), med([x[2] for x in r])
            bc, bw = med([x[3] for x in base]), med([x[2] for x in base])
            a = f"{cpu_s:6.2f} s     {bc / cpu_s:5.2f}x"
            b = f"{wall_s:6.2f} s      {bw / wall_s:5.2f}x"
            rel[name][0].append((w, cpu_s / bc))
            rel[name][1].append((w, wall_s / bw))
        print(f"{w:9} {name:11} {a} | {b} | {rss:6.1f} MiB {rss / base_rss:5.2f}x")
print()
print("Medians over rounds. larson/xmalloc: million operations per CPU-second and per wall second")
print("(higher is better); python3/sort: CPU and wall seconds (lower is better). 'x glibc' is")
print("always the speed-up over glibc (>1 is faster), and for RSS the ratio to glibc's peak.")
print()


def geomean(pairs):
    return math.exp(sum(math.log(x) for _, x in pairs) / len(pairs))


print("geometric mean of time relative to glibc over the workloads (below 1: faster than glibc)")
print("allocator    CPU time  wall time  slowest workload (CPU)")
for name in names:
    cpu, wall = rel[name]
    if not cpu:
        continue
    worst = max(cpu, key=lambda p: p[1])
    print(f"{name:11} {geomean(cpu):9.3f} {geomean(wall):10.3f}  {worst[0]} {worst[1]:.2f}")
EOF

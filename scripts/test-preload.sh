#!/usr/bin/env bash
# Proof on programs nobody here wrote: alloc-core's malloc shim
# (benchmarks/examples/malloc_shim.rs) is preloaded into python3, sort, git, gcc/g++ and their
# output, stderr and exit status must be byte for byte those of a run on glibc's malloc. Plus self-checking C programs: the C API
# (errno, alignment, realloc, thread churn) and fork while threads allocate.
#
# Any crash, hang (timeout) or difference fails the script (exit 1) with a message naming it.
#
#   scripts/test-preload.sh              # SORT_MB=200 by default (about 1.5 min on 2 cores)
#   SORT_MB=50 scripts/test-preload.sh   # quicker
#
# Needs: cargo, gcc, g++, python3, git, sort, timeout. Honours CARGO_TARGET_DIR.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
SORT_MB=${SORT_MB:-200}
TIMEOUT=${PRELOAD_TIMEOUT:-300}
work=$(mktemp -d /tmp/lp-test-preload.XXXXXX)
trap 'rm -rf "$work"' EXIT

# SHIM=/path/to/libmalloc_shim.so tests a shim built before instead of building it.
if [ -z "${SHIM:-}" ]; then
    echo "== building the shim (cargo build --release -p benchmarks --example malloc_shim)"
    (cd "$root" && cargo build --quiet --release -p benchmarks --example malloc_shim)
fi
shim=${SHIM:-$target/release/examples/libmalloc_shim.so}
shim_name=$(basename "$shim")
if [ ! -f "$shim" ]; then
    echo "FAIL: $shim was not built"
    exit 1
fi

passed=0
failed=0
pass() {
    echo "ok   $1"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL $1"
    failed=$((failed + 1))
}

# Describes an exit status of `timeout -k 5 ...`.
describe_rc() {
    case $1 in
        0) echo "exit 0" ;;
        124 | 137) echo "HANG (killed after ${TIMEOUT}s)" ;;
        13[0-9] | 14[0-9] | 15[0-9]) echo "CRASH (signal $(($1 - 128)))" ;;
        *) echo "exit $1" ;;
    esac
}

# run_compare NAME CMD...: runs CMD (in a fresh directory each time, stdin from /dev/null,
# bounded by a timeout) on glibc's malloc, then with the shim preloaded, and compares exit
# status, stdout and stderr byte for byte.
run_compare() {
    local name=$1
    shift
    local d=$work/$name
    local mode rc_glibc rc_shim t0 t1
    t0=$(date +%s.%N)
    for mode in glibc shim; do
        mkdir -p "$d/$mode"
        local pre=""
        [ "$mode" = shim ] && pre=$shim
        set +e
        (cd "$d/$mode" && LD_PRELOAD=$pre timeout -k 5 "$TIMEOUT" "$@") \
            >"$d/$mode.out" 2>"$d/$mode.err" </dev/null
        echo $? >"$d/$mode.rc"
        set -e
    done
    t1=$(date +%s.%N)
    rc_glibc=$(cat "$d/glibc.rc")
    rc_shim=$(cat "$d/shim.rc")
    local what
    what="$name ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }'), $(wc -c <"$d/shim.out") bytes of output)"
    if [ "$rc_shim" != "$rc_glibc" ]; then
        fail "$what: glibc $(describe_rc "$rc_glibc"), shim $(describe_rc "$rc_shim")"
        head -c 2000 "$d/shim.err" | sed 's/^/     shim stderr: /'
    elif ! cmp -s "$d/glibc.out" "$d/shim.out"; then
        fail "$what: stdout differs: $(cmp "$d/glibc.out" "$d/shim.out" 2>&1 | head -1)"
    elif ! cmp -s "$d/glibc.err" "$d/shim.err"; then
        fail "$what: stderr differs"
        diff "$d/glibc.err" "$d/shim.err" | head -20 | sed 's/^/     /'
    elif [ "$rc_glibc" != 0 ]; then
        fail "$what: both runs failed: $(describe_rc "$rc_glibc")"
        head -c 2000 "$d/glibc.err" | sed 's/^/     stderr: /'
    else
        pass "$what: identical"
    fi
    rm -rf "$d/glibc.out" "$d/shim.out" "$d/glibc" "$d/shim"
}

# run_self NAME CMD...: a self-checking program, run with the shim preloaded.
run_self() {
    local name=$1
    shift
    set +e
    LD_PRELOAD=$shim EXPECT_MALLOC_FROM=$shim_name timeout -k 5 "$TIMEOUT" "$@" \
        >"$work/$name.out" 2>&1 </dev/null
    local rc=$?
    set -e
    if [ "$rc" = 0 ]; then
        pass "$(tail -1 "$work/$name.out")"
    else
        fail "$name: $(describe_rc "$rc")"
        tail -20 "$work/$name.out" | sed 's/^/     /'
    fi
}

tests=$root/scripts/preload-test
bench=$root/scripts/preload-bench

echo "== the shim is what programs get"
# The maps are read whole before grep looks at them: `cat | grep -q` under pipefail fails
# whenever grep exits before cat has written everything (SIGPIPE), which CI once hit.
maps=$(LD_PRELOAD=$shim cat /proc/self/maps)
if grep -qF "$shim_name" <<<"$maps" &&
    [ -z "$(LD_PRELOAD=$shim true 2>&1)" ]; then
    pass "preloading loads $shim_name without a word on stderr"
else
    fail "$shim_name does not preload cleanly: $(LD_PRELOAD=$shim true 2>&1 | head -3)"
fi

# dlopen, not preloaded: the shim's initial-exec TLS word puts its whole TLS block into
# glibc's small static-TLS reserve, which a 71 KiB thread cache in TLS once overflowed
# ("cannot allocate memory in static TLS block"). A malloc/free through the handle must work.
dl_out=$(python3 -c 'import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.malloc.restype = ctypes.c_void_p
lib.free.argtypes = [ctypes.c_void_p]
p = lib.malloc(100)
ctypes.memset(p, 1, 100)
lib.free(p)
print("ok" if p else "null")' "$shim" 2>&1) || true
if [ "$dl_out" = ok ]; then
    pass "dlopen of $shim_name (not preloaded) works, and malloc/free through it"
else
    fail "dlopen of $shim_name: $(head -3 <<<"$dl_out")"
fi

echo "== self-checking C programs under the shim"
gcc -O2 -Wall -Wextra -pthread -o "$work/api" "$tests/api.c"
gcc -O2 -Wall -Wextra -pthread -o "$work/fork" "$tests/fork.c"
gcc -O2 -Wall -Wextra -o "$work/genlines" "$tests/genlines.c"
g++ -O2 -Wall -pthread -o "$work/cxx" "$tests/cxx.cpp"
run_self api "$work/api"
run_self fork "$work/fork" 150

echo "== real programs: output must be identical with and without the shim"
run_compare python3-threads python3 "$tests/workload.py"
run_compare cxx-new-delete "$work/cxx"

"$work/genlines" "$SORT_MB" >"$work/lines.txt"
"$work/genlines" 40 7 >"$work/lines2.txt"
run_compare "sort-${SORT_MB}MB" env LC_ALL=C sort "$work/lines.txt"
run_compare "sort-40MB-small-buffer-keys" env LC_ALL=C sort -S 16M --parallel=2 -k2,2 -k1,1r -s "$work/lines2.txt"
run_compare sort-40MB-unique-locale env LC_ALL=C.UTF-8 sort -u -f "$work/lines2.txt"
rm -f "$work/lines.txt" "$work/lines2.txt"

# git on a private clone of this repository (others may commit to the checkout meanwhile).
git clone --quiet --no-local "$root" "$work/repo"
repo=$work/repo
run_compare git-log-patch git -C "$repo" log -p --stat --format=fuller
run_compare git-fsck git -C "$repo" fsck --full --strict --no-progress
run_compare git-grep git -C "$repo" grep -n -I -e unsafe -e malloc HEAD
run_compare git-clone-gc-fsck bash -c 'git clone --quiet --no-local "$1" c && git -C c gc --quiet --aggressive && git -C c fsck --full --no-progress && git -C c count-objects -v | grep -v -e size -e prune && git -C c log --oneline | wc -l' _ "$repo"

for src in "$tests/api.c" "$tests/fork.c" "$tests/genlines.c" "$bench"/*.c; do
    run_compare "gcc-O2-$(basename "$src" .c)" gcc -O2 -Wall -pthread -S -o - "$src"
done
run_compare g++-O2-cxx g++ -O2 -Wall -pthread -S -o - "$tests/cxx.cpp"
run_compare gcc-compile-link-run bash -c 'gcc -O2 -pthread -o p "$1" && sha256sum <p && ./p 20' _ "$tests/fork.c"

echo
echo "test-preload: $passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# Side-by-side benchmark of the httpd example against nginx, lighttpd and h2o, in one run.
#
#   scripts/bench-httpd.sh            (DURATION=10s WORKERS=$(nproc) IDLE=10000 by default)
#   DURATION=5s MODES=unpinned scripts/bench-httpd.sh
#   SERVERS="httpd" ROUNDS=3 scripts/bench-httpd.sh   (httpd's three variants only, 3 rounds)
#   PEER_SCHED=batch scripts/bench-httpd.sh   (nginx, lighttpd, h2o under SCHED_BATCH too)
#   HTTPD_FLAGS="--sched normal" scripts/bench-httpd.sh   (more flags for every httpd variant)
#   DURATION=1s MODES=unpinned IDLE=200 scripts/bench-httpd.sh   (CI's short mode, ~3 min)
#   MODES= IDLE=0 TLS_RING=1 scripts/bench-httpd.sh   (the TLS rows only, with ring too)
#
# httpd runs in three variants: "httpd" (the default reactor-per-core design, alloc-core's
# GlobalHeap), "httpd-pool" (--design pool: the seed's one epoll thread handing ready
# connections to a pool of --workers threads through a queue) and "httpd-sysalloc" (the
# reactor design with the system allocator). With ROUNDS=N every server is measured N times,
# interleaved (round 1 of every server, then round 2, ...), and each cell is the median.
#
# Installs nginx, lighttpd, h2o and wrk from Debian if missing; serves the same directory
# (a 1 KiB index.html, a 1 MiB file) with each server on 127.0.0.1 with the same worker
# count and comparable settings (no access log, effectively unlimited keep-alive requests,
# 120 s keep-alive timeout); nginx runs twice for the small-file rows (sendfile on and off)
# and keeps its best. Rows, each `wrk -t2 -d$DURATION --latency`:
#   1 KiB @ 100 and 1,000 keep-alive connections, Connection: close @ 100, 1 MiB @ 100
#   (GB/s), 1 KiB 16-deep pipelined @ 100 (scripts/wrk-pipeline.lua).
# Once with servers on CPU 0 and wrk on CPU 1 (pinned), once unpinned. Then each server's
# RSS growth with $IDLE idle keep-alive connections open. Prints requests/s (or GB/s),
# p50/p99 and httpd's ratio to the best peer per row.
#
# TLS rows (TLS=0 skips them; unpinned, after the plain ones): every server serves HTTPS on
# the same port with the same certificate, made here with openssl (ECDSA P-256; the RSA-2048
# row restarts each server with an RSA certificate; TLS_RSA=0 skips it), TLS 1.2 and 1.3,
# session tickets and a session cache; the peers use Debian's OpenSSL 3 build, httpd rustls
# with aws-lc-rs ("httpd", the default build), and with TLS_RING=1 also rustls with ring
# ("httpd-ring", built with --features tls-ring). Rows:
#   1 KiB keep-alive @ 100 and 1 MiB @ 100 (GB/s): wrk over https (one handshake per
#     connection, then requests; wrk negotiates TLS 1.3, AES-128-GCM with httpd, whose
#     order of suites decides, AES-256-GCM, wrk's first choice, with the peers);
#   new connections with a full handshake / with resumption: connections per second of a
#     client looping connect, handshake, `GET /index.html` (HTTP/1.0: the server closes)
#     for $DURATION in $TLS_CLIENTS threads: benchmarks/examples/tls_handshakes (rustls;
#     TLS_CLIENT=s_time: as many `openssl s_time -new` / `-reuse` processes; see
#     run_newconn for why rustls is the default).
#     Not wrk with `Connection: close`: wrk keeps the session of its last connection
#     (SSL_clear) and resumes it on the next (nginx logs $ssl_session_reused "r" for all but
#     the first connection of each of wrk's sockets), so it measures resumption only.
# with each server's CPU time per request or connection, and RSS growth with $TLS_IDLE idle
# TLS connections (handshake and one request each, bench-httpd-idle.py --tls).
# TLS_PEER_SUITES=aes128: the peers choose the suite as httpd does (their OpenSSL told by an
# OPENSSL_CONF system_default section: Ciphersuites AES-128-GCM, ChaCha20, AES-256-GCM and
# ServerPreference), so that every server encrypts with AES-128-GCM; by default each keeps
# its own settings (OpenSSL then follows the client's order: AES-256-GCM).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)
DURATION=${DURATION:-10s}
WORKERS=${WORKERS:-$(nproc)}
IDLE=${IDLE:-10000}
MODES=${MODES-"pinned unpinned"}
ROUNDS=${ROUNDS:-1}
SERVERS=${SERVERS:-"httpd nginx lighttpd h2o"}
TLS=${TLS:-1}
TLS_RING=${TLS_RING:-0}
TLS_RSA=${TLS_RSA:-1}
TLS_PEER_SUITES=${TLS_PEER_SUITES:-}
TLS_CLIENT=${TLS_CLIENT:-rustls}
TLS_CLIENTS=${TLS_CLIENTS:-16}
TLS_IDLE=${TLS_IDLE:-$IDLE}
WORK=${WORK:-/tmp/lp-bench-httpd}
TARGET=${CARGO_TARGET_DIR:-$ROOT_DIR/target}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v lighttpd >/dev/null || need+=(lighttpd)
command -v h2o >/dev/null || need+=(h2o)
command -v python3 >/dev/null || need+=(python3)
command -v taskset >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)
[ -e /usr/lib/lighttpd/mod_openssl.so ] || need+=(lighttpd-mod-openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n "$(ulimit -Hn)"

# httpd: alloc-core's GlobalHeap (the default), and the system allocator as httpd-sysalloc.
mkdir -p "$(dirname "$WORK")"
cargo build --release --example httpd >&2
cp "$TARGET/release/examples/httpd" "$WORK.httpd.bin"
cargo build --release --example httpd --features system-alloc >&2
cp "$TARGET/release/examples/httpd" "$WORK.httpd-sysalloc.bin"
# httpd-pool: the same binary in the seed's design (one epoll thread feeding a worker pool).
# The TLS rows: the peers and httpd (aws-lc-rs), and httpd-ring with TLS_RING=1.
TLS_SERVERS=$SERVERS
case " $SERVERS " in *" httpd "*) SERVERS="$SERVERS httpd-pool httpd-sysalloc";; esac
cp "$WORK.httpd.bin" "$WORK.httpd-pool.bin"
if [ "$TLS" = 1 ] && [ "$TLS_RING" = 1 ]; then
  cargo build --release --example httpd --features tls-ring >&2
  cp "$TARGET/release/examples/httpd" "$WORK.httpd-ring.bin"
  TLS_SERVERS="$TLS_SERVERS httpd-ring"
fi
[ "$TLS" = 1 ] || TLS_SERVERS=""
if [ -n "$TLS_SERVERS" ] && [ "$TLS_CLIENT" != s_time ]; then
  cargo build --release -p benchmarks --example tls_handshakes >&2
  cp "$TARGET/release/examples/tls_handshakes" "$WORK.tls_handshakes.bin"
fi

rm -rf "$WORK" && mkdir -p "$WORK/www" "$WORK/run"
python3 - "$WORK/www" <<'PY'
import os, sys
d = sys.argv[1]
body = ("<html><body>" + "x" * (1024 - len("<html><body></body></html>\n")) + "</body></html>\n").encode()
assert len(body) == 1024
open(os.path.join(d, "index.html"), "wb").write(body)
open(os.path.join(d, "1m.bin"), "wb").write(os.urandom(1 << 20))
PY
# The certificates: ECDSA P-256 and RSA-2048, self-signed for 127.0.0.1.
mkdir -p "$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls/ec.key" -out "$WORK/tls/ec.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls/rsa.key" -out "$WORK/tls/rsa.pem" 2>/dev/null
# TLS_PEER_SUITES=aes128: httpd's order of suites for the peers' OpenSSL (see the header).
cat > "$WORK/tls/openssl-aes128.cnf" <<'CNF'
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384
Options = ServerPreference
CNF

PORT=${PORT:-18090}
SERVER_PID=
CPU_SERVER=""
CPU_CLIENT=""

start_server() { # name variant [tls: ec|rsa]
  local name=$1 variant=${2:-} tls=${3:-}
  local run="$WORK/run" cert="$WORK/tls/${3:-}.pem" key="$WORK/tls/${3:-}.key"
  local tls_httpd=() tls_nginx="" tls_nginx_listen="" tls_lighttpd="" tls_h2o=""
  if [ -n "$tls" ]; then
    tls_httpd=(--tls-cert "$cert" --tls-key "$key")
    # nginx 1.22's default is TLS 1.0-1.2: name 1.3 as the others have it.
    tls_nginx="ssl_certificate $cert; ssl_certificate_key $key; ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m; ssl_session_tickets on;"
    tls_nginx_listen=" ssl"
    tls_lighttpd="server.modules += (\"mod_openssl\")
ssl.engine = \"enable\"
ssl.pemfile = \"$cert\"
ssl.privkey = \"$key\""
    tls_h2o="
  ssl:
    certificate-file: $cert
    key-file: $key
    minimum-version: TLSv1.2"
  fi
  # Its own session: lighttpd signals its whole process group on shutdown.
  local pin=(setsid)
  [ -n "$CPU_SERVER" ] && pin=(setsid taskset -c "$CPU_SERVER")
  # PEER_SCHED=batch: the peers under SCHED_BATCH too (httpd's default policy, see its
  # README), to see how much of a difference is the scheduling policy.
  case $name in httpd*) ;; *) [ "${PEER_SCHED:-}" = batch ] && pin+=(chrt -b 0) ;; esac
  case $name in httpd*) ;; *) [ -n "$tls" ] && [ "$TLS_PEER_SUITES" = aes128 ] &&
    pin+=(env OPENSSL_CONF="$WORK/tls/openssl-aes128.cnf") ;; esac
  case $name in
    httpd|httpd-sysalloc|httpd-pool|httpd-ring)
      local design=reactor
      [ "$name" = httpd-pool ] && design=pool
      "${pin[@]}" "$WORK.$name.bin" --design $design --port $PORT --bind 127.0.0.1 --root "$WORK/www" \
        --workers "$WORKERS" --keepalive-timeout 120 --header-timeout 120 "${tls_httpd[@]}" \
        ${HTTPD_FLAGS:-} >"$run/$name.out" 2>&1 &
      SERVER_PID=$! ;;
    nginx)
      cat >"$run/nginx.conf" <<CONF
worker_processes $WORKERS;
daemon off;
pid $run/nginx.pid;
error_log $run/nginx.err;
worker_rlimit_nofile 20000;
events { worker_connections 20000; multi_accept on; }
http {
  access_log off;
  sendfile $variant; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000000; keepalive_timeout 120s;
  open_file_cache max=1000 inactive=60s;
  $tls_nginx
  types { text/html html; application/octet-stream bin; }
  server { listen 127.0.0.1:$PORT$tls_nginx_listen reuseport backlog=4096; root $WORK/www; }
}
CONF
      "${pin[@]}" nginx -c "$run/nginx.conf" -p "$run" &
      SERVER_PID=$! ;;
    lighttpd)
      cat >"$run/lighttpd.conf" <<CONF
server.document-root = "$WORK/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.max-worker = $WORKERS
server.max-fds = 20000
server.max-connections = 16000
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 120
server.errorlog = "$run/lighttpd.err"
server.pid-file = "$run/lighttpd.pid"
server.network-backend = "sendfile"
mimetype.assign = (".html" => "text/html", ".bin" => "application/octet-stream")
$tls_lighttpd
CONF
      "${pin[@]}" lighttpd -D -f "$run/lighttpd.conf" &
      SERVER_PID=$! ;;
    h2o)
      cat >"$run/h2o.conf" <<CONF
num-threads: $WORKERS
max-connections: 16000
http1-request-timeout: 120
error-log: $run/h2o.err
listen:
  host: 127.0.0.1
  port: $PORT$tls_h2o
hosts:
  default:
    paths:
      /:
        file.dir: $WORK/www
CONF
      "${pin[@]}" h2o -c "$run/h2o.conf" >"$run/h2o.out" 2>&1 &
      SERVER_PID=$! ;;
  esac
  for ((t = 0; t < 100; t++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start" >&2; return 1
}

stop_server() {
  [ -z "$SERVER_PID" ] && return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for ((t = 0; t < 100; t++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  sleep 0.5
}
# On any exit: the server stopped (by PID), the served tree and the copied binaries removed
# (KEEP_WORK=1 keeps them, e.g. to read the servers' logs in $WORK/run).
cleanup() {
  stop_server
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK" "$WORK".*.bin
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server's processes: the started one and its descendants.
tree_pids() {
  local p=$1; echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
rss_kib() { local sum=0; for p in $(tree_pids "$SERVER_PID"); do
  sum=$((sum + $(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0))); done; echo $sum; }

# CPU time (clock ticks, user + system) used so far by the server's processes.
cpu_ticks() { local sum=0 p f; for p in $(tree_pids "$SERVER_PID"); do
  f=$(cat /proc/"$p"/stat 2>/dev/null) || continue
  f=${f##*) }; read -r -a a <<<"$f"; sum=$((sum + a[11] + a[12])); done; echo $sum; }
TICK=$(getconf CLK_TCK)

# One wrk row: prints "value p50ms p99ms cpu_us client_us" (value: requests/s, or GB/s for
# the 1 MiB row; cpu_us: the server's CPU time per request in microseconds, user + system,
# which tells servers apart even where the client is the bottleneck; client_us: wrk's own
# CPU time per response, which shows when the client is the bottleneck: on 2 cores, server
# plus client CPU per request bounds the rate).
run_wrk() { # conns path extra-kind
  local c=$1 path=$2 kind=$3 args=() pin=() t0 t1
  [ -n "$CPU_CLIENT" ] && pin=(taskset -c "$CPU_CLIENT")
  case $kind in
    close) args=(-H "Connection: close") ;;
    pipe) args=(-s "$ROOT_DIR/scripts/wrk-pipeline.lua") ;;
  esac
  local out client TIMEFORMAT='%3U %3S'
  t0=$(cpu_ticks)
  { time "${pin[@]}" wrk -t2 -c"$c" -d"$DURATION" --latency "${args[@]}" "$SCHEME://127.0.0.1:$PORT$path" >"$WORK/wrk.out" 2>&1 || true; } 2>"$WORK/wrk.time"
  t1=$(cpu_ticks)
  out=$(cat "$WORK/wrk.out")
  client=$(awk '{ print $1 + $2 }' "$WORK/wrk.time")
  echo "$out" >>"$WORK/wrk.log"
  echo "$out" | awk -v kind="$kind" -v ticks=$((t1 - t0)) -v hz="$TICK" -v client="$client" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    function gb(v) { if (v ~ /GB$/) return v+0; if (v ~ /MB$/) return v/1024; if (v ~ /KB$/) return v/1048576; return v/1073741824 }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 } /^Transfer\/sec:/ { tps = gb($2) }
    / requests in / { n = $1 }
    /Non-2xx|Socket errors/ { err = err " " $0 }
    END { v = (kind == "big") ? sprintf("%.2f", tps) : sprintf("%.0f", rps);
          cpu = (n > 0) ? ticks / hz * 1e6 / n : 0
          cl = (n > 0) ? client * 1e6 / n : 0
          printf "%s %.2f %.2f %.2f %.2f\n", v, p50, p99, cpu, cl; if (err != "") print "wrk:" err > "/dev/stderr" }'
}

# One row of new TLS connections for $DURATION, each connecting, handshaking (new: full;
# reuse: resuming a session the client kept), sending `GET /index.html` (HTTP/1.0) and
# reading the response until the server closes. The client (TLS_CLIENT): "rustls"
# (default), benchmarks/examples/tls_handshakes with $TLS_CLIENTS threads (rustls +
# aws-lc-rs, X25519 first as OpenSSL offers it; ~0.25 ms of CPU per full handshake, ~0.19
# per resumed one; the rate is bounded by 2 cores / (client + server CPU per connection),
# so the client's share is printed below the servers'), or "s_time":
# $TLS_CLIENTS parallel `openssl s_time -new` / `-reuse` processes (OpenSSL 3.0 spends
# 1-1.5 ms of CPU per connection there, several times what the servers do, so on two cores
# its rate says more about the client than the server). Prints "value 0 0 cpu_us client_us"
# as run_wrk does (value: connections/s over the wall time measured here; per connection).
run_newconn() { # new|reuse
  local secs k t0 t1 w0 w1 n client TIMEFORMAT='%3U %3S'
  secs=$(awk -v d="$DURATION" 'BEGIN { v = d + 0; if (d ~ /m$/) v *= 60; print (v < 1) ? 1 : v }')
  rm -f "$WORK"/newconn.*
  t0=$(cpu_ticks); w0=$(date +%s.%N)
  if [ "$TLS_CLIENT" = s_time ]; then
    { time (for ((k = 0; k < TLS_CLIENTS; k++)); do
        openssl s_time -connect "127.0.0.1:$PORT" "-$1" -time "${secs%.*}" -www /index.html >"$WORK/newconn.$k" 2>&1 &
      done; wait) ; } 2>"$WORK/newconn.time"
  else
    local mode=new; [ "$1" = reuse ] && mode=resume
    { time "$WORK.tls_handshakes.bin" "$PORT" "$TLS_CLIENTS" "$secs" "$mode" >"$WORK/newconn.0" 2>&1 ; } 2>"$WORK/newconn.time"
  fi
  w1=$(date +%s.%N); t1=$(cpu_ticks)
  cat "$WORK"/newconn.? >>"$WORK/wrk.log"
  # s_time: per process "N connections in S real seconds" (of the timed loop; whole
  # seconds, hence the wall time measured here); tls_handshakes: "connections N ...".
  n=$(cat "$WORK"/newconn.? | awk '/connections in [0-9]+ real seconds/ { n += $1 } /^connections [0-9]+ / { n += $2 } END { print n + 0 }')
  grep -h -m1 -i -E 'error|unable|tls_handshakes:|failed [1-9]' "$WORK"/newconn.? >&2 || true
  client=$(awk '{ print $1 + $2 }' "$WORK/newconn.time")
  awk -v n="$n" -v w0="$w0" -v w1="$w1" -v ticks=$((t1 - t0)) -v hz="$TICK" -v client="$client" 'BEGIN {
    wall = w1 - w0; if (n == 0) { print "0 0 0 0 0"; exit }
    printf "%.0f 0 0 %.2f %.2f\n", n / wall, ticks / hz * 1e6 / n, client * 1e6 / n }'
}

SCHEME=http
ROWS=("1KiB keep-alive c=100|100|/index.html|ka"
      "1KiB keep-alive c=1000|1000|/index.html|ka"
      "1KiB Connection: close c=100|100|/index.html|close"
      "1MiB GB/s c=100|100|/1m.bin|big"
      "1KiB pipelined x16 c=100|100|/index.html|pipe")

declare -A R
for mode in $MODES; do
  if [ "$mode" = pinned ]; then CPU_SERVER=0; CPU_CLIENT=1; else CPU_SERVER=""; CPU_CLIENT=""; fi
  for ((round = 1; round <= ROUNDS; round++)); do
  for s in $SERVERS; do
    variants=(x); [ "$s" = nginx ] && variants=(on off)
    for v in "${variants[@]}"; do
      start_server "$s" "$v"
      # Warm up (page cache, file caches, TCP).
      wrk -t2 -c100 -d2s "http://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 || true
      for i in "${!ROWS[@]}"; do
        IFS='|' read -r label c path kind <<<"${ROWS[$i]}"
        [ "$s" = nginx ] && [ "$v" = off ] && [ "$kind" = big ] && continue
        res=$(run_wrk "$c" "$path" "$kind")
        echo "$mode round$round $s${v/x/} row$i: $res" >&2
        key="$mode|$s|$i|$round"
        prev=${R[$key]:-}
        if [ -z "$prev" ] || awk -v a="${res%% *}" -v b="${prev%% *}" 'BEGIN { exit !(a > b) }'; then
          R[$key]="$res"
        fi
      done
      stop_server
    done
  done
  done
done

# TLS rows (unpinned): label|conns|path|kind; kind new/reuse are s_time rows; rsa-new
# restarts each server with the RSA certificate.
TLS_ROWS=("TLS 1KiB keep-alive c=100|100|/index.html|ka"
          "TLS 1MiB GB/s c=100|100|/1m.bin|big"
          "TLS new conn, full handshake|$TLS_CLIENTS|/index.html|new"
          "TLS new conn, resumed|$TLS_CLIENTS|/index.html|reuse")
[ "$TLS_RSA" = 1 ] && TLS_ROWS+=("TLS new conn, full, RSA-2048|$TLS_CLIENTS|/index.html|rsa-new")
CPU_SERVER=""; CPU_CLIENT=""; SCHEME=https
declare -A SUITE
for ((round = 1; round <= ROUNDS; round++)); do
  for s in $TLS_SERVERS; do
    for cert in ec rsa; do
      [ "$cert" = rsa ] && [ "$TLS_RSA" != 1 ] && continue
      start_server "$s" on "$cert"
      # The suite an OpenSSL client (wrk's library, its default order) gets, on stderr.
      suite=$(openssl s_client -connect "127.0.0.1:$PORT" </dev/null 2>/dev/null |
        sed -n 's/^New, \(TLSv1[.0-9]*\), Cipher is \(.*\)/\1 \2/p')
      echo "tls round$round $s ($cert): suite $suite" >&2
      [ "$cert" = ec ] && SUITE["$s"]=$suite
      wrk -t2 -c100 -d1s "https://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 || true
      for i in "${!TLS_ROWS[@]}"; do
        IFS='|' read -r label c path kind <<<"${TLS_ROWS[$i]}"
        case $cert:$kind in
          ec:rsa-*|rsa:ka|rsa:big|rsa:new|rsa:reuse) continue ;;
          *:ka|*:big) res=$(run_wrk "$c" "$path" "$kind") ;;
          *) res=$(run_newconn "${kind#rsa-}") ;;
        esac
        echo "tls round$round $s row$i: $res" >&2
        R["tls|$s|$i|$round"]="$res"
      done
      stop_server
    done
  done
done
SCHEME=http

# The median over rounds of one cell (the round with the median value, its latencies).
median_cell() { # mode server row
  local r vals=()
  for ((r = 1; r <= ROUNDS; r++)); do
    [ -n "${R["$1|$2|$3|$r"]:-}" ] && vals+=("${R["$1|$2|$3|$r"]}")
  done
  [ ${#vals[@]} -eq 0 ] && { echo "- 0 0 0 0"; return; }
  printf '%s\n' "${vals[@]}" | sort -g -k1,1 | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

# Idle connections: RSS growth per connection (server unpinned).
measure_idle() { # server count [tls]; sets IDLE_RESULT
  local s=$1 n=$2 tls=${3:-} before after hold ipid t url=http
  [ -n "$tls" ] && url=https
  start_server "$s" on $tls
  wrk -t2 -c100 -d1s "$url://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 || true
  sleep 1
  before=$(rss_kib)
  hold="$WORK/run/hold"; touch "$hold"
  python3 "$ROOT_DIR/scripts/bench-httpd-idle.py" "$PORT" "$n" /index.html "$hold" ${tls:+--tls} >"$WORK/run/idle.out" 2>&1 &
  ipid=$!
  for ((t = 0; t < 3000; t++)); do grep -q ready "$WORK/run/idle.out" 2>/dev/null && break; kill -0 $ipid 2>/dev/null || break; sleep 0.1; done
  sleep 2
  if grep -q ready "$WORK/run/idle.out"; then
    after=$(rss_kib)
    IDLE_RESULT=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { printf "%.2f KiB/conn (RSS %d -> %d KiB)", (a-b)/n, b, a }')
  else
    IDLE_RESULT="failed: $(tail -1 "$WORK/run/idle.out")"
  fi
  rm -f "$hold"; wait $ipid 2>/dev/null || true
  stop_server
}
declare -A MEM MEMTLS
CPU_SERVER=""
# IDLE=0 / TLS_IDLE=0 skip them.
if [ "$IDLE" != 0 ]; then
  for s in $SERVERS; do measure_idle "$s" "$IDLE"; MEM[$s]=$IDLE_RESULT; done
fi
if [ "$TLS_IDLE" != 0 ]; then
  for s in $TLS_SERVERS; do measure_idle "$s" "$TLS_IDLE" ec; MEMTLS[$s]=$IDLE_RESULT; done
fi

# One table of values: a row per entry of the array named $2, a column per server in $3,
# httpd's ratio to the best peer, and the second httpd variant ($4) over httpd.
print_values() { # mode rows-array servers variant
  local mode=$1 servers=$3 variant=$4 i s r v p50 p99 best h p label
  local -n rows=$2
  printf '%-30s' "row"
  for s in $servers; do printf '%-26s' "$s"; done
  printf '%-8s%s\n' "ratio" "$variant/httpd"
  for i in "${!rows[@]}"; do
    IFS='|' read -r label _ _ _ <<<"${rows[$i]}"
    printf '%-30s' "$label"
    best=0
    for s in $servers; do
      r=$(median_cell "$mode" "$s" "$i")
      read -r v p50 p99 _ <<<"$r"
      # wrk records one latency per pipelined batch and prints a 99th percentile of 0 for
      # pipelined runs: show that there is none rather than a zero (s_time rows have none).
      [ "$p99" = 0.00 ] && p99=n/a
      [ "$p50" = 0.00 ] && p50=n/a
      printf '%-26s' "$v ($p50/$p99)"
      case $s in httpd*) ;; *) best=$(awk -v a="$v" -v b="$best" 'BEGIN { print (a > b) ? a : b }');; esac
    done
    h=$(median_cell "$mode" httpd "$i")
    p=$(median_cell "$mode" "$variant" "$i")
    awk -v h="${h%% *}" -v b="$best" -v p="${p%% *}" 'BEGIN {
      if (b > 0) printf "%-8s", sprintf("%.2fx", h / b); else printf "%-8s", "-"
      if (p > 0 && h > 0) printf "%.2fx\n", p / h; else print "-" }'
  done
}

# One table of CPU per request (field 4) or the client's CPU per response (field 5).
print_cpu() { # mode rows-array servers field
  local mode=$1 servers=$3 field=$4 i s c best h label
  local -n rows=$2
  printf '%-30s' "row"
  for s in $servers; do printf '%-16s' "$s"; done
  [ "$field" = 4 ] && printf '%s' "ratio"
  echo
  for i in "${!rows[@]}"; do
    IFS='|' read -r label _ _ _ <<<"${rows[$i]}"
    printf '%-30s' "$label"
    best=0
    for s in $servers; do
      c=$(median_cell "$mode" "$s" "$i" | awk -v f="$field" '{ print $f }')
      printf '%-16s' "$c"
      case $s in httpd*) ;; *) best=$(awk -v a="$c" -v b="$best" 'BEGIN { print (b == 0 || (a > 0 && a < b)) ? a : b }');; esac
    done
    if [ "$field" = 4 ]; then
      h=$(median_cell "$mode" httpd "$i" | awk '{ print $4 }')
      awk -v h="$h" -v b="$best" 'BEGIN { if (b > 0 && h > 0) printf "%.2fx\n", h / b; else print "-" }'
    else
      echo
    fi
  done
}

echo
echo "httpd vs nginx / lighttpd / h2o: wrk -t2 -d$DURATION, $WORKERS workers each, $(nproc) CPUs"
echo "CPU: $(lscpu | awk -F: '/^Model name/ { gsub(/^ +/, "", $2); print $2; exit }'); $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(value = requests/s, or GB/s for the 1 MiB row in wrk's units, 2^30 bytes; p50/p99 latency in ms; ratio = httpd / best peer;"
echo " pool/httpd = the pool design over the reactor design; medians of $ROUNDS round(s))"
for mode in $MODES; do
  echo
  echo "== $mode$([ "$mode" = pinned ] && echo ': servers on CPU 0, wrk on CPU 1')"
  print_values "$mode" ROWS "$SERVERS" httpd-pool
done
if [ -n "$TLS_SERVERS" ]; then
  echo
  echo "== TLS (unpinned; ECDSA P-256 unless named): wrk rows as above over https; new-connection rows"
  echo "   in connections/s of $TLS_CLIENTS $TLS_CLIENT clients (full handshake / resumed) for $DURATION, each"
  echo "   connection a GET /index.html; peers on $(openssl version | cut -d' ' -f1-2), httpd on rustls + aws-lc-rs"
  echo -n "   suite an OpenSSL client gets$([ "$TLS_PEER_SUITES" = aes128 ] && echo ' (TLS_PEER_SUITES=aes128)'):"
  for s in $TLS_SERVERS; do echo -n " $s ${SUITE[$s]:-?};"; done
  echo
  print_values tls TLS_ROWS "$TLS_SERVERS" httpd-ring
fi
echo
echo "== server CPU time per request (TLS new-connection rows: per connection), microseconds"
echo "   (user + system, all its processes; lower is better; ratio = httpd / the most frugal peer;"
echo "   same runs as above)"
for mode in $MODES; do
  echo "-- $mode"
  print_cpu "$mode" ROWS "$SERVERS" 4
done
if [ -n "$TLS_SERVERS" ]; then echo "-- TLS"; print_cpu tls TLS_ROWS "$TLS_SERVERS" 4; fi
echo
echo "== client (wrk, $TLS_CLIENT) CPU time per response, microseconds (user + system; same runs; where"
echo "   the server's and the client's CPU per request add up to the 2 cores, the client bounds the rate)"
for mode in $MODES; do
  echo "-- $mode"
  print_cpu "$mode" ROWS "$SERVERS" 5
done
if [ -n "$TLS_SERVERS" ]; then echo "-- TLS"; print_cpu tls TLS_ROWS "$TLS_SERVERS" 5; fi
if [ "$IDLE" != 0 ]; then
  echo
  echo "== RSS growth with $IDLE idle keep-alive connections (server unpinned)"
  for s in $SERVERS; do printf '%-16s %s\n' "$s" "${MEM[$s]:-}"; done
fi
if [ -n "$TLS_SERVERS" ] && [ "$TLS_IDLE" != 0 ]; then
  echo
  echo "== RSS growth with $TLS_IDLE idle TLS connections (ECDSA, handshake and one request each)"
  for s in $TLS_SERVERS; do printf '%-16s %s\n' "$s" "${MEMTLS[$s]:-}"; done
fi

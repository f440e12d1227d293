#!/usr/bin/env bash
# Fuzz reactor::http's request parser and chunked decoder for SECONDS (default 60).
#   scripts/fuzz.sh [SECONDS]
# Needs a nightly toolchain (for the sanitizer); installs cargo-fuzz when missing.
# New corpus entries go to fuzz/work-corpus/ (ignored by git); crashes to fuzz/artifacts/.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/.."

toolchains=$(rustup toolchain list 2>/dev/null || true) # read whole: see .ci/run on pipefail
if ! grep -q '^nightly' <<<"$toolchains"; then
  echo "fuzz.sh: no nightly toolchain; skipping" >&2
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

mkdir -p fuzz/work-corpus/http_parser
# The seeds are read from the repository corpus; new inputs land in the work corpus.
cargo +nightly fuzz run http_parser fuzz/work-corpus/http_parser fuzz/corpus/http_parser -- \
  -max_total_time="$seconds" -dict=fuzz/http.dict -max_len=8192 -print_final_stats=1

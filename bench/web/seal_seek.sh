#!/usr/bin/env bash
# Seek latency in the browser on a sealed recording vs the same session
# recorded plain, both made by Vigil's recorder in this run (seal_bench, which
# also measures recorder CPU and bytes plain / sealed / sealed + evidence
# chain), then served by the real ApiServer to headless Chromium.
#   bench/web/seal_seek.sh BUILD_DIR OUT_DIR [SECONDS]
# BUILD_DIR needs -DVIGIL_BUILD_TESTS=ON -DVIGIL_BUILD_BENCH=ON (seal_bench,
# api_fixture_server). Writes OUT_DIR/seal_bench.json and OUT_DIR/seal_seek.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$1"; out="$2"; seconds="${3:-30}"
[ -d "$root/tests/e2e/node_modules/playwright-core" ] || (cd "$root/tests/e2e" && npm ci --no-audit --no-fund)
"$build/bench/seal_bench" --out "$out" --seconds "$seconds" --rounds "${VIGIL_BENCH_RECORD_ROUNDS:-3}" --seeks 60
work="$(mktemp -d /tmp/vigil-seal-seek.XXXXXX)"
trap 'rm -rf "$work"' EXIT
VIGIL_FIXTURE_SERVER="$build/tests/e2e/api_fixture_server" VIGIL_BENCH_WORK="$work" \
  VIGIL_BENCH_PLAIN="$out/rec/plain.mp4" VIGIL_BENCH_SEALED="$out/rec/sealed.mp4" \
  VIGIL_BENCH_STATE="$out/state" VIGIL_BENCH_DURATION_S="$seconds" VIGIL_BENCH_OUT="$out/seal_seek.json" \
  node "$here/seal_seek.mjs"

#!/usr/bin/env bash
# Web player benchmark: time to first frame and seek latency on a 1-hour
# recording in headless Chromium, live-view latency (server screen change →
# browser pixels) and search latency through the API.
#   bench/web/run.sh [BUILD_DIR]   (default: build; needs api_fixture_server built)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build}"
server="${VIGIL_FIXTURE_SERVER:-$build/tests/e2e/api_fixture_server}"
[ -x "$server" ] || { echo "api_fixture_server not found at $server (build with -DVIGIL_BUILD_TESTS=ON)" >&2; exit 1; }
[ -d "$root/tests/e2e/node_modules/playwright-core" ] || (cd "$root/tests/e2e" && npm ci --no-audit --no-fund)
work="$(mktemp -d /tmp/vigil-web-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
video="${VIGIL_BENCH_VIDEO:-$work/hour.mp4}"
if [ ! -s "$video" ]; then
echo "making a 1-hour synthetic recording (static desktop, a change every minute)..."
start=$(date +%s)
# The same encoder settings as codecs::Recorder: x264 veryfast crf 27, no
# B-frames, keyframe every 10 s, 1 s fragments, millisecond timescale.
ffmpeg -nostdin -v error -y \
  -f lavfi -i "color=c=0x1e2a38:s=1280x800:r=5" \
  -f lavfi -i "testsrc2=s=480x270:r=5" \
  -filter_complex "[0][1]overlay=x=200:y=150:enable='lt(mod(t,60),4)'" \
  -t 3600 -c:v libx264 -preset veryfast -crf 27 -pix_fmt yuv420p -bf 0 \
  -x264-params rc-lookahead=0:sync-lookahead=0:mbtree=0 \
  -force_key_frames 'expr:gte(t,n_forced*10)' \
  -movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 1000000 \
  -video_track_timescale 1000 "$video"
echo "recording: $(du -h "$video" | cut -f1) in $(( $(date +%s) - start )) s"
fi
VIGIL_FIXTURE_SERVER="$server" VIGIL_WEB_ROOT="$root/web-player" VIGIL_BENCH_VIDEO="$video" \
  VIGIL_BENCH_WORK="$work" NODE_PATH="$root/tests/e2e/node_modules" \
  node "$here/bench.mjs"

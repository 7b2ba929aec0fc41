#!/bin/sh
# Captures recorder_bench's scripted desktop losslessly, for recorder_replay:
# runs recorder_bench once and, beside it, grabs the same Xvfb display with
# `ffmpeg -f x11grab` into lossless RGB H.264 (libx264rgb -qp 0) in Matroska.
#   capture_workload.sh BUILD_DIR OUT_DIR [FPS]
# Writes OUT_DIR/workload.mkv (the capture) and OUT_DIR/bench/ (the bench's
# own results for that run; its CPU figures are disturbed by the capture).
set -eu
build=${1:?usage: capture_workload.sh BUILD_DIR OUT_DIR [FPS]}
out=${2:?usage: capture_workload.sh BUILD_DIR OUT_DIR [FPS]}
fps=${3:-10}
mkdir -p "$out/bench"
rm -f "$out/workload.mkv" "$out/bench/results.json"
"$build/tests/integration/recorder_bench" --out "$out/bench" >"$out/bench.stdout" 2>"$out/bench.stderr" &
bench=$!
display=
i=0
while [ -z "$display" ] && [ $i -lt 600 ]; do
  display=$(sed -n 's/^node up: display \(:[0-9]*\),.*/\1/p' "$out/bench.stderr" 2>/dev/null || true)
  i=$((i + 1))
  sleep 0.1
done
if [ -z "$display" ]; then
  echo "capture_workload: recorder_bench did not start a display" >&2
  kill "$bench" 2>/dev/null || true
  exit 1
fi
ffmpeg -nostdin -loglevel error -f x11grab -draw_mouse 0 -framerate "$fps" -video_size 1920x1080 \
  -i "$display" -c:v libx264rgb -qp 0 -preset ultrafast -pix_fmt bgr0 "$out/workload.mkv" \
  2>"$out/capture.log" &
grab=$!
# The bench writes results.json once the workload is over (before it stops
# its desktop): end the capture there.
while [ ! -f "$out/bench/results.json" ] && kill -0 "$bench" 2>/dev/null; do sleep 0.2; done
kill -TERM "$grab" 2>/dev/null || true
wait "$grab" || true
wait "$bench"
echo "capture: $out/workload.mkv ($display, $fps fps)"

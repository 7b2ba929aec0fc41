#!/usr/bin/env bash
# scripts/run as a new user meets it: from a copy of scripts/ and config/
# (no config/vigil.toml yet), with the built vigil (VIGIL_BINARY) so it does
# not build again. Checks what its banner promises: xfreerdp through Vigil to
# demo-rdp types a line that runs on the demo desktop and is searchable; a
# VNC viewer with the printed one-time code reaches demo-vnc; the web API
# answers the auditor; Ctrl-C stops everything it started.
#
#   run_demo_test.sh /path/to/vigil /path/to/source-root
set -euo pipefail
VIGIL=$1
SRC=$2
DEMO_DISPLAY=47
CLIENT_DISPLAY=48
PORTS=(6379 8080 3389 5901 5941 3390)  # the example config's, fixed on purpose

fail() { echo "FAIL: $*" >&2; exit 1; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # wait_for SECONDS CMD...: until CMD succeeds
  local until=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < until)) || return 1; sleep 0.3; done
}

for p in "${PORTS[@]}"; do
  listening "$p" && fail "port $p is in use; the demo needs the example config's ports free"
done
for d in $DEMO_DISPLAY $CLIENT_DISPLAY; do
  xdpyinfo -display ":$d" >/dev/null 2>&1 && fail "display :$d is taken"
done

T=$(mktemp -d /tmp/vigil-run-demo.XXXXXX)
cp -r "$SRC/scripts" "$SRC/config" "$T/"
rm -f "$T/config/vigil.toml"
RUN_PID=""
CLIENT_PIDS=()
finish() {
  local rc=$?
  for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n $RUN_PID ]] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -INT "$RUN_PID" 2>/dev/null || true
    sleep 2
    kill -KILL -- "-$RUN_PID" 2>/dev/null || true
  fi
  if ((rc != 0)); then
    echo "--- scripts/run output" >&2; cat "$T/run.out" >&2 || true
    for f in "$T"/var/log/*.log "$T"/*.log; do
      [[ -f $f ]] && { echo "--- $f (tail)" >&2; tail -n 30 "$f" >&2; }
    done
  fi
  rm -rf "$T"
}
trap finish EXIT

# Job control on: the script gets its own process group and, unlike a plain
# background job, does not ignore SIGINT, as when run from a terminal.
set -m
VIGIL_BINARY=$VIGIL VIGIL_DEMO_DISPLAY=$DEMO_DISPLAY "$T/scripts/run" >"$T/run.out" 2>&1 &
RUN_PID=$!
set +m
wait_for 90 grep -q "Vigil is running" "$T/run.out" || fail "scripts/run did not come up"
[[ -f $T/config/vigil.toml ]] || fail "no config/vigil.toml was created"

# Secrets at rest: owner-only config and var/, a Redis that wants the
# generated password, which is on no command line and in no log.
[[ $(stat -c %a "$T/config/vigil.toml") == 600 ]] || fail "config/vigil.toml is $(stat -c %a "$T/config/vigil.toml"), not 600"
[[ $(stat -c %a "$T/var") == 700 ]] || fail "var/ is $(stat -c %a "$T/var"), not 700"
[[ $(stat -c %a "$T/var/redis.pass") == 600 ]] || fail "var/redis.pass is not 600"
LOOSE=$(find "$T/var" ! -type l -perm /077 | head -5)
[[ -z $LOOSE ]] || fail "open to group or others under var/: $LOOSE"
REDIS_PASS=$(<"$T/var/redis.pass")
[[ $REDIS_PASS =~ ^[0-9a-f]{48}$ ]] || fail "var/redis.pass does not hold a generated password"
grep -qF "url = \"redis://:$REDIS_PASS@127.0.0.1:6379/0\"" "$T/config/vigil.toml" ||
  fail "config/vigil.toml's [redis] url does not carry the generated password"
[[ $(redis-cli -p 6379 ping 2>&1) == *NOAUTH* ]] || fail "Redis answers a client without the password"
[[ $(REDISCLI_AUTH=$REDIS_PASS redis-cli --no-auth-warning -p 6379 ping 2>&1) == PONG ]] ||
  fail "Redis refuses the generated password"
ps -eo args >"$T/ps.txt"
grep -qF -f "$T/var/redis.pass" "$T/ps.txt" && fail "the Redis password is on a command line: $(grep -F -f "$T/var/redis.pass" "$T/ps.txt" | cut -c1-60)"
grep -qF -f "$T/var/redis.pass" "$T"/var/log/*.log "$T/run.out" && fail "the Redis password is in a log"
CODE=$(sed -n 's/.*one-time access code: \([^ ]*\)$/\1/p' "$T/run.out")
[[ $CODE =~ ^[A-Za-z0-9]{8}$ ]] || fail "no one-time VNC code in the banner (got '$CODE')"
vigil() { (cd "$T" && "$VIGIL" "$@"); }

# The client side: its own X display.
Xvfb ":$CLIENT_DISPLAY" -screen 0 1366x900x24 -nolisten tcp >"$T/client-xvfb.log" 2>&1 &
CLIENT_PIDS+=($!)
wait_for 10 xdpyinfo -display ":$CLIENT_DISPLAY" >/dev/null 2>&1 || fail "client Xvfb did not start"
export DISPLAY=:$CLIENT_DISPLAY

live_on() {  # live_on TARGET: a live session on TARGET is listed
  vigil sessions --live --json | grep -Eq "\"target\": ?\"$1\""
}
found_on() {  # found_on WORDS TARGET: `vigil search WORDS` has a hit on TARGET
  vigil search "$1" --json | grep -Eq "\"target\": ?\"$2\""
}
stopped() { ! kill -0 "$1" 2>/dev/null; }
port_free() { ! listening "$1"; }

# RDP, as the banner says.
xfreerdp /v:127.0.0.1:3389 "/u:vendor1#demo-rdp" /p:vendor-demo /cert:ignore /size:1280x800 \
  -grab-keyboard >"$T/xfreerdp.log" 2>&1 &
CLIENT_PIDS+=($!)
wait_for 40 live_on demo-rdp || fail "no live demo-rdp session after xfreerdp connected"
# Live means admitted; keys reach the desktop once the gateway has its own
# connection to the target and the client is active (a person waits for the
# desktop to show just the same).
wait_for 40 grep -q "rdp: client activated" "$T/var/log/vigil.log" ||
  fail "the RDP session through Vigil did not become active"
wait_for 20 xdotool search --name FreeRDP >/dev/null || fail "no xfreerdp window"
WID=$(xdotool search --name FreeRDP | head -n1)
xdotool windowfocus --sync "$WID"
xdotool mousemove --window "$WID" 300 200 click 1  # into the demo terminal (at +60+60)
sleep 1
MARKER="rundemo$RANDOM$RANDOM"
xdotool type --delay 40 "echo $MARKER > $T/$MARKER.txt"
xdotool key Return
wait_for 20 test -s "$T/$MARKER.txt" || fail "the line typed through xfreerdp did not run on the demo desktop"
wait_for 10 found_on "$MARKER" demo-rdp || fail "vigil search does not find the line typed on demo-rdp"

# VNC with the printed one-time code.
printf '%s\n%s\n' "$CODE" "$CODE" | vncpasswd -f >"$T/vnc.pass"
xtigervncviewer -passwd "$T/vnc.pass" 127.0.0.1::5901 >"$T/vncviewer.log" 2>&1 &
CLIENT_PIDS+=($!)
wait_for 30 live_on demo-vnc || fail "no live demo-vnc session with the banner's one-time code"

# The web API, as the auditor.
curl -fsS -u auditor1:auditor-demo http://127.0.0.1:8080/api/sessions | grep -q '"demo-rdp"' \
  || fail "the web API does not list the demo-rdp session for auditor1"

# A terminate published straight on Redis (a local user with the password,
# but not the gateway key) is dropped; the session keeps running.
RDP_ID=$(vigil sessions --live --json | python3 -c '
import json, sys
print(next(s["id"] for s in json.load(sys.stdin)["sessions"] if s["target"] == "demo-rdp"))')
[[ $(REDISCLI_AUTH=$REDIS_PASS redis-cli --no-auth-warning -p 6379 PUBLISH vigil:control \
  "{\"op\":\"terminate\",\"session\":\"$RDP_ID\",\"by\":\"mallory\"}") == 1 ]] ||
  fail "the gateway is not subscribed to vigil:control"
wait_for 10 grep -q "event=control_message_dropped channel=vigil:control" "$T/var/log/vigil.log" ||
  fail "an unsigned terminate on vigil:control was not reported as dropped"
sleep 1
live_on demo-rdp || fail "an unsigned terminate on Redis ended the demo-rdp session"
# `vigil terminate` signs with the gateway key: that one ends it.
vigil terminate "$RDP_ID" >"$T/terminate.out" 2>&1 || fail "vigil terminate failed: $(cat "$T/terminate.out")"
live_on demo-rdp && fail "demo-rdp is still live after vigil terminate"
grep -qF -f "$T/var/redis.pass" "$T"/var/log/*.log && fail "the Redis password is in a log"

# Ctrl-C: everything it started goes away.
for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
CLIENT_PIDS=()
kill -INT "$RUN_PID"
# scripts/run gives its children 10 s before SIGKILL; a loaded CI machine
# needs slack on top of that.
wait_for 30 stopped "$RUN_PID" ||
  fail "scripts/run did not stop on Ctrl-C; still running:
$(pgrep -a -g "$RUN_PID" 2>&1)"
RUN_PID=""
for p in "${PORTS[@]}"; do
  wait_for 10 port_free "$p" || fail "port $p still listens after scripts/run stopped"
done
echo "scripts/run demo: owner-only config and var/, Redis wants its password, RDP line searchable, VNC code works, web API answers, unsigned terminate dropped, vigil terminate works, clean stop"

# Shared by scripts/run and scripts/test: install what is missing, build.
# Sourced, not run. Uses: ROOT (repository root).

set -euo pipefail

# Everything Vigil builds with, runs against, and tests with (Debian 12).
VIGIL_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  freerdp2-dev freerdp2-x11 freerdp2-shadow-x11 winpr-utils
  libvncserver-dev zlib1g-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg
  libopencv-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-script-latn libtesseract-dev
  libhiredis-dev redis-server redis-tools libzip-dev libre2-dev
  libboost-dev libsodium-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev
  libcli11-dev libssl-dev openssl
  xvfb x11vnc openbox xterm xdotool imagemagick x11-utils dbus
  tigervnc-viewer tigervnc-tools
  fonts-dejavu-core fonts-liberation
)
VIGIL_TEST_PACKAGES=(
  libgtest-dev libgmock-dev
  chromium
  xfwm4 icewm x11-xserver-utils
  gvncviewer xtightvncviewer remmina remmina-plugin-vnc remmina-plugin-rdp dbus-daemon
  tigervnc-standalone-server xrdp xxd
  rdesktop
  rsyslog rsyslog-openssl
  xclip
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the packages that are not installed yet (apt-get, as root).
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]} (run as root, or apt-get install them)"
    log "installing ${#missing[@]} packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    ensure_packages nodejs npm
  fi
}

# build DIR [cmake args...]: configure once, then build with ninja.
build() {
  local dir=$1; shift
  if [[ ! -f $dir/build.ninja ]]; then
    cmake -G Ninja -S "$ROOT" -B "$dir" "$@" >/dev/null
  fi
  log "building in ${dir#$ROOT/} (log: ${dir#$ROOT/}/build.log)"
  if ! ninja -C "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
    grep -E -A5 'error|FAILED' "$dir/build.log" | head -60 >&2
    die "build failed; see $dir/build.log"
  fi
}

# tighten_modes PATH...: whatever group or others may open under these paths
# (made before scripts/run set umask 077) becomes owner-only; says what changed.
tighten_modes() {
  local existing=() p loose
  for p in "$@"; do [[ -e $p ]] && existing+=("$p"); done
  ((${#existing[@]})) || return 0
  loose=$(find "${existing[@]}" ! -type l -perm /077 2>/dev/null | wc -l) || true
  ((loose)) || return 0
  chmod -R go-rwx "${existing[@]}" || die "cannot make ${existing[*]} owner-only (chmod -R go-rwx)"
  log "made ${existing[*]} owner-only ($loose files or folders were open to group or others)"
}

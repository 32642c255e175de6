#!/usr/bin/env bash
# Render an HTML report to a PNG with headless Chromium, to look at it or keep it as a CI artefact.
#
#   scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]
#
# Needs Chromium (Debian: apt-get install -y chromium) and a CJK font
# (apt-get install -y fonts-noto-cjk), else Chinese text shows as boxes.
# $CHROMIUM names another browser binary.  Exit 2 when something is missing.
set -euo pipefail

html=${1:?usage: scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]}
out=${2:-${html%.*}.png}
size=${3:-1280,3000}

browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
if [ -z "$browser" ]; then
  echo "error: chromium not found (Debian: apt-get install -y chromium fonts-noto-cjk)" >&2
  exit 2
fi
if [ ! -f "$html" ]; then
  echo "error: $html: no such file" >&2
  exit 2
fi

uri=$(python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "$html")
out_abs=$(python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve())' "$out")
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
rm -f "$out_abs"

timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --screenshot="$out_abs" --window-size="$size" "$uri" >"$log" 2>&1 || true

if [ ! -s "$out_abs" ]; then
  echo "error: chromium wrote no screenshot; its output:" >&2
  cat "$log" >&2
  exit 1
fi
echo "$out_abs"

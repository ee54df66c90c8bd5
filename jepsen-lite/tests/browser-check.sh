#!/usr/bin/env bash
# jepsen-lite's pages in a real headless browser: generates a valid and an
# invalid sim run's report and the linearizability page of `check --html`,
# loads each page in headless Chromium and fails unless its script ran to the
# end without an error (the pages set data-rendered="ok" on <body> when they
# have drawn, data-js-error on any error) and drew what it should. The SVG
# plots must load as SVG documents.
#
#   bash jepsen-lite/tests/browser-check.sh              # check
#   SCREENSHOTS=docs/img bash jepsen-lite/tests/browser-check.sh   # and save screenshots
#
# Installs Chromium from Debian's packages when it is missing (root, as on CI).
set -euo pipefail
cd "$(dirname "$0")/../.."

browser=""
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then browser="$name"; break; fi
done
if [ -z "$browser" ]; then
  echo "== installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  browser=chromium
fi
echo "== $("$browser" --version 2>/dev/null || echo "$browser")"

echo "== building jepsen-lite (release, bug catalogue; the sim backend needs no process backend)"
cargo build --release -q -p jepsen-lite --no-default-features --features bug-catalogue
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/jepsen-lite"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== a valid run and an invalid one (sim backend)"
"$bin" run --backend sim --time 20s --seed 1 --store "$work/valid" >"$work/valid.log" 2>&1 \
  || { cat "$work/valid.log"; echo "FAIL: the valid run did not pass"; exit 1; }
status=0
"$bin" run --backend sim --time 60s --seed 1 --bug local-reads --store "$work/invalid" >"$work/invalid.log" 2>&1 || status=$?
if [ "$status" -ne 1 ]; then
  cat "$work/invalid.log"; echo "FAIL: the local-reads run should be invalid (exit 1), got $status"; exit 1
fi
status=0
"$bin" run --backend sim --workload list-append --time 30s --seed 1 --bug local-reads --store "$work/txn" >"$work/txn.log" 2>&1 || status=$?
if [ "$status" -ne 1 ]; then
  cat "$work/txn.log"; echo "FAIL: the list-append local-reads run should be invalid (exit 1), got $status"; exit 1
fi
txn="$(readlink -f "$work/txn/latest")"
valid="$(readlink -f "$work/valid/latest")"
invalid="$(readlink -f "$work/invalid/latest")"
status=0
"$bin" check --html "$work/check.html" "$invalid/history.jsonl" >"$work/check.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || { cat "$work/check.log"; echo "FAIL: check should find the history invalid, got $status"; exit 1; }

failures=0
chrome() {
  # A profile of its own each time: a second browser on the same profile
  # would hand its page to the first and print nothing. The
  # --virtual-time-budget lets the page's script and a frame run first.
  local profile
  profile="$(mktemp -d "$work/profile.XXXXXX")"
  "$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars \
    --user-data-dir="$profile" \
    --window-size=1400,1000 --virtual-time-budget=5000 "$@" 2>/dev/null
}
# check PAGE NAME NEEDLE...: the page rendered, no script error, and the
# <body> element or the DOM holds each needle.
check() {
  local page="$1" name="$2"; shift 2
  local dom
  dom="$(chrome --dump-dom "file://$page")" || true
  local body
  # (here-strings, not pipes: with pipefail, grep -q closing the pipe
  # early would fail the printf before it)
  body="$(grep -o -m1 '<body[^>]*>' <<<"$dom" || true)"
  local ok=1
  if ! grep -q 'data-rendered="ok"' <<<"$body"; then ok=0; echo "  $name: did not render: $body"; fi
  if grep -q 'data-js-error' <<<"$body"; then ok=0; echo "  $name: script error: $body"; fi
  for needle in "$@"; do
    if ! grep -qE -- "$needle" <<<"$dom"; then ok=0; echo "  $name: missing $needle"; fi
  done
  if [ "$ok" = 1 ]; then echo "ok   $name  $body"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
check_svg() {
  local file="$1" name="$2" dom
  dom="$(chrome --dump-dom "file://$file")" || true
  if grep -q '<svg' <<<"$dom"; then echo "ok   $name"; else echo "FAIL $name: not an SVG document"; failures=$((failures + 1)); fi
}

echo "== loading the pages in headless $browser"
started=$(date +%s%N)
check "$valid/timeline.html" "valid timeline.html" 'data-drawn="[1-9][0-9]*"' 'class="lane-label"' 'data-lanes="process"'
check "$invalid/timeline.html" "invalid timeline.html" 'data-drawn="[1-9][0-9]*"' 'id="go-failing"' 'could not linearize'
check "$invalid/timeline.html#lanes=key" "invalid timeline.html, lanes by key" 'data-lanes="key"' 'data-drawn="[1-9][0-9]*"' 'class="lane-label"[^>]*>key 0<'
check "$valid/timeline.html#lanes=server" "valid timeline.html, lanes by server" 'data-lanes="server"' 'data-drawn="[1-9][0-9]*"' '>(server n[0-9]|\(no server\))<' 'href="rate.svg"' 'href="latency-quantiles.svg"'
check "$txn/timeline.html" "list-append timeline.html (Elle anomaly marked)" 'data-drawn="[1-9][0-9]*"' 'id="go-failing"' 'first anomaly the checker found, G-single-realtime'
check "$invalid/linearizability.html" "invalid linearizability.html" 'data-svgs="[1-9][0-9]*"' 'class="op'
check "$work/check.html" "check --html page" 'data-svgs="[1-9][0-9]*"'
for svg in "$valid"/*.svg "$invalid"/*.svg; do
  check_svg "$svg" "$(basename "$(dirname "$svg")")/$(basename "$svg")"
done
echo "== pages loaded and checked in $(( ($(date +%s%N) - started) / 1000000 )) ms"

if [ -n "${SCREENSHOTS:-}" ]; then
  mkdir -p "$SCREENSHOTS"
  chrome --screenshot="$SCREENSHOTS/timeline-valid.png" "file://$valid/timeline.html" >/dev/null
  chrome --screenshot="$SCREENSHOTS/timeline-invalid.png" "file://$invalid/timeline.html" >/dev/null
  chrome --screenshot="$SCREENSHOTS/linearizability.png" "file://$invalid/linearizability.html" >/dev/null
  for svg in rate latency-quantiles; do
    chrome --window-size=1200,520 --screenshot="$SCREENSHOTS/$svg.png" "file://$invalid/$svg.svg" >/dev/null
  done
  echo "== screenshots in $SCREENSHOTS"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failed"
  exit 1
fi
echo "browser-check: $((7 + $(ls "$valid"/*.svg "$invalid"/*.svg | wc -l))) passed, 0 failed"

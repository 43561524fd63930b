#!/usr/bin/env bash
# Browser test of the review console: builds `cargo xtask`, starts `xtask review` on a copy of
# the fixture tests/fixtures/review/records.jsonl, drives it in headless Chromium with
# playwright-core (tests/browser/review.test.mjs: filter, accept, reject, invalid then valid
# edit, review log, inert <script>), and writes the screenshot docs/review-console.png.
#
# Needs Chromium (Debian: `apt-get install chromium`; another binary via CHROMIUM=...) and
# Node.js; installs playwright-core into tests/browser/node_modules (git-ignored) when missing.
#
# Usage: scripts/review_browser_test.sh [SCREENSHOT]   (default: docs/review-console.png)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHOT="${1:-$ROOT/docs/review-console.png}"
cd "$ROOT"

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
fi
cargo build --release -p xtask
BIN="$ROOT/target/release/xtask"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

cp tests/fixtures/review/records.jsonl "$WORK/records.jsonl"
"$BIN" review --data "$WORK/records.jsonl" --port 0 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL="$(grep -o 'http://[0-9.:]*/' "$WORK/server.log" | head -n 1 || true)"
    [ -n "$URL" ] && break
    sleep 0.1
done
if [ -z "$URL" ]; then
    cat "$WORK/server.log" >&2
    echo "the review console did not start" >&2
    exit 1
fi
node tests/browser/review.test.mjs "$URL" "$WORK/records.jsonl.review.jsonl" "$SHOT"

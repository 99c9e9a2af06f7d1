#!/usr/bin/env bash
# PostgreSQL's own insert rate, for comparison with the store's: pgbench
# (shipped with the server) runs one INSERT per transaction of a narrow row
# shaped like `interactions` without its reasoning (about 200 bytes of
# text, the same three indexes), 8 clients on 2 threads for 20 s.
#
#   export "$(scripts/postgres.sh)"; benches/pgbench.sh
#
# Works in its own database, coe_pgbench (created with the URL's role, which
# needs CREATEDB), never in the one the URL names. Messages go to stderr;
# stdout is one line: `pgbench inserts/s: N`.
# PGBENCH_CLIENTS, PGBENCH_THREADS, PGBENCH_SECONDS override 8, 2, 20.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "pgbench: $*" >&2; }
die() { say "$*"; exit 1; }

URL="${COE_TEST_POSTGRES_URL:-}"
[[ -n "$URL" ]] || die 'COE_TEST_POSTGRES_URL is not set; run: export "$(scripts/postgres.sh)"'
CLIENTS="${PGBENCH_CLIENTS:-8}"
THREADS="${PGBENCH_THREADS:-2}"
SECONDS_="${PGBENCH_SECONDS:-20}"

# pgbench and psql: on PATH, else beside the server scripts/postgres.sh uses.
tool() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local bindir
  bindir="$(scripts/postgres.sh --bindir 2>/dev/null)" && [[ -x "$bindir/$1" ]] && { echo "$bindir/$1"; return; }
  die "$1 not found; it ships with the PostgreSQL server (Debian: apt-get install postgresql), or run scripts/postgres.sh once"
}
PGBENCH="$(tool pgbench)"
PSQL="$(tool psql)"

# The same server and role, the database coe_pgbench (query string kept).
base="${URL%%\?*}"
query=""
[[ "$URL" == *\?* ]] && query="?${URL#*\?}"
BENCH_URL="${base%/*}/coe_pgbench$query"

"$PSQL" "$URL" -Atqc "select 1" >/dev/null 2>&1 || die "cannot connect to COE_TEST_POSTGRES_URL; start the server (scripts/postgres.sh) and check the URL"
if [[ "$("$PSQL" "$URL" -Atqc "select count(*) from pg_database where datname = 'coe_pgbench'")" == 0 ]]; then
  "$PSQL" "$URL" -qc "create database coe_pgbench" >/dev/null ||
    die "could not create the database coe_pgbench; give the URL's role CREATEDB or create it yourself"
fi

"$PSQL" "$BENCH_URL" -qX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages TO warning;
DROP TABLE IF EXISTS bench_rows;
CREATE TABLE bench_rows (
    id             BIGSERIAL PRIMARY KEY,
    created_at     TEXT    NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    guild_id       BIGINT,
    source         TEXT    NOT NULL,
    user_key       TEXT    NOT NULL,
    therapy        TEXT    NOT NULL,
    prompt_version TEXT    NOT NULL,
    model          TEXT    NOT NULL,
    emotion        TEXT,
    strategy       TEXT,
    outcome        TEXT    NOT NULL,
    latency_ms     BIGINT  NOT NULL
);
CREATE INDEX bench_rows_by_guild ON bench_rows (guild_id, id);
CREATE INDEX bench_rows_by_user_key ON bench_rows (user_key);
CREATE INDEX bench_rows_by_created_at ON bench_rows (created_at);
SQL

script="$(mktemp)"
out="$(mktemp)"
trap 'rm -f "$script" "$out"' EXIT
cat >"$script" <<'SQL'
\set guild random(1, 1000)
\set member random(1, 100000)
\set latency random(200, 5000)
INSERT INTO bench_rows (guild_id, source, user_key, therapy, prompt_version, model, emotion, strategy, outcome, latency_ms)
VALUES (:guild, 'channel', md5(:member::text) || md5((:member + 1)::text), 'cbt', 'cbt@2024-11-01',
        'SmolLM2-135M-Instruct.Q4_1', 'loneliness', 'exploration', 'replied', :latency);
SQL

say "$CLIENTS clients, $THREADS threads, ${SECONDS_} s, one INSERT per transaction"
"$PGBENCH" -n -M prepared -f "$script" -c "$CLIENTS" -j "$THREADS" -T "$SECONDS_" "$BENCH_URL" >"$out" 2>&1 ||
  { cat "$out" >&2; die "pgbench failed (above)"; }
grep -E 'latency average|number of transactions actually processed|number of failed' "$out" >&2 || true
size="$("$PSQL" "$BENCH_URL" -Atqc "select round(avg(pg_column_size(b.*))) from (select * from bench_rows limit 1000) b")"
say "average row: $size bytes"
tps="$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\).*/\1/p' "$out")"
[[ -n "$tps" ]] || { cat "$out" >&2; die "no tps line in pgbench's output (above)"; }
"$PSQL" "$BENCH_URL" -qc "DROP TABLE bench_rows" >/dev/null
printf 'pgbench inserts/s: %.0f\n' "$tps"

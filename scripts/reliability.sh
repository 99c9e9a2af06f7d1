#!/usr/bin/env bash
# Reliability tests (issue 6): fault injection, slow model, graceful shutdown, crash durability
# (kill -9 of the real binary) and output-parser fuzzing. The fast ones also run in the normal
# suite; the slow ones are #[ignore]d there and run only here.
#
#   scripts/reliability.sh           every reliability test, slow ones included
#   scripts/reliability.sh --slow    only the slow (#[ignore]d) ones, for CI after scripts/test.sh
#
# Builds what it needs in the debug profile (the one scripts/test.sh uses, so nothing is built
# twice), runs every step under a time limit, prints one summary line and exits non-zero if any
# step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

slow_only=false
case "${1:-}" in
  --slow) slow_only=true ;;
  "") ;;
  *) echo "usage: $0 [--slow]" >&2; exit 2 ;;
esac

# test target | extra libtest arguments | run in --slow mode?
steps=(
  "reliability_faults||no"
  "reliability_slow_llm||no"
  "reliability_shutdown||no"
  "reliability_parse_fuzz||no"
  "reliability_parse_fuzz|--ignored|yes"
  "reliability_crash|--ignored|yes"
)

# Every step is bounded; `timeout` is in coreutils, but do not fail where it is missing.
limit=()
command -v timeout >/dev/null && limit=(timeout --kill-after=10 900)

targets=()
for step in "${steps[@]}"; do
  IFS='|' read -r target _ slow <<<"$step"
  if $slow_only && [ "$slow" = no ]; then continue; fi
  [[ " ${targets[*]} " == *" --test $target "* ]] || targets+=(--test "$target")
done

started=$SECONDS
echo "== building ${targets[*]}"
if ! ${limit[@]+"${limit[@]}"} cargo test --locked --no-run "${targets[@]}"; then
  echo "reliability: FAILED (build) in $((SECONDS - started))s"
  exit 1
fi

passed=0
failed=()
for step in "${steps[@]}"; do
  IFS='|' read -r target args slow <<<"$step"
  if $slow_only && [ "$slow" = no ]; then continue; fi
  label="$target${args:+ $args}"
  echo "== $label"
  step_started=$SECONDS
  # --nocapture: the tests print their figures (outcome counts, timings).
  # shellcheck disable=SC2086 # $args is zero or one word on purpose
  if ${limit[@]+"${limit[@]}"} cargo test --locked --test "$target" -- $args --nocapture; then
    passed=$((passed + 1))
    echo "== $label: ok in $((SECONDS - step_started))s"
  else
    failed+=("$label")
    echo "== $label: FAILED after $((SECONDS - step_started))s"
  fi
done

total=$((SECONDS - started))
if [ ${#failed[@]} -eq 0 ]; then
  echo "reliability: ok, $passed step(s) passed in ${total}s"
else
  echo "reliability: FAILED, $passed passed, ${#failed[@]} failed (${failed[*]}) in ${total}s"
  exit 1
fi

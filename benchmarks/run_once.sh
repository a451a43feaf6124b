#!/usr/bin/env bash
# Runs a benchmark binary once with tiny sizes: proves it builds and runs, measures nothing.
# Usage: run_once.sh BINARY [extra benchmark flags...]
set -euo pipefail
binary="$1"
shift
out=$("$binary" --benchmark_min_time=0.001 --benchmark_format=console "$@" 2>&1) || {
  echo "$out"
  echo "run_once.sh: $binary failed" >&2
  exit 1
}
echo "$out"
# A run whose benchmarks all errored, or that ran none, is a failure.
if grep -q "ERROR OCCURRED" <<<"$out"; then
  echo "run_once.sh: a benchmark reported an error" >&2
  exit 1
fi
if ! grep -qE '^BM_' <<<"$out"; then
  echo "run_once.sh: no benchmark ran" >&2
  exit 1
fi

#!/usr/bin/env bash
# Builds every fuzz target with clang (-fsanitize=fuzzer,address,undefined) and runs each
# for MINUTES minutes (default 10) on a copy of its seed corpus; new inputs that raise
# coverage are kept in fuzz/corpus-found/NAME/, crashes in fuzz/crashes/NAME/. Prints each
# target's last libFuzzer status line (executions, cov:, corpus size).
#   fuzz/run.sh [MINUTES] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(peer_message_fuzzer client_request_fuzzer command_codec_fuzzer
           snapshot_codec_fuzzer parsers_fuzzer core_fuzzer core_lease_fuzzer wal_fuzzer)
fi
root="${RAFTKV_FUZZ_ROOT:-/tmp/raftkv-fuzz-root}"
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz/run.sh: installing Debian's clang and its libFuzzer runtime" >&2
  apt-get install -y -q --no-install-recommends clang libclang-rt-14-dev >&2
fi
./bazelw --output_user_root="$root" build --config=fuzz --symlink_prefix=/ "${targets[@]/#/\/\/fuzz:}"
bin="$(./bazelw --output_user_root="$root" info --config=fuzz bazel-bin 2>/dev/null)"
status=0
for t in "${targets[@]}"; do
  found="fuzz/corpus-found/$t"
  crashes="fuzz/crashes/$t"
  mkdir -p "$found" "$crashes"
  log="$crashes/../$t.log"
  echo "== $t: $minutes min"
  if ! "$bin/fuzz/$t" -max_total_time=$((minutes * 60)) -print_final_stats=1 \
      -artifact_prefix="$crashes/" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      "$found" "fuzz/corpus/$t" >"$log" 2>&1; then
    echo "   CRASH: see $log and $crashes/"
    status=1
  fi
  grep -E '^#[0-9]+' "$log" | tail -1 || true
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
done
exit $status

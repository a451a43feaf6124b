#!/usr/bin/env bash
# The README's main command must keep working: `kvnode demo` runs end to end, reports each
# step, exits 0 and leaves no temporary directory behind.
set -uo pipefail
kvnode="$1"
export TMPDIR="${TEST_TMPDIR:-/tmp}"
out=$("$kvnode" demo 2>&1)
status=$?
echo "$out"
fail() { echo "demo_test: $*" >&2; exit 1; }
[[ $status -eq 0 ]] || fail "kvnode demo exited with $status"
for step in "was elected leader" "took over for term" "rejoined as a follower and caught up" \
            "node 4 caught up as a learner" "kvnode member promote 4" \
            "node 6 127.0.0.1:[0-9]* voter" "node 6: demo/after-failover=still here" \
            "node 6 exited with 0" "Done: every node stopped"; do
  grep -q "$step" <<<"$out" || fail "missing step: $step"
done
if ls -d "$TMPDIR"/raftkv-demo.* >/dev/null 2>&1; then fail "temporary directory left behind"; fi
# The same tour with mutual TLS everywhere (certificates from the openssl command line).
out=$("$kvnode" demo --tls 2>&1)
status=$?
echo "$out"
[[ $status -eq 0 ]] || fail "kvnode demo --tls exited with $status"
for step in "Making TLS certificates" "with mutual TLS" "node 6 caught up as a learner" \
            "node 6: demo/after-failover=still here" "Done: every node stopped"; do
  grep -q "$step" <<<"$out" || fail "missing step with --tls: $step"
done
if ls -d "$TMPDIR"/raftkv-demo.* >/dev/null 2>&1; then fail "temporary directory left behind"; fi
echo "demo_test: ok"

#!/usr/bin/env bash
# Mutation test: each argument is raft_sim built with one safety rule broken on purpose,
# either in the Raft core (a vote granted to a stale log, an old-term entry committed by
# counting replicas, AppendEntries without its consistency check, a joint configuration's
# commit counted on its new half only, a second membership change proposed while one is
# uncommitted, a configuration put in force at commit instead of at append, a
# follower that, on evidence its leader is dead, campaigns again in that leader's term, a
# follower that serves a read at its own commit index instead of the leader's, a leader
# lease a hundred election timeouts long) or in the node
# driver (a
# write acknowledged before it is applied, a write acknowledged once persisted but before it
# is committed, a linearizable read served before the state machine reached its read index,
# a read served by the leader from its own state without a ReadIndex round, lease reads
# judged by ticks a paused process has not caught up).
# Within 3,000 seeds (each mutant stops at its first violation; most fall on the first
# hundred), the simulator must report a violation for every one of them; a mutant that
# survives means the simulator has gone blind to that rule.
set -uo pipefail
survivors=0
for sim in "$@"; do
  name=$(basename "$sim")
  out=$("$sim" --stop_after=1 --seeds=3000 2>&1)
  status=$?
  if [[ $status -eq 1 ]] && grep -q '^VIOLATION seed=' <<<"$out"; then
    echo "caught  $name: $(grep -m1 '^VIOLATION seed=' <<<"$out")"
  else
    echo "SURVIVED $name (exit $status): the simulator did not notice the broken rule"
    echo "$out" | tail -3
    survivors=$((survivors + 1))
  fi
done
echo "mutants=$# survivors=$survivors"
[[ $survivors -eq 0 ]]

#!/usr/bin/env bash
# ab.sh: two kvnode binaries measured side by side, alternated, on this machine.
#
#   benchmarks/ab.sh A_KVNODE B_KVNODE [--rounds=2] [--duration=5s] [--workloads="put:1 put:64 get:64"]
#                    [--a-flags="--flag=value ..."] [--b-flags="..."]
#
# A workload is OP:CLIENTS or OP:CLIENTS:VALUE_BYTES (default 256). --a-flags and --b-flags
# are added to each `serve` of that side: the same binary twice compares two settings
# (for example --b-flags=--peer-encoding=packed).
#
# For each round and each binary in turn (A, B, A, B, ...): starts a 3-node cluster of
# that binary on loopback ports in a temporary directory, runs each workload with the
# B binary's `kvnode bench` (the same load generator for both, so only the servers
# differ), records throughput, p50, p99 and the servers' CPU time per 1,000 operations
# (user + system of the three nodes, from /proc), and stops the cluster (by PID). Prints
# one line per run. Build the two binaries with -c opt from the two commits to compare.
set -euo pipefail
a=$1; b=$2; shift 2
rounds=2; duration=5s; workloads="put:1 put:64 get:64"; a_flags=""; b_flags=""
for arg in "$@"; do
  case "$arg" in
    --rounds=*) rounds="${arg#*=}" ;;
    --duration=*) duration="${arg#*=}" ;;
    --workloads=*) workloads="${arg#*=}" ;;
    --a-flags=*) a_flags="${arg#*=}" ;;
    --b-flags=*) b_flags="${arg#*=}" ;;
    *) echo "ab.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ab.XXXXXX")
pids=()
stop() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop; rm -rf "$work"' EXIT
# User + system CPU ticks of the running servers, in milliseconds.
cpu_ms() {
  local total=0 p f
  for p in "${pids[@]}"; do
    f=$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null) || continue
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo $((total * 1000 / $(getconf CLK_TCK)))
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

run_cluster() {  # $1: label, $2: binary, $3: extra serve flags
  local bin=$2 flags=$3 ports=() cluster=""
  for i in 1 2 3; do ports[$i]=$(free_port); cluster+="${cluster:+,}$i=127.0.0.1:${ports[$i]}"; done
  rm -rf "$work/data"; mkdir -p "$work/data"
  for i in 1 2 3; do
    "$bin" serve --node-id=$i --cluster="$cluster" --data-dir="$work/data/$i" --quiet $flags >"$work/data/$i.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 1 100); do "$b" --cluster="$cluster" --timeout=1s put ab/ready 1 >/dev/null 2>&1 && break; sleep 0.1; done
  for w in $workloads; do
    local op clients size ratio=0
    IFS=: read -r op clients size <<<"$w"
    size=${size:-256}
    [[ $op == get ]] && ratio=1
    local cpu_before; cpu_before=$(cpu_ms)
    "$b" --cluster="$cluster" --output=json bench --clients="$clients" --duration="$duration" \
      --read-ratio=$ratio --value-size="$size" | tail -1 >"$work/bench.json"
    CPU_MS=$(( $(cpu_ms) - cpu_before )) python3 -c "
import json,os,sys; r=json.load(open(sys.argv[1])); l=r['latency_ms']
cpu=int(os.environ['CPU_MS'])*1000/max(r['ops'],1)
print(f\"$1 {'$op':4} {r['clients']:4} clients {r['value_size']:6} B {r['throughput_ops_s']:9.0f} ops/s  p50 {l['p50']:6.2f}  p99 {l['p99']:6.2f} ms  cpu {cpu:6.1f} ms/1k ops\")" "$work/bench.json"
  done
  stop
}

for r in $(seq 1 "$rounds"); do
  run_cluster A "$a" "$a_flags"
  run_cluster B "$b" "$b_flags"
done

#!/usr/bin/env bash
# compare_etcd.sh: raftkv against etcd on this machine, side by side, same load, same
# durability (a 3-member cluster each, on loopback, every member fsyncing each batch).
#
#   benchmarks/compare_etcd.sh [--duration=10s] [--clients="1 16 64 256"]
#
# Installs Debian's etcd-server if it is missing (as root; otherwise it says what to
# install), builds kvnode and etcd_load with -c opt, starts both clusters in a temporary
# directory, runs puts, linearizable gets and serializable gets at each client count
# against each system in turn (256-byte values, 1,000 keys), measures server CPU per
# 1,000 puts at 64 clients, prints one table, and stops and removes everything it started.
# The etcd client is benchmarks/etcd_load: the same closed loop as `kvnode bench`, over
# etcd's v3 JSON gateway with one keep-alive HTTP/1.1 connection per client.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10s
clients="1 16 64 256"
for arg in "$@"; do
  case "$arg" in
    --duration=*) duration="${arg#*=}" ;;
    --clients=*) clients="${arg#*=}" ;;
    *) echo "compare_etcd.sh: unknown argument $arg (use --duration=10s --clients=\"1 16 64 256\")" >&2; exit 2 ;;
  esac
done

if ! command -v etcd >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "compare_etcd.sh: etcd is not installed; run: sudo apt-get install -y etcd-server" >&2
    exit 2
  fi
  echo "compare_etcd.sh: installing Debian's etcd-server" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >&2; }
fi

./bazelw build -c opt //cli:kvnode //benchmarks:etcd_load >&2
bin=$(./bazelw info -c opt bazel-bin 2>/dev/null)
kvnode="$bin/cli/kvnode"
etcd_load="$bin/benchmarks/etcd_load"

work=$(mktemp -d "${TMPDIR:-/tmp}/compare-etcd.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# etcd: 3 members; fsync per batch is etcd's default (no --unsafe-no-fsync).
declare -a eclient epeer
for i in 1 2 3; do eclient[$i]=$(free_port); epeer[$i]=$(free_port); done
initial="e1=http://127.0.0.1:${epeer[1]},e2=http://127.0.0.1:${epeer[2]},e3=http://127.0.0.1:${epeer[3]}"
etcd_pids=()
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${eclient[$i]}" --advertise-client-urls "http://127.0.0.1:${eclient[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${epeer[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${epeer[$i]}" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token compare \
    --log-level error --logger zap >"$work/etcd$i.log" 2>&1 &
  pids+=($!); etcd_pids+=($!)
done
etcd_endpoints="127.0.0.1:${eclient[1]},127.0.0.1:${eclient[2]},127.0.0.1:${eclient[3]}"

# raftkv: 3 nodes; every batch of entries is written with one fsync.
declare -a kport
for i in 1 2 3; do kport[$i]=$(free_port); done
kcluster="1=127.0.0.1:${kport[1]},2=127.0.0.1:${kport[2]},3=127.0.0.1:${kport[3]}"
kv_pids=()
for i in 1 2 3; do
  "$kvnode" serve --node-id=$i --cluster="$kcluster" --data-dir="$work/kv$i" --quiet >"$work/kv$i.log" 2>&1 &
  pids+=($!); kv_pids+=($!)
done

# Wait for both clusters to accept writes.
for _ in $(seq 1 100); do
  "$kvnode" --cluster="$kcluster" --timeout=1s put compare/ready 1 >/dev/null 2>&1 && break
  sleep 0.1
done
for _ in $(seq 1 100); do
  "$etcd_load" --endpoints="$etcd_endpoints" --clients=1 --ops=1 --duration=2s >/dev/null 2>&1 && break
  sleep 0.2
done

cpu_ticks() {  # user+system ticks of the given PIDs
  local total=0
  for pid in "$@"; do
    read -r -a f <"/proc/$pid/stat"
    total=$((total + f[13] + f[14]))
  done
  echo "$total"
}
field() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval("d"+sys.argv[1]))' "$1"; }

printf '%-22s %7s | %10s %8s %8s | %10s %8s %8s | %8s %8s\n' workload clients \
  "raftkv/s" "p50 ms" "p99 ms" "etcd/s" "p50 ms" "p99 ms" "x tput" "x p99"
declare -A cpu
for workload in put get-linearizable get-serializable; do
  case $workload in
    put) flags=(--read_ratio=0) ;;
    get-linearizable) flags=(--read_ratio=1 --consistency=linearizable) ;;
    get-serializable) flags=(--read_ratio=1 --consistency=serializable) ;;
  esac
  for c in $clients; do
    common=(--clients="$c" --duration="$duration" --value_size=256 --keys=1000 "${flags[@]}")
    k0=$(cpu_ticks "${kv_pids[@]}")
    kj=$("$kvnode" --cluster="$kcluster" --output=json bench "${common[@]}" 2>/dev/null | tail -1 || true)
    k1=$(cpu_ticks "${kv_pids[@]}")
    e0=$(cpu_ticks "${etcd_pids[@]}")
    ej=$("$etcd_load" --endpoints="$etcd_endpoints" --output=json "${common[@]}" 2>/dev/null | tail -1 || true)
    e1=$(cpu_ticks "${etcd_pids[@]}")
    kt=$(field '["throughput_ops_s"]' <<<"$kj"); et=$(field '["throughput_ops_s"]' <<<"$ej")
    k50=$(field '["latency_ms"]["p50"]' <<<"$kj"); e50=$(field '["latency_ms"]["p50"]' <<<"$ej")
    k99=$(field '["latency_ms"]["p99"]' <<<"$kj"); e99=$(field '["latency_ms"]["p99"]' <<<"$ej")
    printf '%-22s %7s | %10.0f %8.2f %8.2f | %10.0f %8.2f %8.2f | %8.2f %8.2f\n' "$workload" "$c" \
      "$kt" "$k50" "$k99" "$et" "$e50" "$e99" \
      "$(python3 -c "print($kt/max($et,1e-9))")" "$(python3 -c "print($k99/max($e99,1e-9))")"
    if [[ $workload == put && $c == 64 ]]; then
      kops=$(field '["ops"]' <<<"$kj"); eops=$(field '["ops"]' <<<"$ej")
      hz=$(getconf CLK_TCK)
      cpu[raftkv]=$(python3 -c "print(1000.0*($k1-$k0)/$hz/max($kops,1)*1000)")
      cpu[etcd]=$(python3 -c "print(1000.0*($e1-$e0)/$hz/max($eops,1)*1000)")
    fi
  done
done
if [[ -n "${cpu[raftkv]:-}" ]]; then
  printf '\nserver CPU per 1,000 puts at 64 clients: raftkv %.1f ms, etcd %.1f ms (ratio %.2f)\n' \
    "${cpu[raftkv]}" "${cpu[etcd]}" "$(python3 -c "print(${cpu[raftkv]}/max(${cpu[etcd]},1e-9))")"
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(etcd --version | head -1), raftkv $(git rev-parse --short HEAD)"

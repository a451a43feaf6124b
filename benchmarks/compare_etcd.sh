#!/usr/bin/env bash
# compare_etcd.sh: raftkv against etcd on this machine, side by side, same load, same
# durability (a 3-member cluster each, on loopback, every member fsyncing each batch).
#
#   benchmarks/compare_etcd.sh [--duration=10s] [--clients="1 16 64 256"] [--failovers=20]
#       [--scale-keys="10000 1000000"] [--value-sizes="1024 16384 262144"]
#       [--kv-flags="--read-mode=lease"]
#
# Installs Debian's etcd-server if it is missing (as root; otherwise it says what to
# install), builds kvnode and etcd_load with -c opt, starts both clusters in a temporary
# directory, runs puts, linearizable gets and serializable gets at each client count
# against each system in turn (256-byte values, 1,000 keys), measures server CPU per
# 1,000 puts at 64 clients, prints one table, then the scale of data (64 clients, half gets
# and half puts over each --scale-keys key space, every key written first; puts of each of
# --value-sizes from 16 clients, in MB/s), then measures leader-crash failover (kill -9
# of the leader to the first successful write, --failovers times each; the killed member
# is restarted from its data and caught up before the next crash), and stops and removes
# everything it started (by PID).
# --kv-flags are added to every raftkv node's serve (etcd runs at its defaults).
# The etcd client is benchmarks/etcd_load: the same closed loop as `kvnode bench`, over
# etcd's v3 JSON gateway with one keep-alive HTTP/1.1 connection per client.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10s
clients="1 16 64 256"
failovers=20
scale_keys="10000 1000000"
value_sizes="1024 16384 262144"
kv_flags=""
for arg in "$@"; do
  case "$arg" in
    --scale-keys=*) scale_keys="${arg#*=}" ;;
    --value-sizes=*) value_sizes="${arg#*=}" ;;
    --duration=*) duration="${arg#*=}" ;;
    --clients=*) clients="${arg#*=}" ;;
    --failovers=*) failovers="${arg#*=}" ;;
    --kv-flags=*) kv_flags="${arg#*=}" ;;
    *) echo "compare_etcd.sh: unknown argument $arg (use --duration=10s --clients=\"1 16 64 256\" --failovers=20)" >&2; exit 2 ;;
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
start_etcd() {  # $1: member number; restarts reuse its data directory
  etcd --name "e$1" --data-dir "$work/etcd$1" \
    --listen-client-urls "http://127.0.0.1:${eclient[$1]}" --advertise-client-urls "http://127.0.0.1:${eclient[$1]}" \
    --listen-peer-urls "http://127.0.0.1:${epeer[$1]}" --initial-advertise-peer-urls "http://127.0.0.1:${epeer[$1]}" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token compare \
    --log-level error --logger zap >>"$work/etcd$1.log" 2>&1 &
  pids+=($!); etcd_pids[$1]=$!
}
for i in 1 2 3; do start_etcd $i; done
etcd_endpoints="127.0.0.1:${eclient[1]},127.0.0.1:${eclient[2]},127.0.0.1:${eclient[3]}"

# raftkv: 3 nodes; every batch of entries is written with one fsync.
declare -a kport
for i in 1 2 3; do kport[$i]=$(free_port); done
kcluster="1=127.0.0.1:${kport[1]},2=127.0.0.1:${kport[2]},3=127.0.0.1:${kport[3]}"
kv_pids=()
start_kv() {  # $1: node id; restarts reuse its data directory
  # shellcheck disable=SC2086  # --kv-flags: several flags, split on spaces
  "$kvnode" serve --node-id=$1 --cluster="$kcluster" --data-dir="$work/kv$1" --quiet $kv_flags \
    >>"$work/kv$1.log" 2>&1 &
  pids+=($!); kv_pids[$1]=$!
}
for i in 1 2 3; do start_kv $i; done

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

# Scale of data.
scale_row() {  # $1: label; the rest: flags for both load generators
  local label=$1; shift
  kj=$("$kvnode" --cluster="$kcluster" --output=json bench "$@" 2>/dev/null | tail -1 || true)
  ej=$("$etcd_load" --endpoints="$etcd_endpoints" --output=json "$@" 2>/dev/null | tail -1 || true)
  kt=$(field '["throughput_ops_s"]' <<<"$kj"); et=$(field '["throughput_ops_s"]' <<<"$ej")
  k99=$(field '["latency_ms"]["p99"]' <<<"$kj"); e99=$(field '["latency_ms"]["p99"]' <<<"$ej")
  vs=$(field '["value_size"]' <<<"$kj")
  printf '%-30s | %10.0f %8.1f %8.2f | %10.0f %8.1f %8.2f | %8.2f %8.2f\n' "$label" \
    "$kt" "$(python3 -c "print($kt*$vs/1e6)")" "$k99" "$et" "$(python3 -c "print($et*$vs/1e6)")" "$e99" \
    "$(python3 -c "print($kt/max($et,1e-9))")" "$(python3 -c "print($k99/max($e99,1e-9))")"
}
if [[ -n $scale_keys || -n $value_sizes ]]; then
  printf '\n%-30s | %10s %8s %8s | %10s %8s %8s | %8s %8s\n' "scale of data" \
    "raftkv/s" "MB/s" "p99 ms" "etcd/s" "MB/s" "p99 ms" "x tput" "x p99"
fi
for k in $scale_keys; do
  scale_row "mixed 50/50, $k keys, 64 cl" --clients=64 --duration="$duration" --value_size=256 \
    --keys="$k" --read_ratio=0.5
done
for v in $value_sizes; do
  scale_row "put $((v / 1024)) KiB values, 16 cl" --clients=16 --duration="$duration" \
    --value_size="$v" --keys=1000 --read_ratio=0
done
# Leader-crash failover: kill -9 of the leader, then one client writes until a write
# succeeds; the time between is one sample. raftkv's client is the kvnode CLI (one process
# per attempt, which retries inside its --timeout); etcd's is HTTP to each endpoint in turn
# (its v3 gateway; a follower forwards to the leader). Both at their default timeouts
# (raftkv: 50 ms ticks, election after 10-20; etcd: 100 ms heartbeat, 1 s election).
failover_samples() {  # $1: raftkv|etcd; writes one line of milliseconds to $work/$1.failover
  # Runs in this shell, not a subshell: the members it restarts join `pids` for cleanup.
  local system=$1 samples=()
  for round in $(seq 1 "$failovers"); do
    local leader
    leader=$(SYSTEM=$system KVNODE="$kvnode" KCLUSTER="$kcluster" ENDPOINTS="$etcd_endpoints" python3 - <<'PY'
import json, os, subprocess, time, urllib.request
system = os.environ["SYSTEM"]
for _ in range(300):
    try:
        if system == "raftkv":
            out = subprocess.run([os.environ["KVNODE"], "--cluster=" + os.environ["KCLUSTER"],
                                  "--timeout=2s", "--output=json", "status"],
                                 capture_output=True, text=True, timeout=10).stdout
            status = json.loads(out.strip().splitlines()[0])
            nodes = status["nodes"]
            leaders = [n["id"] for n in nodes if n.get("role") == "leader"]
            commit = max(n.get("commit", 0) for n in nodes)
            # Every node up and caught up, so that a crash leaves a healthy majority.
            if len(leaders) == 1 and all(n.get("reachable") and n.get("applied", 0) + 10 >= commit for n in nodes):
                print(leaders[0]); break
        else:
            eps = os.environ["ENDPOINTS"].split(",")
            st = []
            for ep in eps:
                req = urllib.request.Request("http://%s/v3/maintenance/status" % ep, data=b"{}", method="POST")
                st.append(json.loads(urllib.request.urlopen(req, timeout=1).read()))
            top = max(int(s.get("raftIndex", 0)) for s in st)
            lead = [i + 1 for i, s in enumerate(st) if s.get("leader") and s["header"]["member_id"] == s["leader"]]
            if len(lead) == 1 and all(int(s.get("raftIndex", 0)) + 10 >= top for s in st):
                print(lead[0]); break
    except Exception:
        pass
    time.sleep(0.1)
PY
)
    [[ -n $leader ]] || { echo "compare_etcd.sh: $system has no settled leader" >&2; return 1; }
    local pid
    if [[ $system == raftkv ]]; then pid=${kv_pids[$leader]}; else pid=${etcd_pids[$leader]}; fi
    samples+=("$(SYSTEM=$system PID=$pid KVNODE="$kvnode" KCLUSTER="$kcluster" ENDPOINTS="$etcd_endpoints" ROUND=$round python3 - <<'PY'
import os, signal, subprocess, time, urllib.request
system, pid = os.environ["SYSTEM"], int(os.environ["PID"])
start = time.monotonic()
os.kill(pid, signal.SIGKILL)
eps = os.environ["ENDPOINTS"].split(",")
attempt = 0
while time.monotonic() - start < 30:
    try:
        if system == "raftkv":
            ok = subprocess.run([os.environ["KVNODE"], "--cluster=" + os.environ["KCLUSTER"], "--timeout=10s",
                                 "put", "failover/k", os.environ["ROUND"]], capture_output=True, timeout=15).returncode == 0
        else:
            ep = eps[attempt % len(eps)]; attempt += 1
            req = urllib.request.Request("http://%s/v3/kv/put" % ep, method="POST",
                                         data=b'{"key":"ZmFpbG92ZXI=","value":"MQ=="}')
            body = urllib.request.urlopen(req, timeout=2).read()
            ok = b"header" in body and b"error" not in body
    except Exception:
        ok = False
    if ok:
        break
print("%.1f" % ((time.monotonic() - start) * 1000))
PY
)")
    wait "$pid" 2>/dev/null || true
    if [[ $system == raftkv ]]; then start_kv "$leader"; else start_etcd "$leader"; fi
  done
  echo "${samples[*]}" >"$work/$system.failover"
}
if [[ $failovers -gt 0 ]]; then
  failover_samples raftkv; failover_samples etcd
  python3 - "$(cat "$work/raftkv.failover")" "$(cat "$work/etcd.failover")" <<'PY'
import sys
def stats(line):
    v = sorted(float(x) for x in line.split())
    pick = lambda p: v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]
    return len(v), pick(0.5), pick(0.9), v[-1]
k, e = stats(sys.argv[1]), stats(sys.argv[2])
print("\nleader-crash failover, kill -9 to first successful write (ms):")
print("  raftkv: %d crashes, p50 %.0f, p90 %.0f, max %.0f" % k)
print("  etcd:   %d crashes, p50 %.0f, p90 %.0f, max %.0f" % e)
print("  raftkv p50 / etcd p50: %.2f" % (k[1] / max(e[1], 1e-9)))
PY
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(etcd --version | head -1), raftkv $(git rev-parse --short HEAD)"

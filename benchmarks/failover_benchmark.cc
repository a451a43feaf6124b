// Leader-crash failover on a real 3-node kvnode cluster: kill -9 of the leader
// to the first write that succeeds, measured by one long-lived client that
// writes through it (kv::Client: it notices the dead connection, asks every
// node who leads, and retries). Each run crashes the leader --crashes times
// (20 by default); after each, the killed node is restarted from its data
// directory and caught up before the next crash. BM_LeaderCrashFailover/1
// runs the nodes as shipped (--fast-failover: a follower whose leader's
// connection is reset and whose redial is refused campaigns within two ticks),
// /0 with --fast-failover=false (followers wait out the election timeout, 500
// to 1,000 ms), /2 with --read-mode=lease (fast failover off, and a restarted
// node ignores votes for an election timeout), side by side. Counters: p50,
// p90 and max in ms.
//
//   bazel run -c opt //benchmarks:failover_benchmark -- --crashes=20

#include <benchmark/benchmark.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmarks/cluster_bench_main.h"
#include "cli/local_cluster.h"
#include "kv/client.h"

namespace raftkv::benchmarks {
namespace {

using Clock = std::chrono::steady_clock;

std::string kvnode;
int crashes = 20;

// The node every running node agrees leads, once the restarted one has
// caught up (its applied index reached what the leader had committed).
raft::NodeId SettledLeader(cli::LocalCluster& cluster, kv::Client& client) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (!client.Put("failover/settle", "1").ok()) continue;
    raft::NodeId leader = 0;
    raft::LogIndex commit = 0;
    raft::LogIndex lowest_applied = UINT64_MAX;
    bool agreed = true;
    for (raft::NodeId id : cluster.ids()) {
      auto info = client.Status(cluster.client_address(id));
      if (!info.ok()) {
        agreed = false;
        break;
      }
      if (info->leader == 0 || (leader != 0 && info->leader != leader))
        agreed = false;
      leader = info->leader;
      if (info->id == info->leader) commit = info->commit;
      lowest_applied = std::min(lowest_applied, info->applied);
    }
    if (agreed && leader != 0 && lowest_applied + 10 >= commit) return leader;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t at =
      static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(at, values.size() - 1)];
}

void BM_LeaderCrashFailover(benchmark::State& state) {
  // 1: as shipped; 0: --fast-failover=false; 2: --read-mode=lease (which
  // turns fast failover off).
  const int64_t mode = state.range(0);
  std::vector<std::string> flags = {"--quiet"};
  if (mode == 2) {
    flags.push_back("--read-mode=lease");
  } else {
    flags.push_back(mode == 1 ? "--fast-failover=true"
                              : "--fast-failover=false");
  }
  const std::string dir = NewBenchDir("raftkv-failover");
  auto created = cli::LocalCluster::Create(
      {.binary = kvnode, .dir = dir, .nodes = 3, .extra_flags = flags});
  if (!created.ok() || !(*created)->StartAll().ok())
    return state.SkipWithError("could not start a 3-node cluster");
  cli::LocalCluster& cluster = **created;
  kv::ClientOptions options;
  options.cluster = cluster.client_cluster();
  options.timeout_ms = 10000;
  auto client = kv::Client::Create(options);
  if (!client.ok()) return state.SkipWithError("bad client options");
  std::vector<double> ms;
  for (auto _ : state) {
    for (int crash = 0; crash < crashes; ++crash) {
      const raft::NodeId leader = SettledLeader(cluster, **client);
      if (leader == 0) return state.SkipWithError("no settled leader");
      const auto killed_at = Clock::now();
      cluster.Signal(leader, SIGKILL);
      absl::Status written;
      do {
        written = (*client)->Put("failover/after", absl::StrCat(crash));
      } while (!written.ok() &&
               Clock::now() - killed_at < std::chrono::seconds(30));
      if (!written.ok()) return state.SkipWithError("no write within 30 s");
      ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - killed_at)
              .count());
      (void)cluster.Wait(leader, 5000);
      if (!cluster.StartNode(leader).ok())
        return state.SkipWithError("could not restart the killed node");
    }
  }
  state.counters["crashes"] = static_cast<double>(ms.size());
  state.counters["p50_ms"] = Percentile(ms, 0.5);
  state.counters["p90_ms"] = Percentile(ms, 0.9);
  state.counters["max_ms"] = Percentile(ms, 1.0);
}
BENCHMARK(BM_LeaderCrashFailover)
    ->ArgName("mode")
    ->Arg(1)
    ->Arg(0)
    ->Arg(2)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace raftkv::benchmarks

int main(int argc, char** argv) {
  using raftkv::benchmarks::BenchFlag;
  return raftkv::benchmarks::RunClusterBenchmarks(
      argc, argv, "failover_benchmark", &raftkv::benchmarks::kvnode,
      {BenchFlag{"crashes", [](const char* value) {
                   raftkv::benchmarks::crashes =
                       std::clamp(atoi(value), 1, 1000);
                 }}});
}

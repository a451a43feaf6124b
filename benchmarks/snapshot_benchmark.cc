// A follower catching up from a large snapshot while the leader serves writes:
// a real 3-node kvnode cluster on loopback. One follower is killed, the store
// is filled with --store_mib values of 1 MiB, the follower is restarted and
// receives the whole store as a streamed snapshot while 4 clients keep writing
// small values to the leader. Reported side by side, from one run:
//   p99_ms_idle / p99_ms_transfer   the writers' p99 before and during the
//                                   transfer, and their ratio (goal: < 2)
//   leader_peak_idle_mib / leader_peak_mib   the leader's peak anonymous
//                                   resident memory (RssAnon: not counting the
//                                   file pages LevelDB maps) under the same
//                                   load without and with the transfer
//                                   (leader_rss_mib: at the transfer's start)
//   follower_peak_mib               the receiving follower's peak, against
//   peer_rss_mib                    the other follower's (same store, idle)
//   transfer_s                      restart to caught up
//
//   bazel run -c opt //benchmarks:snapshot_benchmark                 # 1 GiB
//   bazel run -c opt //benchmarks:snapshot_benchmark -- --store_mib=256
//   ... -- --snapshot_rate_mib=64          # the nodes' --snapshot-rate-mib
//   ... -- --snapshot_compression=gzip     # the nodes' --snapshot-compression
//   ... -- --fill=text                     # values: repeat (one byte, the
//          default), text (JSON-like records) or random (incompressible)
// With the transfer it also reports leader_cpu_s and follower_cpu_s: the CPU
// time both ends used from the restart until caught up.

#include <benchmark/benchmark.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "benchmarks/cluster_bench_main.h"
#include "cli/bench.h"
#include "cli/local_cluster.h"
#include "kv/client.h"

namespace raftkv::benchmarks {
namespace {

std::string kvnode;
uint64_t store_mib = 1024;
double load_seconds = 5;
uint64_t rate_mib = 0;  // --snapshot_rate_mib for the nodes
std::string compression = "none";
std::string fill = "repeat";

// One 1 MiB value of the --fill kind, different for each `i`.
std::string FillValue(uint64_t i) {
  std::string value;
  value.reserve(1 << 20);
  std::mt19937_64 rng(i * 7919 + 1);
  if (fill == "random") {
    while (value.size() < (1u << 20)) value.push_back(static_cast<char>(rng()));
  } else if (fill == "text") {
    while (value.size() < (1u << 20)) {
      absl::StrAppend(&value, "{\"id\":", rng() % 1000000, ",\"user\":\"user",
                      rng() % 5000, "\",\"score\":", rng() % 100,
                      ",\"tags\":[\"a\",\"b\"]}\n");
    }
  } else {
    value.assign(1 << 20, 'v');
  }
  value.resize(1 << 20);
  return value;
}

// User plus system CPU seconds a process has used, or 0 if it is gone.
double CpuSeconds(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  // After the name: state is field 3; utime and stime are fields 14 and 15.
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14 || n == 15) ticks += strtod(field.c_str(), nullptr);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Resident memory of a process in MiB, or 0 if it is gone: its own
// (anonymous) memory, without the pages of files it maps (LevelDB maps its
// table files; those pages belong to the page cache and are reclaimable).
double RssMib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0)
      return strtod(line.c_str() + 8, nullptr) / 1024.0;
  }
  return 0;
}

absl::StatusOr<cli::BenchReport> Load(const cli::LocalCluster& cluster) {
  cli::BenchOptions options;
  options.cluster = cluster.client_cluster();
  options.clients = 4;
  options.duration = absl::Seconds(load_seconds);
  options.ops = 200000;  // a bound besides the duration
  return cli::RunBench(options, cli::KvTargets(options.cluster, 10000),
                       nullptr);
}

void BM_SnapshotUnderLoad(benchmark::State& state) {
  const std::string dir = NewBenchDir("raftkv-snap");
  if (dir.empty()) return state.SkipWithError("mkdtemp");
  auto created = cli::LocalCluster::Create(
      {.binary = kvnode,
       .dir = dir,
       .nodes = 3,
       .extra_flags = {"--quiet", "--compact-after-entries=64",
                       absl::StrCat("--snapshot-rate-mib=", rate_mib),
                       "--snapshot-compression=" + compression}});
  if (!created.ok() || !(*created)->StartAll().ok())
    return state.SkipWithError("could not start a 3-node cluster");
  cli::LocalCluster& cluster = **created;
  auto client = kv::Client::Create({cluster.client_cluster(), 30000, true});
  if (!client.ok() || !(*client)->Put("ready", "1").ok())
    return state.SkipWithError("no leader");
  raft::NodeId leader = 0;
  for (raft::NodeId id : cluster.ids()) {
    auto info = (*client)->Status(cluster.address(id));
    if (info.ok() && info->role == "leader") leader = id;
  }
  if (leader == 0) return state.SkipWithError("no leader");
  const raft::NodeId follower = leader == 1 ? 2 : 1;
  const raft::NodeId peer = 6 - leader - follower;

  // Samples the peak resident memory of `pids` until `done`.
  struct Sampler {
    std::atomic<bool> done{false};
    double peak[2] = {0, 0};
    std::thread thread;
    Sampler(const cli::LocalCluster& cluster, raft::NodeId a, raft::NodeId b)
        : thread([this, &cluster, a, b] {
            while (!done) {
              peak[0] = std::max(peak[0], RssMib(cluster.pid(a)));
              peak[1] = std::max(peak[1], RssMib(cluster.pid(b)));
              std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
          }) {}
    void Stop() {
      done = true;
      thread.join();
    }
  };
  for (auto _ : state) {
    Sampler idle_sampler(cluster, leader, peer);
    auto idle = Load(cluster);
    idle_sampler.Stop();
    if (!idle.ok()) return state.SkipWithError("load failed");
    cluster.Signal(follower, SIGKILL);
    for (uint64_t i = 0; i < store_mib; ++i) {
      if (!(*client)->Put(absl::StrCat("fill/", i), FillValue(i)).ok())
        return state.SkipWithError("fill failed");
    }
    const double leader_base = RssMib(cluster.pid(leader));
    Sampler sampler(cluster, leader, follower);
    const auto start = std::chrono::steady_clock::now();
    const double leader_cpu = CpuSeconds(cluster.pid(leader));
    if (!cluster.StartNode(follower).ok())
      return state.SkipWithError("restart failed");
    auto busy = Load(cluster);
    // Wait (bounded) until the follower has caught up.
    for (int i = 0; i < 6000; ++i) {
      auto mine = (*client)->Status(cluster.address(follower));
      auto theirs = (*client)->Status(cluster.address(leader));
      if (mine.ok() && theirs.ok() && mine->applied >= theirs->commit) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const double transfer_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    state.counters["leader_cpu_s"] =
        CpuSeconds(cluster.pid(leader)) - leader_cpu;
    state.counters["follower_cpu_s"] = CpuSeconds(cluster.pid(follower));
    sampler.Stop();
    if (!busy.ok()) return state.SkipWithError("load failed");
    state.SetIterationTime(transfer_s);
    const double p99_idle = idle->latency.Percentile(0.99) / 1000.0;
    const double p99_busy = busy->latency.Percentile(0.99) / 1000.0;
    state.counters["p99_ms_idle"] = p99_idle;
    state.counters["p99_ms_transfer"] = p99_busy;
    state.counters["p99_ratio"] = p99_idle > 0 ? p99_busy / p99_idle : 0;
    state.counters["leader_rss_mib"] = leader_base;
    state.counters["leader_peak_idle_mib"] = idle_sampler.peak[0];
    state.counters["leader_peak_mib"] = sampler.peak[0];
    state.counters["follower_peak_mib"] = sampler.peak[1];
    state.counters["peer_rss_mib"] = RssMib(cluster.pid(peer));
    state.counters["transfer_s"] = transfer_s;
    state.counters["store_mib"] = static_cast<double>(store_mib);
  }
  created->reset();  // stops the nodes it started, by PID
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

BENCHMARK(BM_SnapshotUnderLoad)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace raftkv::benchmarks

int main(int argc, char** argv) {
  namespace b = raftkv::benchmarks;
  using b::BenchFlag;
  return b::RunClusterBenchmarks(
      argc, argv, "snapshot_benchmark", &b::kvnode,
      {BenchFlag{"store_mib",
                 [](const char* value) {
                   b::store_mib = strtoull(value, nullptr, 10);
                 }},
       BenchFlag{"snapshot_rate_mib",
                 [](const char* value) {
                   b::rate_mib = strtoull(value, nullptr, 10);
                 }},
       BenchFlag{"snapshot_compression",
                 [](const char* value) { b::compression = value; }},
       BenchFlag{"fill", [](const char* value) { b::fill = value; }},
       BenchFlag{"load_seconds", [](const char* value) {
                   b::load_seconds = strtod(value, nullptr);
                 }}});
}

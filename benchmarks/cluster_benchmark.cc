// End-to-end replication: a real 3-node kvnode cluster on loopback, LevelDB
// with an fsync per batch on every node, driven by 1, 16, 64 and 256 concurrent
// closed-loop clients. Each benchmark run issues a fixed number of operations
// (--ops_per_client, bounded) and reports ops/s and latency percentiles from a
// histogram as counters.
//
//   bazel run -c opt //benchmarks:cluster_benchmark

#include <benchmark/benchmark.h>
#include <signal.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/bench.h"
#include "cli/local_cluster.h"
#include "kv/client.h"

namespace raftkv::benchmarks {
namespace {

std::string kvnode;
uint64_t ops_per_client = 300;
std::unique_ptr<cli::LocalCluster> cluster;
std::string dir;

cli::LocalCluster* Cluster() {
  if (cluster != nullptr) return cluster.get();
  const char* tmp = getenv("TEST_TMPDIR");
  if (tmp == nullptr) tmp = getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/raftkv-bench.XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return nullptr;
  dir = pattern;
  auto created = cli::LocalCluster::Create(
      {.binary = kvnode, .dir = dir, .nodes = 3, .extra_flags = {"--quiet"}});
  if (!created.ok() || !(*created)->StartAll().ok()) return nullptr;
  cluster = std::move(*created);
  // Wait for a leader by writing once.
  auto client = kv::Client::Create({cluster->client_cluster(), 15000, true});
  if (!client.ok() || !(*client)->Put("bench/ready", "1").ok()) return nullptr;
  return cluster.get();
}

void Run(benchmark::State& state, double read_ratio, bool linearizable) {
  cli::LocalCluster* c = Cluster();
  if (c == nullptr)
    return state.SkipWithError("could not start a 3-node cluster");
  cli::BenchOptions options;
  options.cluster = c->client_cluster();
  options.clients = static_cast<int>(state.range(0));
  options.ops = ops_per_client * static_cast<uint64_t>(options.clients);
  options.duration = absl::Seconds(60);  // a hard bound besides the op count
  options.read_ratio = read_ratio;
  options.linearizable = linearizable;
  cli::BenchReport total;
  for (auto _ : state) {
    auto report =
        cli::RunBench(options, cli::KvTargets(options.cluster, 10000), nullptr);
    if (!report.ok())
      return state.SkipWithError(
          std::string(report.status().message()).c_str());
    state.SetIterationTime(report->duration_s);
    total.latency.Merge(report->latency);
    total.errors += report->errors;
    total.ops += report->ops;
    total.duration_s += report->duration_s;
  }
  state.counters["ops_per_s"] =
      total.duration_s > 0 ? total.ops / total.duration_s : 0;
  state.counters["p50_ms"] = total.latency.Percentile(0.5) / 1000.0;
  state.counters["p99_ms"] = total.latency.Percentile(0.99) / 1000.0;
  state.counters["p999_ms"] = total.latency.Percentile(0.999) / 1000.0;
  state.counters["errors"] = static_cast<double>(total.errors);
  state.SetItemsProcessed(static_cast<int64_t>(total.ops));
  state.SetBytesProcessed(static_cast<int64_t>(total.ops * options.value_size));
}

void BM_ClusterPut(benchmark::State& state) { Run(state, 0.0, true); }
void BM_ClusterGetLinearizable(benchmark::State& state) {
  Run(state, 1.0, true);
}
void BM_ClusterGetSerializable(benchmark::State& state) {
  Run(state, 1.0, false);
}

BENCHMARK(BM_ClusterPut)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ClusterGetLinearizable)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ClusterGetSerializable)
    ->Arg(1)
    ->Arg(64)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace raftkv::benchmarks

int main(int argc, char** argv) {
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--kvnode=", 9) == 0) {
      raftkv::benchmarks::kvnode = argv[i] + 9;
    } else if (strncmp(argv[i], "--ops_per_client=", 17) == 0) {
      raftkv::benchmarks::ops_per_client = strtoull(argv[i] + 17, nullptr, 10);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (raftkv::benchmarks::kvnode.empty()) {
    fprintf(
        stderr,
        "cluster_benchmark: --kvnode=PATH is required (bazel run passes it)\n");
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  raftkv::benchmarks::cluster.reset();  // kills the nodes it started, by PID
  std::error_code ignored;
  if (!raftkv::benchmarks::dir.empty())
    std::filesystem::remove_all(raftkv::benchmarks::dir, ignored);
  return 0;
}

// End-to-end replication: a real 3-node kvnode cluster on loopback, LevelDB
// with an fsync per batch on every node, driven by 1, 16, 64 and 256 concurrent
// closed-loop clients. Each benchmark run issues a fixed number of operations
// (--ops_per_client, bounded) and reports ops/s and latency percentiles from a
// histogram as counters. BM_ClusterPutTls runs the puts against a second
// cluster with mutual TLS on both ports (certificates made by openssl), for
// the cost of TLS side by side with BM_ClusterPut. BM_ClusterScaleKeys runs a
// mixed load over 10k, 1M and (with --max_scale_keys=10000000) 10M keys, each
// on a fresh cluster; BM_ClusterValueSize puts 256 B to 256 KiB values.
//
//   bazel run -c opt //benchmarks:cluster_benchmark

#include <benchmark/benchmark.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
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
std::string certs_script;  // testing/cluster/make_test_certs.sh
uint64_t ops_per_client = 300;
uint64_t max_scale_keys = 1000000;
std::unique_ptr<cli::LocalCluster> cluster;
std::unique_ptr<cli::LocalCluster> tls_cluster;
net::TlsFiles tls_client;

// Starts a cluster and waits for a leader by writing once.
std::unique_ptr<cli::LocalCluster> Start(cli::LocalClusterOptions options,
                                         const net::TlsFiles& tls) {
  auto created = cli::LocalCluster::Create(std::move(options));
  if (!created.ok() || !(*created)->StartAll().ok()) return nullptr;
  kv::ClientOptions client;
  client.cluster = (*created)->client_cluster();
  client.timeout_ms = 15000;
  client.tls = tls;
  auto ready = kv::Client::Create(client);
  if (!ready.ok() || !(*ready)->Put("bench/ready", "1").ok()) return nullptr;
  return std::move(*created);
}

cli::LocalCluster* Cluster(bool tls) {
  if (!tls) {
    if (cluster == nullptr) {
      cluster = Start({.binary = kvnode,
                       .dir = NewBenchDir("raftkv-bench"),
                       .nodes = 3,
                       .extra_flags = {"--quiet"}},
                      {});
    }
    return cluster.get();
  }
  if (tls_cluster != nullptr || certs_script.empty()) return tls_cluster.get();
  const std::string dir = NewBenchDir("raftkv-bench");
  const std::string certs = dir + "/certs";
  std::filesystem::create_directories(certs);
  if (std::system(absl::StrCat("bash ", certs_script, " ", certs).c_str()) != 0)
    return nullptr;
  auto file = [&certs](const std::string& name) {
    return absl::StrCat(certs, "/", name);
  };
  cli::LocalClusterOptions options{
      .binary = kvnode,
      .dir = dir,
      .nodes = 3,
      .extra_flags = {"--quiet", "--cert-file=" + file("server.pem"),
                      "--key-file=" + file("server.key"),
                      "--trusted-ca-file=" + file("client-ca.pem"),
                      "--peer-trusted-ca-file=" + file("peer-ca.pem")},
      .client_ports = true};
  for (raft::NodeId id = 1; id <= 3; ++id) {
    const std::string peer = absl::StrCat("peer-", id);
    options.node_flags[id] = {"--peer-cert-file=" + file(peer + ".pem"),
                              "--peer-key-file=" + file(peer + ".key")};
  }
  tls_client = {file("alice.pem"), file("alice.key"), file("client-ca.pem")};
  tls_cluster = Start(std::move(options), tls_client);
  return tls_cluster.get();
}

// Runs `options` against `targets` once per iteration and reports ops/s,
// MB/s of values and latency percentiles as counters.
void Measure(benchmark::State& state, const cli::BenchOptions& options,
             const cli::BenchTargetFactory& targets) {
  cli::BenchReport total;
  for (auto _ : state) {
    auto report = cli::RunBench(options, targets, nullptr);
    if (!report.ok())
      return state.SkipWithError(
          std::string(report.status().message()).c_str());
    state.SetIterationTime(report->duration_s);
    total.latency.Merge(report->latency);
    total.errors += report->errors;
    total.ops += report->ops;
    total.duration_s += report->duration_s;
  }
  const double seconds = std::max(total.duration_s, 1e-9);
  state.counters["ops_per_s"] = static_cast<double>(total.ops) / seconds;
  state.counters["MB_per_s"] = static_cast<double>(total.ops) *
                               static_cast<double>(options.value_size) /
                               seconds / 1e6;
  state.counters["p50_ms"] = total.latency.Percentile(0.5) / 1000.0;
  state.counters["p99_ms"] = total.latency.Percentile(0.99) / 1000.0;
  state.counters["p999_ms"] = total.latency.Percentile(0.999) / 1000.0;
  state.counters["errors"] = static_cast<double>(total.errors);
  state.SetItemsProcessed(static_cast<int64_t>(total.ops));
  state.SetBytesProcessed(static_cast<int64_t>(total.ops * options.value_size));
}

void Run(benchmark::State& state, double read_ratio, bool linearizable,
         bool tls = false) {
  cli::LocalCluster* c = Cluster(tls);
  if (c == nullptr)
    return state.SkipWithError("could not start a 3-node cluster");
  cli::BenchOptions options;
  options.cluster = c->client_cluster();
  options.clients = static_cast<int>(state.range(0));
  options.ops = ops_per_client * static_cast<uint64_t>(options.clients);
  options.duration = absl::Seconds(60);  // a hard bound besides the op count
  options.read_ratio = read_ratio;
  options.linearizable = linearizable;
  Measure(state, options,
          cli::KvTargets(options.cluster, 10000,
                         tls ? tls_client : net::TlsFiles{}));
}

// Scale of data: half gets, half puts of 256-byte values from 64 clients over
// a key space of range(0) keys, each written once first (not measured), on a
// cluster of its own whose stores start empty. Registered in main() for the
// key spaces up to --max_scale_keys (1,000,000 by default; 10,000,000 writes
// 2.5 GB per node).
void BM_ClusterScaleKeys(benchmark::State& state) {
  const uint64_t keys = static_cast<uint64_t>(state.range(0));
  auto fresh = Start({.binary = kvnode,
                      .dir = NewBenchDir("raftkv-bench"),
                      .nodes = 3,
                      .extra_flags = {"--quiet"}},
                     {});
  if (fresh == nullptr)
    return state.SkipWithError("could not start a 3-node cluster");
  cli::BenchOptions options;
  options.cluster = fresh->client_cluster();
  options.clients = 64;
  options.ops = ops_per_client * 64;
  options.duration = absl::Seconds(120);
  options.keys = keys;
  options.read_ratio = 0.5;
  Measure(state, options, cli::KvTargets(options.cluster, 10000));
}

// Value sizes: puts of range(0)-byte values from 16 clients over 1,000 keys
// (MB_per_s is the values' bytes acknowledged per second).
void BM_ClusterValueSize(benchmark::State& state) {
  cli::LocalCluster* c = Cluster(false);
  if (c == nullptr)
    return state.SkipWithError("could not start a 3-node cluster");
  cli::BenchOptions options;
  options.cluster = c->client_cluster();
  options.clients = 16;
  options.ops = ops_per_client * 16;
  options.duration = absl::Seconds(60);
  options.value_size = static_cast<size_t>(state.range(0));
  Measure(state, options, cli::KvTargets(options.cluster, 10000));
}

void BM_ClusterPut(benchmark::State& state) { Run(state, 0.0, true); }
void BM_ClusterPutTls(benchmark::State& state) {
  Run(state, 0.0, true, /*tls=*/true);
}
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
BENCHMARK(BM_ClusterPutTls)
    ->Arg(1)
    ->Arg(64)
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
BENCHMARK(BM_ClusterValueSize)
    ->Arg(256)
    ->Arg(1 << 10)
    ->Arg(16 << 10)
    ->Arg(256 << 10)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace raftkv::benchmarks

int main(int argc, char** argv) {
  namespace b = raftkv::benchmarks;
  using b::BenchFlag;
  return b::RunClusterBenchmarks(
      argc, argv, "cluster_benchmark", &b::kvnode,
      {BenchFlag{"certs_script",
                 [](const char* value) { b::certs_script = value; }},
       BenchFlag{"max_scale_keys",
                 [](const char* value) {
                   b::max_scale_keys = strtoull(value, nullptr, 10);
                 }},
       BenchFlag{"ops_per_client",
                 [](const char* value) {
                   b::ops_per_client = strtoull(value, nullptr, 10);
                 }}},
      [] {
        for (int64_t keys : {10000, 1000000, 10000000}) {
          if (static_cast<uint64_t>(keys) > b::max_scale_keys) break;
          benchmark::RegisterBenchmark("BM_ClusterScaleKeys",
                                       b::BM_ClusterScaleKeys)
              ->Arg(keys)
              ->UseManualTime()
              ->Iterations(1)
              ->Unit(benchmark::kMillisecond);
        }
      },
      [] {
        b::cluster.reset();  // kills the nodes it started, by PID
        b::tls_cluster.reset();
      });
}

// `kvnode bench`: closed-loop load against a running cluster, with a latency
// histogram.
//
// `clients` logical clients (sessions, each with one request in flight) are
// spread over `conns` connections, each a thread of its own with its own event
// loop (etcd's benchmark tool has the same two knobs). They issue puts and gets
// on `keys` keys with `value_size`-byte values until `duration` has passed or
// `ops` operations have been issued, whichever comes first (at least one bound
// is required). Reads use `linearizable` or serializable consistency. Latency
// is measured per operation into per-connection histograms that are merged for
// the report. Thread safety: RunBench starts and joins its own threads.
#ifndef RAFTKV_CLI_BENCH_H_
#define RAFTKV_CLI_BENCH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/latency_histogram.h"
#include "cli/printer.h"
#include "net/tls.h"

namespace raftkv::cli {

struct BenchOptions {
  std::string cluster;
  int clients = 16;
  int conns = 0;  // 0: min(clients, 4)
  absl::Duration duration = absl::Seconds(10);
  uint64_t ops = 0;  // 0: bounded by duration only
  size_t value_size = 256;
  uint64_t keys = 1000;
  double read_ratio = 0.0;
  bool linearizable = true;
  uint64_t timeout_ms = 5000;
};

struct BenchReport {
  uint64_t ops = 0;
  uint64_t errors = 0;
  double duration_s = 0;
  LatencyHistogram latency;
  std::string first_error;
};

// Called about once a second while running: elapsed seconds and the totals so
// far.
using BenchProgress =
    std::function<void(double elapsed_s, const BenchReport& so_far)>;

// What the benchmark drives: one connection carrying `sessions` logical
// clients, each with at most one request in flight. Used from one thread.
class BenchConnection {
 public:
  using Done = std::function<void(absl::Status)>;
  virtual ~BenchConnection() = default;
  // Start a request for `session` (in [0, sessions)); `done` runs in Run().
  virtual void Put(int session, const std::string& key,
                   const std::string& value, Done done) = 0;
  virtual void Get(int session, const std::string& key, Done done) = 0;
  // Runs until no request is in flight; a `done` may start the next one.
  virtual void Run() = 0;
};
// Makes one connection for `sessions` sessions; called on the thread that
// will use it.
using BenchTargetFactory =
    std::function<absl::StatusOr<std::unique_ptr<BenchConnection>>(
        bool linearizable, int sessions)>;

// A blocking client that serves one session at a time (etcd_load's HTTP/1.1
// connections): wrapped by OneRequestAtATime, run with conns = clients.
class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  virtual absl::Status Put(const std::string& key,
                           const std::string& value) = 0;
  virtual absl::Status Get(const std::string& key) = 0;
};
BenchTargetFactory OneRequestAtATime(
    std::function<absl::StatusOr<std::unique_ptr<BenchTarget>>(bool)> make);

// raftkv through kv::Client: one Client per connection, its sessions sent
// together on it, following the leader. With `tls` configured, every
// connection uses mutual TLS; with `spread_reads`, gets go to every node in
// turn (kv::ClientOptions::spread_reads), else to the leader.
BenchTargetFactory KvTargets(const std::string& cluster, uint64_t timeout_ms,
                             const net::TlsFiles& tls = {},
                             bool spread_reads = false);

// The connections a run uses: `conns`, or min(clients, 4) when it is 0.
int BenchConns(const BenchOptions& options);

absl::StatusOr<BenchReport> RunBench(const BenchOptions& options,
                                     const BenchTargetFactory& targets,
                                     const BenchProgress& progress);

// Checks the options, runs, prints a live progress line on a terminal and the
// report (text, a table, or one JSON object on the last line: ops, errors,
// duration_s, throughput_ops_s, latency_ms with p50, p90, p99, p999, max,
// mean, and the options). Returns the exit code.
int RunBenchCommand(const BenchOptions& options,
                    const BenchTargetFactory& targets, Output output);

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_BENCH_H_

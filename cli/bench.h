// `kvnode bench`: closed-loop load against a running cluster, with a latency
// histogram.
//
// `clients` threads each own a kv::Client (one connection, one request at a
// time) and issue puts and gets on `keys` keys with `value_size`-byte values
// until `duration` has passed or `ops` operations have been issued, whichever
// comes first (at least one bound is required). Reads use `linearizable` or
// serializable consistency. Latency is measured per operation into per-thread
// histograms that are merged for the report. Thread safety: RunBench starts and
// joins its own threads.
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

// What a benchmark client talks to: one per thread, one request at a time.
class BenchTarget {
 public:
  virtual ~BenchTarget() = default;
  virtual absl::Status Put(const std::string& key,
                           const std::string& value) = 0;
  virtual absl::Status Get(const std::string& key) = 0;
};
// Makes one target; called on the thread that will use it.
using BenchTargetFactory =
    std::function<absl::StatusOr<std::unique_ptr<BenchTarget>>(
        bool linearizable)>;

// raftkv through kv::Client, following the leader.
// With `tls` configured, every client connects with mutual TLS.
BenchTargetFactory KvTargets(const std::string& cluster, uint64_t timeout_ms,
                             const net::TlsFiles& tls = {});

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

#include "cli/bench.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "kv/client.h"

namespace raftkv::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Worker {
  std::mutex mu;
  LatencyHistogram latency;
  uint64_t errors = 0;
  std::string first_error;
};

double Ms(uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

}  // namespace

class KvTarget final : public BenchTarget {
 public:
  explicit KvTarget(std::unique_ptr<kv::Client> client)
      : client_(std::move(client)) {}
  absl::Status Put(const std::string& key, const std::string& value) override {
    return client_->Put(key, value);
  }
  absl::Status Get(const std::string& key) override {
    return client_->Get(key).status();
  }

 private:
  std::unique_ptr<kv::Client> client_;
};

BenchTargetFactory KvTargets(const std::string& cluster, uint64_t timeout_ms,
                             const net::TlsFiles& tls) {
  return
      [cluster, timeout_ms,
       tls](bool linearizable) -> absl::StatusOr<std::unique_ptr<BenchTarget>> {
        kv::ClientOptions options;
        options.cluster = cluster;
        options.timeout_ms = timeout_ms;
        options.linearizable = linearizable;
        options.tls = tls;
        auto client = kv::Client::Create(options);
        if (!client.ok()) return client.status();
        return std::unique_ptr<BenchTarget>(new KvTarget(std::move(*client)));
      };
}

absl::StatusOr<BenchReport> RunBench(const BenchOptions& options,
                                     const BenchTargetFactory& targets,
                                     const BenchProgress& progress) {
  if (options.clients < 1 || options.clients > 1024) {
    return absl::InvalidArgumentError("--clients must be between 1 and 1024");
  }
  if (options.duration <= absl::ZeroDuration() && options.ops == 0) {
    return absl::InvalidArgumentError(
        "give --duration or --ops: every run must be bounded");
  }
  if (options.duration > absl::Hours(1)) {
    return absl::InvalidArgumentError("--duration is limited to 1h");
  }
  if (options.keys == 0)
    return absl::InvalidArgumentError("--keys must be at least 1");
  if (options.read_ratio < 0 || options.read_ratio > 1) {
    return absl::InvalidArgumentError("--read-ratio must be between 0 and 1");
  }
  const std::string value(options.value_size, 'v');
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < options.clients; ++i)
    workers.push_back(std::make_unique<Worker>());

  // Reads need something to read: write every key once first (not measured).
  std::atomic<uint64_t> next_key{0};
  std::atomic<bool> preload_failed{false};
  if (options.read_ratio > 0) {
    std::vector<std::thread> loaders;
    for (int i = 0; i < std::min(options.clients, 16); ++i) {
      loaders.emplace_back([&] {
        auto client = targets(true);
        if (!client.ok()) return preload_failed.store(true);
        for (uint64_t k; (k = next_key.fetch_add(1)) < options.keys;) {
          if (!(*client)->Put(absl::StrCat("bench/", k), value).ok())
            return preload_failed.store(true);
        }
      });
    }
    for (std::thread& t : loaders) t.join();
    if (preload_failed) {
      return absl::UnavailableError(
          "could not write the keys to read; is the cluster up? "
          "(kvnode --cluster=... status)");
    }
  }

  std::atomic<uint64_t> issued{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  const auto deadline =
      options.duration > absl::ZeroDuration()
          ? start + absl::ToChronoNanoseconds(options.duration)
          : Clock::time_point::max();
  std::vector<std::thread> threads;
  for (int i = 0; i < options.clients; ++i) {
    threads.emplace_back([&, i] {
      Worker& worker = *workers[i];
      auto client = targets(options.linearizable);
      if (!client.ok()) {
        std::lock_guard<std::mutex> lock(worker.mu);
        worker.errors++;
        worker.first_error = std::string(client.status().message());
        return;
      }
      std::mt19937_64 rng(static_cast<uint64_t>(i) * 7919 + 17);
      while (!stop && Clock::now() < deadline) {
        if (options.ops > 0 && issued.fetch_add(1) >= options.ops) break;
        const std::string key = absl::StrCat("bench/", rng() % options.keys);
        const bool read =
            options.read_ratio > 0 &&
            static_cast<double>(rng() % 1000000) < options.read_ratio * 1000000;
        const auto t0 = Clock::now();
        absl::Status status;
        if (read) {
          status = (*client)->Get(key);
        } else {
          status = (*client)->Put(key, value);
        }
        const uint64_t micros = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                                  t0)
                .count());
        std::lock_guard<std::mutex> lock(worker.mu);
        if (status.ok()) {
          worker.latency.Record(micros);
        } else {
          if (worker.errors++ == 0)
            worker.first_error = std::string(status.message());
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }

  auto collect = [&] {
    BenchReport report;
    for (auto& worker : workers) {
      std::lock_guard<std::mutex> lock(worker->mu);
      report.latency.Merge(worker->latency);
      report.errors += worker->errors;
      if (report.first_error.empty()) report.first_error = worker->first_error;
    }
    report.ops = report.latency.count();
    report.duration_s =
        std::chrono::duration<double>(Clock::now() - start).count();
    return report;
  };
  // Report progress while the workers run; the loop ends when they all have.
  std::atomic<int> finished{0};
  std::thread joiner([&] {
    for (std::thread& t : threads) t.join();
    finished = 1;
  });
  auto next_report = start + std::chrono::seconds(1);
  while (!finished) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (progress && Clock::now() >= next_report) {
      next_report += std::chrono::seconds(1);
      BenchReport so_far = collect();
      progress(so_far.duration_s, so_far);
    }
  }
  joiner.join();
  stop = true;
  return collect();
}

Record BenchRecord(const BenchOptions& options, const BenchReport& r) {
  const double throughput =
      r.duration_s > 0 ? static_cast<double>(r.ops) / r.duration_s : 0;
  Record latency;
  latency.Real("p50", Ms(r.latency.Percentile(0.5)), 3)
      .Real("p90", Ms(r.latency.Percentile(0.9)), 3)
      .Real("p99", Ms(r.latency.Percentile(0.99)), 3)
      .Real("p999", Ms(r.latency.Percentile(0.999)), 3)
      .Real("max", Ms(r.latency.max()), 3)
      .Real("mean", r.latency.mean() / 1000.0, 3);
  Record record;
  record.Number("ops", r.ops)
      .Number("errors", r.errors)
      .Real("duration_s", r.duration_s, 3)
      .Real("throughput_ops_s", throughput, 1)
      .Object("latency_ms", std::move(latency))
      .Number("clients", options.clients)
      .Number("value_size", options.value_size)
      .Number("keys", options.keys)
      .Real("read_ratio", options.read_ratio, 3)
      .Bytes("consistency",
             options.linearizable ? "linearizable" : "serializable");
  return record;
}

int RunBenchCommand(const BenchOptions& options,
                    const BenchTargetFactory& targets, Output output) {
  const bool live = isatty(STDERR_FILENO);
  auto report =
      RunBench(options, targets, [&](double elapsed, const BenchReport& r) {
        if (!live) return;
        fprintf(stderr,
                "\r[%5.1fs] %9.0f ops/s  p50 %7.3f ms  p99 %7.3f ms  errors "
                "%llu   ",
                elapsed, static_cast<double>(r.ops) / elapsed,
                Ms(r.latency.Percentile(0.5)), Ms(r.latency.Percentile(0.99)),
                static_cast<unsigned long long>(r.errors));
        fflush(stderr);
      });
  if (live) fprintf(stderr, "\n");
  if (!report.ok()) return ReportError(report.status());
  const BenchReport& r = *report;
  Report out;
  out.record = BenchRecord(options, r);
  out.simple = absl::StrFormat(
      "%llu ops in %.2f s: %.1f ops/s, %llu errors (%d clients, %zu-byte "
      "values, read ratio %.2f, %s reads)\n"
      "latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
      static_cast<unsigned long long>(r.ops), r.duration_s,
      r.duration_s > 0 ? static_cast<double>(r.ops) / r.duration_s : 0.0,
      static_cast<unsigned long long>(r.errors), options.clients,
      options.value_size, options.read_ratio,
      options.linearizable ? "linearizable" : "serializable",
      Ms(r.latency.Percentile(0.5)), Ms(r.latency.Percentile(0.9)),
      Ms(r.latency.Percentile(0.99)), Ms(r.latency.Percentile(0.999)),
      Ms(r.latency.max()));
  Print(out, output);
  if (report->ops == 0) {
    fprintf(stderr, "kvnode: no operation succeeded; first error: %s\n",
            report->first_error.c_str());
    return kExitUnavailable;
  }
  return kExitOk;
}

}  // namespace raftkv::cli

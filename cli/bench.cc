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

class KvConnection final : public BenchConnection {
 public:
  KvConnection(std::unique_ptr<kv::Client> client, int sessions)
      : client_(std::move(client)) {
    for (int i = 0; i < sessions; ++i)
      sessions_.push_back(client_->NewSession());
  }
  void Put(int session, const std::string& key, const std::string& value,
           Done done) override {
    client_->PutAsync(sessions_[session], key, value, std::move(done));
  }
  void Get(int, const std::string& key, Done done) override {
    client_->GetAsync(key, std::move(done));
  }
  void Run() override { client_->Run(); }

 private:
  std::unique_ptr<kv::Client> client_;
  std::vector<kv::Client::Session> sessions_;  // never resized once made
};

BenchTargetFactory KvTargets(const std::string& cluster, uint64_t timeout_ms,
                             const net::TlsFiles& tls, bool spread_reads) {
  return [cluster, timeout_ms, tls, spread_reads](
             bool linearizable,
             int sessions) -> absl::StatusOr<std::unique_ptr<BenchConnection>> {
    kv::ClientOptions options;
    options.cluster = cluster;
    options.timeout_ms = timeout_ms;
    options.linearizable = linearizable;
    options.tls = tls;
    options.spread_reads = spread_reads;
    auto client = kv::Client::Create(options);
    if (!client.ok()) return client.status();
    return std::unique_ptr<BenchConnection>(
        new KvConnection(std::move(*client), sessions));
  };
}

namespace {

// Runs a blocking target's requests one after another inside Run().
class SerialConnection final : public BenchConnection {
 public:
  explicit SerialConnection(std::unique_ptr<BenchTarget> target)
      : target_(std::move(target)) {}
  void Put(int, const std::string& key, const std::string& value,
           Done done) override {
    next_ = [this, key, value, done = std::move(done)] {
      done(target_->Put(key, value));
    };
  }
  void Get(int, const std::string& key, Done done) override {
    next_ = [this, key, done = std::move(done)] { done(target_->Get(key)); };
  }
  void Run() override {
    while (next_) {
      std::function<void()> request = std::move(next_);
      next_ = nullptr;
      request();  // may set next_
    }
  }

 private:
  std::unique_ptr<BenchTarget> target_;
  std::function<void()> next_;
};

}  // namespace

BenchTargetFactory OneRequestAtATime(
    std::function<absl::StatusOr<std::unique_ptr<BenchTarget>>(bool)> make) {
  return
      [make](bool linearizable,
             int sessions) -> absl::StatusOr<std::unique_ptr<BenchConnection>> {
        if (sessions != 1) {
          return absl::InvalidArgumentError(
              "this target serves one request at a time: give --conns equal to "
              "--clients");
        }
        auto target = make(linearizable);
        if (!target.ok()) return target.status();
        return std::unique_ptr<BenchConnection>(
            new SerialConnection(std::move(*target)));
      };
}

namespace {

// Sessions per connection: `clients` spread as evenly as `conns` allows.
std::vector<int> SessionsPerConnection(int clients, int conns) {
  std::vector<int> sessions(static_cast<size_t>(conns), clients / conns);
  for (int i = 0; i < clients % conns; ++i) ++sessions[static_cast<size_t>(i)];
  return sessions;
}

// Drives every session of `connection` until `next` says there is nothing
// left: `next(session, &key, &read)` picks the next request or returns false;
// `record(status, micros)` is told how each went.
void Drive(BenchConnection& connection, int sessions,
           const std::function<bool(std::string*, bool*)>& next,
           const std::string& value,
           const std::function<void(const absl::Status&, uint64_t)>& record) {
  std::function<void(int)> start = [&](int session) {
    std::string key;
    bool read = false;
    if (!next(&key, &read)) return;
    const auto t0 = Clock::now();
    auto done = [&, session, t0](absl::Status status) {
      record(status, static_cast<uint64_t>(
                         std::chrono::duration_cast<std::chrono::microseconds>(
                             Clock::now() - t0)
                             .count()));
      start(session);
    };
    if (read) {
      connection.Get(session, key, std::move(done));
    } else {
      connection.Put(session, key, value, std::move(done));
    }
  };
  for (int i = 0; i < sessions; ++i) start(i);
  connection.Run();
}

absl::Status CheckOptions(const BenchOptions& options) {
  if (options.clients < 1 || options.clients > 4096) {
    return absl::InvalidArgumentError("--clients must be between 1 and 4096");
  }
  if (options.conns < 0 || options.conns > 1024 ||
      options.conns > options.clients) {
    return absl::InvalidArgumentError(
        "--conns must be between 1 and min(--clients, 1024)");
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
  return absl::OkStatus();
}

// Reads need something to read: writes every key once (not measured), over
// the same connections and sessions as the run.
absl::Status Preload(const BenchOptions& options,
                     const BenchTargetFactory& targets,
                     const std::vector<int>& sessions,
                     const std::string& value) {
  std::atomic<uint64_t> next_key{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> loaders;
  for (int conn_sessions : sessions) {
    loaders.emplace_back([&, conn_sessions] {
      auto connection = targets(true, conn_sessions);
      if (!connection.ok()) return failed.store(true);
      Drive(
          **connection, conn_sessions,
          [&](std::string* key, bool* read) {
            const uint64_t k = next_key.fetch_add(1);
            if (k >= options.keys || failed) return false;
            *key = absl::StrCat("bench/", k);
            *read = false;
            return true;
          },
          value,
          [&](const absl::Status& status, uint64_t) {
            if (!status.ok()) failed = true;
          });
    });
  }
  for (std::thread& t : loaders) t.join();
  if (failed) {
    return absl::UnavailableError(
        "could not write the keys to read; is the cluster up? "
        "(kvnode --cluster=... status)");
  }
  return absl::OkStatus();
}

}  // namespace

int BenchConns(const BenchOptions& options) {
  return options.conns > 0 ? options.conns : std::min(options.clients, 4);
}

absl::StatusOr<BenchReport> RunBench(const BenchOptions& options,
                                     const BenchTargetFactory& targets,
                                     const BenchProgress& progress) {
  if (absl::Status bad = CheckOptions(options); !bad.ok()) return bad;
  const std::string value(options.value_size, 'v');
  const std::vector<int> sessions =
      SessionsPerConnection(options.clients, BenchConns(options));
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t i = 0; i < sessions.size(); ++i)
    workers.push_back(std::make_unique<Worker>());
  if (options.read_ratio > 0) {
    if (absl::Status loaded = Preload(options, targets, sessions, value);
        !loaded.ok()) {
      return loaded;
    }
  }

  std::atomic<uint64_t> issued{0};
  const auto start = Clock::now();
  const auto deadline =
      options.duration > absl::ZeroDuration()
          ? start + absl::ToChronoNanoseconds(options.duration)
          : Clock::time_point::max();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sessions.size(); ++i) {
    threads.emplace_back([&, i] {
      Worker& worker = *workers[i];
      auto connection = targets(options.linearizable, sessions[i]);
      if (!connection.ok()) {
        std::lock_guard<std::mutex> lock(worker.mu);
        worker.errors++;
        worker.first_error = std::string(connection.status().message());
        return;
      }
      std::mt19937_64 rng(static_cast<uint64_t>(i) * 7919 + 17);
      Drive(
          **connection, sessions[i],
          [&](std::string* key, bool* read) {
            if (Clock::now() >= deadline) return false;
            if (options.ops > 0 && issued.fetch_add(1) >= options.ops)
              return false;
            *key = absl::StrCat("bench/", rng() % options.keys);
            *read =
                options.read_ratio > 0 && static_cast<double>(rng() % 1000000) <
                                              options.read_ratio * 1000000;
            return true;
          },
          value,
          [&](const absl::Status& status, uint64_t micros) {
            std::lock_guard<std::mutex> lock(worker.mu);
            if (status.ok()) {
              worker.latency.Record(micros);
            } else if (worker.errors++ == 0) {
              worker.first_error = std::string(status.message());
            }
          });
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
      .Number("conns", BenchConns(options))
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
      "%llu ops in %.2f s: %.1f ops/s, %llu errors (%d clients on %d "
      "connections, %zu-byte values, read ratio %.2f, %s reads)\n"
      "latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
      static_cast<unsigned long long>(r.ops), r.duration_s,
      r.duration_s > 0 ? static_cast<double>(r.ops) / r.duration_s : 0.0,
      static_cast<unsigned long long>(r.errors), options.clients,
      BenchConns(options), options.value_size, options.read_ratio,
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

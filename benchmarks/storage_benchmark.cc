// Storage throughput: what the stores sustain on this machine, with real
// fsyncs. The Raft log benchmarks run against the write-ahead log nodes use
// (Wal) and, side by side, the LevelDB log store it replaced (LevelDb).
//
// BM_LogAppendSynced<Store>/B: Save() batches of B 256-byte entries, one fsync
//   each; entries_per_s across B = 1, 16, 256 shows batching (group commit).
//   cpu_ms_per_1k_entries is the whole process's CPU (user + system, LevelDB's
//   background compaction thread included), with the log compacted every
//   10,000 entries as a node does.
// BM_LogEntries<Store, kCache or kDisk>: reading 64 recent entries from the
// cache
//   vs. older ones from the files.
// BM_KvApply: state machine batches of 16 puts of 256 bytes (Apply, no fsync).
// BM_KvSnapshotRead / BM_KvSnapshotRestore: streaming a 16 MiB store out and
// back in.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/leveldb_kv_store.h"
#include "storage/leveldb_log_storage.h"
#include "storage/wal_log_storage.h"
#include "testing/temp_dir.h"

namespace raftkv::benchmarks {
namespace {

using raft::Entry;
using storage::KvBatch;
using storage::KvMutation;
using storage::LevelDbKvStore;
using storage::LevelDbLogStorage;
using storage::WalLogStorage;

constexpr size_t kEntryBytes = 256;

std::vector<Entry> MakeEntries(raft::LogIndex first, int64_t count) {
  std::vector<Entry> entries;
  entries.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    entries.push_back(Entry{1, first + static_cast<raft::LogIndex>(i),
                            raft::EntryType::kNormal,
                            std::string(kEntryBytes, 'e')});
  }
  return entries;
}

void SetThroughput(benchmark::State& state, int64_t items, int64_t bytes) {
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(bytes);
  state.counters["entries_per_s"] = benchmark::Counter(
      static_cast<double>(items), benchmark::Counter::kIsRate);
  state.counters["MB_per_s"] = benchmark::Counter(
      static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsRate);
}

struct Wal {
  static absl::StatusOr<std::unique_ptr<raft::LogStorage>> Open(
      const std::string& dir, uint64_t cache_bytes) {
    storage::WalLogStorageOptions options;
    options.entry_cache_bytes = cache_bytes;
    auto log = WalLogStorage::Open(dir + "/raft-log", options);
    if (!log.ok()) return log.status();
    return std::unique_ptr<raft::LogStorage>(std::move(*log));
  }
};

struct LevelDb {
  static absl::StatusOr<std::unique_ptr<raft::LogStorage>> Open(
      const std::string& dir, uint64_t cache_bytes) {
    storage::LevelDbLogStorageOptions options;
    options.entry_cache_bytes = cache_bytes;
    auto log = LevelDbLogStorage::Open(dir + "/raft", options);
    if (!log.ok()) return log.status();
    return std::unique_ptr<raft::LogStorage>(std::move(*log));
  }
};

// User + system CPU of the whole process, in milliseconds.
double ProcessCpuMs() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

template <typename Store>
void BM_LogAppendSynced(benchmark::State& state) {
  auto dir = testing::MakeTempDir("bench_log");
  auto log = Store::Open(dir->path(), 16 << 20);
  if (!log.ok())
    return state.SkipWithError(std::string(log.status().message()).c_str());
  const int64_t batch = state.range(0);
  raft::LogIndex next = 1;
  const double cpu_before = ProcessCpuMs();
  for (auto _ : state) {
    std::vector<Entry> entries = MakeEntries(next, batch);
    absl::Status saved = (*log)->Save(raft::HardState{1, 1, next - 1}, entries);
    if (!saved.ok())
      return state.SkipWithError(std::string(saved.message()).c_str());
    next += static_cast<raft::LogIndex>(batch);
    if (next > (*log)->FirstIndex() + 10000) {
      absl::Status compacted = (*log)->Compact(next - 1, {{1}, {}, {}});
      if (!compacted.ok())
        return state.SkipWithError(std::string(compacted.message()).c_str());
    }
  }
  const int64_t entries = static_cast<int64_t>(state.iterations()) * batch;
  SetThroughput(state, entries, entries * static_cast<int64_t>(kEntryBytes));
  state.counters["cpu_ms_per_1k_entries"] =
      (ProcessCpuMs() - cpu_before) * 1000.0 / static_cast<double>(entries);
}
BENCHMARK_TEMPLATE(BM_LogAppendSynced, Wal)
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_LogAppendSynced, LevelDb)
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->UseRealTime();

constexpr bool kCache = true, kDisk = false;

template <typename Store, bool from_cache>
void BM_LogEntries(benchmark::State& state) {
  auto dir = testing::MakeTempDir("bench_log_read");
  // About the newest 3,800 entries.
  auto log = Store::Open(dir->path(), 1 << 20);
  if (!log.ok())
    return state.SkipWithError(std::string(log.status().message()).c_str());
  constexpr raft::LogIndex kTotal = 20000;
  for (raft::LogIndex i = 1; i <= kTotal; i += 1000) {
    if (!(*log)->Save(std::nullopt, MakeEntries(i, 1000)).ok()) {
      return state.SkipWithError("fill failed");
    }
  }
  raft::LogIndex lo = from_cache ? kTotal - 1000 : 1;
  const raft::LogIndex window_end = from_cache ? kTotal - 64 : 10000;
  const raft::LogIndex window_start = lo;
  for (auto _ : state) {
    auto entries = (*log)->Entries(lo, lo + 64, raft::kNoByteLimit);
    if (!entries.ok()) return state.SkipWithError("read failed");
    benchmark::DoNotOptimize(entries->data());
    lo = lo + 64 > window_end ? window_start : lo + 64;
  }
  const int64_t entries = static_cast<int64_t>(state.iterations()) * 64;
  SetThroughput(state, entries, entries * static_cast<int64_t>(kEntryBytes));
}
BENCHMARK_TEMPLATE2(BM_LogEntries, Wal, kCache);
BENCHMARK_TEMPLATE2(BM_LogEntries, Wal, kDisk);
BENCHMARK_TEMPLATE2(BM_LogEntries, LevelDb, kCache);
BENCHMARK_TEMPLATE2(BM_LogEntries, LevelDb, kDisk);

void BM_KvApply(benchmark::State& state) {
  auto dir = testing::MakeTempDir("bench_kv");
  auto kv = LevelDbKvStore::Open(dir->path() + "/kv");
  if (!kv.ok())
    return state.SkipWithError(std::string(kv.status().message()).c_str());
  raft::LogIndex index = 0;
  for (auto _ : state) {
    KvBatch batch;
    batch.applied_index = ++index;
    for (int i = 0; i < 16; ++i) {
      batch.mutations.push_back({KvMutation::Kind::kPut,
                                 absl::StrCat("key", (index * 16 + i) % 100000),
                                 std::string(kEntryBytes, 'v')});
    }
    batch.session_puts.push_back({index % 64, "session"});
    if (!(*kv)->Apply(batch).ok()) return state.SkipWithError("apply failed");
  }
  const int64_t puts = static_cast<int64_t>(state.iterations()) * 16;
  SetThroughput(state, puts, puts * static_cast<int64_t>(kEntryBytes));
}
BENCHMARK(BM_KvApply)->UseRealTime();

std::unique_ptr<LevelDbKvStore> FilledStore(const std::string& path,
                                            int64_t megabytes) {
  auto kv = LevelDbKvStore::Open(path);
  if (!kv.ok()) return nullptr;
  const int64_t values = megabytes * 1024;  // 1 KiB each
  for (int64_t done = 0; done < values; done += 1000) {
    KvBatch batch;
    batch.applied_index = static_cast<raft::LogIndex>(done / 1000 + 1);
    for (int64_t i = done; i < done + 1000 && i < values; ++i) {
      batch.mutations.push_back({KvMutation::Kind::kPut, absl::StrCat("key", i),
                                 std::string(1024, 'v')});
    }
    if (!(*kv)->Apply(batch).ok()) return nullptr;
  }
  return std::move(*kv);
}

void BM_KvSnapshotRead(benchmark::State& state) {
  auto dir = testing::MakeTempDir("bench_snapshot_read");
  auto kv = FilledStore(dir->path() + "/kv", state.range(0));
  if (kv == nullptr) return state.SkipWithError("fill failed");
  int64_t bytes = 0;
  for (auto _ : state) {
    auto reader = kv->ReadSnapshot();
    if (!reader.ok()) return state.SkipWithError("snapshot failed");
    while (true) {
      auto chunk = (*reader)->NextChunk(1 << 20);
      if (!chunk.ok()) return state.SkipWithError("chunk failed");
      if (!chunk->has_value()) break;
      bytes += static_cast<int64_t>((*chunk)->size());
    }
  }
  state.SetBytesProcessed(bytes);
  state.counters["MB_per_s"] = benchmark::Counter(
      static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_KvSnapshotRead)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_KvSnapshotRestore(benchmark::State& state) {
  auto dir = testing::MakeTempDir("bench_snapshot_restore");
  auto source = FilledStore(dir->path() + "/source", state.range(0));
  if (source == nullptr) return state.SkipWithError("fill failed");
  std::vector<std::string> chunks;
  auto reader = source->ReadSnapshot();
  while (true) {
    auto chunk = (*reader)->NextChunk(1 << 20);
    if (!chunk.ok() || !chunk->has_value()) break;
    chunks.push_back(**chunk);
  }
  auto target = LevelDbKvStore::Open(dir->path() + "/target");
  if (!target.ok()) return state.SkipWithError("open failed");
  int64_t bytes = 0;
  for (auto _ : state) {
    size_t next = 0;
    absl::Status restored = (*target)->RestoreSnapshot(
        [&]() -> absl::StatusOr<std::optional<std::string>> {
          if (next == chunks.size()) return std::nullopt;
          bytes += static_cast<int64_t>(chunks[next].size());
          return chunks[next++];
        });
    if (!restored.ok())
      return state.SkipWithError(std::string(restored.message()).c_str());
  }
  state.SetBytesProcessed(bytes);
  state.counters["MB_per_s"] = benchmark::Counter(
      static_cast<double>(bytes) / 1e6, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_KvSnapshotRestore)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace raftkv::benchmarks

// Storage throughput: what the LevelDB stores sustain on this machine, with
// real fsyncs.
//
// BM_LogAppendSynced/B: Save() batches of B 256-byte entries, one fsync each;
// the
//   entries_per_s counter across B = 1, 16, 256 shows batching (group commit)
//   at work.
// BM_LogEntries/{cache,disk}: reading 64 recent entries from the cache vs.
// older ones
//   from LevelDB.
// BM_KvApply: state machine batches of 16 puts of 256 bytes (Apply, no fsync).
// BM_KvSnapshotRead / BM_KvSnapshotRestore: streaming a 16 MiB store out and
// back in.

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/leveldb_kv_store.h"
#include "storage/leveldb_log_storage.h"
#include "testing/temp_dir.h"

namespace raftkv::benchmarks {
namespace {

using raft::Entry;
using storage::KvBatch;
using storage::KvMutation;
using storage::LevelDbKvStore;
using storage::LevelDbLogStorage;

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

void BM_LogAppendSynced(benchmark::State& state) {
  auto dir = testing::MakeTempDir("bench_log");
  auto log = LevelDbLogStorage::Open(dir->path() + "/raft");
  if (!log.ok())
    return state.SkipWithError(std::string(log.status().message()).c_str());
  const int64_t batch = state.range(0);
  raft::LogIndex next = 1;
  for (auto _ : state) {
    std::vector<Entry> entries = MakeEntries(next, batch);
    absl::Status saved = (*log)->Save(raft::HardState{1, 1, next - 1}, entries);
    if (!saved.ok())
      return state.SkipWithError(std::string(saved.message()).c_str());
    next += static_cast<raft::LogIndex>(batch);
  }
  const int64_t entries = static_cast<int64_t>(state.iterations()) * batch;
  SetThroughput(state, entries, entries * static_cast<int64_t>(kEntryBytes));
}
BENCHMARK(BM_LogAppendSynced)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

void BM_LogEntries(benchmark::State& state, bool from_cache) {
  auto dir = testing::MakeTempDir("bench_log_read");
  storage::LevelDbLogStorageOptions options;
  options.entry_cache_bytes = 1 << 20;  // about the newest 3,800 entries
  auto log = LevelDbLogStorage::Open(dir->path() + "/raft", options);
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
  state.counters["disk_reads"] =
      static_cast<double>((*log)->entries_read_from_disk());
}
BENCHMARK_CAPTURE(BM_LogEntries, cache, true);
BENCHMARK_CAPTURE(BM_LogEntries, disk, false);

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

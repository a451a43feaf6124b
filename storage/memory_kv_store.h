// MemoryKvStore: the in-memory twin of LevelDbKvStore, for the simulator and
// tests.
//
// Same semantics and the same snapshot format as the LevelDB store (one
// conformance suite runs against both). "Durable" means what the last Sync()
// or RestoreSnapshot() left: the simulator models a crash with
// LoseUnsyncedWrites(), which goes back to it, as a power cut loses LevelDB
// writes that were never synced. Thread safety: internally synchronized.
// Invariant: applied_index only grows, except through RestoreSnapshot and
// LoseUnsyncedWrites.
#ifndef RAFTKV_STORAGE_MEMORY_KV_STORE_H_
#define RAFTKV_STORAGE_MEMORY_KV_STORE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "raft/mutex.h"
#include "storage/kv_store.h"

namespace raftkv::storage {

class MemoryKvStore final : public KvStore {
 public:
  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view key) const override;
  absl::StatusOr<ScanPage> Scan(const ScanOptions& options) const override;
  raft::LogIndex AppliedIndex() const override;
  absl::StatusOr<std::vector<SessionRecord>> LoadSessions() const override;
  absl::Status Apply(const KvBatch& batch) override;
  absl::Status ApplyBatches(absl::Span<const KvBatch> batches) override;
  absl::Status Sync() override;
  absl::StatusOr<std::unique_ptr<KvSnapshotReader>> ReadSnapshot()
      const override;
  absl::Status RestoreSnapshot(SnapshotChunkSource next_chunk) override;

  // Crash model: forgets every write since the last Sync() or restore.
  void LoseUnsyncedWrites();
  // Fault injection: while `error` is not OK, every write (Apply, Sync,
  // RestoreSnapshot) fails with it and changes nothing.
  void InjectWriteError(absl::Status error);

 private:
  struct State {
    std::map<std::string, std::string, std::less<>> data;
    std::map<uint64_t, std::string> sessions;
    raft::LogIndex applied_index = raft::kNoIndex;
  };

  mutable raftkv::Mutex mu_;
  // Shared with snapshot readers; replaced, never mutated, once a reader holds
  // it.
  std::shared_ptr<State> state_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<State>();
  // What survives a crash; shares state_ until the next write copies it.
  std::shared_ptr<State> synced_ ABSL_GUARDED_BY(mu_) = state_;
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_MEMORY_KV_STORE_H_

// LevelDbKvStore: the durable KvStore, LevelDB under a generation directory.
//
// Directory layout under `path`: LOCK (held while open), CURRENT_KV (names the
// live generation) and gen-N/ (a LevelDB database: "d" + key -> value, "s" +
// BE64 client id -> session, "m" -> applied index). Apply() writes one
// WriteBatch per committed entry; Sync() fsyncs. RestoreSnapshot builds
// gen-(N+1) aside, fsyncs it, then swaps CURRENT_KV with rename and a directory
// fsync (the one atomic step), then drops gen-N; Open() removes any generation
// CURRENT_KV does not name, so a restore interrupted anywhere leaves exactly
// the old state or exactly the new one.
//
// Thread safety: internally synchronized. Snapshot readers keep the generation
// they read alive. Invariants: those of KvStore; only the generation named by
// CURRENT_KV is ever read.
#ifndef RAFTKV_STORAGE_LEVELDB_KV_STORE_H_
#define RAFTKV_STORAGE_LEVELDB_KV_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "raft/mutex.h"
#include "storage/file_util.h"
#include "storage/kv_store.h"
#include "storage/leveldb_env.h"

namespace raftkv::storage {

// The points of a restore at which tests simulate a crash.
enum class RestoreStep {
  kChunkWritten,    // a part of the new generation is written, not yet synced
  kNewStateSynced,  // the new generation is complete and durable
  kPointerWritten,  // CURRENT_KV.tmp names the new generation, synced
  kPointerSwapped,  // CURRENT_KV renamed and its directory synced
  kOldRemoved,      // the old generation is gone
};

struct LevelDbKvStoreOptions {
  LevelDbOpenOptions leveldb;
  // Test seam for crash-at-every-step tests: when it returns false at a step,
  // the restore stops right there, as if the process had died, and returns
  // kAborted. The store must then be destroyed and reopened.
  std::function<bool(RestoreStep)> restore_hook;
};

class LevelDbKvStore final : public KvStore {
 public:
  static absl::StatusOr<std::unique_ptr<LevelDbKvStore>> Open(
      const std::string& path, const LevelDbKvStoreOptions& options = {});

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

 private:
  LevelDbKvStore(std::string path, LevelDbKvStoreOptions options,
                 DirectoryLock lock);
  std::string GenerationPath(uint64_t generation) const;
  absl::StatusOr<std::shared_ptr<LevelDbHandle>> OpenGeneration(
      uint64_t generation, raft::LogIndex* applied_index) const;
  absl::Status BuildGeneration(uint64_t generation,
                               SnapshotChunkSource next_chunk,
                               raft::LogIndex* applied_index);
  bool Crash(RestoreStep step) const;

  const std::string path_;
  const LevelDbKvStoreOptions options_;
  DirectoryLock lock_;
  // Serializes Apply and RestoreSnapshot; readers take only mu_.
  raftkv::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable raftkv::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<LevelDbHandle> db_ ABSL_GUARDED_BY(mu_);
  raft::LogIndex applied_index_ ABSL_GUARDED_BY(mu_) = raft::kNoIndex;
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_LEVELDB_KV_STORE_H_

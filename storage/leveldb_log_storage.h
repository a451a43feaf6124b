// LevelDbLogStorage: the raft::LogStorage kvnode used before the write-ahead
// log (WalLogStorage), one LevelDB database per node. It stays to read the
// data directories of older kvnodes once, when storage::OpenRaftLog moves their
// log onto the write-ahead log; nothing else opens it.
//
// Layout: "e" + big-endian index -> entry (term, type, data); "h" -> hard
// state; "s" -> snapshot metadata. Every Save, Compact and InstallSnapshot is
// one WriteBatch with sync = true, so what returned OK survives kill -9 and
// power loss, and a half-written batch is never read back. The newest entries
// are also kept in a byte-bounded cache, so the leader's hot path (sending what
// it just appended) does not read LevelDB.
//
// Thread safety: internally synchronized by one mutex; LevelDB I/O happens
// under it. Invariants: those of raft::LogStorage; the cache (EntryCache) holds
// a suffix of the log.
#ifndef RAFTKV_STORAGE_LEVELDB_LOG_STORAGE_H_
#define RAFTKV_STORAGE_LEVELDB_LOG_STORAGE_H_

#include <leveldb/write_batch.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "raft/log_storage.h"
#include "raft/mutex.h"
#include "storage/entry_cache.h"
#include "storage/leveldb_env.h"

namespace raftkv::storage {

struct LevelDbLogStorageOptions {
  LevelDbOpenOptions leveldb;
  // Bytes of recent entries kept in memory.
  uint64_t entry_cache_bytes = 16 << 20;
};

class LevelDbLogStorage final : public raft::LogStorage {
 public:
  // Opens or creates the log in directory `path`. Fails with a message naming
  // the directory if another process has it open, or naming the file if it is
  // corrupt.
  static absl::StatusOr<std::unique_ptr<LevelDbLogStorage>> Open(
      const std::string& path, const LevelDbLogStorageOptions& options = {});

  raft::InitialState GetInitialState() const override;
  absl::StatusOr<std::vector<raft::Entry>> Entries(
      raft::LogIndex lo, raft::LogIndex hi, uint64_t max_bytes) const override;
  absl::StatusOr<raft::Term> TermAt(raft::LogIndex index) const override;
  raft::LogIndex FirstIndex() const override;
  raft::LogIndex LastIndex() const override;
  raft::SnapshotMetadata Snapshot() const override;
  absl::Status Save(const std::optional<raft::HardState>& hard_state,
                    absl::Span<const raft::Entry> entries) override;
  absl::Status Compact(raft::LogIndex index,
                       const raft::ConfState& conf_state) override;
  absl::Status InstallSnapshot(const raft::SnapshotMetadata& snapshot) override;

  // Statistics for tests and benchmarks: entries served from LevelDB rather
  // than the cache.
  uint64_t entries_read_from_disk() const;

 private:
  LevelDbLogStorage(LevelDbHandle handle,
                    const LevelDbLogStorageOptions& options);
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<raft::Entry> ReadEntry(raft::LogIndex index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<raft::Term> TermAtLocked(raft::LogIndex index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteSynced(leveldb::WriteBatch* batch, const char* what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable raftkv::Mutex mu_;
  LevelDbHandle handle_ ABSL_GUARDED_BY(mu_);
  raft::HardState hard_state_ ABSL_GUARDED_BY(mu_);
  raft::SnapshotMetadata snapshot_ ABSL_GUARDED_BY(mu_);
  raft::LogIndex last_index_ ABSL_GUARDED_BY(mu_) = 0;
  EntryCache cache_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t entries_read_from_disk_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_LEVELDB_LOG_STORAGE_H_

// WalLogStorage: the durable raft::LogStorage, an append-only write-ahead log
// of our own in one directory per node (after etcd's WAL).
//
// Every Save, Compact and InstallSnapshot is one frame appended to the newest
// segment file with one write and one fdatasync, so what returned OK survives
// kill -9 and power loss, and a frame is either whole or, torn by a crash
// before its sync returned, dropped at the next open (format and replay rules:
// storage/wal_format.h). Segments roll over at a size limit, each reserving
// that much disk when it starts (so an append's fdatasync flushes data, not
// a growing file size); a compaction deletes the segments that hold only
// compacted entries. Unlike a LevelDB log
// store, nothing is written twice and nothing is compacted in the background.
//
// In memory: where every entry of the log lies on disk (about 40 bytes each,
// for the entries since the last compaction), the hard state and snapshot
// metadata, and the newest entries in a byte-bounded cache, so the leader's hot
// path (sending what it just appended) reads no file.
//
// Thread safety: internally synchronized by one mutex; file I/O happens under
// it. Invariants: those of raft::LogStorage; locations_ holds one location per
// entry of [FirstIndex(), LastIndex()]; the cache (EntryCache) holds a suffix
// of the log; after a failed write every later write fails.
#ifndef RAFTKV_STORAGE_WAL_LOG_STORAGE_H_
#define RAFTKV_STORAGE_WAL_LOG_STORAGE_H_

#include <leveldb/env.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "raft/log_storage.h"
#include "raft/mutex.h"
#include "storage/entry_cache.h"
#include "storage/wal_format.h"

namespace raftkv::storage {

struct WalLogStorageOptions {
  // The Env all file I/O goes through; nullptr means leveldb::Env::Default().
  // Tests pass a fault-injecting Env. Not owned; must outlive the storage.
  leveldb::Env* env = nullptr;
  // A segment that has grown past this is closed and a new one started. Each
  // new segment reserves this much disk when it is created.
  uint64_t segment_bytes = 64 << 20;
  // Bytes of recent entries kept in memory.
  uint64_t entry_cache_bytes = 16 << 20;
};

class WalLogStorage final : public raft::LogStorage {
 public:
  // Opens or creates the log in directory `dir`. Fails with a message naming
  // the directory if another process has it open, or naming the file and
  // offset if a record is corrupt.
  static absl::StatusOr<std::unique_ptr<WalLogStorage>> Open(
      const std::string& dir, const WalLogStorageOptions& options = {});
  ~WalLogStorage() override;

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

  // For tests and benchmarks: entries read from a segment file rather than the
  // cache, and the segment files the log has now.
  uint64_t entries_read_from_disk() const;
  std::vector<std::string> SegmentFiles() const;

 private:
  struct Segment {
    uint64_t sequence;
    // The highest index any entry in it had, or its base: once the log is
    // compacted through this, the segment holds nothing needed.
    raft::LogIndex max_index;
  };
  struct Location {
    uint64_t sequence;
    uint64_t frame_offset;
    uint32_t frame_bytes;
    uint32_t record_offset;
    uint32_t record_bytes;
    raft::Term term;
  };
  struct Reader {
    std::unique_ptr<leveldb::RandomAccessFile> file;
    uint64_t size = 0;
  };
  class Replay;

  WalLogStorage(leveldb::Env* env, std::string dir,
                const WalLogStorageOptions& options);
  std::string PathOf(uint64_t sequence) const;
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cuts a segment file to its first `bytes`, durably.
  absl::Status TrimSegment(uint64_t sequence, uint64_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts a new segment whose first frame records the whole state;
  // `installed` marks its snapshot as replacing the log (InstallSnapshot).
  absl::Status StartSegment(bool installed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends builder_'s frame to the newest segment and syncs it; returns the
  // frame's offset.
  absl::StatusOr<uint64_t> WriteFrame(const char* what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RemoveSegmentsWhile(bool (*obsolete)(const Segment&,
                                                    raft::LogIndex))
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<raft::Entry> ReadEntry(raft::LogIndex index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<raft::Term> TermAtLocked(raft::LogIndex index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TruncateFrom(raft::LogIndex index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  leveldb::Env* const env_;
  const std::string dir_;
  const uint64_t segment_bytes_;
  mutable raftkv::Mutex mu_;
  leveldb::FileLock* lock_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<Segment> segments_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<leveldb::WritableFile> newest_ ABSL_GUARDED_BY(mu_);
  uint64_t newest_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  wal::FrameBuilder builder_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> record_offsets_ ABSL_GUARDED_BY(mu_);

  raft::HardState hard_state_ ABSL_GUARDED_BY(mu_);
  raft::SnapshotMetadata snapshot_ ABSL_GUARDED_BY(mu_);
  raft::LogIndex last_index_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Location> locations_ ABSL_GUARDED_BY(mu_);
  EntryCache cache_ ABSL_GUARDED_BY(mu_);

  mutable std::map<uint64_t, Reader> readers_ ABSL_GUARDED_BY(mu_);
  // The last frame read back, for reads of neighbouring entries.
  mutable uint64_t memo_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  mutable uint64_t memo_offset_ ABSL_GUARDED_BY(mu_) = 0;
  mutable std::string memo_frame_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t entries_read_from_disk_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_WAL_LOG_STORAGE_H_

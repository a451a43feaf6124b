// KvStore: the durable state of the key-value state machine: user keys and
// values, the client-session table that makes writes exactly-once, and the
// applied log index.
//
// The state machine in //kv applies each committed log entry as one KvBatch. A
// batch's mutations, session updates and applied index are written atomically,
// so a restart resumes exactly after the last applied entry and never
// half-applies one. Apply() does not fsync (the Raft log already holds every
// committed entry); Sync() makes everything applied so far durable and is
// called before the Raft log is compacted past it.
//
// Snapshots are point-in-time reads streamed in chunks (ReadSnapshot) and
// restored from chunks atomically (RestoreSnapshot): a reader of the store sees
// either the whole old state or the whole new one, also after a crash at any
// point of the restore. Every implementation writes and reads the same snapshot
// format (kv_snapshot_codec.h), so a snapshot taken from one restores into the
// other.
//
// Thread safety: implementations are internally synchronized. Invariant:
// AppliedIndex() only grows, except through RestoreSnapshot.
#ifndef RAFTKV_STORAGE_KV_STORE_H_
#define RAFTKV_STORAGE_KV_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "raft/types.h"

namespace raftkv::storage {

struct KvMutation {
  enum class Kind : uint8_t { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // empty for kDelete
};

// One client's session state, encoded by //kv; the store keeps it opaque.
struct SessionRecord {
  uint64_t client_id = 0;
  std::string state;
  friend bool operator==(const SessionRecord&, const SessionRecord&) = default;
};

// Everything one committed log entry changes.
struct KvBatch {
  raft::LogIndex applied_index =
      raft::kNoIndex;  // must be above AppliedIndex()
  std::vector<KvMutation> mutations;
  std::vector<SessionRecord> session_puts;
  std::vector<uint64_t> session_deletes;
};

// A scan over [start, end) within `prefix`; empty bounds are unbounded.
struct ScanOptions {
  std::string prefix;
  std::string start;
  std::string end;
  size_t limit = 100;  // must be at least 1
  bool keys_only = false;
};

struct KeyValue {
  std::string key;
  std::string value;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

struct ScanPage {
  std::vector<KeyValue> items;
  // When true, more keys match: continue with start = next_start.
  bool more = false;
  std::string next_start;
};

// Streams a point-in-time snapshot as chunks of the snapshot format.
class KvSnapshotReader {
 public:
  virtual ~KvSnapshotReader() = default;
  virtual raft::LogIndex applied_index() const = 0;
  // The next chunk, of at most about max_bytes (a single record may exceed it),
  // or nullopt after the last.
  virtual absl::StatusOr<std::optional<std::string>> NextChunk(
      size_t max_bytes) = 0;
};

// Supplies a snapshot's chunks in order; nullopt after the last.
using SnapshotChunkSource =
    absl::FunctionRef<absl::StatusOr<std::optional<std::string>>()>;

class KvStore {
 public:
  virtual ~KvStore() = default;

  virtual absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view key) const = 0;
  // Memory use is bounded by the page, not by the size of the store.
  virtual absl::StatusOr<ScanPage> Scan(const ScanOptions& options) const = 0;
  virtual raft::LogIndex AppliedIndex() const = 0;
  virtual absl::StatusOr<std::vector<SessionRecord>> LoadSessions() const = 0;

  virtual absl::Status Apply(const KvBatch& batch) = 0;
  // Applies consecutive batches as one atomic write (the applied index ends at
  // the last). REQUIRES: applied indexes increase. The default applies them one
  // by one.
  virtual absl::Status ApplyBatches(absl::Span<const KvBatch> batches) {
    for (const KvBatch& batch : batches) {
      absl::Status status = Apply(batch);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }
  virtual absl::Status Sync() = 0;

  virtual absl::StatusOr<std::unique_ptr<KvSnapshotReader>> ReadSnapshot()
      const = 0;
  virtual absl::Status RestoreSnapshot(SnapshotChunkSource next_chunk) = 0;
};

// Checks that batches' applied indexes increase from `applied`; shared by the
// implementations so they reject alike.
absl::Status ValidateBatchOrder(absl::Span<const KvBatch> batches,
                                raft::LogIndex applied);

// Checks a scan's options; shared by the implementations so they reject alike.
absl::Status ValidateScan(const ScanOptions& options);
// The smallest key greater than every key with `prefix`, or "" if there is
// none.
std::string PrefixEnd(absl::string_view prefix);

// The keys a scan covers: [lower, upper), where an empty upper is unbounded.
struct ScanRange {
  std::string lower;
  std::string upper;
  bool Contains(absl::string_view key) const {
    return key >= lower && (upper.empty() || key < upper);
  }
};
ScanRange ResolveScan(const ScanOptions& options);

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_KV_STORE_H_

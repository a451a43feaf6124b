// LogStorage: the durable Raft log and hard state the consensus core reads and
// its driver writes, in the style of etcd-io/raft's Storage.
//
// Declared here, beside its user (the core); implemented in //storage by a
// write-ahead log and by an in-memory twin that share one conformance suite.
//
// The log holds entries [FirstIndex(), LastIndex()]. Entries before
// FirstIndex() were compacted into the state machine; the last of them is
// described by Snapshot(), so TermAt(FirstIndex() - 1) is always answerable
// (the AppendEntries consistency check, Raft paper §5.3, needs the term of the
// entry before the first one sent).
//
// Thread safety: implementations are internally synchronized; any method may be
// called from any thread. Invariants: FirstIndex() == Snapshot().index + 1;
// FirstIndex() <= LastIndex() + 1; entries are contiguous and their terms never
// decrease; a Save() that returned OK is durable (fsynced) before it returns.
#ifndef RAFTKV_RAFT_LOG_STORAGE_H_
#define RAFTKV_RAFT_LOG_STORAGE_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "raft/types.h"

namespace raftkv::raft {

// What a node restarts from: the last saved hard state and the snapshot the log
// starts after (whose conf_state is the configuration at that point).
struct InitialState {
  HardState hard_state;
  SnapshotMetadata snapshot;
};

inline constexpr uint64_t kNoByteLimit = std::numeric_limits<uint64_t>::max();

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  virtual InitialState GetInitialState() const = 0;

  // Entries [lo, hi), stopping before the total ByteSize() would pass
  // max_bytes, but always at least one entry when lo < hi. Compacted error if
  // lo < FirstIndex(); unavailable error if hi > LastIndex() + 1.
  virtual absl::StatusOr<std::vector<Entry>> Entries(
      LogIndex lo, LogIndex hi, uint64_t max_bytes) const = 0;

  // The term of entry `index`, for index in [FirstIndex() - 1, LastIndex()].
  // Compacted error below that range, unavailable error above it.
  virtual absl::StatusOr<Term> TermAt(LogIndex index) const = 0;

  virtual LogIndex FirstIndex() const = 0;
  virtual LogIndex LastIndex() const = 0;

  // The point the log was last compacted to or installed from.
  virtual SnapshotMetadata Snapshot() const = 0;

  // Atomically, with one fsync: saves `hard_state` if given, and appends
  // `entries`, which must be contiguous and start in [FirstIndex(), LastIndex()
  // + 1]. Existing entries at entries[0].index and after are replaced: this is
  // how a follower truncates a conflicting suffix (§5.3).
  virtual absl::Status Save(const std::optional<HardState>& hard_state,
                            absl::Span<const Entry> entries) = 0;

  // Discards entries up to and including `index`, which must be in
  // [FirstIndex(), LastIndex()], recording {index, TermAt(index), conf_state}
  // as Snapshot(). REQUIRES: the state machine has made everything through
  // `index` durable.
  virtual absl::Status Compact(LogIndex index, const ConfState& conf_state) = 0;

  // Discards the whole log and starts it after `snapshot` (a follower
  // installing a leader's snapshot, or bootstrapping with index 0 and the
  // initial members). Snapshot out-of-date error if snapshot.index <
  // Snapshot().index, or equal with entries present.
  virtual absl::Status InstallSnapshot(const SnapshotMetadata& snapshot) = 0;
};

// Distinct, testable errors. All messages name the indexes involved.
absl::Status CompactedError(LogIndex index, LogIndex first_index);
absl::Status EntryUnavailableError(LogIndex index, LogIndex last_index);
absl::Status SnapshotOutOfDateError(LogIndex index, LogIndex current_index);
bool IsCompacted(const absl::Status& status);
bool IsEntryUnavailable(const absl::Status& status);
bool IsSnapshotOutOfDate(const absl::Status& status);

// The bounds checks every implementation makes, so they fail alike: entries
// [lo, hi) must lie in [first_index, last_index + 1); a term lookup in
// [first_index - 1, last_index].
absl::Status CheckEntriesRange(LogIndex lo, LogIndex hi, LogIndex first_index,
                               LogIndex last_index);
absl::Status CheckTermIndex(LogIndex index, LogIndex first_index,
                            LogIndex last_index);

// Checks what Save() requires of `entries` against the storage's current
// bounds; `prev_term` is the term of the entry just before entries[0], which
// stays in the log.
absl::Status ValidateSave(absl::Span<const Entry> entries, LogIndex first_index,
                          LogIndex last_index, Term prev_term);

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_LOG_STORAGE_H_

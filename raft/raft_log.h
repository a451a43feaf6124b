// RaftLog: the core's view of its log: what storage holds durably, plus the
// entries and snapshot accepted but not yet persisted ("unstable"), plus the
// commit and apply marks.
//
// In the manner of etcd-io/raft's raftLog/unstable. Unstable entries always
// form the suffix of the log; a follower that accepts entries conflicting with
// stable ones replaces them in the unstable part, and storage replaces the same
// suffix when they are persisted. Thread safety: none; owned by the core, used
// on one thread. Invariants: applied <= committed <= LastIndex(); unstable
// entries are contiguous from unstable_offset_; committed entries are handed
// out for applying only once stable.
#ifndef RAFTKV_RAFT_RAFT_LOG_H_
#define RAFTKV_RAFT_RAFT_LOG_H_

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/log_storage.h"
#include "raft/message.h"
#include "raft/types.h"

namespace raftkv::raft {

class RaftLog {
 public:
  // REQUIRES: `storage` outlives the log.
  explicit RaftLog(LogStorage* storage);

  LogIndex FirstIndex() const;
  LogIndex LastIndex() const;
  Term LastTerm() const;
  // The term of entry `index`, or an error if it is compacted or beyond the
  // log.
  absl::StatusOr<Term> TermAt(LogIndex index) const;
  // The term of entry `index`, or 0 where TermAt would fail.
  Term TermOrZero(LogIndex index) const;
  bool MatchTerm(LogIndex index, Term term) const;

  // Is a log ending at (last_index, last_term) at least as up to date as this
  // one? (§5.4.1)
  bool IsUpToDate(LogIndex last_index, Term last_term) const;

  // A follower's AppendEntries (§5.3): if the entry at prev_index has
  // prev_term, appends `entries` (truncating any conflicting suffix), advances
  // commit to min(commit, last new index) and returns the last new index;
  // otherwise nullopt.
  std::optional<LogIndex> MaybeAppend(LogIndex prev_index, Term prev_term,
                                      LogIndex commit,
                                      const std::vector<Entry>& entries);
  // Appends entries whose first index is at most LastIndex() + 1, replacing any
  // entries from there on. Returns the new last index.
  LogIndex Append(const std::vector<Entry>& entries);

  // Entries [lo, hi) up to max_bytes (at least one), from unstable memory or
  // storage.
  absl::StatusOr<std::vector<Entry>> Slice(LogIndex lo, LogIndex hi,
                                           uint64_t max_bytes) const;

  LogIndex committed() const { return committed_; }
  LogIndex applied() const { return applied_; }
  // REQUIRES: index <= LastIndex(). Never moves commit backwards.
  void CommitTo(LogIndex index);
  // Commits up to `index` if its entry has `term` (a leader commits only
  // entries of its own term by counting replicas, §5.4.2). Returns whether
  // commit advanced.
  bool MaybeCommit(LogIndex index, Term term);
  void AppliedTo(LogIndex index);

  const std::vector<Entry>& UnstableEntries() const { return unstable_; }
  const std::optional<Snapshot>& UnstableSnapshot() const {
    return unstable_snapshot_;
  }
  // The last index that storage holds durably.
  LogIndex StableLastIndex() const;
  // Committed, stable, not yet applied entries, up to max_bytes (at least one).
  std::vector<Entry> NextCommittedEntries(uint64_t max_bytes) const;
  bool HasNextCommittedEntries() const;

  // The driver persisted entries through (index, term) / the unstable snapshot.
  void StableTo(LogIndex index, Term term);
  void StableSnapshotTo(LogIndex index);

  // Replaces the whole log by `snapshot` (a follower installing a leader's
  // snapshot).
  void Restore(Snapshot snapshot);

  // Fast backtracking: the largest index <= `index` whose term is <= `term`,
  // with its term.
  std::pair<LogIndex, Term> FindConflictByTerm(LogIndex index, Term term) const;

 private:
  LogStorage* storage_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;
  LogIndex unstable_offset_;
  LogIndex committed_;
  LogIndex applied_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_RAFT_LOG_H_

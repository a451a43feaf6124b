#include "raft/raft_log.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace raftkv::raft {

RaftLog::RaftLog(LogStorage* storage)
    : storage_(storage),
      unstable_offset_(storage->LastIndex() + 1),
      committed_(storage->FirstIndex() - 1),
      applied_(storage->FirstIndex() - 1) {}

LogIndex RaftLog::FirstIndex() const {
  if (unstable_snapshot_.has_value())
    return unstable_snapshot_->metadata.index + 1;
  return storage_->FirstIndex();
}

LogIndex RaftLog::LastIndex() const {
  if (!unstable_.empty()) return unstable_.back().index;
  if (unstable_snapshot_.has_value()) return unstable_snapshot_->metadata.index;
  return storage_->LastIndex();
}

LogIndex RaftLog::StableLastIndex() const {
  if (unstable_snapshot_.has_value()) return kNoIndex;
  return std::min(storage_->LastIndex(), unstable_offset_ - 1);
}

absl::StatusOr<Term> RaftLog::TermAt(LogIndex index) const {
  const LogIndex first = FirstIndex();
  if (index + 1 < first) return CompactedError(index, first);
  if (index > LastIndex()) return EntryUnavailableError(index, LastIndex());
  if (!unstable_.empty() && index >= unstable_offset_) {
    return unstable_[index - unstable_offset_].term;
  }
  if (unstable_snapshot_.has_value()) {
    if (index == unstable_snapshot_->metadata.index)
      return unstable_snapshot_->metadata.term;
    return CompactedError(index, first);
  }
  return storage_->TermAt(index);
}

Term RaftLog::TermOrZero(LogIndex index) const {
  absl::StatusOr<Term> term = TermAt(index);
  return term.ok() ? *term : kNoTerm;
}

Term RaftLog::LastTerm() const { return TermOrZero(LastIndex()); }

bool RaftLog::MatchTerm(LogIndex index, Term term) const {
  absl::StatusOr<Term> actual = TermAt(index);
  return actual.ok() && *actual == term;
}

bool RaftLog::IsUpToDate(LogIndex last_index, Term last_term) const {
  // §5.4.1: the later last term wins; with equal last terms, the longer log.
  return last_term > LastTerm() ||
         (last_term == LastTerm() && last_index >= LastIndex());
}

std::optional<LogIndex> RaftLog::MaybeAppend(
    LogIndex prev_index, Term prev_term, LogIndex commit,
    const std::vector<Entry>& entries) {
#ifdef RAFTKV_MUTATION_SKIP_CONSISTENCY_CHECK  // a deliberate bug, for
                                               // mutation_test
  if (prev_index > LastIndex()) return std::nullopt;
  (void)prev_term;
#else
  if (!MatchTerm(prev_index, prev_term)) return std::nullopt;
#endif
  const LogIndex last_new = prev_index + entries.size();
  // Skip entries we already hold; the first mismatch starts the replaced suffix
  // (§5.3).
  size_t i = 0;
  for (; i < entries.size(); ++i) {
    if (!MatchTerm(entries[i].index, entries[i].term)) break;
  }
  if (i < entries.size()) {
    if (entries[i].index <= committed_) {
      fprintf(stderr,
              "raft: bug: entry %llu conflicts with committed index %llu\n",
              static_cast<unsigned long long>(entries[i].index),
              static_cast<unsigned long long>(committed_));
      abort();
    }
    Append(std::vector<Entry>(entries.begin() + static_cast<std::ptrdiff_t>(i),
                              entries.end()));
  }
  CommitTo(std::min(commit, last_new));
  return last_new;
}

LogIndex RaftLog::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return LastIndex();
  const LogIndex first = entries.front().index;
  if (first >= unstable_offset_ &&
      first <= unstable_offset_ + unstable_.size()) {
    unstable_.resize(first - unstable_offset_);
  } else {
    // The new entries replace stable ones too: storage will replace that
    // suffix.
    unstable_.clear();
    unstable_offset_ = first;
  }
  unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  return LastIndex();
}

absl::StatusOr<std::vector<Entry>> RaftLog::Slice(LogIndex lo, LogIndex hi,
                                                  uint64_t max_bytes) const {
  if (lo < FirstIndex()) return CompactedError(lo, FirstIndex());
  if (hi > LastIndex() + 1) return EntryUnavailableError(hi - 1, LastIndex());
  std::vector<Entry> out;
  if (lo >= hi) return out;
  uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    absl::StatusOr<std::vector<Entry>> stored =
        storage_->Entries(lo, std::min(hi, unstable_offset_), max_bytes);
    if (!stored.ok()) return stored.status();
    out = std::move(*stored);
    for (const Entry& e : out) bytes += e.ByteSize();
    if (out.empty() || out.back().index + 1 < std::min(hi, unstable_offset_))
      return out;
  }
  for (LogIndex i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& entry = unstable_[i - unstable_offset_];
    bytes += entry.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(entry);
  }
  return out;
}

void RaftLog::CommitTo(LogIndex index) {
  if (index <= committed_) return;
  if (index > LastIndex()) {
    fprintf(stderr, "raft: bug: commit %llu beyond last index %llu\n",
            static_cast<unsigned long long>(index),
            static_cast<unsigned long long>(LastIndex()));
    abort();
  }
  committed_ = index;
}

bool RaftLog::MaybeCommit(LogIndex index, Term term) {
  if (index > committed_ && TermOrZero(index) == term) {
    CommitTo(index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(LogIndex index) {
  if (index == kNoIndex || index <= applied_) return;
  if (index > committed_) {
    fprintf(stderr, "raft: bug: applied %llu beyond commit %llu\n",
            static_cast<unsigned long long>(index),
            static_cast<unsigned long long>(committed_));
    abort();
  }
  applied_ = index;
}

bool RaftLog::HasNextCommittedEntries() const {
  return std::min(committed_, StableLastIndex()) > applied_ &&
         applied_ + 1 >= FirstIndex();
}

std::vector<Entry> RaftLog::NextCommittedEntries(uint64_t max_bytes) const {
  if (!HasNextCommittedEntries()) return {};
  const LogIndex hi = std::min(committed_, StableLastIndex()) + 1;
  absl::StatusOr<std::vector<Entry>> entries =
      Slice(applied_ + 1, hi, max_bytes);
  if (!entries.ok()) return {};
  return *entries;
}

void RaftLog::StableTo(LogIndex index, Term term) {
  if (index < unstable_offset_ || unstable_.empty()) return;
  if (index > unstable_.back().index) return;
  // Only if the entry is still the one that was persisted (it may have been
  // replaced).
  if (unstable_[index - unstable_offset_].term != term) return;
  unstable_.erase(unstable_.begin(),
                  unstable_.begin() + static_cast<std::ptrdiff_t>(
                                          index - unstable_offset_ + 1));
  unstable_offset_ = index + 1;
}

void RaftLog::StableSnapshotTo(LogIndex index) {
  if (unstable_snapshot_.has_value() &&
      unstable_snapshot_->metadata.index == index) {
    unstable_snapshot_.reset();
  }
}

void RaftLog::Restore(Snapshot snapshot) {
  committed_ = snapshot.metadata.index;
  applied_ = std::min(applied_, committed_);
  unstable_.clear();
  unstable_offset_ = snapshot.metadata.index + 1;
  unstable_snapshot_ = std::move(snapshot);
}

std::pair<LogIndex, Term> RaftLog::FindConflictByTerm(LogIndex index,
                                                      Term term) const {
  index = std::min(index, LastIndex());
  while (true) {
    absl::StatusOr<Term> actual = TermAt(index);
    if (!actual.ok()) return {index, kNoTerm};
    if (*actual <= term || index == 0) return {index, *actual};
    --index;
  }
}

}  // namespace raftkv::raft

#include "storage/memory_log_storage.h"

#include "raft/status_macros.h"

namespace raftkv::storage {

using raft::Entry;
using raft::LogIndex;
using raft::Term;

raft::InitialState MemoryLogStorage::GetInitialState() const {
  raftkv::MutexLock lock(&mu_);
  return raft::InitialState{hard_state_, snapshot_};
}

LogIndex MemoryLogStorage::LastIndexLocked() const {
  return snapshot_.index + entries_.size();
}

LogIndex MemoryLogStorage::FirstIndex() const {
  raftkv::MutexLock lock(&mu_);
  return snapshot_.index + 1;
}

LogIndex MemoryLogStorage::LastIndex() const {
  raftkv::MutexLock lock(&mu_);
  return LastIndexLocked();
}

raft::SnapshotMetadata MemoryLogStorage::Snapshot() const {
  raftkv::MutexLock lock(&mu_);
  return snapshot_;
}

absl::StatusOr<Term> MemoryLogStorage::TermAtLocked(LogIndex index) const {
  RETURN_IF_ERROR(
      raft::CheckTermIndex(index, snapshot_.index + 1, LastIndexLocked()));
  if (index == snapshot_.index) return snapshot_.term;
  return entries_[index - snapshot_.index - 1].term;
}

absl::StatusOr<Term> MemoryLogStorage::TermAt(LogIndex index) const {
  raftkv::MutexLock lock(&mu_);
  return TermAtLocked(index);
}

absl::StatusOr<std::vector<Entry>> MemoryLogStorage::Entries(
    LogIndex lo, LogIndex hi, uint64_t max_bytes) const {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(
      raft::CheckEntriesRange(lo, hi, snapshot_.index + 1, LastIndexLocked()));
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (LogIndex i = lo; i < hi; ++i) {
    const Entry& entry = entries_[i - snapshot_.index - 1];
    bytes += entry.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(entry);
  }
  return out;
}

absl::Status MemoryLogStorage::Save(
    const std::optional<raft::HardState>& hard_state,
    absl::Span<const Entry> entries) {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(write_error_);
  if (!entries.empty()) {
    Term prev_term = 0;
    if (entries[0].index > snapshot_.index &&
        entries[0].index <= LastIndexLocked() + 1) {
      ASSIGN_OR_RETURN(prev_term, TermAtLocked(entries[0].index - 1));
    }
    RETURN_IF_ERROR(raft::ValidateSave(entries, snapshot_.index + 1,
                                       LastIndexLocked(), prev_term));
    entries_.resize(entries[0].index - snapshot_.index - 1);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
  if (hard_state.has_value()) hard_state_ = *hard_state;
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::Compact(LogIndex index,
                                       const raft::ConfState& conf_state) {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(write_error_);
  RETURN_IF_ERROR(raft::CheckEntriesRange(index, index + 1, snapshot_.index + 1,
                                          LastIndexLocked()));
  ASSIGN_OR_RETURN(Term term, TermAtLocked(index));
  entries_.erase(entries_.begin(),
                 entries_.begin() + (index - snapshot_.index));
  snapshot_ = raft::SnapshotMetadata{index, term, conf_state};
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::InstallSnapshot(
    const raft::SnapshotMetadata& snapshot) {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(write_error_);
  if (snapshot.index < snapshot_.index ||
      (snapshot.index == snapshot_.index && !entries_.empty())) {
    return raft::SnapshotOutOfDateError(snapshot.index, snapshot_.index);
  }
  entries_.clear();
  snapshot_ = snapshot;
  return absl::OkStatus();
}

void MemoryLogStorage::InjectWriteError(absl::Status error) {
  raftkv::MutexLock lock(&mu_);
  write_error_ = std::move(error);
}

}  // namespace raftkv::storage

// MemoryLogStorage: the in-memory twin of WalLogStorage, for the simulator
// and tests.
//
// Same semantics as the durable implementations (one conformance suite runs
// against all), but nothing is durable: "durable" means "saved in this
// object". The simulator models a crash by keeping the object and dropping what
// the node had not yet saved. Thread safety: internally synchronized.
// Invariants: those of raft::LogStorage; entries_[i].index == snapshot_.index +
// 1 + i.
#ifndef RAFTKV_STORAGE_MEMORY_LOG_STORAGE_H_
#define RAFTKV_STORAGE_MEMORY_LOG_STORAGE_H_

#include <deque>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "raft/log_storage.h"
#include "raft/mutex.h"

namespace raftkv::storage {

class MemoryLogStorage final : public raft::LogStorage {
 public:
  MemoryLogStorage() = default;

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

  // Fault injection: while `error` is not OK, every write (Save, Compact,
  // InstallSnapshot) fails with it and changes nothing, as a full or failing
  // disk would.
  void InjectWriteError(absl::Status error);

 private:
  raft::LogIndex LastIndexLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<raft::Term> TermAtLocked(raft::LogIndex index) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable raftkv::Mutex mu_;
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
  raft::HardState hard_state_ ABSL_GUARDED_BY(mu_);
  raft::SnapshotMetadata snapshot_ ABSL_GUARDED_BY(mu_);
  std::deque<raft::Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_MEMORY_LOG_STORAGE_H_

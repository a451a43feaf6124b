// SnapshotStaging: where a follower keeps a snapshot stream while it arrives
// (Raft paper §7: chunks are written to a file as they come, and the snapshot
// is installed only once the last one is in). A staged snapshot is read back
// in bounded chunks when the core accepts it, so neither receiving nor
// installing ever holds the whole state machine in memory.
//
// FileSnapshotStaging keeps one file per transfer in a directory and clears
// the directory when opened (a transfer cut by a crash starts over);
// MemorySnapshotStaging is its twin for the simulator.
//
// Thread safety: internally synchronized; the driver calls Begin and Append
// on its snapshot thread and Open and Discard on its storage thread, ordered
// by the loop. Invariant: at most two transfers are staged (the one being
// received and the one being installed).
#ifndef RAFTKV_STORAGE_SNAPSHOT_STAGING_H_
#define RAFTKV_STORAGE_SNAPSHOT_STAGING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "raft/mutex.h"

namespace raftkv::storage {

// Reads a staged snapshot back in order.
class StagedSnapshotReader {
 public:
  virtual ~StagedSnapshotReader() = default;
  // The next at most `max_bytes`, or nullopt after the end.
  virtual absl::StatusOr<std::optional<std::string>> Next(size_t max_bytes) = 0;
};

class SnapshotStaging {
 public:
  virtual ~SnapshotStaging() = default;
  // Starts staging `transfer` empty, discarding every other staged transfer
  // but `keep` (0: none).
  virtual absl::Status Begin(uint64_t transfer, uint64_t keep) = 0;
  // REQUIRES: Begin(transfer) was called.
  virtual absl::Status Append(uint64_t transfer, absl::string_view data) = 0;
  virtual absl::StatusOr<std::unique_ptr<StagedSnapshotReader>> Open(
      uint64_t transfer) const = 0;
  virtual absl::Status Discard(uint64_t transfer) = 0;
};

class FileSnapshotStaging final : public SnapshotStaging {
 public:
  // Creates `dir` if needed and removes whatever an earlier run left in it.
  static absl::StatusOr<std::unique_ptr<FileSnapshotStaging>> Open(
      const std::string& dir);

  absl::Status Begin(uint64_t transfer, uint64_t keep) override;
  absl::Status Append(uint64_t transfer, absl::string_view data) override;
  absl::StatusOr<std::unique_ptr<StagedSnapshotReader>> Open(
      uint64_t transfer) const override;
  absl::Status Discard(uint64_t transfer) override;

 private:
  explicit FileSnapshotStaging(std::string dir) : dir_(std::move(dir)) {}
  std::string PathOf(uint64_t transfer) const;
  // Removes every staged file but that of `keep` (0: all).
  absl::Status RemoveAllBut(uint64_t keep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  mutable raftkv::Mutex mu_;  // serializes changes to the directory
};

class MemorySnapshotStaging final : public SnapshotStaging {
 public:
  absl::Status Begin(uint64_t transfer, uint64_t keep) override;
  absl::Status Append(uint64_t transfer, absl::string_view data) override;
  absl::StatusOr<std::unique_ptr<StagedSnapshotReader>> Open(
      uint64_t transfer) const override;
  absl::Status Discard(uint64_t transfer) override;
  // A crash loses everything staged.
  void Clear();

 private:
  mutable raftkv::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<std::string>> staged_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_SNAPSHOT_STAGING_H_

// A backup file: one node's state machine at one applied index, as streamed
// by `kvnode snapshot save`, verifiable on its own and restorable into a new
// cluster (kv/restore.h).
//
//   "RAFTKV-BACKUP 1\n"
//   header lines "name=value\n": cluster_id (16 hex digits), index, term,
//     voters (comma-separated ids), one "member=ID HOST:PORT" per member;
//     then an empty line
//   the KV snapshot stream (storage/kv_snapshot_codec.h: records, then a
//     trailer with their count and checksum)
//   "\nchecksum=" 16 hex digits of FNV-1a 64 over every byte before, "\n"
//
// A writer streams into FILE.part and renames it to FILE only once the last
// byte is synced, so a FILE that exists is whole. Reading checks the magic,
// the header, the stream's own trailer and the file checksum; any mismatch is
// a one-line DataLoss error naming what is wrong.
//
// Thread safety: objects are used by one thread. Invariant: a BackupWriter's
// checksum covers exactly the bytes written so far.
#ifndef RAFTKV_KV_BACKUP_FILE_H_
#define RAFTKV_KV_BACKUP_FILE_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/types.h"

namespace raftkv::kv {

struct BackupInfo {
  uint64_t cluster_id = 0;
  raft::LogIndex index = 0;
  raft::Term term = 0;
  std::vector<raft::NodeId> voters;
  std::map<raft::NodeId, std::string> members;  // id -> address
  // Filled in by reading a file.
  uint64_t keys = 0;
  uint64_t sessions = 0;
  uint64_t bytes = 0;
  uint64_t checksum = 0;
  uint64_t stream_offset = 0;  // where the KV snapshot stream starts
  uint64_t stream_bytes = 0;
};

class BackupWriter {
 public:
  explicit BackupWriter(std::string path) : path_(std::move(path)) {}
  ~BackupWriter();
  // Starts (or starts over) with `info`'s header.
  absl::Status Begin(const BackupInfo& info);
  absl::Status Append(const std::string& chunk);
  // Writes the checksum, syncs, and renames FILE.part to FILE.
  absl::Status Finish();

 private:
  absl::Status Write(const std::string& bytes);
  const std::string path_;
  FILE* file_ = nullptr;
  uint64_t hash_ = 0;
};

// Verifies the whole file; with `on_stream_chunk`, hands it the KV snapshot
// stream in order, chunk by chunk, as it is read.
absl::StatusOr<BackupInfo> ReadBackup(
    const std::string& path,
    const std::function<absl::Status(const std::string&)>& on_stream_chunk =
        nullptr);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_BACKUP_FILE_H_

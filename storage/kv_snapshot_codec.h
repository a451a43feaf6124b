// The KV snapshot stream format, shared by every KvStore so snapshots move
// between them.
//
//   header  : "RKVS" | version (BE32, 1) | applied index (BE64)
//   record* : tag ('k' key/value, 's' session) | key length (BE32) | key
//             | value length (BE32) | value          (a session's key is its
//             BE64 id)
//   trailer : 'E' | record count (BE64) | FNV-1a 64 of every record's bytes
//   (BE64)
//
// A stream may be cut into chunks anywhere; the decoder reassembles records
// across chunk boundaries. A stream without its trailer, or whose count or
// checksum disagree, is rejected, so a truncated or damaged snapshot is never
// installed. Thread safety: encoder and decoder objects are not shared between
// threads. Invariant: the decoder buffers at most one partial record.
#ifndef RAFTKV_STORAGE_KV_SNAPSHOT_CODEC_H_
#define RAFTKV_STORAGE_KV_SNAPSHOT_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "raft/types.h"

namespace raftkv::storage {

struct SnapshotRecord {
  enum class Kind : char { kKeyValue = 'k', kSession = 's' };
  Kind kind;
  absl::string_view key;
  absl::string_view value;
};

class SnapshotEncoder {
 public:
  explicit SnapshotEncoder(raft::LogIndex applied_index);
  void AddKeyValue(absl::string_view key, absl::string_view value);
  void AddSession(uint64_t client_id, absl::string_view state);
  // Appends the trailer; nothing may be added after.
  void Finish();
  size_t buffered_bytes() const { return buffer_.size(); }
  // Returns and clears what has been encoded so far.
  std::string TakeChunk();

 private:
  void AddRecord(char tag, absl::string_view key, absl::string_view value);
  std::string buffer_;
  uint64_t count_ = 0;
  uint64_t hash_;
};

class SnapshotDecoder {
 public:
  SnapshotDecoder();
  // Parses `chunk`, calling `on_record` for every complete record; stops at the
  // first error, from the stream or from `on_record`.
  absl::Status Feed(
      absl::string_view chunk,
      absl::FunctionRef<absl::Status(const SnapshotRecord&)> on_record);
  // OK only if the whole stream, trailer included, has been fed and checked.
  absl::Status Finish() const;
  bool has_header() const { return has_header_; }
  raft::LogIndex applied_index() const { return applied_index_; }

 private:
  std::string pending_;
  bool has_header_ = false;
  bool finished_ = false;
  raft::LogIndex applied_index_ = 0;
  uint64_t count_ = 0;
  uint64_t hash_;
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_KV_SNAPSHOT_CODEC_H_

#include "storage/kv_snapshot_codec.h"

#include "absl/strings/str_cat.h"
#include "storage/codec.h"

namespace raftkv::storage {
namespace {

constexpr absl::string_view kMagic = "RKVS";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 4 + 4 + 8;
constexpr size_t kTrailerBytes = 1 + 8 + 8;

void PutBigEndian32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint32_t ReadBigEndian32(absl::string_view in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value = (value << 8) | static_cast<uint8_t>(in[i]);
  return value;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("snapshot is corrupt: ", what));
}

}  // namespace

SnapshotEncoder::SnapshotEncoder(raft::LogIndex applied_index)
    : hash_(kFnv1a64Offset) {
  buffer_.append(kMagic.data(), kMagic.size());
  PutBigEndian32(&buffer_, kVersion);
  PutBigEndian64(&buffer_, applied_index);
}

void SnapshotEncoder::AddRecord(char tag, absl::string_view key,
                                absl::string_view value) {
  const size_t start = buffer_.size();
  buffer_.push_back(tag);
  PutBigEndian32(&buffer_, static_cast<uint32_t>(key.size()));
  buffer_.append(key.data(), key.size());
  PutBigEndian32(&buffer_, static_cast<uint32_t>(value.size()));
  buffer_.append(value.data(), value.size());
  hash_ = Fnv1a64(hash_, absl::string_view(buffer_).substr(start));
  ++count_;
}

void SnapshotEncoder::AddKeyValue(absl::string_view key,
                                  absl::string_view value) {
  AddRecord('k', key, value);
}

void SnapshotEncoder::AddSession(uint64_t client_id, absl::string_view state) {
  std::string key;
  PutBigEndian64(&key, client_id);
  AddRecord('s', key, state);
}

void SnapshotEncoder::Finish() {
  buffer_.push_back('E');
  PutBigEndian64(&buffer_, count_);
  PutBigEndian64(&buffer_, hash_);
}

std::string SnapshotEncoder::TakeChunk() {
  std::string chunk;
  chunk.swap(buffer_);
  return chunk;
}

SnapshotDecoder::SnapshotDecoder() : hash_(kFnv1a64Offset) {}

absl::Status SnapshotDecoder::Feed(
    absl::string_view chunk,
    absl::FunctionRef<absl::Status(const SnapshotRecord&)> on_record) {
  if (finished_ && !chunk.empty()) return Corrupt("data after the trailer");
  pending_.append(chunk.data(), chunk.size());
  absl::string_view in(pending_);
  if (!has_header_) {
    if (in.size() < kHeaderBytes) return absl::OkStatus();
    if (in.substr(0, 4) != kMagic)
      return Corrupt("bad magic; not a raftkv snapshot");
    if (ReadBigEndian32(in.substr(4)) != kVersion) {
      return Corrupt(
          absl::StrCat("unsupported version ", ReadBigEndian32(in.substr(4))));
    }
    in.remove_prefix(8);
    applied_index_ = *GetBigEndian64(&in);
    has_header_ = true;
  }
  while (!in.empty() && !finished_) {
    const char tag = in[0];
    if (tag == 'E') {
      if (in.size() < kTrailerBytes) break;
      in.remove_prefix(1);
      const uint64_t count = *GetBigEndian64(&in);
      const uint64_t hash = *GetBigEndian64(&in);
      if (count != count_) {
        return Corrupt(absl::StrCat("trailer counts ", count,
                                    " records, stream had ", count_));
      }
      if (hash != hash_) return Corrupt("checksum mismatch");
      finished_ = true;
      break;
    }
    if (tag != 'k' && tag != 's')
      return Corrupt(absl::StrCat("unknown record tag ", int{tag}));
    if (in.size() < 5) break;
    const uint32_t key_size = ReadBigEndian32(in.substr(1));
    if (in.size() < 5 + size_t{key_size} + 4) break;
    const uint32_t value_size = ReadBigEndian32(in.substr(5 + key_size));
    const size_t record_size = 5 + size_t{key_size} + 4 + value_size;
    if (in.size() < record_size) break;
    if (tag == 's' && key_size != 8)
      return Corrupt("session record with a bad id");
    SnapshotRecord record{static_cast<SnapshotRecord::Kind>(tag),
                          in.substr(5, key_size),
                          in.substr(9 + key_size, value_size)};
    hash_ = Fnv1a64(hash_, in.substr(0, record_size));
    ++count_;
    absl::Status status = on_record(record);
    if (!status.ok()) return status;
    in.remove_prefix(record_size);
  }
  if (finished_ && !in.empty()) return Corrupt("data after the trailer");
  pending_.erase(0, pending_.size() - in.size());
  return absl::OkStatus();
}

absl::Status SnapshotDecoder::Finish() const {
  if (!finished_) {
    return absl::DataLossError(
        "snapshot is truncated: the stream ended before its trailer; it was "
        "not installed");
  }
  return absl::OkStatus();
}

}  // namespace raftkv::storage

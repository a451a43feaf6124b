#include "storage/wal_format.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/codec.h"
#include "storage/log_records.h"

namespace raftkv::storage::wal {
namespace {

constexpr absl::string_view kSuffix = ".wal";

void PutBigEndian32(char* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (24 - 8 * i));
}

uint32_t GetBigEndian32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value = (value << 8) | static_cast<uint8_t>(in[i]);
  return value;
}

// The CRC a frame's header carries: over the length field and the payload, so
// a damaged length is caught as surely as damaged data.
uint32_t FrameCrc(const char* length_field, absl::string_view payload) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(length_field), 4);
  // zlib takes a uInt length; frames stay far below 4 GiB.
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(payload.data()),
            static_cast<uInt>(payload.size())));
}

// A preallocated segment is mostly zeros: compared a block at a time.
bool AllZero(absl::string_view bytes) {
  static constexpr char kZeros[4096] = {};
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), sizeof(kZeros));
    if (memcmp(bytes.data(), kZeros, n) != 0) return false;
    bytes.remove_prefix(n);
  }
  return true;
}

std::optional<Record> DecodeRecord(absl::string_view* in, uint32_t offset) {
  if (in->empty()) return std::nullopt;
  const size_t before = in->size();
  Record record;
  record.tag = static_cast<Record::Tag>((*in)[0]);
  in->remove_prefix(1);
  switch (record.tag) {
    case Record::Tag::kHardState: {
      std::optional<raft::HardState> state = DecodeHardState(in);
      if (!state.has_value()) return std::nullopt;
      record.hard_state = *state;
      return record;
    }
    case Record::Tag::kSnapshot: {
      if (in->empty() || static_cast<uint8_t>((*in)[0]) > 1)
        return std::nullopt;
      record.installed = (*in)[0] == 1;
      in->remove_prefix(1);
      std::optional<raft::SnapshotMetadata> snapshot =
          DecodeSnapshotMetadata(in);
      if (!snapshot.has_value()) return std::nullopt;
      record.snapshot = std::move(*snapshot);
      return record;
    }
    case Record::Tag::kBase: {
      std::optional<uint64_t> index = GetBigEndian64(in),
                              term = GetBigEndian64(in);
      if (!term.has_value()) return std::nullopt;
      record.index = *index;
      record.term = *term;
      return record;
    }
    case Record::Tag::kEntry: {
      std::optional<uint64_t> index = GetBigEndian64(in),
                              term = GetBigEndian64(in);
      if (!term.has_value() || in->size() < 5) return std::nullopt;
      const uint8_t type = static_cast<uint8_t>((*in)[0]);
      const uint32_t length = GetBigEndian32(in->data() + 1);
      in->remove_prefix(5);
      if (type > 1 || length > in->size()) return std::nullopt;
      record.index = *index;
      record.term = *term;
      record.type = static_cast<raft::EntryType>(type);
      record.data = in->substr(0, length);
      in->remove_prefix(length);
      record.offset = offset;
      record.size = static_cast<uint32_t>(before - in->size());
      return record;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string SegmentName(uint64_t sequence) {
  return absl::StrFormat("%016x%s", sequence, kSuffix);
}

std::optional<uint64_t> ParseSegmentName(absl::string_view name) {
  if (name.size() != 16 + kSuffix.size() || name.substr(16) != kSuffix) {
    return std::nullopt;
  }
  uint64_t sequence = 0;
  for (char c : name.substr(0, 16)) {
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
    if (digit < 0) return std::nullopt;
    sequence = (sequence << 4) | static_cast<uint64_t>(digit);
  }
  return sequence;
}

void FrameBuilder::Clear() { frame_.assign(kFrameHeaderBytes, '\0'); }

void FrameBuilder::AddHardState(const raft::HardState& state) {
  frame_.push_back(static_cast<char>(Record::Tag::kHardState));
  EncodeHardState(state, &frame_);
}

void FrameBuilder::AddSnapshot(const raft::SnapshotMetadata& snapshot,
                               bool installed) {
  frame_.push_back(static_cast<char>(Record::Tag::kSnapshot));
  frame_.push_back(installed ? 1 : 0);
  EncodeSnapshotMetadata(snapshot, &frame_);
}

void FrameBuilder::AddBase(raft::LogIndex last_index, raft::Term last_term) {
  frame_.push_back(static_cast<char>(Record::Tag::kBase));
  PutBigEndian64(&frame_, last_index);
  PutBigEndian64(&frame_, last_term);
}

uint32_t FrameBuilder::AddEntry(const raft::Entry& entry) {
  const uint32_t offset = static_cast<uint32_t>(frame_.size());
  frame_.push_back(static_cast<char>(Record::Tag::kEntry));
  PutBigEndian64(&frame_, entry.index);
  PutBigEndian64(&frame_, entry.term);
  frame_.push_back(static_cast<char>(entry.type));
  char length[4];
  PutBigEndian32(length, static_cast<uint32_t>(entry.data.size()));
  frame_.append(length, 4);
  frame_.append(entry.data);
  return offset;
}

absl::string_view FrameBuilder::Finish() {
  const absl::string_view payload =
      absl::string_view(frame_).substr(kFrameHeaderBytes);
  PutBigEndian32(frame_.data(), static_cast<uint32_t>(payload.size()));
  PutBigEndian32(frame_.data() + 4, FrameCrc(frame_.data(), payload));
  return frame_;
}

std::optional<std::vector<Record>> DecodeRecords(absl::string_view payload) {
  std::vector<Record> records;
  absl::string_view in = payload;
  while (!in.empty()) {
    const uint32_t offset =
        static_cast<uint32_t>(kFrameHeaderBytes + payload.size() - in.size());
    std::optional<Record> record = DecodeRecord(&in, offset);
    if (!record.has_value()) return std::nullopt;
    records.push_back(std::move(*record));
  }
  return records;
}

std::optional<raft::Entry> DecodeEntryRecord(absl::string_view bytes) {
  std::optional<Record> record = DecodeRecord(&bytes, 0);
  if (!record.has_value() || record->tag != Record::Tag::kEntry ||
      !bytes.empty()) {
    return std::nullopt;
  }
  return raft::Entry{record->term, record->index, record->type,
                     std::string(record->data)};
}

absl::Status CorruptLog(const std::string& path, uint64_t offset,
                        absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("corrupt raft log in ", path, " at offset ", offset, ": ",
                   what, "; restore this node from a healthy peer"));
}

absl::StatusOr<absl::string_view> CheckFrame(absl::string_view frame,
                                             uint64_t offset,
                                             const std::string& path) {
  if (frame.size() < kFrameHeaderBytes ||
      GetBigEndian32(frame.data()) != frame.size() - kFrameHeaderBytes) {
    return CorruptLog(path, offset, "frame length does not match");
  }
  const absl::string_view payload = frame.substr(kFrameHeaderBytes);
  if (GetBigEndian32(frame.data() + 4) != FrameCrc(frame.data(), payload))
    return CorruptLog(path, offset, "frame checksum mismatch");
  return payload;
}

absl::StatusOr<SegmentScan> ScanSegment(absl::string_view bytes, bool newest,
                                        const std::string& path) {
  SegmentScan scan;
  uint64_t offset = 0;
  while (offset < bytes.size()) {
    const absl::string_view rest = bytes.substr(offset);
    // Why the bytes from here on cannot be a frame, if they cannot.
    const char* torn = nullptr;
    uint32_t length = 0;
    if (rest.size() < kFrameHeaderBytes) {
      torn = "a frame header cut short";
    } else if (AllZero(rest.substr(0, kFrameHeaderBytes))) {
      // Zeros to the end are space preallocated and not yet written.
      if (AllZero(rest)) break;
      torn = "a frame header of zeros";
    } else {
      length = GetBigEndian32(rest.data());
      if (length == 0 || length > kMaxFramePayloadBytes) {
        // A header split across two pages, of which only one reached the disk.
        torn = "an impossible frame length";
      } else if (rest.size() - kFrameHeaderBytes < length) {
        torn = "a frame cut short";
      } else {
        const absl::string_view payload =
            rest.substr(kFrameHeaderBytes, length);
        if (GetBigEndian32(rest.data() + 4) != FrameCrc(rest.data(), payload)) {
          if (!AllZero(rest.substr(kFrameHeaderBytes + length))) {
            return CorruptLog(path, offset, "frame checksum mismatch");
          }
          torn = "a last frame whose checksum does not match";
        } else {
          scan.frames.push_back(Frame{offset, payload});
          offset += kFrameHeaderBytes + length;
          continue;
        }
      }
    }
    // Only the newest segment can end in a write that never completed; a
    // synced frame is never followed by anything but the next frame.
    if (!newest) return CorruptLog(path, offset, torn);
    scan.torn = true;
    break;
  }
  scan.valid_bytes = offset;
  return scan;
}

}  // namespace raftkv::storage::wal

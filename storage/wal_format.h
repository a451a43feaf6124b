// The on-disk format of WalLogStorage's segment files, and reading it back.
//
// A segment is a file named "<sequence number, 16 hex digits>.wal" holding
// frames. A frame is what one Save, Compact or InstallSnapshot wrote with one
// write and one fdatasync:
//
//   [u32 payload length][u32 CRC-32 of the length's 4 bytes and the payload]
//   [payload: records]
//
// all big-endian. A record is a tag byte and its fields:
//   'H' hard state (term, vote, commit)
//   'S' kind (0 compacted to, 1 installed), snapshot metadata
//   'B' the base of a segment: the log's last index and its term when the
//       segment was started (every segment starts with a frame of H, S and B,
//       so it can be read without the segments before it once those are gone)
//   'E' an entry: index, term, type, u32 data length, data.
//
// Replay rules (WalLogStorage::Open): records apply in file order; an entry at
// an index at or below the last one replaces it and everything after it (the
// follower's truncation, Raft paper §5.3).
//
// Segments are preallocated (their space reserved up front, reading as
// zeros): zeros from a frame boundary to the end of the file are the end of
// the frames, not damage.
//
// A frame cut short by a crash can only be the last one written: frames are
// written one at a time, each synced before the next. So in the newest
// segment, a frame that runs past the end of the file, whose CRC fails with
// nothing but zeros after it, or whose header is zeros (with bytes of it
// further on) or claims an impossible length (a page of it never reached the
// disk) ends the log: a torn write that was never acknowledged. Anything else
// that does not decode — a CRC that fails with frames after it, any damage in
// an older segment — is corruption and an error naming the file and offset,
// never skipped.
//
// Thread safety: pure functions. Invariant: ScanSegment never returns a frame
// whose CRC did not match.
#ifndef RAFTKV_STORAGE_WAL_FORMAT_H_
#define RAFTKV_STORAGE_WAL_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "raft/types.h"

namespace raftkv::storage::wal {

inline constexpr size_t kFrameHeaderBytes = 8;
// No frame is larger: what one Save writes is bounded far below this by the
// node's batch limits; a header claiming more is damage.
inline constexpr uint32_t kMaxFramePayloadBytes = 1u << 30;

std::string SegmentName(uint64_t sequence);
// The sequence number of a file named by SegmentName, or nullopt.
std::optional<uint64_t> ParseSegmentName(absl::string_view name);

// Builds one frame's payload, record by record.
class FrameBuilder {
 public:
  FrameBuilder() { Clear(); }
  void Clear();
  void AddHardState(const raft::HardState& state);
  void AddSnapshot(const raft::SnapshotMetadata& snapshot, bool installed);
  void AddBase(raft::LogIndex last_index, raft::Term last_term);
  // Returns the offset of the entry's record in the frame (from the frame's
  // first byte, header included).
  uint32_t AddEntry(const raft::Entry& entry);
  bool empty() const { return frame_.size() == kFrameHeaderBytes; }
  // Fills in the header; the frame is ready to write.
  absl::string_view Finish();

 private:
  std::string frame_;
};

struct Record {
  enum class Tag : char {
    kHardState = 'H',
    kSnapshot = 'S',
    kBase = 'B',
    kEntry = 'E',
  };
  Tag tag;
  raft::HardState hard_state;       // kHardState
  raft::SnapshotMetadata snapshot;  // kSnapshot
  bool installed = false;           // kSnapshot
  raft::LogIndex index = 0;         // kBase (last index), kEntry
  raft::Term term = 0;              // kBase (its term), kEntry
  raft::EntryType type = raft::EntryType::kNormal;  // kEntry
  absl::string_view data;  // kEntry, a view into the payload
  uint32_t offset = 0;     // kEntry: the record's offset in the frame
  uint32_t size = 0;       // kEntry: the record's bytes
};

// Decodes a frame's payload; nullopt if any record is malformed.
std::optional<std::vector<Record>> DecodeRecords(absl::string_view payload);

// Decodes the one entry record at `record` (a frame's bytes from the record's
// offset, `size` bytes long).
std::optional<raft::Entry> DecodeEntryRecord(absl::string_view record);

struct Frame {
  uint64_t offset;            // of the header, in the file
  absl::string_view payload;  // a view into the scanned bytes
};

struct SegmentScan {
  std::vector<Frame> frames;
  // Where the last whole frame ends: the length to keep.
  uint64_t valid_bytes = 0;
  // A torn write follows valid_bytes (only ever in the newest segment).
  bool torn = false;
};

// Splits a segment's bytes into frames. `newest`: this is the newest segment,
// where a torn last frame ends the log instead of being corruption. `path`
// names the file in errors (kDataLoss).
absl::StatusOr<SegmentScan> ScanSegment(absl::string_view bytes, bool newest,
                                        const std::string& path);

// Checks a frame read back at `offset` and returns its payload.
absl::StatusOr<absl::string_view> CheckFrame(absl::string_view frame,
                                             uint64_t offset,
                                             const std::string& path);

absl::Status CorruptLog(const std::string& path, uint64_t offset,
                        absl::string_view what);

}  // namespace raftkv::storage::wal

#endif  // RAFTKV_STORAGE_WAL_FORMAT_H_

// WalLogStorage::Load: reading the segments back at open (replay rules in
// storage/wal_format.h).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/status_macros.h"
#include "storage/file_util.h"
#include "storage/leveldb_env.h"
#include "storage/wal_log_storage.h"

namespace raftkv::storage {

using raft::LogIndex;
using wal::Record;

// Applies one segment's records to the storage being opened. Entries before
// the first segment read may be gone with deleted segments: the replay tracks
// the first index it has a location for, and Finish() checks that the
// snapshot covers everything before it.
class WalLogStorage::Replay {
 public:
  explicit Replay(WalLogStorage* storage) : s_(storage) {}

  absl::Status Segment(uint64_t sequence, const wal::SegmentScan& scan,
                       const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
    WalLogStorage::Segment segment{sequence, 0};
    bool first_frame = true;
    for (const wal::Frame& frame : scan.frames) {
      std::optional<std::vector<Record>> records =
          wal::DecodeRecords(frame.payload);
      if (!records.has_value())
        return wal::CorruptLog(path, frame.offset, "undecodable record");
      const uint32_t frame_bytes =
          static_cast<uint32_t>(wal::kFrameHeaderBytes + frame.payload.size());
      for (const Record& record : *records) {
        const Where where{sequence, frame.offset, frame_bytes, &path};
        RETURN_IF_ERROR(Apply(record, where, first_frame, &segment));
      }
      first_frame = false;
    }
    s_->segments_.push_back(segment);
    return absl::OkStatus();
  }

  absl::Status Finish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
    if (first_located_ != s_->snapshot_.index + 1) {
      return absl::DataLossError(absl::StrCat(
          "raft log in ", s_->dir_, " is missing entries ",
          s_->snapshot_.index + 1, " to ", first_located_ - 1,
          " (a segment file was removed); restore this node from a healthy "
          "peer"));
    }
    return absl::OkStatus();
  }

 private:
  struct Where {
    uint64_t sequence;
    uint64_t frame_offset;
    uint32_t frame_bytes;
    const std::string* path;
  };

  absl::Status Apply(const Record& record, const Where& where, bool first_frame,
                     WalLogStorage::Segment* segment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
    switch (record.tag) {
      case Record::Tag::kHardState:
        s_->hard_state_ = record.hard_state;
        return absl::OkStatus();
      case Record::Tag::kSnapshot:
        ApplySnapshot(record);
        return absl::OkStatus();
      case Record::Tag::kBase:
        if (!first_frame) break;
        segment->max_index = record.index;
        if (!based_) {
          // The oldest segment left: what came before it is compacted away.
          based_ = true;
          s_->last_index_ = std::max(s_->last_index_, record.index);
          first_located_ = s_->last_index_ + 1;
          return absl::OkStatus();
        }
        if (record.index != s_->last_index_) {
          return wal::CorruptLog(
              *where.path, where.frame_offset,
              absl::StrCat("the segment starts after index ", record.index,
                           " but the segments before it end at ",
                           s_->last_index_));
        }
        return absl::OkStatus();
      case Record::Tag::kEntry:
        RETURN_IF_ERROR(ApplyEntry(record, where));
        segment->max_index = std::max(segment->max_index, record.index);
        return absl::OkStatus();
    }
    return wal::CorruptLog(*where.path, where.frame_offset,
                           "a segment base record after its first frame");
  }

  void ApplySnapshot(const Record& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
    const LogIndex index = record.snapshot.index;
    s_->snapshot_ = record.snapshot;
    if (record.installed || s_->last_index_ < index) {
      s_->locations_.clear();
      s_->cache_.Clear();
      s_->last_index_ = index;
      first_located_ = index + 1;
      return;
    }
    while (!s_->locations_.empty() && first_located_ <= index) {
      s_->locations_.pop_front();
      ++first_located_;
    }
    first_located_ = std::max(first_located_, index + 1);
    s_->cache_.DropThrough(index);
  }

  absl::Status ApplyEntry(const Record& record, const Where& where)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s_->mu_) {
    const LogIndex index = record.index;
    if (index <= s_->snapshot_.index || index > s_->last_index_ + 1) {
      return wal::CorruptLog(
          *where.path, where.frame_offset,
          absl::StrCat("entry ", index,
                       " does not follow the log, which holds ",
                       s_->snapshot_.index + 1, " to ", s_->last_index_));
    }
    if (index < first_located_) {  // replaces entries in a deleted segment
      s_->locations_.clear();
      first_located_ = index;
    } else {
      s_->locations_.resize(index - first_located_);
    }
    const raft::Term previous =
        !s_->locations_.empty()            ? s_->locations_.back().term
        : index == s_->snapshot_.index + 1 ? s_->snapshot_.term
                                           : 0;
    if (record.term < previous) {
      return wal::CorruptLog(
          *where.path, where.frame_offset,
          absl::StrCat("entry ", index, " has term ", record.term,
                       " below the previous term ", previous));
    }
    s_->locations_.push_back(Location{where.sequence, where.frame_offset,
                                      where.frame_bytes, record.offset,
                                      record.size, record.term});
    s_->last_index_ = index;
    const raft::Entry entry{record.term, index, record.type,
                            std::string(record.data)};
    s_->cache_.Append({&entry, 1});
    return absl::OkStatus();
  }

  WalLogStorage* const s_;
  bool based_ = false;
  LogIndex first_located_ = 1;
};

absl::Status WalLogStorage::Load() {
  std::vector<std::string> children;
  leveldb::Status listed = env_->GetChildren(dir_, &children);
  if (!listed.ok()) return LevelDbError(listed, "listing", dir_);
  std::vector<uint64_t> sequences;
  for (const std::string& child : children) {
    std::optional<uint64_t> sequence = wal::ParseSegmentName(child);
    if (sequence.has_value()) sequences.push_back(*sequence);
  }
  std::sort(sequences.begin(), sequences.end());
  // Only the newest run of consecutive segments is the log: older ones are
  // left over from a compaction whose deletions did not all reach the disk.
  size_t first = sequences.size();
  while (first > 0 && (first == sequences.size() ||
                       sequences[first - 1] + 1 == sequences[first])) {
    --first;
  }
  Replay replay(this);
  for (size_t i = first; i < sequences.size(); ++i) {
    const std::string path = PathOf(sequences[i]);
    ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
    const bool newest = i + 1 == sequences.size();
    ASSIGN_OR_RETURN(wal::SegmentScan scan,
                     wal::ScanSegment(bytes, newest, path));
    RETURN_IF_ERROR(replay.Segment(sequences[i], scan, path));
    // The newest segment ends where its frames end: a torn write is cut off,
    // and so is the unwritten rest of its preallocated space (appends go to
    // a new segment, so a node that restarts often does not keep a segment's
    // worth of disk per restart).
    if (newest && bytes.size() > scan.valid_bytes)
      RETURN_IF_ERROR(TrimSegment(sequences[i], scan.valid_bytes));
  }
  RETURN_IF_ERROR(replay.Finish());
  for (size_t i = 0; i < first; ++i) {
    leveldb::Status removed = env_->RemoveFile(PathOf(sequences[i]));
    if (!removed.ok()) return LevelDbError(removed, "removing", dir_);
  }
  // Appends go to a new segment: the newest one may end where a torn write
  // was cut off, and its header records the state replayed here.
  return StartSegment(/*installed=*/false);
}

absl::Status WalLogStorage::TrimSegment(uint64_t sequence, uint64_t bytes) {
  const std::string path = PathOf(sequence);
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(errno, "cutting the log's end in", path);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0 || fsync(fd) != 0) {
    const int error = errno;
    close(fd);
    return PosixError(error, "cutting the log's end in", path);
  }
  close(fd);
  return absl::OkStatus();
}

}  // namespace raftkv::storage

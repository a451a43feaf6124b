#include "storage/wal_log_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/status_macros.h"
#include "storage/file_util.h"
#include "storage/leveldb_env.h"

namespace raftkv::storage {

using raft::Entry;
using raft::LogIndex;
using raft::Term;

namespace {

// Reserves a new segment's blocks and size up front (zeros, which the reader
// takes for the end of the frames), so that each append's fdatasync flushes
// data only, not the file's growing size: 120-130 us instead of 165-180 us
// here (fsync_benchmark's BM_PreallocatedFdatasync against BM_WriteFdatasync).
// Best effort: where the file system
// cannot, or the disk has less room than a segment, appends grow the file.
void Preallocate(const std::string& path, uint64_t bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
    // It may have taken part of the space: give it back.
    (void)!ftruncate(fd, 0);
  }
  close(fd);
}

}  // namespace

WalLogStorage::WalLogStorage(leveldb::Env* env, std::string dir,
                             const WalLogStorageOptions& options)
    : env_(env),
      dir_(std::move(dir)),
      segment_bytes_(options.segment_bytes),
      cache_(options.entry_cache_bytes) {}

WalLogStorage::~WalLogStorage() {
  raftkv::MutexLock lock(&mu_);
  readers_.clear();
  if (newest_ != nullptr) (void)newest_->Close();
  newest_.reset();
  if (lock_ != nullptr) (void)env_->UnlockFile(lock_);
}

absl::StatusOr<std::unique_ptr<WalLogStorage>> WalLogStorage::Open(
    const std::string& dir, const WalLogStorageOptions& options) {
  leveldb::Env* env =
      options.env != nullptr ? options.env : leveldb::Env::Default();
  leveldb::Status created = env->CreateDir(dir);
  if (!created.ok() && !env->FileExists(dir))
    return LevelDbError(created, "creating", dir);
  std::unique_ptr<WalLogStorage> storage(new WalLogStorage(env, dir, options));
  raftkv::MutexLock lock(&storage->mu_);
  leveldb::Status locked = env->LockFile(dir + "/LOCK", &storage->lock_);
  if (!locked.ok()) return LevelDbError(locked, "opening", dir);
  RETURN_IF_ERROR(storage->Load());
  return storage;
}

std::string WalLogStorage::PathOf(uint64_t sequence) const {
  return absl::StrCat(dir_, "/", wal::SegmentName(sequence));
}

absl::Status WalLogStorage::StartSegment(bool installed) {
  const uint64_t sequence =
      segments_.empty() ? 1 : segments_.back().sequence + 1;
  const std::string path = PathOf(sequence);
  leveldb::WritableFile* raw = nullptr;
  leveldb::Status status = env_->NewWritableFile(path, &raw);
  if (!status.ok()) {
    broken_ = LevelDbError(status, "starting a log segment in", dir_);
    return broken_;
  }
  Preallocate(path, segment_bytes_);
  if (newest_ != nullptr) (void)newest_->Close();  // synced already
  newest_.reset(raw);
  newest_bytes_ = 0;
  ASSIGN_OR_RETURN(const Term last_term, TermAtLocked(last_index_));
  builder_.Clear();
  builder_.AddHardState(hard_state_);
  builder_.AddSnapshot(snapshot_, installed);
  builder_.AddBase(last_index_, last_term);
  RETURN_IF_ERROR(WriteFrame("starting a log segment in").status());
  // The new file's directory entry must be durable before anything in it
  // counts.
  absl::Status synced = SyncDirectory(dir_);
  if (!synced.ok()) {
    broken_ = synced;
    return synced;
  }
  segments_.push_back(Segment{sequence, last_index_});
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> WalLogStorage::WriteFrame(const char* what) {
  if (!broken_.ok()) return broken_;
  const absl::string_view frame = builder_.Finish();
  if (frame.size() - wal::kFrameHeaderBytes > wal::kMaxFramePayloadBytes) {
    // A reader would take its header for damage: refused, and nothing written.
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", dir_, ": a batch of ", frame.size(),
                     " bytes is more than a log frame holds (",
                     wal::kMaxFramePayloadBytes, "); propose less at once"));
  }
  leveldb::Status status =
      newest_->Append(leveldb::Slice(frame.data(), frame.size()));
  if (status.ok()) status = newest_->Sync();
  if (!status.ok()) {
    // What reached the file is unknown; a frame appended after it could sit
    // behind a torn one. Refuse every later write; an open cuts the tear off.
    broken_ = LevelDbError(status, what, dir_);
    return broken_;
  }
  const uint64_t offset = newest_bytes_;
  newest_bytes_ += frame.size();
  return offset;
}

absl::Status WalLogStorage::RemoveSegmentsWhile(bool (*obsolete)(const Segment&,
                                                                 LogIndex)) {
  while (segments_.size() > 1 && obsolete(segments_.front(), snapshot_.index)) {
    const uint64_t sequence = segments_.front().sequence;
    readers_.erase(sequence);
    leveldb::Status removed = env_->RemoveFile(PathOf(sequence));
    if (!removed.ok())
      return LevelDbError(removed, "removing a compacted segment of", dir_);
    segments_.pop_front();
  }
  return absl::OkStatus();
}

void WalLogStorage::TruncateFrom(LogIndex index) {
  if (index > last_index_) return;
  locations_.resize(index - snapshot_.index - 1);
  last_index_ = index - 1;
}

raft::InitialState WalLogStorage::GetInitialState() const {
  raftkv::MutexLock lock(&mu_);
  return raft::InitialState{hard_state_, snapshot_};
}

LogIndex WalLogStorage::FirstIndex() const {
  raftkv::MutexLock lock(&mu_);
  return snapshot_.index + 1;
}

LogIndex WalLogStorage::LastIndex() const {
  raftkv::MutexLock lock(&mu_);
  return last_index_;
}

raft::SnapshotMetadata WalLogStorage::Snapshot() const {
  raftkv::MutexLock lock(&mu_);
  return snapshot_;
}

uint64_t WalLogStorage::entries_read_from_disk() const {
  raftkv::MutexLock lock(&mu_);
  return entries_read_from_disk_;
}

std::vector<std::string> WalLogStorage::SegmentFiles() const {
  raftkv::MutexLock lock(&mu_);
  std::vector<std::string> files;
  for (const Segment& segment : segments_)
    files.push_back(wal::SegmentName(segment.sequence));
  return files;
}

absl::StatusOr<Entry> WalLogStorage::ReadEntry(LogIndex index) const {
  const Location& where = locations_[index - snapshot_.index - 1];
  if (memo_frame_.empty() || memo_sequence_ != where.sequence ||
      memo_offset_ != where.frame_offset) {
    const std::string path = PathOf(where.sequence);
    Reader& reader = readers_[where.sequence];
    const uint64_t end = where.frame_offset + where.frame_bytes;
    leveldb::Status status;
    if (reader.file == nullptr || reader.size < end) {
      // The newest segment grows; a file opened (mapped) earlier ends short.
      reader.file.reset();
      leveldb::RandomAccessFile* raw = nullptr;
      status = env_->GetFileSize(path, &reader.size);
      if (status.ok()) status = env_->NewRandomAccessFile(path, &raw);
      reader.file.reset(raw);
    }
    memo_frame_.resize(where.frame_bytes);
    leveldb::Slice got;
    if (status.ok()) {
      status = reader.file->Read(where.frame_offset, where.frame_bytes, &got,
                                 memo_frame_.data());
    }
    if (!status.ok()) {
      memo_frame_.clear();
      return LevelDbError(status, "reading the log in", dir_);
    }
    if (got.data() != memo_frame_.data())
      memo_frame_.assign(got.data(), got.size());
    absl::StatusOr<absl::string_view> checked = wal::CheckFrame(
        absl::string_view(got.data(), got.size()), where.frame_offset, path);
    if (!checked.ok()) {
      memo_frame_.clear();
      return checked.status();
    }
    memo_sequence_ = where.sequence;
    memo_offset_ = where.frame_offset;
  }
  std::optional<Entry> entry = wal::DecodeEntryRecord(
      absl::string_view(memo_frame_)
          .substr(where.record_offset, where.record_bytes));
  if (!entry.has_value() || entry->index != index) {
    return wal::CorruptLog(
        PathOf(where.sequence), where.frame_offset,
        absl::StrCat("entry ", index, " does not read back"));
  }
  ++entries_read_from_disk_;
  return std::move(*entry);
}

absl::StatusOr<Term> WalLogStorage::TermAtLocked(LogIndex index) const {
  RETURN_IF_ERROR(
      raft::CheckTermIndex(index, snapshot_.index + 1, last_index_));
  if (index == snapshot_.index) return snapshot_.term;
  return locations_[index - snapshot_.index - 1].term;
}

absl::StatusOr<Term> WalLogStorage::TermAt(LogIndex index) const {
  raftkv::MutexLock lock(&mu_);
  return TermAtLocked(index);
}

absl::StatusOr<std::vector<Entry>> WalLogStorage::Entries(
    LogIndex lo, LogIndex hi, uint64_t max_bytes) const {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(
      raft::CheckEntriesRange(lo, hi, snapshot_.index + 1, last_index_));
  return cache_.Collect(lo, hi, max_bytes,
                        [this](LogIndex i) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                          return ReadEntry(i);
                        });
}

absl::Status WalLogStorage::Save(
    const std::optional<raft::HardState>& hard_state,
    absl::Span<const Entry> entries) {
  raftkv::MutexLock lock(&mu_);
  if (!hard_state.has_value() && entries.empty()) return absl::OkStatus();
  if (!entries.empty()) {
    Term prev_term = 0;
    if (entries[0].index > snapshot_.index &&
        entries[0].index <= last_index_ + 1) {
      ASSIGN_OR_RETURN(prev_term, TermAtLocked(entries[0].index - 1));
    }
    RETURN_IF_ERROR(raft::ValidateSave(entries, snapshot_.index + 1,
                                       last_index_, prev_term));
  }
  // The hard state goes first: a torn frame is dropped whole anyway, but the
  // order keeps a frame's term ahead of its entries'.
  builder_.Clear();
  record_offsets_.clear();
  if (hard_state.has_value()) builder_.AddHardState(*hard_state);
  for (const Entry& entry : entries)
    record_offsets_.push_back(builder_.AddEntry(entry));
  ASSIGN_OR_RETURN(const uint64_t offset,
                   WriteFrame("appending to the log in"));
  const uint32_t frame_bytes = static_cast<uint32_t>(newest_bytes_ - offset);
  if (hard_state.has_value()) hard_state_ = *hard_state;
  if (!entries.empty()) {
    Segment& newest = segments_.back();
    TruncateFrom(entries[0].index);
    for (size_t i = 0; i < entries.size(); ++i) {
      const uint32_t end =
          i + 1 < entries.size() ? record_offsets_[i + 1] : frame_bytes;
      locations_.push_back(Location{newest.sequence, offset, frame_bytes,
                                    record_offsets_[i],
                                    end - record_offsets_[i], entries[i].term});
    }
    last_index_ = entries.back().index;
    newest.max_index = std::max(newest.max_index, last_index_);
    cache_.Append(entries);
  }
  if (newest_bytes_ >= segment_bytes_) return StartSegment(/*installed=*/false);
  return absl::OkStatus();
}

absl::Status WalLogStorage::Compact(LogIndex index,
                                    const raft::ConfState& conf_state) {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(raft::CheckEntriesRange(index, index + 1, snapshot_.index + 1,
                                          last_index_));
  ASSIGN_OR_RETURN(const Term term, TermAtLocked(index));
  const raft::SnapshotMetadata snapshot{index, term, conf_state};
  builder_.Clear();
  builder_.AddSnapshot(snapshot, /*installed=*/false);
  RETURN_IF_ERROR(WriteFrame("compacting the log in").status());
  locations_.erase(
      locations_.begin(),
      locations_.begin() + static_cast<ptrdiff_t>(index - snapshot_.index));
  snapshot_ = snapshot;
  cache_.DropThrough(index);
  // Segments holding only compacted entries go, oldest first; the newest
  // always stays (the log appends to it).
  return RemoveSegmentsWhile([](const Segment& segment, LogIndex compacted) {
    return segment.max_index <= compacted;
  });
}

absl::Status WalLogStorage::InstallSnapshot(
    const raft::SnapshotMetadata& snapshot) {
  raftkv::MutexLock lock(&mu_);
  if (snapshot.index < snapshot_.index ||
      (snapshot.index == snapshot_.index && last_index_ > snapshot_.index)) {
    return raft::SnapshotOutOfDateError(snapshot.index, snapshot_.index);
  }
  if (!broken_.ok()) return broken_;
  snapshot_ = snapshot;
  last_index_ = snapshot.index;
  locations_.clear();
  cache_.Clear();
  // A new segment that starts with the snapshot; every older one is obsolete.
  RETURN_IF_ERROR(StartSegment(/*installed=*/true));
  return RemoveSegmentsWhile([](const Segment&, LogIndex) { return true; });
}

}  // namespace raftkv::storage

#include "storage/leveldb_log_storage.h"

#include <leveldb/iterator.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/mutex.h"
#include "raft/status_macros.h"
#include "storage/codec.h"
#include "storage/log_records.h"

namespace raftkv::storage {

using raft::Entry;
using raft::LogIndex;
using raft::Term;

namespace {

constexpr char kEntryPrefix = 'e';
constexpr char kHardStateKey[] = "h";
constexpr char kSnapshotKey[] = "s";

std::string EntryKey(LogIndex index) {
  std::string key(1, kEntryPrefix);
  PutBigEndian64(&key, index);
  return key;
}

std::string EncodeEntry(const Entry& entry) {
  std::string out;
  out.reserve(9 + entry.data.size());
  PutBigEndian64(&out, entry.term);
  out.push_back(static_cast<char>(entry.type));
  out.append(entry.data);
  return out;
}

std::string EncodeHardState(const raft::HardState& state) {
  std::string out;
  storage::EncodeHardState(state, &out);
  return out;
}

std::string EncodeSnapshot(const raft::SnapshotMetadata& snapshot) {
  std::string out;
  EncodeSnapshotMetadata(snapshot, &out);
  return out;
}

absl::Status CorruptRecord(const std::string& path, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("corrupt raft log in ", path, ": ", what,
                   "; restore this node from a healthy peer"));
}

}  // namespace

LevelDbLogStorage::LevelDbLogStorage(LevelDbHandle handle,
                                     const LevelDbLogStorageOptions& options)
    : handle_(std::move(handle)), cache_(options.entry_cache_bytes) {}

absl::StatusOr<std::unique_ptr<LevelDbLogStorage>> LevelDbLogStorage::Open(
    const std::string& path, const LevelDbLogStorageOptions& options) {
  ASSIGN_OR_RETURN(LevelDbHandle handle, OpenLevelDb(path, options.leveldb));
  std::unique_ptr<LevelDbLogStorage> storage(
      new LevelDbLogStorage(std::move(handle), options));
  raftkv::MutexLock lock(&storage->mu_);
  RETURN_IF_ERROR(storage->Load());
  return storage;
}

absl::Status LevelDbLogStorage::Load() {
  const std::string& path = handle_.path;
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::string value;

  leveldb::Status status = handle_.db->Get(read, kHardStateKey, &value);
  if (status.ok()) {
    absl::string_view in(value);
    std::optional<raft::HardState> state = DecodeHardState(&in);
    if (!state.has_value() || !in.empty())
      return CorruptRecord(path, "bad hard state record");
    hard_state_ = *state;
  } else if (!status.IsNotFound()) {
    return LevelDbError(status, "reading the hard state of", path);
  }

  status = handle_.db->Get(read, kSnapshotKey, &value);
  if (status.ok()) {
    absl::string_view in(value);
    std::optional<raft::SnapshotMetadata> snapshot =
        DecodeSnapshotMetadata(&in);
    if (!snapshot.has_value() || !in.empty())
      return CorruptRecord(path, "bad snapshot metadata record");
    snapshot_ = std::move(*snapshot);
  } else if (!status.IsNotFound()) {
    return LevelDbError(status, "reading the snapshot metadata of", path);
  }

  // Walk every entry: the log must be contiguous from the snapshot on, with
  // decodable records and terms that never decrease. The newest entries fill
  // the cache.
  last_index_ = snapshot_.index;
  Term last_term = snapshot_.term;
  std::unique_ptr<leveldb::Iterator> it(handle_.db->NewIterator(read));
  const std::string begin(1, kEntryPrefix);
  for (it->Seek(begin); it->Valid() && it->key().starts_with(begin);
       it->Next()) {
    absl::string_view key(it->key().data() + 1, it->key().size() - 1);
    std::optional<uint64_t> index = GetBigEndian64(&key);
    if (!index.has_value() || !key.empty())
      return CorruptRecord(path, "bad entry key");
    // LevelDB's iterator steps over a block it cannot read and reports it only
    // in status(); a gap is how that shows first, so ask it before blaming the
    // records.
    if (*index != last_index_ + 1 && !it->status().ok()) {
      return LevelDbError(it->status(), "reading the log in", path);
    }
    if (*index != last_index_ + 1) {
      return CorruptRecord(path, absl::StrCat("log has a gap: entry ", *index,
                                              " follows ", last_index_));
    }
    absl::string_view in(it->value().data(), it->value().size());
    std::optional<uint64_t> term = GetBigEndian64(&in);
    if (!term.has_value() || in.empty() || static_cast<uint8_t>(in[0]) > 1) {
      return CorruptRecord(path,
                           absl::StrCat("bad entry record at index ", *index));
    }
    if (*term < last_term) {
      return CorruptRecord(
          path, absl::StrCat("entry ", *index, " has term ", *term,
                             " below the previous term ", last_term));
    }
    Entry entry{*term, *index, static_cast<raft::EntryType>(in[0]),
                std::string(in.substr(1))};
    last_index_ = *index;
    last_term = *term;
    cache_.Append({&entry, 1});
  }
  if (!it->status().ok())
    return LevelDbError(it->status(), "reading the log in", path);
  return absl::OkStatus();
}

raft::InitialState LevelDbLogStorage::GetInitialState() const {
  raftkv::MutexLock lock(&mu_);
  return raft::InitialState{hard_state_, snapshot_};
}

LogIndex LevelDbLogStorage::FirstIndex() const {
  raftkv::MutexLock lock(&mu_);
  return snapshot_.index + 1;
}

LogIndex LevelDbLogStorage::LastIndex() const {
  raftkv::MutexLock lock(&mu_);
  return last_index_;
}

raft::SnapshotMetadata LevelDbLogStorage::Snapshot() const {
  raftkv::MutexLock lock(&mu_);
  return snapshot_;
}

uint64_t LevelDbLogStorage::entries_read_from_disk() const {
  raftkv::MutexLock lock(&mu_);
  return entries_read_from_disk_;
}

absl::StatusOr<Entry> LevelDbLogStorage::ReadEntry(LogIndex index) const {
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::string value;
  leveldb::Status status = handle_.db->Get(read, EntryKey(index), &value);
  if (!status.ok()) {
    if (status.IsNotFound()) {
      return CorruptRecord(handle_.path,
                           absl::StrCat("entry ", index, " is missing"));
    }
    return LevelDbError(status, "reading the log in", handle_.path);
  }
  absl::string_view in(value);
  std::optional<uint64_t> term = GetBigEndian64(&in);
  if (!term.has_value() || in.empty()) {
    return CorruptRecord(handle_.path,
                         absl::StrCat("bad entry record at index ", index));
  }
  ++entries_read_from_disk_;
  return Entry{*term, index, static_cast<raft::EntryType>(in[0]),
               std::string(in.substr(1))};
}

absl::StatusOr<Term> LevelDbLogStorage::TermAtLocked(LogIndex index) const {
  RETURN_IF_ERROR(
      raft::CheckTermIndex(index, snapshot_.index + 1, last_index_));
  if (index == snapshot_.index) return snapshot_.term;
  if (cache_.Holds(index)) return cache_.At(index).term;
  ASSIGN_OR_RETURN(Entry entry, ReadEntry(index));
  return entry.term;
}

absl::StatusOr<Term> LevelDbLogStorage::TermAt(LogIndex index) const {
  raftkv::MutexLock lock(&mu_);
  return TermAtLocked(index);
}

absl::StatusOr<std::vector<Entry>> LevelDbLogStorage::Entries(
    LogIndex lo, LogIndex hi, uint64_t max_bytes) const {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(
      raft::CheckEntriesRange(lo, hi, snapshot_.index + 1, last_index_));
  return cache_.Collect(lo, hi, max_bytes,
                        [this](LogIndex i) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                          return ReadEntry(i);
                        });
}

absl::Status LevelDbLogStorage::WriteSynced(leveldb::WriteBatch* batch,
                                            const char* what) {
  leveldb::WriteOptions options;
  options.sync = true;
  leveldb::Status status = handle_.db->Write(options, batch);
  if (!status.ok()) return LevelDbError(status, what, handle_.path);
  return absl::OkStatus();
}

absl::Status LevelDbLogStorage::Save(
    const std::optional<raft::HardState>& hard_state,
    absl::Span<const Entry> entries) {
  raftkv::MutexLock lock(&mu_);
  if (!hard_state.has_value() && entries.empty()) return absl::OkStatus();
  leveldb::WriteBatch batch;
  if (!entries.empty()) {
    Term prev_term = 0;
    if (entries[0].index > snapshot_.index &&
        entries[0].index <= last_index_ + 1) {
      ASSIGN_OR_RETURN(prev_term, TermAtLocked(entries[0].index - 1));
    }
    RETURN_IF_ERROR(raft::ValidateSave(entries, snapshot_.index + 1,
                                       last_index_, prev_term));
    for (const Entry& entry : entries)
      batch.Put(EntryKey(entry.index), EncodeEntry(entry));
    // Entries past the new end belong to a replaced, conflicting suffix (§5.3).
    for (LogIndex i = entries.back().index + 1; i <= last_index_; ++i)
      batch.Delete(EntryKey(i));
  }
  if (hard_state.has_value())
    batch.Put(kHardStateKey, EncodeHardState(*hard_state));
  RETURN_IF_ERROR(WriteSynced(&batch, "appending to the log in"));
  if (!entries.empty()) {
    last_index_ = entries.back().index;
    cache_.Append(entries);
  }
  if (hard_state.has_value()) hard_state_ = *hard_state;
  return absl::OkStatus();
}

absl::Status LevelDbLogStorage::Compact(LogIndex index,
                                        const raft::ConfState& conf_state) {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(raft::CheckEntriesRange(index, index + 1, snapshot_.index + 1,
                                          last_index_));
  ASSIGN_OR_RETURN(Term term, TermAtLocked(index));
  const raft::SnapshotMetadata snapshot{index, term, conf_state};
  leveldb::WriteBatch batch;
  for (LogIndex i = snapshot_.index + 1; i <= index; ++i)
    batch.Delete(EntryKey(i));
  batch.Put(kSnapshotKey, EncodeSnapshot(snapshot));
  RETURN_IF_ERROR(WriteSynced(&batch, "compacting the log in"));
  snapshot_ = snapshot;
  cache_.DropThrough(index);
  return absl::OkStatus();
}

absl::Status LevelDbLogStorage::InstallSnapshot(
    const raft::SnapshotMetadata& snapshot) {
  raftkv::MutexLock lock(&mu_);
  if (snapshot.index < snapshot_.index ||
      (snapshot.index == snapshot_.index && last_index_ > snapshot_.index)) {
    return raft::SnapshotOutOfDateError(snapshot.index, snapshot_.index);
  }
  leveldb::WriteBatch batch;
  for (LogIndex i = snapshot_.index + 1; i <= last_index_; ++i)
    batch.Delete(EntryKey(i));
  batch.Put(kSnapshotKey, EncodeSnapshot(snapshot));
  RETURN_IF_ERROR(WriteSynced(&batch, "installing a snapshot in"));
  snapshot_ = snapshot;
  last_index_ = snapshot.index;
  cache_.Clear();
  return absl::OkStatus();
}

}  // namespace raftkv::storage

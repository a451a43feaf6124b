#include "storage/leveldb_kv_store.h"

#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "raft/mutex.h"
#include "raft/status_macros.h"
#include "storage/codec.h"
#include "storage/kv_snapshot_codec.h"

namespace raftkv::storage {
namespace {

constexpr char kDataPrefix = 'd';
constexpr char kAppliedKey[] = "m";
constexpr char kSessionPrefix = 's';
constexpr char kPointerFile[] = "CURRENT_KV";
constexpr char kGenerationPrefix[] = "gen-";
constexpr size_t kRestoreBatchBytes = 1 << 20;

std::string DataKey(absl::string_view key) { return absl::StrCat("d", key); }

std::string SessionKey(uint64_t client_id) {
  std::string key(1, kSessionPrefix);
  PutBigEndian64(&key, client_id);
  return key;
}

std::string EncodeIndex(raft::LogIndex index) {
  std::string out;
  PutBigEndian64(&out, index);
  return out;
}

leveldb::ReadOptions Checked(const leveldb::Snapshot* snapshot = nullptr) {
  leveldb::ReadOptions options;
  options.verify_checksums = true;
  options.snapshot = snapshot;
  return options;
}

absl::StatusOr<raft::LogIndex> ReadAppliedIndex(
    const LevelDbHandle& handle, const leveldb::Snapshot* snapshot) {
  std::string value;
  leveldb::Status status =
      handle.db->Get(Checked(snapshot), kAppliedKey, &value);
  if (status.IsNotFound()) return raft::kNoIndex;
  if (!status.ok())
    return LevelDbError(status, "reading the applied index of", handle.path);
  absl::string_view in(value);
  std::optional<uint64_t> index = GetBigEndian64(&in);
  if (!index.has_value() || !in.empty()) {
    return absl::DataLossError(
        absl::StrCat("corrupt applied index in ", handle.path,
                     "; restore this node from a healthy peer"));
  }
  return *index;
}

class LevelDbSnapshotReader final : public KvSnapshotReader {
 public:
  LevelDbSnapshotReader(std::shared_ptr<LevelDbHandle> db,
                        const leveldb::Snapshot* snapshot,
                        raft::LogIndex applied_index)
      : db_(std::move(db)),
        snapshot_(snapshot),
        applied_index_(applied_index),
        encoder_(applied_index),
        it_(db_->db->NewIterator(Checked(snapshot_))) {
    it_->Seek(std::string(1, kDataPrefix));
  }
  ~LevelDbSnapshotReader() override {
    it_.reset();
    db_->db->ReleaseSnapshot(snapshot_);
  }

  raft::LogIndex applied_index() const override { return applied_index_; }

  absl::StatusOr<std::optional<std::string>> NextChunk(
      size_t max_bytes) override {
    if (done_) return std::nullopt;
    while (encoder_.buffered_bytes() < max_bytes) {
      if (!it_->Valid()) {
        if (!it_->status().ok()) {
          return LevelDbError(it_->status(), "reading a snapshot of",
                              db_->path);
        }
        encoder_.Finish();
        done_ = true;
        break;
      }
      absl::string_view key(it_->key().data(), it_->key().size());
      absl::string_view value(it_->value().data(), it_->value().size());
      if (key[0] == kDataPrefix) {
        encoder_.AddKeyValue(key.substr(1), value);
      } else if (key[0] == kSessionPrefix) {
        key.remove_prefix(1);
        std::optional<uint64_t> id = GetBigEndian64(&key);
        if (!id.has_value()) {
          return absl::DataLossError(
              absl::StrCat("corrupt session key in ", db_->path));
        }
        encoder_.AddSession(*id, value);
      }
      it_->Next();
    }
    return encoder_.TakeChunk();
  }

 private:
  std::shared_ptr<LevelDbHandle> db_;
  const leveldb::Snapshot* snapshot_;
  raft::LogIndex applied_index_;
  SnapshotEncoder encoder_;
  std::unique_ptr<leveldb::Iterator> it_;
  bool done_ = false;
};

}  // namespace

LevelDbKvStore::LevelDbKvStore(std::string path, LevelDbKvStoreOptions options,
                               DirectoryLock lock)
    : path_(std::move(path)),
      options_(std::move(options)),
      lock_(std::move(lock)) {}

std::string LevelDbKvStore::GenerationPath(uint64_t generation) const {
  return absl::StrCat(path_, "/", kGenerationPrefix, generation);
}

bool LevelDbKvStore::Crash(RestoreStep step) const {
  return options_.restore_hook && !options_.restore_hook(step);
}

absl::StatusOr<std::unique_ptr<LevelDbKvStore>> LevelDbKvStore::Open(
    const std::string& path, const LevelDbKvStoreOptions& options) {
  RETURN_IF_ERROR(MakeDirectories(path));
  ASSIGN_OR_RETURN(DirectoryLock lock, DirectoryLock::Acquire(path));
  std::unique_ptr<LevelDbKvStore> store(
      new LevelDbKvStore(path, options, std::move(lock)));

  const std::string pointer_path = path + "/" + kPointerFile;
  uint64_t generation = 0;
  absl::StatusOr<std::string> pointer = ReadFileToString(pointer_path);
  if (pointer.ok()) {
    absl::string_view name = absl::StripSuffix(*pointer, "\n");
    if (!absl::ConsumePrefix(&name, kGenerationPrefix) ||
        !absl::SimpleAtoi(name, &generation) || generation == 0) {
      return absl::DataLossError(
          absl::StrCat("corrupt ", pointer_path, ": \"", *pointer,
                       "\"; restore this node from a healthy peer"));
    }
    if (!std::filesystem::exists(store->GenerationPath(generation) +
                                 "/CURRENT")) {
      return absl::DataLossError(absl::StrCat(
          pointer_path, " names ", *pointer, " but ",
          store->GenerationPath(generation),
          " holds no database; restore this node from a healthy peer"));
    }
  } else if (absl::IsNotFound(pointer.status())) {
    generation = 1;  // a new store; any gen-* left here was never made live
    RETURN_IF_ERROR(WriteFileAtomically(pointer_path, "gen-1\n"));
  } else {
    return pointer.status();
  }

  // Remove every generation the pointer does not name: leftovers of an
  // interrupted restore (never live) or of a finished one (no longer live).
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kGenerationPrefix) &&
        name != absl::StrCat(kGenerationPrefix, generation)) {
      std::filesystem::remove_all(entry.path(), error);
      if (error)
        return PosixError(error.value(), "removing", entry.path().string());
    }
  }
  if (error) return PosixError(error.value(), "listing", path);

  raft::LogIndex applied = raft::kNoIndex;
  ASSIGN_OR_RETURN(std::shared_ptr<LevelDbHandle> db,
                   store->OpenGeneration(generation, &applied));
  raftkv::MutexLock lock_state(&store->mu_);
  store->db_ = std::move(db);
  store->generation_ = generation;
  store->applied_index_ = applied;
  return store;
}

absl::StatusOr<std::shared_ptr<LevelDbHandle>> LevelDbKvStore::OpenGeneration(
    uint64_t generation, raft::LogIndex* applied_index) const {
  ASSIGN_OR_RETURN(LevelDbHandle handle,
                   OpenLevelDb(GenerationPath(generation), options_.leveldb));
  auto db = std::make_shared<LevelDbHandle>(std::move(handle));
  ASSIGN_OR_RETURN(*applied_index, ReadAppliedIndex(*db, nullptr));
  return db;
}

absl::StatusOr<std::optional<std::string>> LevelDbKvStore::Get(
    absl::string_view key) const {
  std::shared_ptr<LevelDbHandle> db;
  {
    raftkv::MutexLock lock(&mu_);
    db = db_;
  }
  std::string value;
  leveldb::Status status = db->db->Get(Checked(), DataKey(key), &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return LevelDbError(status, "reading", db->path);
  return value;
}

absl::StatusOr<ScanPage> LevelDbKvStore::Scan(
    const ScanOptions& options) const {
  RETURN_IF_ERROR(ValidateScan(options));
  const ScanRange range = ResolveScan(options);
  std::shared_ptr<LevelDbHandle> db;
  {
    raftkv::MutexLock lock(&mu_);
    db = db_;
  }
  ScanPage page;
  std::unique_ptr<leveldb::Iterator> it(db->db->NewIterator(Checked()));
  for (it->Seek(DataKey(range.lower)); it->Valid(); it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (key.empty() || key[0] != kDataPrefix) break;
    key.remove_prefix(1);
    if (!range.Contains(key)) break;
    if (page.items.size() == options.limit) {
      page.more = true;
      page.next_start = std::string(key);
      break;
    }
    page.items.push_back(
        {std::string(key), options.keys_only ? "" : it->value().ToString()});
  }
  if (!it->status().ok())
    return LevelDbError(it->status(), "scanning", db->path);
  return page;
}

raft::LogIndex LevelDbKvStore::AppliedIndex() const {
  raftkv::MutexLock lock(&mu_);
  return applied_index_;
}

absl::StatusOr<std::vector<SessionRecord>> LevelDbKvStore::LoadSessions()
    const {
  std::shared_ptr<LevelDbHandle> db;
  {
    raftkv::MutexLock lock(&mu_);
    db = db_;
  }
  std::vector<SessionRecord> sessions;
  std::unique_ptr<leveldb::Iterator> it(db->db->NewIterator(Checked()));
  const std::string prefix(1, kSessionPrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    absl::string_view key(it->key().data() + 1, it->key().size() - 1);
    std::optional<uint64_t> id = GetBigEndian64(&key);
    if (!id.has_value() || !key.empty()) {
      return absl::DataLossError(
          absl::StrCat("corrupt session key in ", db->path,
                       "; restore this node from a healthy peer"));
    }
    sessions.push_back({*id, it->value().ToString()});
  }
  if (!it->status().ok())
    return LevelDbError(it->status(), "reading sessions of", db->path);
  return sessions;
}

absl::Status LevelDbKvStore::Apply(const KvBatch& batch) {
  return ApplyBatches({&batch, 1});
}

absl::Status LevelDbKvStore::ApplyBatches(absl::Span<const KvBatch> batches) {
  if (batches.empty()) return absl::OkStatus();
  raftkv::MutexLock write_lock(&write_mu_);
  std::shared_ptr<LevelDbHandle> db;
  {
    raftkv::MutexLock lock(&mu_);
    RETURN_IF_ERROR(ValidateBatchOrder(batches, applied_index_));
    db = db_;
  }
  // One LevelDB write for the whole group: the mutations, sessions and final
  // applied index land together or not at all.
  leveldb::WriteBatch write;
  for (const KvBatch& batch : batches) {
    for (const KvMutation& m : batch.mutations) {
      if (m.kind == KvMutation::Kind::kPut) {
        write.Put(DataKey(m.key), m.value);
      } else {
        write.Delete(DataKey(m.key));
      }
    }
    for (const SessionRecord& session : batch.session_puts) {
      write.Put(SessionKey(session.client_id), session.state);
    }
    for (uint64_t id : batch.session_deletes) write.Delete(SessionKey(id));
  }
  write.Put(kAppliedKey, EncodeIndex(batches.back().applied_index));
  leveldb::Status status = db->db->Write(leveldb::WriteOptions(), &write);
  if (!status.ok()) return LevelDbError(status, "applying to", db->path);
  raftkv::MutexLock lock(&mu_);
  applied_index_ = batches.back().applied_index;
  return absl::OkStatus();
}

absl::Status LevelDbKvStore::Sync() {
  raftkv::MutexLock write_lock(&write_mu_);
  std::shared_ptr<LevelDbHandle> db;
  {
    raftkv::MutexLock lock(&mu_);
    db = db_;
  }
  // An empty synced write fsyncs LevelDB's log, which holds every earlier
  // write.
  leveldb::WriteBatch empty;
  leveldb::WriteOptions sync;
  sync.sync = true;
  leveldb::Status status = db->db->Write(sync, &empty);
  if (!status.ok()) return LevelDbError(status, "syncing", db->path);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KvSnapshotReader>> LevelDbKvStore::ReadSnapshot()
    const {
  std::shared_ptr<LevelDbHandle> db;
  {
    raftkv::MutexLock lock(&mu_);
    db = db_;
  }
  const leveldb::Snapshot* snapshot = db->db->GetSnapshot();
  absl::StatusOr<raft::LogIndex> applied = ReadAppliedIndex(*db, snapshot);
  if (!applied.ok()) {
    db->db->ReleaseSnapshot(snapshot);
    return applied.status();
  }
  return std::make_unique<LevelDbSnapshotReader>(std::move(db), snapshot,
                                                 *applied);
}

absl::Status LevelDbKvStore::BuildGeneration(uint64_t generation,
                                             SnapshotChunkSource next_chunk,
                                             raft::LogIndex* applied_index) {
  const std::string dir = GenerationPath(generation);
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (error) return PosixError(error.value(), "removing", dir);
  ASSIGN_OR_RETURN(LevelDbHandle handle, OpenLevelDb(dir, options_.leveldb));

  SnapshotDecoder decoder;
  leveldb::WriteBatch batch;
  auto flush = [&](bool sync) -> absl::Status {
    leveldb::WriteOptions options;
    options.sync = sync;
    leveldb::Status status = handle.db->Write(options, &batch);
    batch.Clear();
    if (!status.ok())
      return LevelDbError(status, "restoring a snapshot into", dir);
    return absl::OkStatus();
  };
  auto on_record = [&](const SnapshotRecord& record) -> absl::Status {
    if (record.kind == SnapshotRecord::Kind::kKeyValue) {
      batch.Put(DataKey(record.key),
                leveldb::Slice(record.value.data(), record.value.size()));
    } else {
      absl::string_view id = record.key;
      batch.Put(SessionKey(*GetBigEndian64(&id)),
                leveldb::Slice(record.value.data(), record.value.size()));
    }
    if (batch.ApproximateSize() < kRestoreBatchBytes) return absl::OkStatus();
    RETURN_IF_ERROR(flush(/*sync=*/false));
    if (Crash(RestoreStep::kChunkWritten))
      return absl::AbortedError("restore interrupted");
    return absl::OkStatus();
  };
  while (true) {
    ASSIGN_OR_RETURN(std::optional<std::string> chunk, next_chunk());
    if (!chunk.has_value()) break;
    RETURN_IF_ERROR(decoder.Feed(*chunk, on_record));
  }
  RETURN_IF_ERROR(decoder.Finish());
  batch.Put(kAppliedKey, EncodeIndex(decoder.applied_index()));
  // One synced write covers the log file holding every earlier unsynced write;
  // tables LevelDB flushed on the way were synced when written.
  RETURN_IF_ERROR(flush(/*sync=*/true));
  *applied_index = decoder.applied_index();
  return absl::OkStatus();
}

absl::Status LevelDbKvStore::RestoreSnapshot(SnapshotChunkSource next_chunk) {
  raftkv::MutexLock write_lock(&write_mu_);
  uint64_t old_generation;
  {
    raftkv::MutexLock lock(&mu_);
    old_generation = generation_;
  }
  const uint64_t new_generation = old_generation + 1;
  raft::LogIndex applied = raft::kNoIndex;
  absl::Status built = BuildGeneration(new_generation, next_chunk, &applied);
  if (!built.ok()) {
    if (!absl::IsAborted(built)) {
      std::error_code ignored;
      std::filesystem::remove_all(GenerationPath(new_generation), ignored);
    }
    return built;
  }
  if (Crash(RestoreStep::kNewStateSynced))
    return absl::AbortedError("restore interrupted");

  // The one atomic step: CURRENT_KV names the new generation.
  const std::string pointer_path = path_ + "/" + kPointerFile;
  const std::string pointer =
      absl::StrCat(kGenerationPrefix, new_generation, "\n");
  {
    // WriteFileAtomically, split so tests can stop between its steps.
    const std::string temp = pointer_path + ".tmp";
    RETURN_IF_ERROR(WriteFileAtomically(temp, pointer));
    if (Crash(RestoreStep::kPointerWritten))
      return absl::AbortedError("restore interrupted");
    if (rename(temp.c_str(), pointer_path.c_str()) != 0) {
      return PosixError(errno, "renaming", temp);
    }
    RETURN_IF_ERROR(SyncDirectory(path_));
  }
  if (Crash(RestoreStep::kPointerSwapped))
    return absl::AbortedError("restore interrupted");

  // The disk now holds the new state; if it cannot be opened, this store is
  // unusable and the caller must restart the node, which will open the new
  // state.
  ASSIGN_OR_RETURN(std::shared_ptr<LevelDbHandle> new_db,
                   OpenGeneration(new_generation, &applied));
  std::shared_ptr<LevelDbHandle> old_db;
  {
    raftkv::MutexLock lock(&mu_);
    old_db = std::exchange(db_, std::move(new_db));
    generation_ = new_generation;
    applied_index_ = applied;
  }
  // Readers may still hold the old generation; if so, the next Open removes it.
  if (old_db.use_count() == 1) {
    old_db.reset();
    std::error_code ignored;
    std::filesystem::remove_all(GenerationPath(old_generation), ignored);
  }
  if (Crash(RestoreStep::kOldRemoved))
    return absl::AbortedError("restore interrupted");
  return absl::OkStatus();
}

}  // namespace raftkv::storage

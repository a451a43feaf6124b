#include "storage/memory_kv_store.h"

#include "absl/strings/str_cat.h"
#include "raft/mutex.h"
#include "raft/status_macros.h"
#include "storage/codec.h"
#include "storage/kv_snapshot_codec.h"

namespace raftkv::storage {
namespace {

// Walks a frozen copy of the state; the store copies on its next write.
class MemorySnapshotReader final : public KvSnapshotReader {
 public:
  template <typename State>
  explicit MemorySnapshotReader(std::shared_ptr<const State> state)
      : holder_(state),
        applied_index_(state->applied_index),
        encoder_(state->applied_index),
        data_(&state->data),
        sessions_(&state->sessions),
        data_it_(state->data.begin()),
        session_it_(state->sessions.begin()) {}

  raft::LogIndex applied_index() const override { return applied_index_; }

  absl::StatusOr<std::optional<std::string>> NextChunk(
      size_t max_bytes) override {
    if (done_) return std::nullopt;
    while (encoder_.buffered_bytes() < max_bytes) {
      // Data, then sessions: the order of the LevelDB store's keys, so that
      // both stores produce identical streams for identical states.
      if (data_it_ != data_->end()) {
        encoder_.AddKeyValue(data_it_->first, data_it_->second);
        ++data_it_;
      } else if (session_it_ != sessions_->end()) {
        encoder_.AddSession(session_it_->first, session_it_->second);
        ++session_it_;
      } else {
        encoder_.Finish();
        done_ = true;
        break;
      }
    }
    return encoder_.TakeChunk();
  }

 private:
  using DataMap = std::map<std::string, std::string, std::less<>>;
  using SessionMap = std::map<uint64_t, std::string>;
  std::shared_ptr<const void> holder_;
  raft::LogIndex applied_index_;
  SnapshotEncoder encoder_;
  const DataMap* data_;
  const SessionMap* sessions_;
  DataMap::const_iterator data_it_;
  SessionMap::const_iterator session_it_;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::optional<std::string>> MemoryKvStore::Get(
    absl::string_view key) const {
  raftkv::MutexLock lock(&mu_);
  auto it = state_->data.find(key);
  if (it == state_->data.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<ScanPage> MemoryKvStore::Scan(const ScanOptions& options) const {
  RETURN_IF_ERROR(ValidateScan(options));
  const ScanRange range = ResolveScan(options);
  raftkv::MutexLock lock(&mu_);
  ScanPage page;
  for (auto it = state_->data.lower_bound(range.lower);
       it != state_->data.end() && range.Contains(it->first); ++it) {
    if (page.items.size() == options.limit) {
      page.more = true;
      page.next_start = it->first;
      break;
    }
    page.items.push_back({it->first, options.keys_only ? "" : it->second});
  }
  return page;
}

raft::LogIndex MemoryKvStore::AppliedIndex() const {
  raftkv::MutexLock lock(&mu_);
  return state_->applied_index;
}

absl::StatusOr<std::vector<SessionRecord>> MemoryKvStore::LoadSessions() const {
  raftkv::MutexLock lock(&mu_);
  std::vector<SessionRecord> sessions;
  for (const auto& [id, state] : state_->sessions)
    sessions.push_back({id, state});
  return sessions;
}

absl::Status MemoryKvStore::Apply(const KvBatch& batch) {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(write_error_);
  if (batch.applied_index <= state_->applied_index) {
    return absl::FailedPreconditionError(absl::StrCat(
        "batch for log index ", batch.applied_index,
        " is not after the applied index ", state_->applied_index));
  }
  // Copy on write when a snapshot reader still holds the current state.
  if (state_.use_count() > 1) state_ = std::make_shared<State>(*state_);
  for (const KvMutation& m : batch.mutations) {
    if (m.kind == KvMutation::Kind::kPut) {
      state_->data.insert_or_assign(m.key, m.value);
    } else {
      auto it = state_->data.find(m.key);
      if (it != state_->data.end()) state_->data.erase(it);
    }
  }
  for (const SessionRecord& s : batch.session_puts)
    state_->sessions[s.client_id] = s.state;
  for (uint64_t id : batch.session_deletes) state_->sessions.erase(id);
  state_->applied_index = batch.applied_index;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<KvSnapshotReader>> MemoryKvStore::ReadSnapshot()
    const {
  raftkv::MutexLock lock(&mu_);
  return std::make_unique<MemorySnapshotReader>(
      std::shared_ptr<const State>(state_));
}

absl::Status MemoryKvStore::RestoreSnapshot(SnapshotChunkSource next_chunk) {
  auto restored = std::make_shared<State>();
  SnapshotDecoder decoder;
  auto on_record = [&](const SnapshotRecord& record) {
    if (record.kind == SnapshotRecord::Kind::kKeyValue) {
      restored->data.emplace(std::string(record.key),
                             std::string(record.value));
    } else {
      absl::string_view id = record.key;
      restored->sessions[*GetBigEndian64(&id)] = std::string(record.value);
    }
    return absl::OkStatus();
  };
  while (true) {
    ASSIGN_OR_RETURN(std::optional<std::string> chunk, next_chunk());
    if (!chunk.has_value()) break;
    RETURN_IF_ERROR(decoder.Feed(*chunk, on_record));
  }
  RETURN_IF_ERROR(decoder.Finish());
  restored->applied_index = decoder.applied_index();
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(write_error_);
  state_ = std::move(restored);
  synced_ = state_;
  return absl::OkStatus();
}

absl::Status MemoryKvStore::ApplyBatches(absl::Span<const KvBatch> batches) {
  {
    raftkv::MutexLock lock(&mu_);
    RETURN_IF_ERROR(write_error_);
    RETURN_IF_ERROR(ValidateBatchOrder(batches, state_->applied_index));
  }
  for (const KvBatch& batch : batches) {
    absl::Status status =
        Apply(batch);  // validated above, so all of them apply
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status MemoryKvStore::Sync() {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(write_error_);
  synced_ = state_;
  return absl::OkStatus();
}

void MemoryKvStore::LoseUnsyncedWrites() {
  raftkv::MutexLock lock(&mu_);
  state_ = synced_;
}

void MemoryKvStore::InjectWriteError(absl::Status error) {
  raftkv::MutexLock lock(&mu_);
  write_error_ = std::move(error);
}

}  // namespace raftkv::storage

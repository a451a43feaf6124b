#include "kv/restore.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "kv/state_machine.h"
#include "raft/status_macros.h"
#include "storage/codec.h"
#include "storage/file_util.h"
#include "storage/kv_snapshot_codec.h"
#include "storage/leveldb_kv_store.h"
#include "storage/raft_log.h"

namespace raftkv::kv {
namespace {

constexpr uint64_t kMembersRecord = StateMachine::kMembersRecord;

// Pulls the backup's stream and hands it on re-encoded, with the members
// record replaced by the new cluster's.
class RewrittenStream {
 public:
  RewrittenStream(FILE* file, uint64_t bytes, raft::LogIndex index,
                  std::string members_state)
      : file_(file),
        left_(bytes),
        encoder_(index),
        members_state_(std::move(members_state)) {}

  absl::StatusOr<std::optional<std::string>> Next() {
    if (done_) return std::nullopt;
    std::string members_key;
    storage::PutBigEndian64(&members_key, kMembersRecord);
    while (left_ > 0 && encoder_.buffered_bytes() < (1 << 20)) {
      std::string chunk(std::min<uint64_t>(left_, 1 << 20), '\0');
      if (fread(chunk.data(), 1, chunk.size(), file_) != chunk.size())
        return absl::DataLossError("the backup changed while restoring");
      left_ -= chunk.size();
      RETURN_IF_ERROR(
          decoder_.Feed(chunk, [&](const storage::SnapshotRecord& r) {
            if (r.kind == storage::SnapshotRecord::Kind::kKeyValue) {
              encoder_.AddKeyValue(r.key, r.value);
            } else if (r.key != members_key) {
              absl::string_view key = r.key;
              std::optional<uint64_t> id = storage::GetBigEndian64(&key);
              if (!id.has_value())
                return absl::DataLossError("bad session key");
              encoder_.AddSession(*id, r.value);
            }
            return absl::OkStatus();
          }));
    }
    if (left_ == 0) {
      RETURN_IF_ERROR(decoder_.Finish());
      encoder_.AddSession(kMembersRecord, members_state_);
      encoder_.Finish();
      done_ = true;
    }
    return encoder_.TakeChunk();
  }

 private:
  FILE* const file_;
  uint64_t left_;
  storage::SnapshotDecoder decoder_;
  storage::SnapshotEncoder encoder_;
  const std::string members_state_;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<NodeIdentity> RestoreBackup(const RestoreOptions& options,
                                           BackupInfo* info_out) {
  ASSIGN_OR_RETURN(BackupInfo info, ReadBackup(options.file));
  if (info_out != nullptr) *info_out = info;
  if (options.members.count(options.node_id) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cluster does not list --node-id=", options.node_id));
  }
  std::error_code error;
  if (std::filesystem::exists(options.data_dir, error) &&
      !std::filesystem::is_empty(options.data_dir, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--data-dir=", options.data_dir,
                     " is not empty; restore into a new directory"));
  }
  NodeIdentity identity;
  identity.cluster_id = ClusterIdOf(options.members, options.cluster_token);
  identity.node_id = options.node_id;
  identity.founder = true;
  identity.initial_members = options.members;
  if (identity.cluster_id == info.cluster_id) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the restored cluster would have the id of the one backed up (",
        ClusterIdText(info.cluster_id),
        "): give it a new --cluster-token so that the two are never confused"));
  }

  // The configuration: the new members, all voters.
  raft::ConfState conf;
  for (const auto& [id, address] : options.members) conf.voters.push_back(id);

  RETURN_IF_ERROR(storage::MakeDirectories(options.data_dir));
  {
    ASSIGN_OR_RETURN(auto store,
                     storage::LevelDbKvStore::Open(options.data_dir + "/kv"));
    FILE* file = fopen(options.file.c_str(), "rb");
    if (file == nullptr ||
        fseek(file, static_cast<long>(info.stream_offset), SEEK_SET) != 0) {
      if (file != nullptr) fclose(file);
      return absl::UnavailableError(absl::StrCat("cannot read ", options.file));
    }
    RewrittenStream stream(
        file, info.stream_bytes, info.index,
        StateMachine::EncodeMembersState(conf, options.members));
    absl::Status restored =
        store->RestoreSnapshot([&] { return stream.Next(); });
    fclose(file);
    RETURN_IF_ERROR(restored);
  }
  {
    ASSIGN_OR_RETURN(
        auto log, storage::OpenRaftLog(options.data_dir));
    // A new log after the backup's index, in a term at least the backup's.
    const raft::Term term = std::max<raft::Term>(info.term, 1);
    RETURN_IF_ERROR(log->InstallSnapshot({info.index, term, conf}));
    RETURN_IF_ERROR(
        log->Save(raft::HardState{term, raft::kNoNode, info.index}, {}));
  }
  RETURN_IF_ERROR(WriteIdentity(options.data_dir, identity));
  return identity;
}

}  // namespace raftkv::kv

#include "storage/raft_log.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "raft/status_macros.h"
#include "storage/file_util.h"
#include "storage/leveldb_log_storage.h"

namespace raftkv::storage {
namespace {

namespace fs = std::filesystem;

// Entries copied per frame while migrating.
constexpr uint64_t kMigrationBatchBytes = 4 << 20;

absl::Status FilesystemError(const std::error_code& error,
                             absl::string_view what, const std::string& path) {
  return PosixError(error.value(), what, path);
}

absl::Status CopyLog(const LevelDbLogStorage& from, WalLogStorage* to) {
  const raft::InitialState state = from.GetInitialState();
  if (state.snapshot.index > 0 || !state.snapshot.conf_state.voters.empty())
    RETURN_IF_ERROR(to->InstallSnapshot(state.snapshot));
  const raft::LogIndex last = from.LastIndex();
  for (raft::LogIndex next = from.FirstIndex(); next <= last;) {
    ASSIGN_OR_RETURN(std::vector<raft::Entry> entries,
                     from.Entries(next, last + 1, kMigrationBatchBytes));
    RETURN_IF_ERROR(to->Save(std::nullopt, entries));
    next += entries.size();
  }
  if (!state.hard_state.IsEmpty())
    RETURN_IF_ERROR(to->Save(state.hard_state, {}));
  return absl::OkStatus();
}

// Copies <data_dir>/raft (LevelDB) to <data_dir>/raft-log.
absl::Status Migrate(const std::string& data_dir, const std::string& old_dir,
                     const std::string& new_dir,
                     const WalLogStorageOptions& options) {
  const std::string copy = new_dir + ".migrating";
  std::error_code error;
  fs::remove_all(copy, error);  // a copy an earlier crash cut short
  if (error) return FilesystemError(error, "removing", copy);
  {
    LevelDbLogStorageOptions old_options;
    old_options.leveldb.base_env = options.env;
    ASSIGN_OR_RETURN(std::unique_ptr<LevelDbLogStorage> from,
                     LevelDbLogStorage::Open(old_dir, old_options));
    ASSIGN_OR_RETURN(std::unique_ptr<WalLogStorage> to,
                     WalLogStorage::Open(copy, options));
    RETURN_IF_ERROR(CopyLog(*from, to.get()));
  }
  fs::rename(copy, new_dir, error);
  if (error) return FilesystemError(error, "renaming", copy);
  return SyncDirectory(data_dir);
}

}  // namespace

absl::StatusOr<std::unique_ptr<WalLogStorage>> OpenRaftLog(
    const std::string& data_dir, const WalLogStorageOptions& options) {
  const std::string old_dir = data_dir + "/raft";
  const std::string new_dir = data_dir + kRaftLogDirectory;
  std::error_code error;
  if (fs::exists(old_dir, error)) {
    if (!fs::exists(new_dir, error))
      RETURN_IF_ERROR(Migrate(data_dir, old_dir, new_dir, options));
    fs::remove_all(old_dir, error);
    if (error) return FilesystemError(error, "removing", old_dir);
    RETURN_IF_ERROR(SyncDirectory(data_dir));
  }
  return WalLogStorage::Open(new_dir, options);
}

}  // namespace raftkv::storage

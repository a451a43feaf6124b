// OpenRaftLog: a node's Raft log in its data directory, moving a data
// directory written by an older kvnode onto the write-ahead log.
//
// The log lives in <data_dir>/raft-log (WalLogStorage). Older kvnodes kept it
// in LevelDB, in <data_dir>/raft; the first open copies that log (snapshot
// metadata, entries, hard state) into <data_dir>/raft-log.migrating, syncs it,
// renames it to raft-log and only then removes the old directory, so a crash
// at any point leaves either the old log whole (and the copy is redone) or the
// new one whole (and the old one is removed).
//
// Thread safety: call once per data directory, before the node starts.
#ifndef RAFTKV_STORAGE_RAFT_LOG_H_
#define RAFTKV_STORAGE_RAFT_LOG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/wal_log_storage.h"

namespace raftkv::storage {

inline constexpr char kRaftLogDirectory[] = "/raft-log";

absl::StatusOr<std::unique_ptr<WalLogStorage>> OpenRaftLog(
    const std::string& data_dir, const WalLogStorageOptions& options = {});

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_RAFT_LOG_H_

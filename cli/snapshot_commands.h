// kvnode snapshot save | status | restore: backup and restore
// (kv/backup_file.h, kv/restore.h). Thread safety: runs on the calling thread.
#ifndef RAFTKV_CLI_SNAPSHOT_COMMANDS_H_
#define RAFTKV_CLI_SNAPSHOT_COMMANDS_H_

#include <string>
#include <vector>

#include "cli/commands.h"

namespace raftkv::cli {

struct SnapshotFlags {
  Output output = Output::kSimple;
  // restore only
  std::string data_dir;
  uint64_t node_id = 0;
  std::string cluster;  // ID=HOST:PORT,...
  std::string cluster_token;
};

// words[0] == "snapshot". `client` is needed by `save` only (may be null
// otherwise).
int RunSnapshotCommand(const std::vector<std::string>& words,
                       const SnapshotFlags& flags, kv::Client* client);

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_SNAPSHOT_COMMANDS_H_

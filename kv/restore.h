// Restore: seeds the data directory of one member of a brand-new cluster from
// a backup file (kv/backup_file.h), as `kvnode snapshot restore` does on each
// new node. The directory gets the backed-up state machine at the backup's
// index, a Raft log that starts right after it with the new members as its
// configuration (their addresses replace the old ones in the state machine),
// and an identity of its own: a new cluster id, so that a node of the cluster
// that was backed up can never talk to the restored one.
//
// Thread safety: a function of files. Invariant: nothing is written unless
// the whole backup verified first; the directory must be new or empty.
#ifndef RAFTKV_KV_RESTORE_H_
#define RAFTKV_KV_RESTORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "kv/backup_file.h"
#include "kv/identity.h"

namespace raftkv::kv {

struct RestoreOptions {
  std::string file;
  std::string data_dir;
  raft::NodeId node_id = raft::kNoNode;
  MemberAddresses members;  // the new cluster's, as in --cluster
  std::string cluster_token = "raftkv";
};

absl::StatusOr<NodeIdentity> RestoreBackup(const RestoreOptions& options,
                                           BackupInfo* info_out = nullptr);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_RESTORE_H_

// NodeIdentity: what a data directory belongs to: its cluster's id, its node
// id, and the members it first knew (the --cluster of the bootstrap, or the
// members a joining node was told). Written once, atomically and synced, when
// a node bootstraps or joins; read at every start, so that a node restarted
// with flags that disagree with its data is refused (exit 2) instead of
// silently joining the wrong cluster or identity.
//
// Thread safety: values and functions of files. Invariant: cluster_id and
// node_id are positive.
#ifndef RAFTKV_KV_IDENTITY_H_
#define RAFTKV_KV_IDENTITY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "kv/members.h"
#include "raft/types.h"

namespace raftkv::kv {

struct NodeIdentity {
  uint64_t cluster_id = 0;
  raft::NodeId node_id = raft::kNoNode;
  // Bootstrapped the cluster: its log starts after the initial members'
  // configuration. A node that joined starts with none.
  bool founder = false;
  MemberAddresses initial_members;
};

// nullopt when `data_dir` has no identity yet; data loss when it is corrupt.
absl::StatusOr<std::optional<NodeIdentity>> ReadIdentity(
    const std::string& data_dir);
absl::Status WriteIdentity(const std::string& data_dir,
                           const NodeIdentity& identity);

// The cluster id in the form operators see: 16 hex digits.
std::string ClusterIdText(uint64_t cluster_id);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_IDENTITY_H_

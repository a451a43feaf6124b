// Members: the address of every cluster member, as the node keeps it in the
// context of each membership record (raft/confchange.h) and in the state
// machine, so that a node learns its peers' addresses from the log, a
// snapshot, or (joining) the answer of a member, never from flags after
// bootstrap.
//
// Thread safety: values and pure functions. Invariant: ids are positive;
// an address is host:port.
#ifndef RAFTKV_KV_MEMBERS_H_
#define RAFTKV_KV_MEMBERS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "raft/types.h"

namespace raftkv::kv {

using MemberAddresses = std::map<raft::NodeId, std::string>;

// The addresses in `addresses` of the members of `conf`.
MemberAddresses MembersIn(const MemberAddresses& addresses,
                          const raft::ConfState& conf);

std::string EncodeMembers(const MemberAddresses& members);
// Data loss error when `data` is not what EncodeMembers wrote.
absl::StatusOr<MemberAddresses> DecodeMembers(absl::string_view data);

// The cluster id of a cluster bootstrapped with `members` and `token`: the
// same on every node that bootstraps with the same member ids and
// --cluster-token, different for a different member set or token. Addresses
// are left out: each node may reach its peers by its own route (tests put
// proxies between nodes this way).
// Parses "1=127.0.0.1:7001,2=127.0.0.1:7002" (ids positive and distinct).
absl::StatusOr<std::map<raft::NodeId, std::string>> ParseCluster(
    const std::string& spec);

uint64_t ClusterIdOf(const MemberAddresses& members, absl::string_view token);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_MEMBERS_H_

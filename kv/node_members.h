// The membership face of a kvnode's RPC service: the members view it answers
// with, and the checks a change request passes before it reaches the driver
// (node_service.cc calls these; nothing here touches the network).
//
// Thread safety: loop thread only, like the runtime.
#ifndef RAFTKV_KV_NODE_MEMBERS_H_
#define RAFTKV_KV_NODE_MEMBERS_H_

#include <optional>
#include <vector>

#include "kv/node_runtime.h"
#include "net/kv.capnp.h"
#include "raft/confchange.h"

namespace raftkv::kv {

// This node's view of the configuration in force, with each member's
// progress when this node leads.
void FillMembership(const NodeRuntime& runtime,
                    net::wire::Membership::Builder out);

// A change request as steps plus the addresses of the nodes it adds, or the
// first problem with it (kInvalidArgument, naming the step).
struct MemberChange {
  std::vector<raft::ConfChangeStep> steps;
  MemberAddresses added;
};
std::optional<Outcome> ParseMemberChange(
    const NodeRuntime& runtime,
    capnp::List<net::wire::MemberStep>::Reader steps, MemberChange* out);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_NODE_MEMBERS_H_

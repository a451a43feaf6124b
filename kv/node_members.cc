#include "kv/node_members.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace raftkv::kv {
void FillMembership(const NodeRuntime& runtime,
                    net::wire::Membership::Builder out) {
  const raft::Core& core = runtime.core();
  const raft::ConfState& conf = core.conf_state();
  out.setClusterId(runtime.cluster_id());
  out.setNodeId(core.id());
  out.setLeaderId(core.leader());
  out.setJoint(conf.joint());
  out.setLastIndex(core.log().LastIndex());
  const std::vector<raft::NodeId> ids = raft::MembersOf(conf);
  auto members = out.initMembers(static_cast<unsigned>(ids.size()));
  for (size_t i = 0; i < ids.size(); ++i) {
    const raft::NodeId id = ids[i];
    auto m = members[static_cast<unsigned>(i)];
    m.setId(id);
    m.setAddress(runtime.driver().AddressOf(id));
    const bool incoming = std::find(conf.voters.begin(), conf.voters.end(),
                                    id) != conf.voters.end();
    m.setSuffrage(incoming                      ? "voter"
                  : raft::IsLearnerIn(conf, id) ? "learner"
                                                : "outgoing");
    const raft::Progress* progress = core.progress(id);
    if (core.role() == raft::Role::kLeader && progress != nullptr) {
      m.setHasProgress(true);
      m.setMatch(progress->match());
      m.setLag(core.log().LastIndex() -
               std::min(progress->match(), core.log().LastIndex()));
    }
  }
}

std::optional<Outcome> ParseMemberChange(
    const NodeRuntime& runtime,
    capnp::List<net::wire::MemberStep>::Reader steps, MemberChange* out) {
  if (steps.size() == 0) return Invalid("a membership change needs a step");
  if (steps.size() > 8) {
    return Invalid(absl::StrCat("a membership change has at most 8 steps, got ",
                                steps.size()));
  }
  const MemberAddresses& members = runtime.driver().members();
  for (auto step : steps) {
    if (step.getType() >
        static_cast<uint8_t>(raft::ConfChangeType::kRemoveNode))
      return Invalid(absl::StrCat("unknown membership step ", step.getType()));
    const auto type = static_cast<raft::ConfChangeType>(step.getType());
    const raft::NodeId id = step.getNodeId();
    if (id == raft::kNoNode) return Invalid("node ids must be positive");
    out->steps.push_back({type, id});
    if (type != raft::ConfChangeType::kAddVoter &&
        type != raft::ConfChangeType::kAddLearner) {
      continue;
    }
    const std::string address = step.getAddress();
    if (address.empty() || address.find(':') == std::string::npos ||
        address.size() > 255) {
      return Invalid(absl::StrCat(
          raft::ConfChangeTypeName(type), " ", id,
          " needs the address the cluster reaches it at, as HOST:PORT"));
    }
    for (const auto& [member, member_address] : members) {
      if (member_address == address && member != id) {
        return Invalid(absl::StrCat("address ", address, " is node ", member,
                                    "'s; give node ", id, " its own"));
      }
    }
    out->added[id] = address;
  }
  return std::nullopt;
}

}  // namespace raftkv::kv

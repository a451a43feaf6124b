// Client: membership and leadership commands (kvnode member ..., move-leader).
#include "kv/client_impl.h"

namespace raftkv::kv {

using client_internal::CallAt;
using client_internal::ToStatus;

namespace {

Membership FromWire(net::wire::Membership::Reader in) {
  Membership out;
  out.cluster_id = in.getClusterId();
  out.node_id = in.getNodeId();
  out.leader = in.getLeaderId();
  out.joint = in.getJoint();
  out.last_index = in.getLastIndex();
  for (auto m : in.getMembers()) {
    out.members.push_back(MemberInfo{m.getId(), m.getAddress(), m.getSuffrage(),
                                     m.getHasProgress(), m.getMatch(),
                                     m.getLag()});
  }
  return out;
}

}  // namespace

namespace {

// The leader's view (through redirections), or with `address` that node's.
absl::StatusOr<Membership> AskMembers(Client::Impl& impl,
                                      const std::string* address) {
  Membership membership;
  auto attempt = [&](KvService::Client& kv) {
    auto request = kv.membersRequest();
    request.setAnyNode(address != nullptr);
    return request.send().then([&](auto response) {
      membership = FromWire(response.getMembership());
      return Decode(response.getResult());
    });
  };
  auto reply =
      address == nullptr ? impl.Call(attempt) : CallAt(impl, *address, attempt);
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return membership;
}

}  // namespace

absl::StatusOr<Membership> Client::Members() {
  return AskMembers(*impl_, nullptr);
}

absl::StatusOr<Membership> Client::MembersAt(const std::string& address) {
  return AskMembers(*impl_, &address);
}

absl::Status Client::ChangeMembership(const std::vector<MemberStep>& steps) {
  auto reply = impl_->Call(
      [&](KvService::Client& kv) {
        auto request = kv.changeMembershipRequest();
        auto list = request.initSteps(static_cast<unsigned>(steps.size()));
        for (size_t i = 0; i < steps.size(); ++i) {
          auto step = list[static_cast<unsigned>(i)];
          step.setType(static_cast<uint8_t>(steps[i].type));
          step.setNodeId(steps[i].id);
          step.setAddress(steps[i].address);
        }
        return request.send().then(
            [](auto response) { return Decode(response.getResult()); });
      },
      /*not_idempotent=*/true);
  if (!reply.ok()) return reply.status();
  return ToStatus(*reply);
}

absl::Status Client::MoveLeader(raft::NodeId id) {
  auto reply = impl_->Call([&](KvService::Client& kv) {
    auto request = kv.moveLeaderRequest();
    request.setNodeId(id);
    return request.send().then(
        [](auto response) { return Decode(response.getResult()); });
  });
  if (!reply.ok()) return reply.status();
  return ToStatus(*reply);
}

}  // namespace raftkv::kv

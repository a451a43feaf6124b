// NodeDriver, membership: proposing changes and keeping the member addresses
// in step with the configuration in force.
#include "absl/strings/str_cat.h"
#include "kv/driver.h"

namespace raftkv::kv {

void NodeDriver::ChangeMembership(std::vector<raft::ConfChangeStep> steps,
                                  const MemberAddresses& added, Reply reply) {
  if (stopped_ || !failure_.ok())
    return reply(Unavailable("node is shutting down"));
  if (role_ != raft::Role::kLeader) return reply(NotLeader());
  // The record carries the address of every member of the new configuration
  // (and of the nodes it removes: while joint they are still voters; readers
  // keep only the members of the record's configuration).
  MemberAddresses next = members_;
  for (const raft::ConfChangeStep& step : steps) {
    if (step.type == raft::ConfChangeType::kAddVoter ||
        step.type == raft::ConfChangeType::kAddLearner) {
      auto it = added.find(step.node);
      if (it != added.end()) next[step.node] = it->second;
    }
  }
  absl::StatusOr<raft::LogIndex> index =
      core_->ProposeConfChange(std::move(steps), EncodeMembers(next));
  if (!index.ok()) {
    const absl::Status& status = index.status();
    if (raft::IsNotLeader(status)) return reply(NotLeader());
    if (absl::IsUnavailable(status)) {
      // Refused before anything was proposed, for a moment (leadership is
      // moving, or this leader is new): "go elsewhere or come back" lets the
      // client retry a request it must otherwise never repeat.
      return reply(NotLeader(std::string(status.message())));
    }
    const Code code = absl::IsInvalidArgument(status) ? Code::kInvalidArgument
                      : absl::IsFailedPrecondition(status)
                          ? Code::kFailedPrecondition
                          : Code::kUnavailable;
    return reply(Outcome{code, std::string(status.message()), std::nullopt});
  }
  // Accepted: from here on "not the leader" would make a client send the
  // change again, which must not happen; it may still take effect.
  Reply once = [reply = std::move(reply)](Outcome result) {
    if (result.code == Code::kNotLeader) {
      result = Unavailable(
          "leadership changed before the change committed; it may still take "
          "effect: see kvnode member list");
    }
    reply(std::move(result));
  };
  pending_writes_[*index] = PendingWrite{
      core_->term(), ticks_ + options_.request_timeout_ticks, std::move(once)};
  Process();
}

std::string NodeDriver::ClientAddressOf(raft::NodeId id) const {
  auto it = client_addresses_.find(id);
  return it != client_addresses_.end() ? it->second : AddressOf(id);
}

std::string NodeDriver::AddressOf(raft::NodeId id) const {
  auto it = members_.find(id);
  return it == members_.end() ? "" : it->second;
}

void NodeDriver::LearnPeerAddress(raft::NodeId id, const std::string& address) {
  if (id == options_.id || address.empty()) return;
  auto [it, inserted] = learned_.try_emplace(id, address);
  if (!inserted) {
    if (it->second == address) return;
    it->second = address;
  }
  refreshed_ = false;  // an input of RefreshMembers changed
  RefreshMembers();
}

void NodeDriver::RefreshMembers() {
  // The newest record in the log first: its members are the ones to talk to
  // from the moment it is appended. Its context is empty only for the
  // configuration of a snapshot, whose addresses the state machine holds.
  const std::string& context = core_->conf_context();
  // Called after every Ready: nothing to do unless an input changed.
  std::vector<raft::NodeId> departing = core_->departing();
  if (refreshed_ && context == refreshed_context_ &&
      machine_->members_version() == refreshed_version_ &&
      departing == refreshed_departing_) {
    return;
  }
  refreshed_ = true;
  refreshed_context_ = context;
  refreshed_version_ = machine_->members_version();
  refreshed_departing_ = departing;
  MemberAddresses next;
  if (!context.empty()) {
    absl::StatusOr<MemberAddresses> decoded = DecodeMembers(context);
    if (!decoded.ok()) return;  // the state machine refuses it when applied
    next = MembersIn(*decoded, core_->conf_state());
  } else if (!machine_->applied_members().empty()) {
    next = machine_->applied_members();
  } else {
    next = options_.initial_members;
  }
  members_ = std::move(next);
  // Peers to talk to: the members in force, and until a removal is applied
  // also the members it removes (they may still lead, and must get our
  // acknowledgements of the very record that removes them).
  MemberAddresses peers = members_;
  const MemberAddresses& applied = machine_->applied_members().empty()
                                       ? options_.initial_members
                                       : machine_->applied_members();
  for (const auto& [id, address] : applied) peers.try_emplace(id, address);
  // And the nodes that told us where they listen (a joining node replaying
  // old records that do not list its leader, a voter behind on the log that
  // a newer member asks for its vote: both found by the simulator).
  for (const auto& [id, address] : learned_) peers.try_emplace(id, address);
  // And removed nodes the leader still tells that they were removed.
  for (raft::NodeId id : departing) {
    auto it = dialed_.find(id);
    if (it != dialed_.end()) peers.try_emplace(id, it->second);
  }
  if (peers == dialed_) return;
  dialed_ = std::move(peers);
  if (options_.on_members_changed) options_.on_members_changed(dialed_);
}

}  // namespace raftkv::kv

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
  // The record carries the address of every member of the new configuration.
  MemberAddresses next = members_;
  for (const raft::ConfChangeStep& step : steps) {
    if (step.type == raft::ConfChangeType::kRemoveNode) next.erase(step.node);
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
    const Code code = absl::IsInvalidArgument(status)    ? Code::kInvalidArgument
                      : absl::IsFailedPrecondition(status) ? Code::kFailedPrecondition
                                                           : Code::kUnavailable;
    return reply(CommandResult{code, std::string(status.message()),
                               std::nullopt});
  }
  pending_writes_[*index] = PendingWrite{
      core_->term(), ticks_ + options_.request_timeout_ticks, std::move(reply)};
  Process();
}

std::string NodeDriver::AddressOf(raft::NodeId id) const {
  auto it = members_.find(id);
  return it == members_.end() ? "" : it->second;
}

void NodeDriver::RefreshMembers() {
  // The newest record in the log first: its members are the ones to talk to
  // from the moment it is appended. Its context is empty only for the
  // configuration of a snapshot, whose addresses the state machine holds.
  const std::string& context = core_->conf_context();
  MemberAddresses next;
  if (!context.empty()) {
    if (context == members_context_) return;
    absl::StatusOr<MemberAddresses> decoded = DecodeMembers(context);
    if (!decoded.ok()) return;  // the state machine refuses it when applied
    next = std::move(*decoded);
  } else if (!machine_->applied_members().empty()) {
    next = machine_->applied_members();
  } else {
    next = options_.initial_members;
  }
  members_context_ = context;
  if (next == members_) return;
  members_ = std::move(next);
  if (options_.on_members_changed) options_.on_members_changed(members_);
}

}  // namespace raftkv::kv

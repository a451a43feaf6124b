#include "raft/quorum.h"

#include <algorithm>

namespace raftkv::raft {

MajorityConfig::MajorityConfig(std::vector<NodeId> ids) : ids_(std::move(ids)) {
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

bool MajorityConfig::Contains(NodeId id) const {
  return std::binary_search(ids_.begin(), ids_.end(), id);
}

LogIndex MajorityConfig::CommittedIndex(
    const std::function<LogIndex(NodeId)>& acked) const {
  if (ids_.empty()) return std::numeric_limits<LogIndex>::max();
  std::vector<LogIndex> matches;
  matches.reserve(ids_.size());
  for (NodeId id : ids_) matches.push_back(acked(id));
  // The QuorumSize()-th highest acknowledgement is held by a majority.
  std::nth_element(
      matches.begin(),
      matches.begin() + static_cast<std::ptrdiff_t>(QuorumSize() - 1),
      matches.end(), std::greater<>());
  return matches[QuorumSize() - 1];
}

VoteResult MajorityConfig::Vote(
    const std::function<std::optional<bool>(NodeId)>& vote) const {
  if (ids_.empty()) return VoteResult::kWon;
  size_t yes = 0, missing = 0;
  for (NodeId id : ids_) {
    std::optional<bool> v = vote(id);
    if (!v.has_value()) {
      ++missing;
    } else if (*v) {
      ++yes;
    }
  }
  if (yes >= QuorumSize()) return VoteResult::kWon;
  if (yes + missing >= QuorumSize()) return VoteResult::kPending;
  return VoteResult::kLost;
}

JointConfig::JointConfig(const ConfState& conf)
    : incoming_(conf.voters), outgoing_(conf.voters_outgoing) {}

bool JointConfig::Contains(NodeId id) const {
  return incoming_.Contains(id) || outgoing_.Contains(id);
}

std::vector<NodeId> JointConfig::Voters() const {
  std::vector<NodeId> all;
  std::set_union(incoming_.ids().begin(), incoming_.ids().end(),
                 outgoing_.ids().begin(), outgoing_.ids().end(),
                 std::back_inserter(all));
  return all;
}

LogIndex JointConfig::CommittedIndex(
    const std::function<LogIndex(NodeId)>& acked) const {
  const LogIndex incoming = incoming_.CommittedIndex(acked);
#ifdef RAFTKV_MUTATION_JOINT_NEW_ONLY  // a deliberate bug, for mutation_test
  return incoming;
#else
  return std::min(incoming, outgoing_.CommittedIndex(acked));
#endif
}

VoteResult JointConfig::Vote(
    const std::function<std::optional<bool>(NodeId)>& vote) const {
  const VoteResult a = incoming_.Vote(vote);
  const VoteResult b = outgoing_.Vote(vote);
  if (a == VoteResult::kLost || b == VoteResult::kLost)
    return VoteResult::kLost;
  if (a == VoteResult::kWon && b == VoteResult::kWon) return VoteResult::kWon;
  return VoteResult::kPending;
}

bool JointConfig::IsQuorum(const std::function<bool(NodeId)>& yes) const {
  return Vote([&](NodeId id) -> std::optional<bool> { return yes(id); }) ==
         VoteResult::kWon;
}

}  // namespace raftkv::raft

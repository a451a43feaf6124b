#include "raft/tracker.h"

#include <algorithm>

#include "raft/confchange.h"

namespace raftkv::raft {

bool ProgressTracker::IsMember(NodeId id) const {
  return IsVoter(id) || IsLearnerIn(conf_, id);
}

void ProgressTracker::SetConf(const ConfState& conf, LogIndex next_index) {
  conf_ = conf;
  quorum_ = JointConfig(conf);
  if (progress_.empty()) return;
  const std::vector<NodeId> members = DropUntracked();
  for (NodeId id : members) {
    auto [it, inserted] = progress_.try_emplace(
        id, next_index, max_inflight_messages_, max_inflight_bytes_);
    if (inserted) it->second.set_recent_active(true);
  }
  for (auto it = votes_.begin(); it != votes_.end();) {
    it = IsVoter(it->first) ? std::next(it) : votes_.erase(it);
  }
}

void ProgressTracker::StartTracking(LogIndex next_index) {
  progress_.clear();
  departing_.clear();
  for (NodeId id : Tracked()) {
    auto it = progress_
                  .try_emplace(id, next_index, max_inflight_messages_,
                               max_inflight_bytes_)
                  .first;
    it->second.set_recent_active(true);
  }
}

std::vector<NodeId> ProgressTracker::Tracked() const {
  std::vector<NodeId> members = MembersOf(conf_);
  std::set<NodeId> ids(members.begin(), members.end());
  ids.insert(self_);
  ids.insert(departing_.begin(), departing_.end());
  return {ids.begin(), ids.end()};
}

void ProgressTracker::SetDeparting(std::set<NodeId> departing) {
  departing_ = std::move(departing);
  if (!progress_.empty()) DropUntracked();
}

std::vector<NodeId> ProgressTracker::DropUntracked() {
  const std::vector<NodeId> tracked = Tracked();
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (std::binary_search(tracked.begin(), tracked.end(), it->first)) {
      ++it;
    } else {
      it = progress_.erase(it);
    }
  }
  return tracked;
}

Progress* ProgressTracker::Find(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::Find(NodeId id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

LogIndex ProgressTracker::QuorumMatch() const {
  return quorum_.CommittedIndex([this](NodeId id) {
    const Progress* pr = Find(id);
    return pr == nullptr ? kNoIndex : pr->match();
  });
}

bool ProgressTracker::CheckQuorumActiveAndReset(NodeId self) {
  const bool active = quorum_.IsQuorum([&](NodeId id) {
    const Progress* pr = Find(id);
    return id == self || (pr != nullptr && pr->recent_active());
  });
  for (auto& [id, pr] : progress_) pr.set_recent_active(id == self);
  return active;
}

void ProgressTracker::RecordVote(NodeId id, bool granted) {
  if (IsVoter(id)) votes_.emplace(id, granted);
}

VoteResult ProgressTracker::TallyVotes() const {
  return quorum_.Vote([this](NodeId id) -> std::optional<bool> {
    auto it = votes_.find(id);
    if (it == votes_.end()) return std::nullopt;
    return it->second;
  });
}

bool ProgressTracker::IsQuorum(const std::set<NodeId>& acks) const {
  return quorum_.IsQuorum([&](NodeId id) { return acks.count(id) > 0; });
}

}  // namespace raftkv::raft

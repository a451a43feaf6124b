// Quorum: answers "is this enough?" for a majority configuration and for a
// joint one (a majority of the new voters AND a majority of the old, thesis
// §4.3). Every count in the core asks it: the commit index (§5.3, §5.4.2),
// election and pre-vote tallies (§5.2, thesis §9.6), ReadIndex rounds (thesis
// §6.4) and check-quorum (thesis §6.2). The layout follows the idea of
// etcd-io/raft's quorum/ package; the code is ours.
//
// Thread safety: values only. Invariants: a MajorityConfig's ids are sorted
// and unique; an empty MajorityConfig agrees to everything (so a joint
// configuration whose outgoing half is empty is just its incoming half), which
// is why a config with no voters at all can never be created by a change
// (confchange.h refuses it).
#ifndef RAFTKV_RAFT_QUORUM_H_
#define RAFTKV_RAFT_QUORUM_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"

namespace raftkv::raft {

enum class VoteResult : uint8_t { kPending, kLost, kWon };

class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::vector<NodeId> ids);

  const std::vector<NodeId>& ids() const { return ids_; }
  bool Contains(NodeId id) const;
  size_t size() const { return ids_.size(); }
  // Votes needed to win: floor(n / 2) + 1.
  size_t QuorumSize() const { return ids_.size() / 2 + 1; }

  // The highest index that a majority has acknowledged; `acked` gives each
  // voter's acknowledged index (kNoIndex if unknown). Empty config: the
  // maximum index, so that it never holds a joint commit back.
  LogIndex CommittedIndex(const std::function<LogIndex(NodeId)>& acked) const;
  // `vote` gives a voter's answer, or nullopt when it has not answered.
  VoteResult Vote(const std::function<std::optional<bool>(NodeId)>& vote) const;

 private:
  std::vector<NodeId> ids_;
};

// A joint configuration; `outgoing` is empty unless a joint change is in
// progress.
class JointConfig {
 public:
  JointConfig() = default;
  explicit JointConfig(const ConfState& conf);

  const MajorityConfig& incoming() const { return incoming_; }
  const MajorityConfig& outgoing() const { return outgoing_; }
  bool Contains(NodeId id) const;
  // Every voter of either half, sorted, each once.
  std::vector<NodeId> Voters() const;

  // The smaller of the two halves' committed indexes (§4.3: an entry is
  // committed in C_old,new only with majorities of both).
  LogIndex CommittedIndex(const std::function<LogIndex(NodeId)>& acked) const;
  // Won only if both halves won; lost if either lost.
  VoteResult Vote(const std::function<std::optional<bool>(NodeId)>& vote) const;
  // Whether the voters for which `yes` holds form a quorum.
  bool IsQuorum(const std::function<bool(NodeId)>& yes) const;

 private:
  MajorityConfig incoming_;
  MajorityConfig outgoing_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_QUORUM_H_

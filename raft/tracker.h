// ProgressTracker: the configuration a node is in, and what its leader knows
// about each member: replication progress, votes received, and whether each
// was heard from recently. Every "is it enough?" question goes through the
// configuration's JointConfig (quorum.h), so majority and joint
// configurations are counted by one rule (thesis §4.3).
//
// Thread safety: none; owned by the core. Invariants: while progress is
// tracked (a leader), it holds exactly one Progress per member of conf()
// (voters of both halves and learners) and one for the node itself, even when
// it is being removed (it still leads until the change commits, §4.2.2, but
// counts toward no quorum it is not part of); votes are only recorded for
// voters.
#ifndef RAFTKV_RAFT_TRACKER_H_
#define RAFTKV_RAFT_TRACKER_H_

#include <cstdint>
#include <map>
#include <set>

#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/types.h"

namespace raftkv::raft {

class ProgressTracker {
 public:
  ProgressTracker(NodeId self, uint64_t max_inflight_messages,
                  uint64_t max_inflight_bytes)
      : self_(self),
        max_inflight_messages_(max_inflight_messages),
        max_inflight_bytes_(max_inflight_bytes) {}

  const ConfState& conf() const { return conf_; }
  const JointConfig& quorum() const { return quorum_; }
  bool IsVoter(NodeId id) const { return quorum_.Contains(id); }
  bool IsMember(NodeId id) const;

  // Switches to `conf`. If progress is tracked, members that stay keep theirs,
  // new members start probing at `next_index`, and nodes that left are
  // forgotten.
  void SetConf(const ConfState& conf, LogIndex next_index);

  // Progress, for a leader. StartTracking gives every member a fresh one,
  // recently active, starting at `next_index`.
  void StartTracking(LogIndex next_index);
  // Nodes a configuration change removes keep their progress (they still get
  // the log, up to the record that removes them, and the commit index) until
  // SetDeparting no longer names them; they count toward no quorum.
  void SetDeparting(std::set<NodeId> departing);
  void StopTracking() {
    progress_.clear();
    departing_.clear();
  }
  std::map<NodeId, Progress>& progress() { return progress_; }
  const std::map<NodeId, Progress>& progress() const { return progress_; }
  Progress* Find(NodeId id);
  const Progress* Find(NodeId id) const;

  // The highest index acknowledged by a quorum, from progress match indexes.
  LogIndex QuorumMatch() const;
  // Whether the voters heard from since the last reset (plus `self`) form a
  // quorum; then marks everyone but `self` as not heard from (check-quorum,
  // thesis §6.2).
  bool CheckQuorumActiveAndReset(NodeId self);

  // Votes of an election (§5.2) or pre-vote (thesis §9.6).
  void ResetVotes() { votes_.clear(); }
  void RecordVote(NodeId id, bool granted);
  VoteResult TallyVotes() const;

  // Whether `acks` (for instance of a ReadIndex round) hold a quorum.
  bool IsQuorum(const std::set<NodeId>& acks) const;

 private:
  // The nodes that get a Progress: the members and self.
  std::vector<NodeId> Tracked() const;
  // Forgets the progress of nodes no longer tracked; returns Tracked().
  std::vector<NodeId> DropUntracked();

  NodeId self_;
  std::set<NodeId> departing_;
  uint64_t max_inflight_messages_;
  uint64_t max_inflight_bytes_;
  ConfState conf_;
  JointConfig quorum_;
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_TRACKER_H_

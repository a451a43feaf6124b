// SimMembership: the simulator's operator, who changes the cluster's members
// while the faults go on: adds learners and voters (new, empty nodes), promotes
// learners, removes voters, learners and the leader, and replaces a voter in
// one joint change (thesis §4.3), keeping between 1 and max_members members.
// Nodes that a committed change removed keep running for a while (they must
// not disrupt the cluster, thesis §4.2.3) and are then retired for good.
//
// Thread safety: one simulation thread. Invariant: a node id is never reused.
#ifndef RAFTKV_TESTING_SIM_SIM_MEMBERSHIP_H_
#define RAFTKV_TESTING_SIM_SIM_MEMBERSHIP_H_

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>

#include "testing/sim/sim_node.h"

namespace raftkv::testing::sim {

struct MembershipStats {
  uint64_t proposed = 0;  // changes a leader accepted
  uint64_t refused = 0;   // changes a leader refused (one in flight, ...)
  uint64_t acknowledged = 0;
  uint64_t joint = 0;  // of the accepted, joint ones
  uint64_t removed_leader = 0;
  uint64_t retired = 0;    // removed nodes stopped for good
  size_t max_members = 0;  // the most members a configuration had
  size_t min_voters = 0;   // the fewest voters a configuration had
};

class SimMembership {
 public:
  struct Hooks {
    // The leader of the highest term among running nodes, or null.
    std::function<SimNode*()> leader;
    // Creates a node with a new id, empty storage and no configuration, and
    // starts it; returns its id, or 0 when no id is left.
    std::function<NodeId()> new_node;
    // Gives a new node's slot back when its change was refused at once.
    std::function<void(NodeId)> discard_node;
    // Stops a removed node for good.
    std::function<void(NodeId)> retire;
    std::function<void(const std::string&)> trace;
  };

  SimMembership(uint64_t seed, double rate, size_t max_members, Hooks hooks);

  // One microtick: maybe proposes a change; retires nodes whose removal is
  // committed and whose grace period is over.
  void Step(uint64_t now);
  const MembershipStats& stats() const { return stats_; }

 private:
  bool Chance(double p);
  void Propose(SimNode& leader);

  std::mt19937_64 rng_;
  double rate_;
  size_t max_members_;
  Hooks hooks_;
  uint64_t now_ = 0;
  MembershipStats stats_;
  // Removed nodes: id -> when they may be retired.
  std::map<NodeId, uint64_t> removed_;
};

}  // namespace raftkv::testing::sim

#endif  // RAFTKV_TESTING_SIM_SIM_MEMBERSHIP_H_

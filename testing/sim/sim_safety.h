// SimSafety: the simulator's cluster-wide Raft safety checks, fed by every
// durable log write, snapshot install and state machine apply of every node,
// and called after every step (Observe):
//   - log matching (§5.3, on a hash chain of every durable log);
//   - election safety (one leader per term, §5.2), leader completeness
//     (§5.4);
//   - state machine safety (every node applies the same change at each index,
//     §5.4.3), committed entries never lost, §5.4.2's commit rule;
//   - every newly committed entry durable on a quorum of the configuration(s)
//     in force in the leader's log (thesis §4.1, §4.3);
//   - every lease read (thesis §6.4.1): never stale, and served only while a
//     quorum still promises not to vote;
//   - each core's own CheckInvariants().
// The first violation is reported through `fail`, with the values that show
// it; later ones are ignored.
//
// Thread safety: one simulation thread.
#ifndef RAFTKV_TESTING_SIM_SIM_SAFETY_H_
#define RAFTKV_TESTING_SIM_SIM_SAFETY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "storage/kv_store.h"
#include "testing/sim/sim_node.h"

namespace raftkv::testing::sim {

class SimSafety {
 public:
  // `node(id)` is the node with id in [1, slots()].
  SimSafety(std::function<SimNode&(NodeId)> node, std::function<size_t()> slots,
            std::function<void(const std::string&)> fail);

  void OnDurableAppend(SimNode& node, absl::Span<const raft::Entry> entries);
  void OnDurableSnapshot(SimNode& node, const raft::SnapshotMetadata& meta);
  void OnApply(SimNode& node, const storage::KvBatch& batch);
  // After anything happened on `node`.
  void Observe(SimNode& node);

  LogIndex max_committed() const { return max_committed_; }
  uint64_t leaders_elected() const { return leaders_elected_; }

 private:
  void Fail(const std::string& what);
  void CheckCommitQuorum(SimNode& leader);
  void RecordCommitted(SimNode& node, const raft::Entry& e);
  void CheckLeaderCompleteness(SimNode& node);
  void CheckLeaseRead(SimNode& leader);
  // The first half of `conf` (its voters, then its outgoing voters) in which
  // fewer than a majority satisfy `holds`, with those that do.
  struct ShortHalf {
    const std::vector<NodeId>* half;
    std::vector<NodeId> holding;
  };
  static std::optional<ShortHalf> HalfWithoutAMajority(
      const raft::ConfState& conf, const std::function<bool(NodeId)>& holds);

  struct Committed {
    raft::Term term;
    std::string data;
    uint64_t chain;
    // The term of the node it was first seen committed on: the entry was
    // committed in this term or an earlier one.
    raft::Term seen_in_term;
  };

  std::function<SimNode&(NodeId)> node_;
  std::function<size_t()> slots_;
  std::function<void(const std::string&)> fail_;
  bool failed_ = false;
  uint64_t leaders_elected_ = 0;
  std::map<raft::Term, NodeId> leaders_;
  std::map<LogIndex, Committed> committed_;
  std::map<std::pair<LogIndex, raft::Term>, uint64_t> chains_;
  std::map<LogIndex, uint64_t> applied_;
  LogIndex max_committed_ = 0;
};

}  // namespace raftkv::testing::sim

#endif  // RAFTKV_TESTING_SIM_SIM_SAFETY_H_

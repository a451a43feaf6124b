// Membership changes as data: what an operator asks for (ConfChangeStep), the
// configuration it leads to (PlanChange), and the log record that carries it
// (ConfChangeRecord).
//
// A change of at most one voter is applied directly (thesis §4.1: any two
// majorities of configurations that differ by one voter overlap, provided the
// leader has committed an entry of its own term first, which the core checks);
// any larger change goes through the joint configuration C_old,new (thesis
// §4.3), which the leader leaves on its own once it commits. Records hold the
// whole resulting configuration, not the delta: a node that receives the log
// from index 1 (a node that joins later) learns the configuration from the
// first record it sees, and a follower whose log is truncated recomputes the
// configuration from what is left. `context` is opaque to the core: the node
// stores every member's address there, so addresses travel with the log.
//
// Thread safety: values and pure functions. Invariants of a planned
// configuration: at least one voter; voters, learners and outgoing voters
// sorted and unique; no learner is a voter of either half.
#ifndef RAFTKV_RAFT_CONFCHANGE_H_
#define RAFTKV_RAFT_CONFCHANGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "raft/types.h"

namespace raftkv::raft {

enum class ConfChangeType : uint8_t {
  kAddVoter = 0,        // a node that is not a member yet joins as a voter
  kAddLearner = 1,      // ... as a learner: it gets the log, never votes
  kPromoteLearner = 2,  // a learner becomes a voter
  kRemoveNode = 3,      // a voter or learner leaves
};

const char* ConfChangeTypeName(ConfChangeType type);

struct ConfChangeStep {
  ConfChangeType type = ConfChangeType::kAddVoter;
  NodeId node = kNoNode;
  friend bool operator==(const ConfChangeStep&,
                         const ConfChangeStep&) = default;
};

// The configuration that `steps`, applied together, lead to from `current`:
// simple when the voters change by at most one node, else joint. Invalid
// argument naming the step when a step does not fit (adding a member, promoting
// or removing a non-member, promoting a voter, one node twice, no voter left);
// failed precondition when `current` is joint.
absl::StatusOr<ConfState> PlanChange(const ConfState& current,
                                     absl::Span<const ConfChangeStep> steps);

// C_new of a joint configuration C_old,new.
ConfState LeaveJoint(const ConfState& joint);

// Every member of `conf`: voters of both halves and learners, sorted.
std::vector<NodeId> MembersOf(const ConfState& conf);
bool IsVoterIn(const ConfState& conf, NodeId id);
bool IsLearnerIn(const ConfState& conf, NodeId id);

// "voters 1,2,3 learners 4" or "joint voters 1,2,4 / 1,2,3".
std::string DescribeConf(const ConfState& conf);

// The data of an EntryType::kConfChange entry.
struct ConfChangeRecord {
  ConfState conf;                     // the configuration from this entry on
  std::vector<ConfChangeStep> steps;  // what was asked; empty: leaving joint
  std::string context;                // the node's member addresses
  friend bool operator==(const ConfChangeRecord&,
                         const ConfChangeRecord&) = default;
};

std::string EncodeConfChangeRecord(const ConfChangeRecord& record);
// Data loss error when `data` is not a record this version wrote.
absl::StatusOr<ConfChangeRecord> DecodeConfChangeRecord(absl::string_view data);

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_CONFCHANGE_H_

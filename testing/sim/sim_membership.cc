#include "testing/sim/sim_membership.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "raft/confchange.h"

namespace raftkv::testing::sim {

using raft::ConfChangeStep;
using raft::ConfChangeType;

SimMembership::SimMembership(uint64_t seed, double rate, size_t max_members,
                             Hooks hooks)
    : rng_(seed),
      rate_(rate),
      max_members_(max_members),
      hooks_(std::move(hooks)) {}

bool SimMembership::Chance(double p) {
  return static_cast<double>(rng_() % 1000000) < p * 1000000.0;
}

void SimMembership::Step(uint64_t now) {
  now_ = now;
  SimNode* leader = hooks_.leader();
  if (leader != nullptr) {
    const raft::Core& core = leader->driver->core();
    const raft::ConfState& conf = core.conf_state();
    const std::vector<NodeId> members = raft::MembersOf(conf);
    stats_.max_members = std::max(stats_.max_members, members.size());
    if (stats_.min_voters == 0 || conf.voters.size() < stats_.min_voters)
      stats_.min_voters = conf.voters.size();
    // Retire removed nodes once the leader's committed, simple configuration
    // no longer has them.
    const bool settled =
        !conf.joint() && core.conf_index() <= core.log().committed();
    for (auto it = removed_.begin(); it != removed_.end();) {
      const bool member =
          std::find(members.begin(), members.end(), it->first) != members.end();
      if (settled && !member && now >= it->second) {
        ++stats_.retired;
        hooks_.retire(it->first);
        it = removed_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (leader != nullptr && Chance(rate_)) Propose(*leader);
}

void SimMembership::Propose(SimNode& leader) {
  const raft::ConfState conf = leader.driver->core().conf_state();
  const std::vector<NodeId> members = raft::MembersOf(conf);
  const bool room = members.size() < max_members_;
  auto pick = [this](const std::vector<NodeId>& ids) {
    return ids[rng_() % ids.size()];
  };
  std::vector<ConfChangeStep> steps;
  NodeId fresh = 0;
  switch (rng_() % 7) {
    case 0:  // add a learner
    case 1:
      if (room && (fresh = hooks_.new_node()) != 0)
        steps = {{ConfChangeType::kAddLearner, fresh}};
      break;
    case 2:  // promote a learner
      if (!conf.learners.empty())
        steps = {{ConfChangeType::kPromoteLearner, pick(conf.learners)}};
      break;
    case 3:  // add a voter directly
      if (room && (fresh = hooks_.new_node()) != 0)
        steps = {{ConfChangeType::kAddVoter, fresh}};
      break;
    case 4: {  // remove a member (perhaps the leader)
      std::vector<NodeId> removable = conf.learners;
      if (conf.voters.size() > 1)
        removable.insert(removable.end(), conf.voters.begin(),
                         conf.voters.end());
      if (!removable.empty())
        steps = {{ConfChangeType::kRemoveNode, pick(removable)}};
      break;
    }
    case 5:  // replace a voter by a new node: joint
      if (room && !conf.voters.empty() && (fresh = hooks_.new_node()) != 0) {
        steps = {{ConfChangeType::kAddVoter, fresh},
                 {ConfChangeType::kRemoveNode, pick(conf.voters)}};
      }
      break;
    case 6:  // promote a learner and remove a voter: joint
      if (!conf.learners.empty() && !conf.voters.empty()) {
        steps = {{ConfChangeType::kPromoteLearner, pick(conf.learners)},
                 {ConfChangeType::kRemoveNode, pick(conf.voters)}};
      }
      break;
  }
  if (steps.empty()) return;
  std::vector<std::string> described;
  for (const ConfChangeStep& step : steps)
    described.push_back(
        absl::StrCat(raft::ConfChangeTypeName(step.type), " ", step.node));
  const std::string what = absl::StrJoin(described, " + ");
  auto answered = std::make_shared<bool>(false);
  std::vector<NodeId> removing;
  for (const ConfChangeStep& step : steps) {
    if (step.type == ConfChangeType::kRemoveNode) removing.push_back(step.node);
  }
  const bool removes_leader =
      std::find(removing.begin(), removing.end(), leader.id) != removing.end();
  kv::MemberAddresses added;
  if (fresh != 0) added[fresh] = absl::StrCat("sim:", fresh);
  leader.driver->ChangeMembership(
      steps, added, [this, answered, removing, what](kv::Outcome result) {
        *answered = true;
        if (result.code != kv::Code::kOk) {
          hooks_.trace(absl::StrCat("membership ", what, ": ", result.message));
          return;
        }
        ++stats_.acknowledged;
        hooks_.trace(absl::StrCat("membership ", what, ": applied"));
        for (NodeId id : removing) removed_[id] = now_ + 100 + rng_() % 500;
      });
  if (*answered) {  // refused at once
    ++stats_.refused;
    if (fresh != 0) hooks_.discard_node(fresh);
    return;
  }
  ++stats_.proposed;
  stats_.joint += steps.size() > 1;
  stats_.removed_leader += removes_leader;
  hooks_.trace(absl::StrCat("membership ", what, ": proposed by ", leader.id));
}

}  // namespace raftkv::testing::sim

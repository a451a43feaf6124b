#include "raft/confchange.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace raftkv::raft {
namespace {

constexpr char kRecordVersion = 1;

bool Contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

void Put64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

bool Get64(absl::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) *v = (*v << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  return true;
}

void PutIds(std::string* out, const std::vector<NodeId>& ids) {
  Put64(out, ids.size());
  for (NodeId id : ids) Put64(out, id);
}

bool GetIds(absl::string_view* in, std::vector<NodeId>* ids) {
  uint64_t n = 0;
  if (!Get64(in, &n) || n > in->size() / 8) return false;
  ids->resize(n);
  for (uint64_t i = 0; i < n; ++i) Get64(in, &(*ids)[i]);
  return true;
}

std::string Ids(const std::vector<NodeId>& ids) {
  return ids.empty() ? "none" : absl::StrJoin(ids, ",");
}

}  // namespace

const char* ConfChangeTypeName(ConfChangeType type) {
  switch (type) {
    case ConfChangeType::kAddVoter:
      return "add-voter";
    case ConfChangeType::kAddLearner:
      return "add-learner";
    case ConfChangeType::kPromoteLearner:
      return "promote";
    case ConfChangeType::kRemoveNode:
      return "remove";
  }
  return "?";
}

bool IsVoterIn(const ConfState& conf, NodeId id) {
  return Contains(conf.voters, id) || Contains(conf.voters_outgoing, id);
}

bool IsLearnerIn(const ConfState& conf, NodeId id) {
  return Contains(conf.learners, id);
}

std::vector<NodeId> MembersOf(const ConfState& conf) {
  std::set<NodeId> all(conf.voters.begin(), conf.voters.end());
  all.insert(conf.learners.begin(), conf.learners.end());
  all.insert(conf.voters_outgoing.begin(), conf.voters_outgoing.end());
  return {all.begin(), all.end()};
}

std::string DescribeConf(const ConfState& conf) {
  std::string out = conf.joint()
                        ? absl::StrCat("joint voters ", Ids(conf.voters), " / ",
                                       Ids(conf.voters_outgoing))
                        : absl::StrCat("voters ", Ids(conf.voters));
  if (!conf.learners.empty())
    absl::StrAppend(&out, " learners ", Ids(conf.learners));
  return out;
}

absl::StatusOr<ConfState> PlanChange(const ConfState& current,
                                     absl::Span<const ConfChangeStep> steps) {
  if (current.joint()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the cluster is still leaving a joint configuration (",
                     DescribeConf(current), "); retry in a moment"));
  }
  if (steps.empty())
    return absl::InvalidArgumentError("a membership change needs a step");
  std::set<NodeId> voters(current.voters.begin(), current.voters.end());
  std::set<NodeId> learners(current.learners.begin(), current.learners.end());
  std::set<NodeId> seen;
  for (const ConfChangeStep& step : steps) {
    const NodeId id = step.node;
    if (id == kNoNode)
      return absl::InvalidArgumentError("node ids must be positive");
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", id, " appears twice in one change"));
    }
    const bool voter = voters.count(id) > 0, learner = learners.count(id) > 0;
    switch (step.type) {
      case ConfChangeType::kAddVoter:
      case ConfChangeType::kAddLearner:
        if (voter || learner) {
          return absl::InvalidArgumentError(absl::StrCat(
              "node ", id, " is already a ", voter ? "voter" : "learner",
              "; pick an id that is not a member"));
        }
        (step.type == ConfChangeType::kAddVoter ? voters : learners).insert(id);
        break;
      case ConfChangeType::kPromoteLearner:
        if (!learner) {
          return absl::InvalidArgumentError(absl::StrCat(
              "node ", id, voter ? " is already a voter" : " is not a member",
              "; only a learner can be promoted"));
        }
        learners.erase(id);
        voters.insert(id);
        break;
      case ConfChangeType::kRemoveNode:
        if (!voter && !learner) {
          return absl::InvalidArgumentError(
              absl::StrCat("node ", id, " is not a member"));
        }
        voters.erase(id);
        learners.erase(id);
        break;
    }
  }
  if (voters.empty()) {
    return absl::InvalidArgumentError(
        "a change may not remove the last voter; add another voter first");
  }
  ConfState next;
  next.voters.assign(voters.begin(), voters.end());
  next.learners.assign(learners.begin(), learners.end());
  std::vector<NodeId> changed;
  std::set_symmetric_difference(current.voters.begin(), current.voters.end(),
                                next.voters.begin(), next.voters.end(),
                                std::back_inserter(changed));
  // Thesis §4.1 covers a change of one voter; anything larger is joint (§4.3).
  if (changed.size() > 1) next.voters_outgoing = current.voters;
  return next;
}

ConfState LeaveJoint(const ConfState& joint) {
  ConfState next = joint;
  next.voters_outgoing.clear();
  return next;
}

std::string EncodeConfChangeRecord(const ConfChangeRecord& record) {
  std::string out(1, kRecordVersion);
  PutIds(&out, record.conf.voters);
  PutIds(&out, record.conf.learners);
  PutIds(&out, record.conf.voters_outgoing);
  Put64(&out, record.steps.size());
  for (const ConfChangeStep& step : record.steps) {
    out.push_back(static_cast<char>(step.type));
    Put64(&out, step.node);
  }
  Put64(&out, record.context.size());
  out.append(record.context);
  return out;
}

absl::StatusOr<ConfChangeRecord> DecodeConfChangeRecord(absl::string_view in) {
  const auto bad = [] {
    return absl::DataLossError("corrupt membership change record in the log");
  };
  if (in.empty() || in[0] != kRecordVersion) return bad();
  in.remove_prefix(1);
  ConfChangeRecord record;
  uint64_t steps = 0, context = 0;
  if (!GetIds(&in, &record.conf.voters) ||
      !GetIds(&in, &record.conf.learners) ||
      !GetIds(&in, &record.conf.voters_outgoing) || !Get64(&in, &steps) ||
      steps > in.size() / 9) {
    return bad();
  }
  for (uint64_t i = 0; i < steps; ++i) {
    const auto type = static_cast<uint8_t>(in[0]);
    if (type > static_cast<uint8_t>(ConfChangeType::kRemoveNode)) return bad();
    in.remove_prefix(1);
    ConfChangeStep step{static_cast<ConfChangeType>(type), kNoNode};
    Get64(&in, &step.node);
    record.steps.push_back(step);
  }
  if (!Get64(&in, &context) || context != in.size()) return bad();
  record.context = std::string(in);
  return record;
}

}  // namespace raftkv::raft

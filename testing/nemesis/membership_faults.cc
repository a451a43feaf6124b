// Membership faults of the nemesis (run.h): replace a node, remove one and
// add it back; an ambiguous answer is settled by asking the member list.
#include "absl/strings/str_cat.h"
#include "kv/client.h"
#include "testing/nemesis/run.h"

namespace raftkv::testing::nemesis_internal {

// Whether `id` is in the configuration once no change is in flight, as
// the leader sees it; nullopt if that cannot be learned within 5 s.
std::optional<bool> Run::IsMember(raft::NodeId id) {
  for (int i = 0; i < 50; ++i) {
    auto membership = h_->client().Members();
    if (membership.ok() && !membership->joint) {
      bool found = false;
      for (const kv::MemberInfo& m : membership->members)
        found = found || m.id == id;
      Note("replace",
           absl::StrCat("member list: ", id,
                        found ? " is a member" : " is not a member"));
      return found;
    }
    Sleep(100);
  }
  return std::nullopt;
}

// Removes a follower, stops it, and adds a new node in its place (it joins
// as a learner and is promoted once caught up). At most twice per run.
void Run::Replace(raft::NodeId leader) {
  if (replaced_ >= 2) return;
  raft::NodeId victim = raft::kNoNode;
  for (raft::NodeId id : Live())
    if (id != leader && founders_.count(id) > 0) victim = id;
  if (victim == raft::kNoNode) return;
  const raft::NodeId fresh = 10 + replaced_++;
  absl::Status removed = h_->client().ChangeMembership(
      {{raft::ConfChangeType::kRemoveNode, victim, ""}});
  Note("replace", absl::StrCat("member remove ", victim, ": ",
                               removed.ok() ? "ok" : removed.message()));
  // An answer like "may still take effect" is an unknown outcome: ask.
  if (!removed.ok() && IsMember(victim) != false) return;
  removed_.insert(victim);
  h_->Kill(victim);
  if (!h_->StartJoining(fresh).ok()) return;
  const std::string address = h_->cluster().address(fresh);
  absl::Status added = h_->client().ChangeMembership(
      {{raft::ConfChangeType::kAddLearner, fresh, address}});
  Note("replace", absl::StrCat("member add-learner ", fresh, ": ",
                               added.ok() ? "ok" : added.message()));
  if (!added.ok() && IsMember(fresh) != true) {
    // Never added (or unknown): it would wait to join forever.
    h_->Kill(fresh);
    removed_.insert(fresh);
    return;
  }
  for (int i = 0; i < 100 && added.ok(); ++i) {
    Sleep(100);
    absl::Status promoted = h_->client().ChangeMembership(
        {{raft::ConfChangeType::kPromoteLearner, fresh, ""}});
    if (promoted.ok()) {
      Note("replace", absl::StrCat("member promote ", fresh, ": ok"));
      break;
    }
  }
}

// Removes a follower, then adds it back under the same id and address with
// an empty data directory (as an operator who rebuilt its disk would): the
// cluster must not confuse it with what it was.
void Run::ReAdd(raft::NodeId node) {
  if (node == raft::kNoNode || founders_.count(node) == 0 || readded_ >= 1)
    return;
  absl::Status removed = h_->client().ChangeMembership(
      {{raft::ConfChangeType::kRemoveNode, node, ""}});
  Note("re-add", absl::StrCat("member remove ", node, ": ",
                              removed.ok() ? "ok" : removed.message()));
  if (!removed.ok() && IsMember(node) != false) return;
  ++readded_;
  h_->Kill(node);
  removed_.insert(node);
  if (!h_->RestartAsJoiner(node).ok()) return;
  absl::Status added = h_->client().ChangeMembership(
      {{raft::ConfChangeType::kAddLearner, node, h_->cluster().address(node)}});
  Note("re-add", absl::StrCat("node ", node,
                              " wiped, joins again; "
                              "member add-learner ",
                              node, ": ", added.ok() ? "ok" : added.message()));
  if (!added.ok() && IsMember(node) != true) {
    h_->Kill(node);
    return;
  }
  removed_.erase(node);
  for (int i = 0; i < 100; ++i) {
    Sleep(100);
    if (h_->client()
            .ChangeMembership(
                {{raft::ConfChangeType::kPromoteLearner, node, ""}})
            .ok()) {
      Note("re-add", absl::StrCat("member promote ", node, ": ok"));
      break;
    }
  }
}

}  // namespace raftkv::testing::nemesis_internal

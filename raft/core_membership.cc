// Core, membership: the configuration history of the log, proposing changes,
// leaving a joint configuration, and a removed leader handing over.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "raft/core.h"

namespace raftkv::raft {

absl::Status Core::LoadConfHistory(const SnapshotMetadata& snapshot) {
  ResetConfHistory(snapshot);
  // The configuration is the last record in the log (thesis §4.1), committed
  // or not: read every record after the snapshot.
  constexpr uint64_t kPageBytes = 8 << 20;
  for (LogIndex lo = storage_->FirstIndex(); lo <= storage_->LastIndex();) {
    absl::StatusOr<std::vector<Entry>> page =
        storage_->Entries(lo, storage_->LastIndex() + 1, kPageBytes);
    if (!page.ok()) return page.status();
    for (const Entry& entry : *page) {
      if (entry.type != EntryType::kConfChange) continue;
      absl::StatusOr<ConfChangeRecord> record =
          DecodeConfChangeRecord(entry.data);
      if (!record.ok()) {
        return absl::DataLossError(absl::StrCat("log entry ", entry.index, ": ",
                                                record.status().message()));
      }
      conf_history_.push_back(
          ConfRecord{entry.index, record->conf, std::move(record->context)});
    }
    lo = page->back().index + 1;
  }
  return absl::OkStatus();
}

void Core::ResetConfHistory(const SnapshotMetadata& snapshot) {
  conf_history_.clear();
  conf_history_.push_back(ConfRecord{snapshot.index, snapshot.conf_state, ""});
  RefreshConf();
}

void Core::OnEntriesAppended(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  const LogIndex first = entries.front().index, last = entries.back().index;
  // The log now holds exactly `entries` in [first, last]; whatever it held
  // past LastIndex() was truncated.
  const bool had_records =
      std::any_of(conf_history_.begin() + 1, conf_history_.end(),
                  [&](const ConfRecord& r) { return r.index >= first; });
  const bool has_records = std::any_of(
      entries.begin(), entries.end(),
      [](const Entry& e) { return e.type == EntryType::kConfChange; });
  if (!had_records && !has_records) return;
  const LogIndex last_index = log_.LastIndex();
  conf_history_.erase(
      std::remove_if(conf_history_.begin() + 1, conf_history_.end(),
                     [&](const ConfRecord& r) {
                       return (r.index >= first && r.index <= last) ||
                              r.index > last_index;
                     }),
      conf_history_.end());
  for (const Entry& entry : entries) {
    if (entry.type != EntryType::kConfChange) continue;
    absl::StatusOr<ConfChangeRecord> record =
        DecodeConfChangeRecord(entry.data);
    if (!record.ok()) {
      Log(absl::StrCat("ignoring membership record at ", entry.index, ": ",
                       record.status().message()));
      continue;
    }
    conf_history_.push_back(
        ConfRecord{entry.index, record->conf, std::move(record->context)});
  }
  std::stable_sort(conf_history_.begin(), conf_history_.end(),
                   [](const ConfRecord& a, const ConfRecord& b) {
                     return a.index < b.index;
                   });
  RefreshConf();
}

ConfState Core::ConfStateAt(LogIndex index) const {
  const ConfState* conf = &conf_history_.front().conf;
  for (const ConfRecord& record : conf_history_) {
    if (record.index > index) break;
    conf = &record.conf;
  }
  return *conf;
}

bool Core::Promotable() const {
  return IsVoter(config_.id) ||
         IsVoterIn(ConfStateAt(log_.committed()), config_.id);
}

void Core::RefreshConf() {
  // Thesis §4.1: a server uses the latest configuration in its log, whether
  // or not that entry is committed.
#ifdef RAFTKV_MUTATION_CONF_AT_COMMIT  // a deliberate bug, for mutation_test
  const ConfState want = ConfStateAt(log_.committed());
#else
  const ConfState& want = conf_history_.back().conf;
#endif
  if (want == tracker_.conf()) return;
  Log(absl::StrCat("configuration now ", DescribeConf(want)));
  if (role_ == Role::kLeader) {
    const std::vector<NodeId> members = MembersOf(want);
    for (const auto& [id, pr] : tracker_.progress()) {
      if (id != config_.id &&
          !std::binary_search(members.begin(), members.end(), id)) {
        departing_.emplace(id, Departing{conf_index(), 0});
      }
    }
    for (auto it = departing_.begin(); it != departing_.end();) {
      // Back in (a record was truncated, or it was added again).
      it = std::binary_search(members.begin(), members.end(), it->first)
               ? departing_.erase(it)
               : std::next(it);
    }
    std::set<NodeId> ids;
    for (const auto& [id, departing] : departing_) ids.insert(id);
    tracker_.SetDeparting(std::move(ids));
  }
  tracker_.SetConf(want, log_.LastIndex() + 1);
  if (role_ != Role::kLeader) return;
  if (transfer_target_ != kNoNode && !IsVoter(transfer_target_))
    AbortTransfer();
  // Acknowledgements of the voters that remain may be a quorum now.
  MaybeFinishReadRound();
}

absl::StatusOr<LogIndex> Core::ProposeConfChange(
    std::vector<ConfChangeStep> steps, std::string context) {
  if (role_ != Role::kLeader) return NotLeaderStatus();
  if (transfer_target_ != kNoNode) {
    return absl::UnavailableError(absl::StrCat(
        "leadership is moving to node ", transfer_target_, "; retry there"));
  }
  // Thesis §4.1 (the fix to single-server changes): a leader changes the
  // membership only after an entry of its own term has committed.
  if (log_.TermOrZero(log_.committed()) != term_) {
    return absl::UnavailableError(
        "this leader has not committed an entry of its term yet; retry in a "
        "moment");
  }
#ifndef RAFTKV_MUTATION_SECOND_CHANGE  // a deliberate bug when defined
  if (conf_index() > log_.committed()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "another membership change (log index ", conf_index(),
        ") is not committed yet; one change at a time, retry once it is"));
  }
#endif
  absl::StatusOr<ConfState> next = PlanChange(conf_state(), steps);
  if (!next.ok()) return next.status();
  for (const ConfChangeStep& step : steps) {
    if (step.type != ConfChangeType::kPromoteLearner) continue;
    const Progress* pr = tracker_.Find(step.node);
    const LogIndex match = pr == nullptr ? kNoIndex : pr->match();
    if (match == kNoIndex) {
      return absl::FailedPreconditionError(absl::StrCat(
          "learner ", step.node,
          " has not acknowledged any entry yet; retry once it is running and "
          "has caught up"));
    }
    const uint64_t lag = log_.LastIndex() - std::min(match, log_.LastIndex());
    if (lag > config_.max_promote_lag) {
      return absl::FailedPreconditionError(absl::StrCat(
          "learner ", step.node, " is ", lag,
          " entries behind the leader (at most ", config_.max_promote_lag,
          " to be promoted); retry once it has caught up"));
    }
  }
  Entry entry;
  entry.type = EntryType::kConfChange;
  entry.data = EncodeConfChangeRecord(
      ConfChangeRecord{*next, std::move(steps), std::move(context)});
  Log(absl::StrCat("proposing ", DescribeConf(*next)));
  AppendOwnEntries({std::move(entry)});
  return log_.LastIndex();
}

void Core::ReleaseDeparting() {
  bool released = false;
  for (auto it = departing_.begin(); it != departing_.end();) {
    const Progress* pr = tracker_.Find(it->first);
    const bool holds = pr != nullptr && pr->match() >= it->second.removed_at;
    if (it->second.removed_at > log_.committed() ||
        (!holds && it->second.ticks_committed < 2 * config_.election_ticks)) {
      ++it;
      continue;
    }
    SendHeartbeat(it->first, "");  // commit: as far as it holds the log
    it = departing_.erase(it);
    released = true;
  }
  if (!released) return;
  std::set<NodeId> ids;
  for (const auto& [id, departing] : departing_) ids.insert(id);
  tracker_.SetDeparting(std::move(ids));
}

void Core::TickDeparting() {
  for (auto& [id, departing] : departing_) {
    if (departing.removed_at <= log_.committed()) ++departing.ticks_committed;
  }
  ReleaseDeparting();
}

void Core::MaybeLeaveJoint() {
  if (role_ != Role::kLeader || !conf_state().joint() ||
      conf_index() > log_.committed()) {
    return;
  }
  // Thesis §4.3: once C_old,new is committed, the leader proposes C_new.
  Entry entry;
  entry.type = EntryType::kConfChange;
  entry.data = EncodeConfChangeRecord(
      ConfChangeRecord{LeaveJoint(conf_state()), {}, conf_context()});
  Log("leaving the joint configuration");
  AppendOwnEntries({std::move(entry)});
}

void Core::StepDownIfRemoved() {
  if (role_ != Role::kLeader || IsVoter(config_.id) ||
      conf_index() > log_.committed() || transfer_target_ != kNoNode) {
    return;
  }
  // Thesis §4.2.2: a leader that is not part of C_new steps down once C_new
  // is committed; it first hands leadership to the most caught-up voter
  // (§3.10), and steps down regardless after an election timeout (TickLeader).
  NodeId best = kNoNode;
  LogIndex best_match = kNoIndex;
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != config_.id && IsVoter(id) &&
        (best == kNoNode || pr.match() > best_match)) {
      best = id;
      best_match = pr.match();
    }
  }
  Log(absl::StrCat("removed from the configuration; handing over to ", best));
  if (best == kNoNode) return;
  (void)TransferLeader(best);
  // Once the TimeoutNow is out, there is nothing left to lead: the members no
  // longer answer a node they removed, so waiting would only leave a leader
  // that answers clients with a stale view.
  if (best_match == log_.LastIndex()) BecomeFollower(term_, kNoNode);
}

absl::Status Core::CheckMembershipInvariants() const {
  const ConfState& conf = conf_state();
  if (conf.voters.empty() && !(conf.learners.empty() && !conf.joint())) {
    return absl::InternalError(
        absl::StrCat("configuration without voters: ", DescribeConf(conf)));
  }
  for (NodeId id : conf.learners) {
    if (IsVoter(id)) {
      return absl::InternalError(
          absl::StrCat("node ", id, " is both a learner and a voter"));
    }
  }
  if (role_ != Role::kLeader) return absl::OkStatus();
  // Thesis §4.1: at most one membership change is in flight. A new leader may
  // find several uncommitted ones of earlier terms in its log, but it adds
  // one of its own only once everything before it has committed.
  size_t uncommitted = 0, own = 0;
  for (const ConfRecord& record : conf_history_) {
    if (record.index <= log_.committed()) continue;
    ++uncommitted;
    own += log_.TermOrZero(record.index) == term_;
  }
  if (own > 0 && uncommitted > 1) {
    return absl::InternalError(absl::StrCat(
        "the leader proposed a membership change while ", uncommitted - 1,
        " other(s) were uncommitted (one at a time, thesis §4.1)"));
  }
  for (NodeId id : MembersOf(conf)) {
    if (tracker_.Find(id) == nullptr) {
      return absl::InternalError(
          absl::StrCat("the leader tracks no progress for member ", id));
    }
  }
  return absl::OkStatus();
}

}  // namespace raftkv::raft

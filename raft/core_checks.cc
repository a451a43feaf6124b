// Core, checks: what a peer's message must look like to be handled, and the
// Raft safety properties a node can check alone (CheckInvariants).
#include "absl/strings/str_cat.h"
#include "raft/core.h"

namespace raftkv::raft {

// An append's entries follow its index one by one, with terms that never go
// down and never pass the leader's term (§5.3). Anything else is malformed:
// handled, it would reach storage as a log with a gap (found by
// //fuzz:core_fuzzer: such a save fails, and a node whose storage fails stops).
absl::Status Core::CheckMessage(const Message& m) const {
  // Nor does a log or snapshot the sender holds end in a term past the one
  // it is in (found by //fuzz:core_fuzzer: a snapshot at term 12 sent in
  // term 5 left a follower whose log is ahead of its term).
  const Term last_term = m.type == MessageType::kSnapshot ? m.snapshot.term
                         : m.type == MessageType::kAppend ? m.log_term
                                                          : kNoTerm;
  if (last_term > m.term) {
    return absl::InvalidArgumentError(absl::StrCat(
        MessageTypeName(m.type), " from node ", m.from, " dropped: it carries ",
        "term ", last_term, " in term ", m.term));
  }
  Term previous = m.log_term;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.index != m.index + 1 + i || e.term < previous || e.term > m.term) {
      return absl::InvalidArgumentError(absl::StrCat(
          MessageTypeName(m.type), " from node ", m.from, " dropped: entry ", i,
          " is (index ", e.index, ", term ", e.term, ") after (index ",
          m.index + i, ", term ", previous, ") in term ", m.term));
    }
    previous = e.term;
  }
  return absl::OkStatus();
}

absl::Status Core::CheckInvariants() const {
  auto fail = [&](const std::string& what) {
    return absl::InternalError(absl::StrCat("node ", config_.id, " term ",
                                            term_, " (", RoleName(role_),
                                            "): ", what));
  };
  if (log_.applied() > log_.committed()) {
    return fail(absl::StrCat("applied ", log_.applied(), " > committed ",
                             log_.committed()));
  }
  if (log_.committed() > log_.LastIndex()) {
    return fail(absl::StrCat("committed ", log_.committed(), " > last ",
                             log_.LastIndex()));
  }
  if (log_.LastTerm() > term_) {
    return fail(
        absl::StrCat("last log term ", log_.LastTerm(), " > current term"));
  }
  if (persisted_hard_state_.term > term_) {
    return fail(absl::StrCat("persisted term ", persisted_hard_state_.term,
                             " > current term"));
  }
  if (role_ == Role::kLeader) {
    if (leader_ != config_.id || vote_ != config_.id) {
      return fail(
          absl::StrCat("leader with leader=", leader_, " vote=", vote_));
    }
    if (log_.TermOrZero(log_.committed()) > term_)
      return fail("committed entry from the future");
    for (const auto& [id, pr] : tracker_.progress()) {
      if (pr.match() > log_.LastIndex() || pr.next() <= pr.match()) {
        return fail(absl::StrCat("progress of ", id, " match ", pr.match(),
                                 " next ", pr.next(), " last ",
                                 log_.LastIndex()));
      }
    }
    if (tracker_.Find(config_.id)->match() > log_.StableLastIndex()) {
      return fail("leader counts an entry it has not made durable");
    }
  } else if (leader_ == config_.id) {
    return fail("a non-leader names itself leader");
  }
  if (role_ == Role::kCandidate && vote_ != config_.id) {
    return fail(absl::StrCat("candidate voted for ", vote_));
  }
  absl::Status membership = CheckMembershipInvariants();
  if (!membership.ok()) return fail(std::string(membership.message()));
  return absl::OkStatus();
}

}  // namespace raftkv::raft

// Core: roles and elections — the role transitions, campaigns (with pre-vote,
// thesis §9.6), fast failover on a peer's death, and the vote a node gives
// (Raft paper §5.2, §5.4.1). The rest of Core is in core.cc.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "raft/core.h"

namespace raftkv::raft {

// Leader lease (thesis §6.2 with check-quorum, §9.6): a node that heard from a
// leader within the minimum election timeout ignores vote requests, so a
// partitioned node rejoining with a higher term cannot depose a healthy leader.
// With lease reads, a node that has just started keeps that promise for the
// leader it may have acknowledged before it restarted (thesis §6.4.1: the
// leader's lease counts on it).
bool Core::InLease() const { return promise().ticks > 0; }

Core::Promise Core::promise() const {
  Promise promise;
  if (startup_lease_ticks_ > 0) promise.ticks = startup_lease_ticks_;
  if (config_.check_quorum && leader_ != kNoNode &&
      election_elapsed_ < config_.election_ticks &&
      config_.election_ticks - election_elapsed_ > promise.ticks) {
    promise.ticks = config_.election_ticks - election_elapsed_;
    promise.to = leader_;
  }
  return promise;
}

void Core::BecomeFollower(Term term, NodeId leader) {
  const Role old = role_;
  ResetTerm(term);
  role_ = Role::kFollower;
  leader_ = leader;
  if (old != Role::kFollower)
    Log(absl::StrCat("became follower, leader ", leader));
}

void Core::BecomePreCandidate() {
  // A pre-candidate does not change its term or vote (thesis §9.6).
  role_ = Role::kPreCandidate;
  leader_ = kNoNode;
  tracker_.ResetVotes();
  election_elapsed_ = 0;
  ResetRandomizedTimeout();
  Log("became pre-candidate");
}

void Core::BecomeCandidate() {
  ResetTerm(term_ + 1);
  role_ = Role::kCandidate;
  vote_ = config_.id;
  Log("became candidate");
}

void Core::BecomeLeader() {
  ResetTerm(term_);
  role_ = Role::kLeader;
  leader_ = config_.id;
  tracker_.StartTracking(log_.LastIndex() + 1);
  Progress& self = *tracker_.Find(config_.id);
  self.MaybeUpdate(log_.StableLastIndex());
  self.BecomeReplicate();
  Log(absl::StrCat("became leader at last index ", log_.LastIndex()));
  // A new leader commits an entry of its own term at once (§8): a no-op.
  AppendOwnEntries({Entry{}});
}

void Core::Campaign() {
  if (role_ == Role::kLeader || !Promotable()) return;
  StartElection(config_.pre_vote, /*transfer=*/false);
}

void Core::PeerDown(NodeId id) {
  if (!config_.fast_failover || role_ != Role::kFollower || leader_ != id ||
      id == config_.id) {
    return;
  }
  Log(absl::StrCat("leader ", id,
                   " is down (connection lost, redial refused)"));
  leader_ = kNoNode;  // no lease to honour: vote requests are heard again
#ifdef RAFTKV_MUTATION_FAST_FAILOVER_REUSES_TERM  // for mutation_test
  // A deliberate bug: "the dead leader's term is free again".
  vote_ = kNoNode;
  --term_;
#endif
  if (!Promotable()) return;
  // Campaign at the next tick or the one after (Tick() fires at
  // randomized_election_ticks_).
  const uint64_t wait = 1 + rng_() % 2;
  if (randomized_election_ticks_ > wait) {
    election_elapsed_ =
        std::max(election_elapsed_, randomized_election_ticks_ - wait);
  }
}

void Core::StartElection(bool pre_vote, bool transfer) {
  MessageType type;
  Term term;
  if (pre_vote) {
    BecomePreCandidate();
    type = MessageType::kPreVote;
    term = term_ + 1;
  } else {
    BecomeCandidate();
    type = MessageType::kVote;
    term = term_;
  }
  tracker_.RecordVote(config_.id, true);
  if (tracker_.TallyVotes() == VoteResult::kWon) {  // a lone voter wins at once
    if (pre_vote) {
      StartElection(/*pre_vote=*/false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  // Every voter of both halves of a joint configuration (§4.3).
  for (NodeId id : tracker_.quorum().Voters()) {
    if (id == config_.id) continue;
    Message m;
    m.type = type;
    m.to = id;
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    m.transfer = transfer;
    Send(std::move(m));
  }
}

void Core::HandleVoteRequest(const Message& m) {
  const bool pre_vote = m.type == MessageType::kPreVote;
  // One vote per term (§5.2); a pre-vote for a future term binds nothing.
  const bool can_vote = vote_ == m.from ||
                        (vote_ == kNoNode && leader_ == kNoNode) ||
                        (pre_vote && m.term > term_);
  Message reply;
  reply.type =
      pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  reply.to = m.from;
  // §5.4.1: grant only to a candidate whose log is at least as up to date as
  // ours.
#ifdef RAFTKV_MUTATION_STALE_VOTE  // a deliberate bug, built only for
                                   // mutation_test
  if (can_vote) {
#else
  if (can_vote && log_.IsUpToDate(m.index, m.log_term)) {
#endif
    reply.term = m.term;
    if (!pre_vote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    reply.reject = true;
  }
  Send(std::move(reply));
}

}  // namespace raftkv::raft

// Core: construction, message dispatch, follower handling, Ready. Roles and
// elections live in core_elections.cc; leader replication, commitment, reads
// and transfer in core_leader.cc.
#include "raft/core.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace raftkv::raft {
namespace {

constexpr char kNotLeaderKind[] = "type.raftkv.dev/not-leader";

absl::Status NotLeader(NodeId leader) {
  absl::Status status = absl::FailedPreconditionError(
      leader == kNoNode ? std::string("not the leader; no leader is known yet")
                        : absl::StrCat("not the leader; node ", leader, " is"));
  status.SetPayload(kNotLeaderKind, absl::Cord("1"));
  return status;
}

bool IsLeaderMessage(MessageType type) {
  return type == MessageType::kAppend || type == MessageType::kHeartbeat ||
         type == MessageType::kSnapshot;
}

}  // namespace

absl::Status Core::NotLeaderStatus() const { return NotLeader(leader_); }

bool IsNotLeader(const absl::Status& status) {
  return status.GetPayload(kNotLeaderKind).has_value();
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResponse:
      return "AppendResponse";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResponse";
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResponse";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResponse";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResponse";
  }
  return "?";
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kPreCandidate:
      return "pre-candidate";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
  }
  return "?";
}

Core::Core(const Config& config, LogStorage* storage)
    : config_(config),
      storage_(storage),
      log_(storage),
      rng_(config.seed),
      tracker_(config.id, config.max_inflight_messages,
               config.max_inflight_bytes) {}

absl::StatusOr<std::unique_ptr<Core>> Core::Create(const Config& config,
                                                   LogStorage* storage) {
  if (config.id == kNoNode)
    return absl::InvalidArgumentError("raft node id must be positive");
  if (config.heartbeat_ticks == 0 ||
      config.election_ticks <= config.heartbeat_ticks) {
    return absl::InvalidArgumentError(
        absl::StrCat("election_ticks (", config.election_ticks,
                     ") must exceed heartbeat_ticks (", config.heartbeat_ticks,
                     ") and heartbeat_ticks must be positive"));
  }
  if (config.lease_reads &&
      (!config.pre_vote || !config.check_quorum || config.fast_failover ||
       !(config.lease_clock_drift >= 0 && config.lease_clock_drift < 1))) {
    return absl::InvalidArgumentError(
        "lease reads need pre-vote and check-quorum, fast failover off, and a "
        "clock drift bound in [0, 1)");
  }
  std::unique_ptr<Core> core(new Core(config, storage));
  if (config.lease_reads) {
    // A follower that acknowledged a round ignores elections for at least
    // election_ticks - 1 of its own tick periods (its next tick may come at
    // once), which is (election_ticks - 1) / (1 + drift) of the leader's at
    // the least; one tick less for margin (Core::LeaseValid).
    const double ticks = static_cast<double>(config.election_ticks - 1) /
                         (1.0 + config.lease_clock_drift);
    core->lease_ticks_ = ticks >= 2 ? static_cast<uint64_t>(ticks) - 1 : 0;
    core->startup_lease_ticks_ = config.election_ticks;
  }
  const InitialState initial = storage->GetInitialState();
  absl::Status loaded = core->LoadConfHistory(initial.snapshot);
  if (!loaded.ok()) return loaded;
  if (initial.hard_state.commit > core->log_.LastIndex()) {
    return absl::DataLossError(
        absl::StrCat("hard state commit ", initial.hard_state.commit,
                     " is beyond the last log index ", core->log_.LastIndex()));
  }
  core->log_.CommitTo(
      std::max(initial.hard_state.commit,
               std::min(config.applied, core->log_.LastIndex())));
  core->RefreshConf();
  core->persisted_hard_state_ = initial.hard_state;
  core->term_ = initial.hard_state.term;
  core->vote_ = initial.hard_state.vote;
  core->BecomeFollower(core->term_, kNoNode);  // same term: the vote is kept
  return core;
}

void Core::Log(const std::string& line) const {
  if (config_.log_sink)
    config_.log_sink(
        absl::StrCat("raft ", config_.id, " t", term_, ": ", line));
}

const Progress* Core::progress(NodeId id) const { return tracker_.Find(id); }

void Core::ResetRandomizedTimeout() {
  randomized_election_ticks_ =
      config_.election_ticks + rng_() % config_.election_ticks;
}

void Core::ResetTerm(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedTimeout();
  tracker_.ResetVotes();
  tracker_.StopTracking();
  departing_.clear();
  transfer_target_ = kNoNode;
  pending_reads_.clear();
  round_in_flight_ = 0;
  leader_ticks_ = 0;
  lease_valid_ = false;
  lease_forbidden_ = false;
  round_acks_.clear();
  broadcast_pending_ = false;
}

void Core::Tick() {
  if (startup_lease_ticks_ > 0) --startup_lease_ticks_;
  if (role_ == Role::kLeader) {
    TickLeader();
    return;
  }
  ++election_elapsed_;
  if (election_elapsed_ >= randomized_election_ticks_ && Promotable()) {
    election_elapsed_ = 0;
    StartElection(config_.pre_vote, /*transfer=*/false);
  }
}

void Core::Send(Message m) {
  m.from = config_.id;
  if (m.term == kNoTerm) m.term = term_;
  if (role_ == Role::kLeader &&
      (IsLeaderMessage(m.type) || m.type == MessageType::kTimeoutNow)) {
    early_messages_.push_back(std::move(m));
  } else {
    messages_.push_back(std::move(m));
  }
}

absl::Status Core::Step(const Message& m) {
  if (m.to != config_.id) {
    return absl::InvalidArgumentError(
        absl::StrCat("message for node ", m.to, " reached node ", config_.id));
  }
  // Messages from nodes this log does not list as members are handled too: a
  // leader or candidate may be a member this node has not heard of yet (a
  // joining node has no configuration at all, and a new voter must be able to
  // vote before it has the log, or a cluster could never elect a leader
  // again). Replies from non-members find no progress and are ignored. A
  // removed node that does not know it cannot disrupt the cluster (thesis
  // §4.2.3): its pre-vote fails, as its log lacks the committed removal, and
  // nodes that hear from a leader ignore it (the lease of check-quorum).
  if (m.from == kNoNode) {
    return absl::InvalidArgumentError(
        absl::StrCat(MessageTypeName(m.type), " from node 0 dropped"));
  }
  // A node never sends to itself: such a message is forged or looped back,
  // and a leader's message "from" this node would make it a follower that
  // names itself leader (found by //fuzz:core_fuzzer).
  if (m.from == config_.id) {
    return absl::InvalidArgumentError(absl::StrCat(
        MessageTypeName(m.type), " claiming to come from this node dropped"));
  }
  // No honest node reaches such a term; adopting it would let the next
  // election's term + 1 wrap around to 0 (found by //fuzz:core_fuzzer: a
  // TimeoutNow at term 2^64-1 made a leader a candidate at term 0).
  if (m.term > kMaxTerm) {
    return absl::InvalidArgumentError(
        absl::StrCat(MessageTypeName(m.type), " from node ", m.from,
                     " at term ", m.term, " dropped: terms end at ", kMaxTerm));
  }
  if (absl::Status malformed = CheckMessage(m); !malformed.ok())
    return malformed;
  bool handled = false;
  absl::Status status = StepByTerm(m, &handled);
  if (handled) return status;

  switch (m.type) {
    case MessageType::kVote:
    case MessageType::kPreVote:
      HandleVoteRequest(m);
      break;
    default:
      if (role_ == Role::kLeader) {
        StepLeader(m);
      } else if (role_ == Role::kFollower) {
        StepFollower(m);
      } else {
        StepCandidate(m);
      }
  }
  return absl::OkStatus();
}

absl::Status Core::StepByTerm(const Message& m, bool* handled) {
  const bool vote_request =
      m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (m.term > term_) {
    if (vote_request && !m.transfer && InLease()) {
      *handled = true;
      return absl::OkStatus();  // ignored: we heard from a live leader recently
    }
    if (m.type == MessageType::kPreVote)
      return absl::OkStatus();  // no term change
    if (m.type == MessageType::kPreVoteResponse && !m.reject)
      return absl::OkStatus();
    // Any message with a higher term makes us a follower of that term (§5.1).
    BecomeFollower(m.term, IsLeaderMessage(m.type) ? m.from : kNoNode);
    return absl::OkStatus();
  }
  if (m.term < term_) {
    *handled = true;
    if ((config_.check_quorum || config_.pre_vote) && IsLeaderMessage(m.type)) {
      // A stale leader learns our term and steps down.
      Message reply;
      reply.type = MessageType::kAppendResponse;
      reply.to = m.from;
      Send(std::move(reply));
    } else if (m.type == MessageType::kPreVote) {
      Message reply;
      reply.type = MessageType::kPreVoteResponse;
      reply.to = m.from;
      reply.reject = true;
      Send(std::move(reply));
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

void Core::StepCandidate(const Message& m) {
  const MessageType response = role_ == Role::kPreCandidate
                                   ? MessageType::kPreVoteResponse
                                   : MessageType::kVoteResponse;
  if (IsLeaderMessage(m.type)) {
    // Someone won this term (§5.2): follow it.
    BecomeFollower(m.term, m.from);
    StepFollower(m);
    return;
  }
  if (m.type != response || !IsVoter(m.from)) return;
  tracker_.RecordVote(m.from, !m.reject);
  const VoteResult result = tracker_.TallyVotes();
  if (result == VoteResult::kWon) {
    if (role_ == Role::kPreCandidate) {
      StartElection(/*pre_vote=*/false, /*transfer=*/false);
    } else {
      BecomeLeader();
    }
  } else if (result == VoteResult::kLost) {
    BecomeFollower(term_, kNoNode);
  }
}

void Core::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kReadIndexResponse:
      // Our leader's answer to a read we forwarded (thesis §6.4): served once
      // the state machine reaches the index. Only from the leader we follow,
      // in this term (StepByTerm dropped older ones).
      if (m.from == leader_) {
        read_states_.push_back(ReadState{m.index, m.context});
      }
      break;
    case MessageType::kTimeoutNow:
      // Leadership transfer (thesis §3.10): campaign at once, skipping
      // pre-vote.
      if (Promotable()) {
        Log(absl::StrCat("leadership transfer from ", m.from));
        StartElection(/*pre_vote=*/false, /*transfer=*/true);
      }
      break;
    default:
      break;
  }
}

void Core::HandleAppend(const Message& m) {
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = m.from;
  if (m.index < log_.committed()) {
    reply.index = log_.committed();
    Send(std::move(reply));
    return;
  }
  // §5.3: the consistency check on (prev index, prev term).
  std::optional<LogIndex> last =
      log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries);
  if (last.has_value()) {
    OnEntriesAppended(m.entries);
    reply.index = *last;
  } else {
    reply.reject = true;
    reply.index = m.index;
    auto [hint, hint_term] = log_.FindConflictByTerm(
        std::min(m.index, log_.LastIndex()), m.log_term);
    reply.reject_hint = hint;
    reply.hint_term = hint_term;
  }
  Send(std::move(reply));
}

void Core::HandleHeartbeat(const Message& m) {
  log_.CommitTo(std::min(m.commit, log_.LastIndex()));
  RefreshConf();
  Message reply;
  reply.type = MessageType::kHeartbeatResponse;
  reply.to = m.from;
  reply.context = m.context;
  Send(std::move(reply));
}

void Core::HandleSnapshot(const Message& m) {
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = m.from;
  const SnapshotMetadata& meta = m.snapshot;
  if (meta.index <= log_.committed()) {
    reply.index = log_.committed();
  } else if (log_.MatchTerm(meta.index, meta.term)) {
    // We already hold the snapshot's last entry: just commit up to it.
    log_.CommitTo(meta.index);
    reply.index = log_.committed();
  } else {
    Log(absl::StrCat("installing snapshot at index ", meta.index, " term ",
                     meta.term));
    log_.Restore(Snapshot{meta, m.snapshot_data});
    ResetConfHistory(meta);
    reply.index = meta.index;
  }
  Send(std::move(reply));
}

bool Core::HasReady() const {
  const HardState hard_state{term_, vote_, log_.committed()};
  return broadcast_pending_ || !(hard_state == persisted_hard_state_) ||
         !log_.UnstableEntries().empty() ||
         log_.UnstableSnapshot().has_value() ||
         log_.HasNextCommittedEntries() || !early_messages_.empty() ||
         !messages_.empty() || !read_states_.empty() ||
         role_ != reported_role_ || leader_ != reported_leader_;
}

Ready Core::GetReady() {
  if (broadcast_pending_ && role_ == Role::kLeader) {
    broadcast_pending_ = false;
    BroadcastAppend();
  }
  Ready ready;
  ready.role = role_;
  ready.leader = leader_;
  reported_role_ = role_;
  reported_leader_ = leader_;
  const HardState hard_state{term_, vote_, log_.committed()};
  if (!(hard_state == persisted_hard_state_)) ready.hard_state = hard_state;
  ready.entries = log_.UnstableEntries();
  ready.snapshot = log_.UnstableSnapshot();
  ready.committed_entries =
      log_.NextCommittedEntries(config_.max_committed_bytes_per_ready);
  ready.early_messages = std::move(early_messages_);
  ready.messages = std::move(messages_);
  ready.read_states = std::move(read_states_);
  early_messages_.clear();
  messages_.clear();
  read_states_.clear();
  ready.must_sync = !ready.entries.empty() || ready.snapshot.has_value() ||
                    hard_state.term != persisted_hard_state_.term ||
                    hard_state.vote != persisted_hard_state_.vote;
  return ready;
}

void Core::Advance(const Ready& ready) {
  if (ready.hard_state.has_value()) persisted_hard_state_ = *ready.hard_state;
  if (ready.snapshot.has_value()) {
    log_.StableSnapshotTo(ready.snapshot->metadata.index);
    log_.AppliedTo(ready.snapshot->metadata.index);
  }
  if (!ready.entries.empty()) {
    log_.StableTo(ready.entries.back().index, ready.entries.back().term);
  }
  if (!ready.committed_entries.empty())
    log_.AppliedTo(ready.committed_entries.back().index);
  // The configuration history need not reach before the log's snapshot.
  const LogIndex snapshot_index = log_.FirstIndex() - 1;
  size_t base = 0;
  while (base + 1 < conf_history_.size() &&
         conf_history_[base + 1].index <= snapshot_index) {
    ++base;
  }
  if (base > 0) {
    conf_history_.erase(
        conf_history_.begin(),
        conf_history_.begin() + static_cast<std::ptrdiff_t>(base));
  }
  if (role_ == Role::kLeader) {
    // The leader counts itself toward a quorum only for what is durable
    // (§10.2.1).
    tracker_.Find(config_.id)->MaybeUpdate(log_.StableLastIndex());
    if (MaybeCommit()) broadcast_pending_ = true;
  }
}

}  // namespace raftkv::raft

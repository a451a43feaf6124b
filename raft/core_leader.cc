// Core, leader side: proposals, replication with flow control, commitment,
// ReadIndex rounds, leadership transfer and check-quorum.
#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "raft/core.h"

namespace raftkv::raft {
namespace {

std::string EncodeRound(uint64_t round) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, round >>= 8)
    out[i] = static_cast<char>(round & 0xff);
  return out;
}

uint64_t DecodeRound(const std::string& context) {
  if (context.size() != 8) return 0;
  uint64_t round = 0;
  for (char c : context) round = (round << 8) | static_cast<uint8_t>(c);
  return round;
}

}  // namespace

absl::StatusOr<LogIndex> Core::Propose(std::string data) {
  if (role_ != Role::kLeader) return NotLeaderStatus();
  if (transfer_target_ != kNoNode) {
    return absl::UnavailableError(absl::StrCat(
        "leadership is moving to node ", transfer_target_, "; retry there"));
  }
  Entry entry;
  entry.data = std::move(data);
  AppendOwnEntries({std::move(entry)});
  return log_.LastIndex();
}

void Core::AppendOwnEntries(std::vector<Entry> entries) {
  LogIndex index = log_.LastIndex();
  for (Entry& entry : entries) {
    entry.term = term_;
    entry.index = ++index;
  }
  log_.Append(entries);
  OnEntriesAppended(entries);
  // Sent once per Ready, so that many proposals share each AppendEntries.
  broadcast_pending_ = true;
}

void Core::BroadcastAppend() {
  for (auto& [id, pr] : tracker_.progress()) {
    if (id == config_.id) continue;
    if (!MaybeSendAppend(id, /*send_if_empty=*/true)) continue;
    while (MaybeSendAppend(id, /*send_if_empty=*/false)) {
    }
  }
}

bool Core::MaybeSendAppend(NodeId to, bool send_if_empty) {
  Progress& pr = *tracker_.Find(to);
  if (pr.IsPaused()) return false;
  const LogIndex prev = pr.next() - 1;
  absl::StatusOr<Term> prev_term = log_.TermAt(prev);
  absl::StatusOr<std::vector<Entry>> entries = log_.Slice(
      pr.next(), log_.LastIndex() + 1, config_.max_entries_bytes_per_message);
  if (!prev_term.ok() || !entries.ok()) {
    // What the follower needs next is compacted: send a snapshot instead (§7).
    SendSnapshot(to, pr);
    return false;
  }
  if (entries->empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  if (entries->empty()) {
    pr.SentProbe();
  } else {
    uint64_t bytes = 0;
    for (const Entry& e : *entries) bytes += e.ByteSize();
    pr.SentEntries(entries->back().index, bytes);
    m.entries = std::move(*entries);
  }
  Send(std::move(m));
  return true;
}

void Core::SendSnapshot(NodeId to, Progress& pr) {
  const SnapshotMetadata snapshot = storage_->Snapshot();
  if (snapshot.index == kNoIndex)
    return;  // nothing compacted: the entries will come
  Log(absl::StrCat("sending snapshot at index ", snapshot.index, " to ", to));
  pr.BecomeSnapshot(snapshot.index);
  Message m;
  m.type = MessageType::kSnapshot;
  m.to = to;
  m.snapshot = snapshot;
  Send(std::move(m));
}

void Core::SendHeartbeat(NodeId to, const std::string& context) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // Never tell a follower to commit past what it is known to hold.
  m.commit = std::min(tracker_.Find(to)->match(), log_.committed());
  m.context = context;
  Send(std::move(m));
}

void Core::BroadcastHeartbeat(const std::string& context) {
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != config_.id) SendHeartbeat(id, context);
  }
}

bool Core::MaybeCommit() {
  // The quorum of the configuration in force: majorities of both halves of a
  // joint one (thesis §4.3).
  const LogIndex quorum_match = tracker_.QuorumMatch();
  // §5.4.2: only an entry of the current term is committed by counting
  // replicas; earlier entries commit with it.
#ifdef RAFTKV_MUTATION_COMMIT_OLD_TERM  // a deliberate bug, built only for
                                        // mutation_test
  if (quorum_match <= log_.committed()) return false;
  log_.CommitTo(quorum_match);
#else
  if (quorum_match == std::numeric_limits<LogIndex>::max() ||
      !log_.MaybeCommit(quorum_match, term_))
    return false;
#endif
  RefreshConf();
  ReleaseDeparting();
  MaybeLeaveJoint();
  StepDownIfRemoved();
  if (role_ != Role::kLeader) return true;
  StartReadRound();  // reads that waited for this term's first commit may go
  return true;
}

void Core::HandleAppendResponse(const Message& m) {
  Progress* found = tracker_.Find(m.from);
  if (found == nullptr) return;
  Progress& pr = *found;
  // No follower has entries past the leader's log: such an acknowledgement
  // (or a rejection naming them) is forged or corrupt, and believed it would
  // count a quorum for entries that do not exist (found by
  // //fuzz:core_fuzzer: a match index past the last index).
  if (m.index > log_.LastIndex()) return;
  pr.set_recent_active(true);
  if (m.reject) {
    // Fast backtracking: skip all of the follower's entries from a term we
    // lack.
    LogIndex next_probe = m.reject_hint;
    if (m.hint_term > kNoTerm)
      next_probe = log_.FindConflictByTerm(m.reject_hint, m.hint_term).first;
    if (pr.MaybeDecrease(m.index, next_probe)) {
      if (pr.state() == Progress::State::kReplicate) pr.BecomeProbe();
      MaybeSendAppend(m.from, /*send_if_empty=*/true);
    }
    return;
  }
  const bool was_paused = pr.IsPaused();
  if (!pr.MaybeUpdate(m.index)) return;
  if (departing_.count(m.from) > 0) return ReleaseDeparting();
  if (pr.state() == Progress::State::kProbe) {
    pr.BecomeReplicate();
  } else if (pr.state() == Progress::State::kSnapshot &&
             pr.match() >= pr.pending_snapshot()) {
    pr.BecomeProbe();
    pr.BecomeReplicate();
  }
  if (MaybeCommit()) {
    if (role_ != Role::kLeader) return;
    BroadcastAppend();
  } else if (was_paused || pr.state() == Progress::State::kReplicate) {
    while (MaybeSendAppend(m.from, /*send_if_empty=*/false)) {
    }
  }
  if (m.from == transfer_target_ && pr.match() == log_.LastIndex()) {
    lease_forbidden_ = true;  // its election ignores the followers' lease
    Message timeout;
    timeout.type = MessageType::kTimeoutNow;
    timeout.to = m.from;
    Send(std::move(timeout));
    // A removed leader steps down as soon as its successor is told (§4.2.2).
    if (!IsVoter(config_.id) && log_.committed() >= conf_index())
      BecomeFollower(term_, kNoNode);
  }
}

void Core::HandleHeartbeatResponse(const Message& m) {
  Progress* found = tracker_.Find(m.from);
  if (found == nullptr) return;
  Progress& pr = *found;
  pr.set_recent_active(true);
  pr.OnHeartbeatResponse();
  // Even an empty append: a follower that lost our messages (say, it restarted)
  // answers it with a rejection, which starts probing and, if needed, a
  // snapshot.
  if (pr.match() < log_.LastIndex()) {
    MaybeSendAppend(m.from, /*send_if_empty=*/true);
  }
  if (!m.context.empty()) OnReadAck(m.from, m.context);
}

void Core::StepLeader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResponse:
      HandleAppendResponse(m);
      break;
    case MessageType::kHeartbeatResponse:
      HandleHeartbeatResponse(m);
      break;
    case MessageType::kReadIndex:
      // A follower's read (thesis §6.4): it joins the next round like ours,
      // and the answer goes back to it. Bounded: a flood is dropped (the
      // follower's read times out and is retried).
      if (LeaseValid()) {
        ++lease_reads_served_;
        last_lease_read_index_ = log_.committed();
        AnswerRead(PendingRead{m.context, kNoIndex, 0, m.from},
                   log_.committed());
      } else if (pending_reads_.size() < kMaxPendingReads) {
        pending_reads_.push_back(PendingRead{m.context, kNoIndex, 0, m.from});
        StartReadRound();
      }
      break;
    default:
      break;  // stale vote responses and the like
  }
}

void Core::TickLeader() {
  ++leader_ticks_;
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  TickDeparting();
  for (auto& [id, pr] : tracker_.progress()) {
    if (pr.TickSnapshot(config_.election_ticks))
      pr.BecomeProbe();  // retry the snapshot
  }
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      // Check-quorum (thesis §6.2): a leader that has not heard from a majority
      // within an election timeout steps down, so clients stop waiting on it.
      if (!tracker_.CheckQuorumActiveAndReset(config_.id)) {
        Log("stepping down: cannot reach a quorum");
        BecomeFollower(term_, kNoNode);
        return;
      }
    }
    if (transfer_target_ != kNoNode) AbortTransfer();
    if (!IsVoter(config_.id) && log_.committed() >= conf_index()) {
      // Removed, and the hand-over did not finish in time: step down anyway.
      Log("stepping down: removed from the configuration");
      BecomeFollower(term_, kNoNode);
      return;
    }
  }
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    // With lease reads every heartbeat is a round, so that the lease is
    // renewed before reads need it.
    if (config_.lease_reads && round_in_flight_ == 0 &&
        StartRound(/*even_without_reads=*/true)) {
      return;  // the round's heartbeats went out
    }
    BroadcastHeartbeat(round_in_flight_ != 0 ? EncodeRound(round_in_flight_)
                                             : std::string());
  }
}

absl::Status Core::TransferLeader(NodeId to) {
  if (role_ != Role::kLeader) return NotLeaderStatus();
  if (to == config_.id) return absl::OkStatus();
  if (!IsVoter(to)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot transfer leadership to node ", to, ": not a voting member"));
  }
  if (transfer_target_ == to) return absl::OkStatus();
  Log(absl::StrCat("transferring leadership to ", to));
  transfer_target_ = to;
  election_elapsed_ =
      0;  // the transfer must finish within one election timeout
  const Progress& pr = *tracker_.Find(to);
  if (pr.match() == log_.LastIndex()) {
    lease_forbidden_ = true;  // its election ignores the followers' lease
    Message timeout;
    timeout.type = MessageType::kTimeoutNow;
    timeout.to = to;
    Send(std::move(timeout));
  } else {
    MaybeSendAppend(to, /*send_if_empty=*/true);
  }
  return absl::OkStatus();
}

void Core::AbortTransfer() {
  Log(absl::StrCat("leadership transfer to ", transfer_target_, " timed out"));
  transfer_target_ = kNoNode;
}

absl::Status Core::ReadIndex(std::string context) {
  if (role_ == Role::kFollower && leader_ != kNoNode) {
#ifdef RAFTKV_MUTATION_FOLLOWER_READ_OWN_COMMIT  // for mutation_test
    // A deliberate bug: the follower's own commit index may lag the leader's.
    read_states_.push_back(ReadState{log_.committed(), std::move(context)});
    return absl::OkStatus();
#endif
    // Thesis §6.4: a follower asks the leader for the read index; the leader
    // confirms it still leads and answers with its commit index then.
    Message ask;
    ask.type = MessageType::kReadIndex;
    ask.to = leader_;
    ask.context = std::move(context);
    Send(std::move(ask));
    return absl::OkStatus();
  }
  if (role_ != Role::kLeader) return NotLeaderStatus();
  if (LeaseValid()) {
    ++lease_reads_served_;
    last_lease_read_index_ = log_.committed();
    read_states_.push_back(ReadState{log_.committed(), std::move(context)});
    return absl::OkStatus();
  }
  pending_reads_.push_back(
      PendingRead{std::move(context), kNoIndex, 0, config_.id});
  StartReadRound();
  return absl::OkStatus();
}

// Thesis §6.4.1. Safety: the leader sent round r at its tick t; each follower
// that acknowledged r received it after t and reset its election timer then,
// and from then on, for election_ticks of its own ticks, it ignores vote and
// pre-vote requests (Core::InLease, also across a restart) and starts no
// election. A quorum acknowledged r, and every election needs the pre-vote
// and then the vote of a quorum, which overlaps it (in the same
// configuration: a change of configuration ends the lease). So no other
// leader can exist until the first of those followers' timers runs out,
// which is more than lease_ticks_ of the leader's ticks after t while no
// clock runs more than lease_clock_drift faster than another, and while the
// leader's ticks keep up with its clock (the driver catches them up before
// every read and message, so a paused process cannot count stale ticks).
// What would break it is ruled out: fast failover drops a follower's promise
// on the transport's word (so it is off), a leadership transfer's election
// ignores the promise (so a leader that sent TimeoutNow serves no lease reads
// for the rest of its term), and a new leader serves reads only after an
// entry of its term has committed (§6.4).
bool Core::LeaseValid() const {
#ifdef RAFTKV_MUTATION_LEASE_TOO_LONG  // for mutation_test
  // A deliberate bug: a lease a hundred election timeouts long.
  const uint64_t lease_ticks = 100 * config_.election_ticks;
#else
  const uint64_t lease_ticks = lease_ticks_;
#endif
  return config_.lease_reads && role_ == Role::kLeader && lease_valid_ &&
         !lease_forbidden_ && lease_conf_index_ == conf_index() &&
         leader_ticks_ - lease_start_tick_ < lease_ticks &&
         log_.TermOrZero(log_.committed()) == term_;
}

void Core::StartReadRound() { StartRound(/*even_without_reads=*/false); }

bool Core::StartRound(bool even_without_reads) {
  if (role_ != Role::kLeader || round_in_flight_ != 0) return false;
  if (pending_reads_.empty() && !even_without_reads) return false;
  // Thesis §6.4: a new leader serves reads only once an entry of its term has
  // committed, so that its commit index is at least that of every earlier
  // leader.
  if (log_.TermOrZero(log_.committed()) != term_) return false;
  bool any = even_without_reads;
  for (PendingRead& read : pending_reads_) {
    if (read.round != 0) continue;
    read.round = next_round_;
    read.index = log_.committed();
    any = true;
  }
  if (!any) return false;
  round_sent_tick_ = leader_ticks_;
  round_conf_index_ = conf_index();
  round_in_flight_ = next_round_++;
  round_acks_.clear();
  round_acks_.insert(config_.id);
  if (tracker_.IsQuorum(round_acks_)) {
    OnReadAck(config_.id, EncodeRound(round_in_flight_));
    return false;  // settled by this node alone: no heartbeats sent
  }
  BroadcastHeartbeat(EncodeRound(round_in_flight_));
  return true;
}

void Core::OnReadAck(NodeId from, const std::string& context) {
  const uint64_t round = DecodeRound(context);
  if (round == 0 || round != round_in_flight_ || !IsVoter(from)) return;
  round_acks_.insert(from);
  MaybeFinishReadRound();
}

void Core::MaybeFinishReadRound() {
  const uint64_t round = round_in_flight_;
  if (round == 0 || !tracker_.IsQuorum(round_acks_)) return;
  if (config_.lease_reads && round_conf_index_ == conf_index()) {
    lease_valid_ = true;
    lease_start_tick_ = round_sent_tick_;
    lease_conf_index_ = round_conf_index_;
  }
  // A quorum still follows us: every read queued before this round began is
  // safe.
  while (!pending_reads_.empty() && pending_reads_.front().round != 0 &&
         pending_reads_.front().round <= round) {
    PendingRead read = std::move(pending_reads_.front());
    pending_reads_.pop_front();
    const LogIndex index = read.index;
    AnswerRead(std::move(read), index);
  }
  round_in_flight_ = 0;
  StartReadRound();
}

void Core::AnswerRead(PendingRead read, LogIndex index) {
  if (read.from == config_.id) {
    read_states_.push_back(ReadState{index, std::move(read.context)});
    return;
  }
  Message answer;
  answer.type = MessageType::kReadIndexResponse;
  answer.to = read.from;
  answer.index = index;
  answer.context = std::move(read.context);
  Send(std::move(answer));
}

}  // namespace raftkv::raft

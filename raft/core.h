// Core: the Raft consensus algorithm as a pure, deterministic state machine.
//
// Inputs only: Tick(), Step(message), Propose(data), ProposeConfChange(steps),
// ReadIndex(context), TransferLeader(to), Campaign(). Output only through
// GetReady()/Advance(). No I/O, no threads, no clock: time is ticks, randomness
// comes from Config::seed, logging goes to Config::log_sink. So one seed and
// one sequence of inputs replay one run exactly (DESIGN.md, "The consensus
// core"; the structure follows etcd-io/raft's raft.go and rawnode.go). The
// member set is data: the configuration of storage's snapshot, then every
// membership record in the log, each in force from the moment it is appended
// (thesis §4.1) and forgotten again if a conflicting leader truncates it.
//
// Implemented: elections with randomized timeouts (§5.2) and the up-to-date
// vote rule (§5.4.1); pre-vote (thesis §9.6) and check-quorum with a leader
// lease (thesis §6.2, §9.6); AppendEntries with the consistency check (§5.3)
// and fast backtracking by term; pipelined replication with a per-follower
// in-flight window; commitment only of current-term entries by counting
// replicas (§5.4.2); leadership transfer (thesis §3.10); ReadIndex with one
// heartbeat round shared by every read that arrived before it (thesis §6.4),
// also for followers, which ask the leader for the read index; opted in,
// reads served from the leader's lease without a round (thesis §6.4.1);
// snapshots (§7); membership changes of one voter (thesis §4.1) or through a
// joint configuration left automatically (§4.3), learners, and a removed
// leader handing over (§4.2.2); every count asks the ProgressTracker's quorum.
//
// Thread safety: none. The core is touched only from its node's event loop
// thread. Invariants: CheckInvariants() states them; the simulator calls it
// after every step.
#ifndef RAFTKV_RAFT_CORE_H_
#define RAFTKV_RAFT_CORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "raft/confchange.h"
#include "raft/log_storage.h"
#include "raft/message.h"
#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/tracker.h"
#include "raft/types.h"

namespace raftkv::raft {

struct Config {
  NodeId id = kNoNode;
  // A follower that hears nothing for a random number of ticks in
  // [election_ticks, 2 * election_ticks) starts an election.
  uint64_t election_ticks = 10;
  uint64_t heartbeat_ticks = 1;
  uint64_t seed = 1;
  // Replication flow control.
  uint64_t max_entries_bytes_per_message = 1 << 20;
  uint64_t max_inflight_messages = 256;
  uint64_t max_inflight_bytes = 32 << 20;
  uint64_t max_committed_bytes_per_ready = 8 << 20;
  bool pre_vote = true;
  bool check_quorum = true;
  // Act on PeerDown() evidence that the leader's process is gone: campaign
  // (with pre-vote) within a tick or two instead of waiting out the election
  // timeout. Must be off when reads rely on a leader lease (thesis §6.4.1):
  // the lease holds only because no follower votes within the election
  // timeout of hearing from the leader, and evidence ends that wait early.
  bool fast_failover = true;
  // Leader lease reads (thesis §6.4.1): a leader that a quorum acknowledged
  // recently serves reads at once, without a heartbeat round, trusting that
  // no other leader can be elected before the acknowledging followers stop
  // ignoring vote requests. Needs pre_vote and check_quorum, fast_failover
  // off, and ticks that follow the monotonic clock (kv::NodeDriver::
  // CatchUpTicks): see Core::LeaseValid for the argument. Off by default: it
  // trades a clock assumption for a round trip.
  bool lease_reads = false;
  // The bound on clock drift the lease assumes: no node's ticks run more than
  // this fraction faster than another's (0.1: 10%).
  double lease_clock_drift = 0.1;
  // A learner is promoted only when it is at most this many entries behind
  // the leader's last index (thesis §4.2.1: a voter that cannot keep up
  // would stall commitment).
  uint64_t max_promote_lag = 1000;
  // The state machine has applied everything through this index, so it is
  // committed: a restart starts from at least here even when the commit
  // index was not yet durable (a node that applied its own removal knows it
  // was removed, and does not campaign).
  LogIndex applied = kNoIndex;
  // Receives one line per notable event (elections, role changes). May be
  // empty.
  std::function<void(absl::string_view)> log_sink;
};

class Core {
 public:
  // REQUIRES: `storage` outlives the core; config.id is a member of storage's
  // initial configuration (or the configuration is empty and the node waits to
  // be added).
  static absl::StatusOr<std::unique_ptr<Core>> Create(const Config& config,
                                                      LogStorage* storage);

  // Advances logical time by one tick: elections, heartbeats, check-quorum,
  // timeouts.
  void Tick();
  // Handles a message from a peer. Messages from unknown peers and stale
  // messages are dropped; the returned status says why, for the driver's logs.
  absl::Status Step(const Message& message);
  // Leader only: appends a command; returns its log index. Otherwise
  // kFailedPrecondition
  // ("not the leader"), with leader() naming the leader when one is known.
  absl::StatusOr<LogIndex> Propose(std::string data);
  // Leader only: appends a membership change (confchange.h) whose record
  // carries `context`; returns its log index. Refused, with a message saying
  // what to do, while a previous change is uncommitted or the configuration
  // is joint (kFailedPrecondition), before this leader has committed an entry
  // of its term (kUnavailable, thesis §4.1), when a step does not fit the
  // configuration (kInvalidArgument), or when a learner to promote is more
  // than max_promote_lag entries behind (kFailedPrecondition).
  absl::StatusOr<LogIndex> ProposeConfChange(std::vector<ConfChangeStep> steps,
                                             std::string context);
  // Requests a linearizable read point; a ReadState with `context` appears in a
  // later Ready. On a follower that knows its leader, the leader is asked
  // (thesis §6.4) and the ReadState appears when it answers; if it never
  // does (a new leader, a lost message), none appears: the caller times out.
  absl::Status ReadIndex(std::string context);
  // Leader only: hands leadership to `to` once its log is caught up.
  absl::Status TransferLeader(NodeId to);
  // Starts an election now (tests and bootstrap).
  void Campaign();
  // The transport's evidence that node `id`'s process is gone (its connection
  // was reset and a redial refused: nothing listens on its port). A follower
  // whose leader that is (with fast_failover) forgets it: it stops ignoring
  // vote requests for the lease of a leader it heard from (so other
  // followers' pre-votes can win) and starts a pre-vote within two ticks, the
  // delay random so that two followers rarely campaign at once. Nothing else
  // changes: the pre-vote and the vote still need a quorum (§5.2, thesis §9.6),
  // and the vote of this term is kept, so evidence, right or wrong, cannot
  // make two leaders in a term; a live leader keeps every follower that has no
  // evidence of its own, so it is not disrupted unless a quorum lost it.
  void PeerDown(NodeId id);

  bool HasReady() const;
  Ready GetReady();
  // REQUIRES: `ready` is the last value GetReady() returned, fully handled as
  // its comment in message.h says.
  void Advance(const Ready& ready);

  // The Raft safety properties this node can check alone, as code. OK or the
  // first violation, with the values that show it.
  absl::Status CheckInvariants() const;

  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId leader() const { return leader_; }
  NodeId vote() const { return vote_; }
  // Reads answered from the leader lease, without a round (for metrics).
  uint64_t lease_reads_served() const { return lease_reads_served_; }
  // The read index of the last of them (the simulator checks it is never
  // stale).
  LogIndex last_lease_read_index() const { return last_lease_read_index_; }
  // For how many more ticks this node will ignore vote and pre-vote requests
  // (Core::InLease): the promise a leader's lease counts on. `to` is the
  // leader it promises (kNoNode: everyone, just after a start).
  struct Promise {
    uint64_t ticks = 0;
    NodeId to = kNoNode;
  };
  Promise promise() const;
  const RaftLog& log() const { return log_; }
  // The configuration in force: the last one in the log.
  const ConfState& conf_state() const { return tracker_.conf(); }
  // The configuration in force at `index` (for a snapshot taken there).
  // REQUIRES: index >= the index of the log's snapshot.
  ConfState ConfStateAt(LogIndex index) const;
  // The context of the last membership record in the log ("" before any).
  const std::string& conf_context() const {
    return conf_history_.back().context;
  }
  // The index of the last membership record in the log (the snapshot's index
  // when there is none); it is committed once this is <= log().committed().
  LogIndex conf_index() const { return conf_history_.back().index; }
  // Leader only: the progress it tracks for `id`, or null.
  const Progress* progress(NodeId id) const;
  const std::map<NodeId, Progress>& progress_map() const {
    return tracker_.progress();
  }
  NodeId transfer_target() const { return transfer_target_; }
  // Leader: removed nodes it still sends to (see departing_).
  std::vector<NodeId> departing() const {
    std::vector<NodeId> ids;
    for (const auto& [id, departing] : departing_) ids.push_back(id);
    return ids;
  }

 private:
  Core(const Config& config, LogStorage* storage);

  // Roles (§5.2, thesis §9.6).
  void BecomeFollower(Term term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartElection(bool pre_vote, bool transfer);
  void ResetTerm(Term term);
  void ResetRandomizedTimeout();
  bool InLease() const;
  bool IsVoter(NodeId id) const { return tracker_.IsVoter(id); }
  // May this node start an election? When it is a voter of the configuration
  // in force, and also when only an uncommitted record removes it: a leader
  // that removed itself and crashed before the change committed may be the
  // only node whose log can win, and must be able to finish the change (it
  // then hands over, thesis §4.2.2). A node that knows its removal committed
  // never campaigns, so it cannot disrupt the cluster (§4.2.3).
  bool Promotable() const;
  bool IsMember(NodeId id) const { return tracker_.IsMember(id); }
  void Log(const std::string& line) const;
  absl::Status NotLeaderStatus() const;

  // Message handling.
  absl::Status StepByTerm(const Message& m, bool* handled);
  absl::Status CheckMessage(const Message& m) const;
  void HandleVoteRequest(const Message& m);
  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeatResponse(const Message& m);
  void Send(Message m);

  // Leader replication (core_leader.cc).
  void BroadcastAppend();
  void BroadcastHeartbeat(const std::string& context);
  // Returns whether a message was sent.
  bool MaybeSendAppend(NodeId to, bool send_if_empty);
  void SendSnapshot(NodeId to, Progress& progress);
  void SendHeartbeat(NodeId to, const std::string& context);
  bool MaybeCommit();
  void AppendOwnEntries(std::vector<Entry> entries);
  void TickLeader();
  void AbortTransfer();
  void StartReadRound();
  void OnReadAck(NodeId from, const std::string& context);
  // Completes the round in flight if its acknowledgements are now a quorum
  // (after an acknowledgement, or after the configuration changed).
  void MaybeFinishReadRound();
  void StepDownIfRemoved();

  // Membership (core_membership.cc).
  absl::Status LoadConfHistory(const SnapshotMetadata& snapshot);
  // After entries were appended at `first` and after (truncating what
  // followed them in the log if they conflicted).
  void OnEntriesAppended(const std::vector<Entry>& entries);
  void ResetConfHistory(const SnapshotMetadata& snapshot);
  // Puts the configuration the history says is in force into the tracker.
  void RefreshConf();
  // Leader: once a joint configuration is committed, proposes C_new (§4.3).
  void MaybeLeaveJoint();
  // Leader: tells departing nodes whose removal committed, and forgets them.
  void ReleaseDeparting();
  void TickDeparting();
  absl::Status CheckMembershipInvariants() const;
  Config config_;
  LogStorage* storage_;
  RaftLog log_;
  std::mt19937_64 rng_;
  ProgressTracker tracker_;
  // Every configuration from the log's snapshot on: the snapshot's, then one
  // per membership record in the log, ascending by index.
  struct ConfRecord {
    LogIndex index;
    ConfState conf;
    std::string context;
  };
  std::vector<ConfRecord> conf_history_;
  // Leader: nodes the configuration in force removed, with the index of the
  // record that removed them. They keep getting the log until they hold that
  // record and it has committed (or two election timeouts after it
  // committed, if they stay silent), then one heartbeat carrying the commit
  // index, so that they learn they were removed and stop campaigning (thesis
  // §4.2.3).
  struct Departing {
    LogIndex removed_at = kNoIndex;
    uint64_t ticks_committed = 0;
  };
  std::map<NodeId, Departing> departing_;

  Role role_ = Role::kFollower;
  Term term_ = kNoTerm;
  NodeId vote_ = kNoNode;
  NodeId leader_ = kNoNode;
  HardState persisted_hard_state_;

  uint64_t election_elapsed_ = 0;
  uint64_t heartbeat_elapsed_ = 0;
  uint64_t randomized_election_ticks_ = 0;

  bool broadcast_pending_ = false;
  NodeId transfer_target_ = kNoNode;
  uint64_t transfer_elapsed_ = 0;

  // ReadIndex (thesis §6.4): reads wait for an entry of this term to commit,
  // then join a heartbeat round; a round confirms leadership for every read
  // queued before it began.
  struct PendingRead {
    std::string context;
    LogIndex index = kNoIndex;
    uint64_t round = 0;     // 0: not yet in a round
    NodeId from = kNoNode;  // who asked: this node, or a follower
  };
  static constexpr size_t kMaxPendingReads = 1 << 16;
  // Leader lease (thesis §6.4.1), in this leader's own ticks.
  bool LeaseValid() const;
  // Starts a round of heartbeats (with the reads queued); false if none
  // could start.
  bool StartRound(bool even_without_reads);
  void AnswerRead(PendingRead read, LogIndex index);
  uint64_t lease_ticks_ = 0;       // how long a lease lasts; 0: never valid
  uint64_t leader_ticks_ = 0;      // ticks since this node became leader
  uint64_t round_sent_tick_ = 0;   // when the round in flight was sent
  LogIndex round_conf_index_ = 0;  // the configuration it was sent under
  bool lease_valid_ = false;
  uint64_t lease_start_tick_ = 0;  // when the last acknowledged round was sent
  LogIndex lease_conf_index_ = 0;
  bool lease_forbidden_ = false;  // a TimeoutNow went out this term
  uint64_t lease_reads_served_ = 0;
  LogIndex last_lease_read_index_ = 0;
  // With lease reads, a node that has just started ignores vote requests for
  // this many more ticks, as if it had just heard from a leader: it may have
  // acknowledged a leader's round before it restarted.
  uint64_t startup_lease_ticks_ = 0;
  std::deque<PendingRead> pending_reads_;
  uint64_t next_round_ = 1;
  uint64_t round_in_flight_ = 0;
  std::set<NodeId> round_acks_;
  std::vector<ReadState> read_states_;

  std::vector<Message> early_messages_;
  std::vector<Message> messages_;
  Role reported_role_ = Role::kFollower;
  NodeId reported_leader_ = kNoNode;
};

// Distinguishes "not the leader" from other errors of
// Propose/ReadIndex/TransferLeader.
bool IsNotLeader(const absl::Status& status);

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_CORE_H_

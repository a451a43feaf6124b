#include "kv/driver.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kv/command.h"
#include "raft/status_macros.h"

namespace raftkv::kv {

namespace {

// Runs off the loop: touches only the stores, which are synchronized.
absl::Status PersistReady(const raft::Ready& ready,
                          raft::LogStorage* log_storage,
                          storage::KvStore* kv_store,
                          storage::SnapshotStaging* staging,
                          size_t chunk_bytes) {
  if (ready.snapshot.has_value()) {
    // Restore the store from the staged stream, one chunk at a time.
    const uint64_t transfer = TransferOfTagIn(ready.snapshot->data);
    ASSIGN_OR_RETURN(std::unique_ptr<storage::StagedSnapshotReader> staged,
                     staging->Open(transfer));
    RETURN_IF_ERROR(kv_store->RestoreSnapshot(
        [&]() -> absl::StatusOr<std::optional<std::string>> {
          return staged->Next(chunk_bytes);
        }));
    RETURN_IF_ERROR(log_storage->InstallSnapshot(ready.snapshot->metadata));
    (void)staging->Discard(transfer);  // installed; a leftover is cleared later
  }
  if (ready.must_sync || !ready.entries.empty()) {
    RETURN_IF_ERROR(log_storage->Save(ready.hard_state, ready.entries));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TransferTagOf(uint64_t transfer) { return absl::StrCat(transfer); }

uint64_t TransferOfTagIn(const std::string& tag) {
  uint64_t transfer = 0;
  return absl::SimpleAtoi(tag, &transfer) ? transfer : 0;
}

NodeDriver::NodeDriver(DriverOptions options, const DriverSeams& seams)
    : options_(std::move(options)),
      log_storage_(seams.log_storage),
      kv_store_(seams.kv_store),
      staging_(seams.staging),
      peers_(seams.peers),
      executor_(seams.storage_executor),
      snapshot_executor_(seams.snapshot_executor),
      clock_(seams.clock),
      turn_end_(seams.turn_end) {}

NodeDriver::~NodeDriver() { *alive_ = false; }

absl::Status NodeDriver::Open(const raft::Config& config) {
  machine_ = std::make_unique<StateMachine>(
      kv_store_, StateMachineOptions{options_.session_ttl_ms});
  RETURN_IF_ERROR(machine_->Load());
  raft::Config with_applied = config;
  with_applied.applied = machine_->applied();
  ASSIGN_OR_RETURN(core_, raft::Core::Create(with_applied, log_storage_));
  // Read contexts differ from every earlier run's: a leader's late answer to
  // a read this node forwarded before a restart must not confirm a new one.
  read_prefix_ = absl::StrCat("read-", clock_->MonotonicMicros(), "-",
                              clock_->NowMs(), "-");
  tick_origin_us_ = clock_->MonotonicMicros();
  // Catching up more than this at once changes nothing: twice the election
  // timeout ends every lease and, without answers, every leadership.
  max_catch_up_ = std::max<uint64_t>(
      {100'000, 4 * config.election_ticks, 2 * options_.request_timeout_ticks});
  RefreshMembers();
  return absl::OkStatus();
}

Outcome NodeDriver::NotLeader(std::string message) const {
  Outcome result;
  result.code = Code::kNotLeader;
  result.leader_id = leader_;
  result.leader_address = ClientAddressOf(leader_);
  if (!message.empty()) {
    result.message = std::move(message);
  } else if (leader_ == raft::kNoNode) {
    result.message = "no leader is known yet; retry shortly";
  } else {
    result.message = absl::StrCat("node ", leader_,
                                  result.leader_address.empty() ? "" : " at ",
                                  result.leader_address, " is the leader");
  }
  return result;
}

void NodeDriver::Observe(Timed what, uint64_t started_us) {
  if (!options_.observe) return;
  const uint64_t now = clock_->MonotonicMicros();
  options_.observe(what, now > started_us ? (now - started_us) / 1e6 : 0.0);
}

void NodeDriver::Tick() {
  if (stopped_ || !failure_.ok()) return;
  TickOnce();
  Process();
}

void NodeDriver::TickOnce() {
  ++ticks_;
  core_->Tick();
  ExpireRequests();
  TickSnapshots();
}

uint64_t NodeDriver::CatchUpTicks() {
  if (stopped_ || !failure_.ok()) return 0;
  const uint64_t due = TicksDue();
  if (due == 0) return 0;
  const uint64_t ticks = std::min(due, max_catch_up_);
  clock_ticks_ += due;  // past max_catch_up_, the rest is skipped
  for (uint64_t i = 0; i < ticks && !stopped_ && failure_.ok(); ++i) {
    TickOnce();
  }
  ProcessAtTurnEnd();
  return ticks;
}

uint64_t NodeDriver::TicksDue() {
  const uint64_t now = clock_->MonotonicMicros();
  if (core_ == nullptr || now < tick_origin_us_) return 0;
  const uint64_t due = (now - tick_origin_us_) / options_.tick_us;
  return due > clock_ticks_ ? due - clock_ticks_ : 0;
}

uint64_t NodeDriver::MicrosToNextTick() {
  const uint64_t next = tick_origin_us_ + (clock_ticks_ + 1) * options_.tick_us;
  const uint64_t now = clock_->MonotonicMicros();
  return next > now ? next - now : 0;
}

void NodeDriver::Deliver(const std::vector<raft::Message>& messages) {
  if (stopped_ || !failure_.ok()) return;
#ifndef RAFTKV_MUTATION_LEASE_WITHOUT_CATCH_UP
  // (Mutant: only the timer ticks, so a message that arrives first after a
  // pause meets the ticks from before it.)
  CatchUpTicks();
#endif
  for (const raft::Message& m : messages) {
    // A snapshot's data arrives only as a stream of chunks.
    if (m.type == raft::MessageType::kSnapshot) continue;
    absl::Status status = core_->Step(m);
    (void)status;  // unknown peers and stale messages are dropped by design
  }
  ProcessAtTurnEnd();
}

void NodeDriver::Write(net::wire::Command::Reader command, Reply reply) {
  if (stopped_ || !failure_.ok())
    return reply(Unavailable("node is shutting down"));
  if (role_ != raft::Role::kLeader) return reply(NotLeader());
  std::string data = SerializeCommand(command, clock_->NowMs());
  absl::StatusOr<raft::LogIndex> index = core_->Propose(std::move(data));
  if (!index.ok()) {
    if (raft::IsNotLeader(index.status())) return reply(NotLeader());
    return reply(Unavailable(std::string(index.status().message())));
  }
  pending_writes_[*index] = PendingWrite{
      core_->term(), ticks_ + options_.request_timeout_ticks, std::move(reply)};
  ProcessAtTurnEnd();
}

void NodeDriver::ReadBarrier(Reply reply) {
  if (stopped_ || !failure_.ok())
    return reply(Unavailable("node is shutting down"));
#ifndef RAFTKV_MUTATION_LEASE_WITHOUT_CATCH_UP
  CatchUpTicks();
#endif
  // A follower asks its leader for the read index (thesis §6.4).
  if (role_ != raft::Role::kLeader &&
      (role_ != raft::Role::kFollower || leader_ == raft::kNoNode)) {
    return reply(NotLeader());
  }
#ifdef RAFTKV_MUTATION_READ_WITHOUT_READ_INDEX
  // Mutant: a node serves a read from its own state at once, without a
  // ReadIndex round confirming the leader still leads.
  return reply(Outcome{});
#endif
  std::string context = absl::StrCat(read_prefix_, next_read_++);
  if (!core_->ReadIndex(context).ok()) return reply(NotLeader());
  pending_reads_[std::move(context)] =
      PendingRead{raft::kNoIndex, false,
                  ticks_ + options_.request_timeout_ticks, std::move(reply)};
  ProcessAtTurnEnd();
}

void NodeDriver::ProcessAtTurnEnd() {
  if (process_deferred_) return;  // already coming
  process_deferred_ = true;
  std::weak_ptr<bool> alive = alive_;
  turn_end_->Defer([this, alive] {
    if (alive.expired() || !*alive.lock()) return;
    process_deferred_ = false;
    Process();
  });
}

void NodeDriver::Process() {
  while (!stopped_ && failure_.ok() && !write_in_flight_ && core_->HasReady()) {
    auto ready = std::make_shared<raft::Ready>(core_->GetReady());
    SendMessages(std::move(ready->early_messages));
    ready->early_messages.clear();
    OnRoleChange(ready->role, ready->leader);
    const bool persist = ready->must_sync || !ready->entries.empty() ||
                         ready->snapshot.has_value();
    if (!persist) {
      AfterPersist(*ready);
      continue;
    }
    write_in_flight_ = true;
    std::weak_ptr<bool> alive = alive_;
    raft::LogStorage* log_storage = log_storage_;
    storage::KvStore* kv_store = kv_store_;
    storage::SnapshotStaging* staging = staging_;
    const size_t chunk_bytes = options_.snapshot_chunk_bytes;
    executor_->Run(
        [ready, log_storage, kv_store, staging, chunk_bytes] {
          return PersistReady(*ready, log_storage, kv_store, staging,
                              chunk_bytes);
        },
        [this, ready, alive](absl::Status status) {
          if (alive.expired() || !*alive.lock()) return;
          write_in_flight_ = false;
          if (!status.ok()) return Fail(status);
          ++stats_.persists;
          if (ready->snapshot.has_value()) ++stats_.snapshots_received;
          AfterPersist(*ready);
          Process();
        });
  }
}

#if defined(RAFTKV_MUTATION_ACK_BEFORE_COMMIT) || \
    defined(RAFTKV_MUTATION_ACK_BEFORE_APPLY)
// Mutants only: answers OK to the writes waiting on `entries`, too early.
void NodeDriver::AcknowledgeEarly(absl::Span<const raft::Entry> entries) {
  for (const raft::Entry& e : entries) {
    auto it = pending_writes_.find(e.index);
    if (it == pending_writes_.end() || it->second.term != e.term) continue;
    Reply reply = std::move(it->second.reply);
    pending_writes_.erase(it);
    reply(Outcome{});
  }
}
#endif

void NodeDriver::AfterPersist(raft::Ready& ready) {
#ifdef RAFTKV_MUTATION_ACK_BEFORE_COMMIT
  // Mutant: a write is acknowledged once the leader's own copy is durable,
  // before a quorum has it.
  AcknowledgeEarly(ready.entries);
#endif
  SendMessages(std::move(ready.messages));
  ready.messages.clear();
  if (ready.snapshot.has_value()) {
    absl::Status loaded = machine_->Load();
    if (!loaded.ok()) return Fail(loaded);
  }
  ApplyCommitted(ready.committed_entries);
  if (!failure_.ok()) return;
  for (const raft::ReadState& rs : ready.read_states) {
    auto it = pending_reads_.find(rs.context);
    if (it != pending_reads_.end()) {
      it->second.index = rs.index;
      it->second.confirmed = true;
    }
  }
  core_->Advance(ready);
  RefreshMembers();
  ServeReads();
  MaybeCompact();
}

// Applies every newly committed entry with one store write (entries applied
// before a restart are skipped), then answers the writes waiting on them.
void NodeDriver::ApplyCommitted(const std::vector<raft::Entry>& committed) {
  size_t first_new = 0;
  while (first_new < committed.size() &&
         committed[first_new].index <= machine_->applied()) {
    ++first_new;
  }
  absl::Span<const raft::Entry> fresh =
      absl::MakeConstSpan(committed).subspan(first_new);
  if (fresh.empty()) return;
#ifdef RAFTKV_MUTATION_ACK_BEFORE_APPLY
  // Mutant: a committed write is acknowledged before it is applied, so its
  // reply cannot carry the command's real outcome.
  AcknowledgeEarly(fresh);
#endif
  const uint64_t started_us = clock_->MonotonicMicros();
  absl::StatusOr<std::vector<Outcome>> results = machine_->ApplyEntries(fresh);
  Observe(Timed::kApply, started_us);
  stats_.entries_applied += fresh.size();
  if (!results.ok()) {
    return Fail(absl::Status(
        results.status().code(),
        absl::StrCat("applying entries ", fresh.front().index, "..",
                     fresh.back().index, ": ", results.status().message())));
  }
  std::vector<std::pair<Reply, Outcome>> replies;
  for (size_t i = 0; i < fresh.size(); ++i) {
    auto it = pending_writes_.find(fresh[i].index);
    if (it == pending_writes_.end()) continue;
    if (it->second.term == fresh[i].term) {
      replies.emplace_back(std::move(it->second.reply),
                           std::move((*results)[i]));
    } else {
      // Another leader's entry took this index: ours was never committed.
      ++stats_.proposals_failed;
      replies.emplace_back(
          std::move(it->second.reply),
          Unavailable("leadership changed before the write committed; retry"));
    }
    pending_writes_.erase(it);
  }
  for (auto& [reply, result] : replies) reply(std::move(result));
}

void NodeDriver::FailForwardedReads() {
  // Reads this follower asked a leader about and got no answer for: that
  // leader will not answer now (a read already answered is kept, and served
  // once applied).
  std::vector<Reply> failed;
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.confirmed) {
      ++it;
      continue;
    }
    failed.push_back(std::move(it->second.reply));
    it = pending_reads_.erase(it);
  }
  for (Reply& reply : failed) reply(NotLeader("the leader changed; retry"));
}

void NodeDriver::ServeReads() {
  std::vector<Reply> ready;
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
#ifdef RAFTKV_MUTATION_READ_BEFORE_APPLIED
    // Mutant: a read is served once leadership is confirmed, without waiting
    // for the state machine to reach the read index.
    const bool applied = true;
#else
    const bool applied = it->second.index <= machine_->applied();
#endif
    if (it->second.confirmed && applied) {
      ready.push_back(std::move(it->second.reply));
      it = pending_reads_.erase(it);
    } else {
      ++it;
    }
  }
  for (Reply& reply : ready) reply(Outcome{});
}

void NodeDriver::ExpireRequests() {
  std::vector<std::pair<Reply, Outcome>> expired;
  for (auto it = pending_writes_.begin(); it != pending_writes_.end();) {
    if (it->second.deadline > ticks_) {
      ++it;
      continue;
    }
    expired.emplace_back(
        std::move(it->second.reply),
        Unavailable("not committed in time (--request-timeout-ms); retry (a "
                    "retry is applied at most once)"));
    it = pending_writes_.erase(it);
  }
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.deadline > ticks_) {
      ++it;
      continue;
    }
    expired.emplace_back(
        std::move(it->second.reply),
        Unavailable("leadership could not be confirmed in time; retry"));
    it = pending_reads_.erase(it);
  }
  for (auto& [reply, result] : expired) reply(std::move(result));
}

void NodeDriver::OnRoleChange(raft::Role role, raft::NodeId leader) {
  const bool was_leader = role_ == raft::Role::kLeader;
  if (role == raft::Role::kLeader && !was_leader) {
    Log(absl::StrCat("node ", options_.id, ": became leader at term ",
                     core_->term()));
  }
  role_ = role;
  if (leader != leader_ && leader != raft::kNoNode) ++stats_.leader_changes;
  if (leader != leader_ && !was_leader) FailForwardedReads();
  leader_ = leader;
  if (was_leader && role != raft::Role::kLeader) {
    // Writes already committed are applied all the same, and answered with
    // their outcome then (a leader that removed itself steps down right as
    // its removal commits); the others may never commit here.
    const raft::LogIndex committed = core_->log().committed();
    std::map<raft::LogIndex, PendingWrite> kept;
    for (auto it = pending_writes_.begin(); it != pending_writes_.end();) {
      if (it->first <= committed) {
        kept.insert(pending_writes_.extract(it++));
      } else {
        ++it;
      }
    }
    FailAllPending(NotLeader());
    pending_writes_ = std::move(kept);
  }
}

void NodeDriver::FailAllPending(const Outcome& result) {
  std::vector<Reply> replies;
  for (auto& [index, write] : pending_writes_)
    replies.push_back(std::move(write.reply));
  pending_writes_.clear();
  for (auto& [context, read] : pending_reads_)
    replies.push_back(std::move(read.reply));
  pending_reads_.clear();
  for (Reply& reply : replies) reply(Outcome(result));
}

void NodeDriver::Fail(const absl::Status& status) {
  if (!failure_.ok()) return;
  failure_ = status;
  Log(absl::StrCat("node ", options_.id,
                   ": storage failed, stopping: ", status.message()));
  FailAllPending(Unavailable("node storage failed"));
  if (options_.on_failure) options_.on_failure(status);
}

void NodeDriver::MaybeCompact() {
  if (compaction_in_flight_ || stopped_ || !failure_.ok()) return;
  // Not past what the core has handed out either: after a restart the store
  // may be ahead of the core, which still walks the log up to it, and a log
  // compacted past the core's applied index would stall it for good (found
  // by the whole-node simulator, seed 220).
  raft::LogIndex applied =
      std::min(machine_->applied(), core_->log().applied());
  // Nor past a snapshot being sent: the follower continues from the log right
  // after it, and must not need another snapshot (no snapshot loop).
  for (const auto& [to, out] : outgoing_)
    applied = std::min(applied, out.message.snapshot.index);
  if (applied < log_storage_->FirstIndex() + options_.compact_after_entries)
    return;
  // Never compact the log past what the state machine has made durable
  // (DESIGN.md): the job syncs the store first, then compacts, off the loop.
  compaction_in_flight_ = true;
  std::weak_ptr<bool> alive = alive_;
  raft::LogStorage* log_storage = log_storage_;
  storage::KvStore* kv_store = kv_store_;
  const raft::ConfState conf = core_->ConfStateAt(applied);
  executor_->Run(
      [log_storage, kv_store, applied, conf]() -> absl::Status {
        RETURN_IF_ERROR(kv_store->Sync());
        return log_storage->Compact(applied, conf);
      },
      [this, alive](absl::Status status) {
        if (alive.expired() || !*alive.lock()) return;
        compaction_in_flight_ = false;
        if (!status.ok()) return Fail(status);
        ++stats_.compactions;
      });
}

void NodeDriver::Campaign() {
  if (stopped_ || !failure_.ok()) return;
  core_->Campaign();
  Process();
}

void NodeDriver::PeerDown(raft::NodeId id) {
  if (stopped_ || !failure_.ok()) return;
  core_->PeerDown(id);
  Process();
}

absl::Status NodeDriver::TransferLeader(raft::NodeId to) {
  if (stopped_ || !failure_.ok())
    return absl::UnavailableError("node is shutting down");
  absl::Status status = core_->TransferLeader(to);
  Process();
  return status;
}

bool NodeDriver::HandOffLeadership() {
  if (role_ != raft::Role::kLeader || !failure_.ok()) return false;
  raft::NodeId best = raft::kNoNode;
  raft::LogIndex best_match = 0;
  for (raft::NodeId id : core_->conf_state().voters) {
    const raft::Progress* progress = core_->progress(id);
    if (id != options_.id && progress != nullptr &&
        progress->match() >= best_match) {
      best = id;
      best_match = progress->match();
    }
  }
  if (best == raft::kNoNode || !TransferLeader(best).ok()) return false;
  Log(absl::StrCat("node ", options_.id, ": handing leadership to node ",
                   best));
  return true;
}

void NodeDriver::Stop() {
  stopped_ = true;
  FailAllPending(Unavailable("node is shutting down; retry another node"));
}

}  // namespace raftkv::kv

// NodeDriver: the one Ready loop of a kvnode, used by production, the
// whole-node simulator and every test that runs a node.
//
// It owns the Raft core and the KV state machine and handles each Ready in the
// order message.h prescribes (DESIGN.md, "The node: one driver, three seams").
// Client writes, reads and peer batches are stepped into the core as they
// come, and the Ready loop runs once at the end of the turn (TurnEnd), so
// that everything that arrived together shares one Ready:
//   1. a leader's own appends and heartbeats go out at once (thesis §10.2.1);
//   2. the snapshot, hard state and entries are persisted by one job on the
//      off-loop executor, with one fsync (group commit: proposals that arrive
//      meanwhile wait for the next Ready);
//   3. then votes and acknowledgements are sent (they promise what step 2 made
//      durable), committed entries are applied in one store write, waiting
//      writes are answered with their results and ReadIndex reads once the
//      state machine has reached their index (thesis §6.4), and the core is
//      advanced;
//   4. once enough is applied, the log is compacted by an off-loop job that
//      first makes the state machine durable (the log is never compacted past
//      it, nor past a snapshot still being sent).
// Snapshots stream (Raft paper §7): when the core asks to send one, the
// driver reads a point-in-time view of the KV store in bounded chunks on the
// snapshot executor and sends them one at a time, each after the previous
// one was acknowledged; the follower stages them (SnapshotStaging) off the
// loop and steps the final chunk's message into its core, whose Ready then
// restores the store from the staged stream. Neither side holds the whole
// store in memory, a transfer in flight is never started again for the same
// follower, and one that stalls (a follower killed midway) is abandoned after
// snapshot_timeout_ticks and started over when the core asks again.
// A Ready whose only durable change is a higher commit index is not written:
// Raft does not need the commit index to be durable, and the next synced batch
// carries it.
//
// Seams (DriverSeams): storage (raft::LogStorage, storage::KvStore and
// storage::SnapshotStaging), the network (PeerSender), the end of the turn
// (TurnEnd), off-loop work (two
// OffLoopExecutors: one for the log and the store, one for snapshot streams,
// so a long transfer never delays an fsync) and the wall clock (Clock, for
// stamping commands; timeouts count ticks). Production wires them to LevelDB,
// a storage thread and Cap'n Proto (node_runtime.h); the simulator to its
// in-memory twins, simulated disk latency and network.
//
// A storage error is fatal: the driver stops taking Readies, fails every
// waiting request with kUnavailable (never acknowledging what was not
// durable), and reports the error through DriverOptions::on_failure.
//
// Thread safety: not thread-safe; every method runs on the node's loop thread,
// and so do the executor's completion callbacks. Invariants: at most one Ready
// is being persisted (write_in_flight_); Advance() is called exactly once per
// Ready, in order; a reply callback is called at most once.
#ifndef RAFTKV_KV_DRIVER_H_
#define RAFTKV_KV_DRIVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kv/members.h"
#include "kv/state_machine.h"
#include "net/kv.capnp.h"
#include "raft/confchange.h"
#include "raft/core.h"
#include "raft/log_storage.h"
#include "storage/kv_store.h"
#include "storage/snapshot_staging.h"

namespace raftkv::kv {

// Counts for metrics (kv/metrics.h), kept by the driver as it works; read on
// the loop thread.
struct DriverStats {
  uint64_t leader_changes = 0;    // times the known leader changed to a node
  uint64_t entries_applied = 0;   // log entries applied to the state machine
  uint64_t proposals_failed = 0;  // writes answered "never committed"
  uint64_t persists = 0;          // Readies written (one fsync each if synced)
  uint64_t compactions = 0;       // log compactions completed
  uint64_t snapshots_sent = 0;    // snapshot streams started to followers
  uint64_t snapshots_received = 0;  // snapshots installed from a leader
};

// Seam: delivers messages to peers, best effort.
class PeerSender {
 public:
  virtual ~PeerSender() = default;
  virtual void Send(std::vector<raft::Message> messages) = 0;
  virtual void SendSnapshotChunk(raft::SnapshotChunk chunk) = 0;
  virtual void SendSnapshotAck(const raft::SnapshotAck& ack) = 0;
};

// Seam: runs jobs off the loop, one at a time, in the order given; each `done`
// runs later on the loop thread with its job's status. Jobs of a destroyed
// driver must not complete into it (the owner destroys the executor first or
// drops the completions).
class OffLoopExecutor {
 public:
  virtual ~OffLoopExecutor() = default;
  virtual void Run(std::function<absl::Status()> job,
                   std::function<void(absl::Status)> done) = 0;
};

// Seam: runs `fn` on the loop once the work already queued there is done (the
// end of the event loop's turn). The driver defers its Ready loop this way
// after a client write, a read or a peer batch, so that whatever arrives
// together is handled by one Ready: one fsync and one append per follower
// for all the writes of a turn. Production: kj::evalLast; the simulator and
// the transcript tests: after the step's deliveries and requests.
class TurnEnd {
 public:
  virtual ~TurnEnd() = default;
  virtual void Defer(std::function<void()> fn) = 0;
};

// Seam: the wall clock in milliseconds (stamped into commands; the state
// machine expires sessions by it).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t NowMs() = 0;  // wall clock: stamped into commands
  // A monotonic clock: what ticks follow (NodeDriver::CatchUpTicks) and
  // durations for metrics.
  virtual uint64_t MonotonicMicros() = 0;
};

// What the driver times for its observer (DriverOptions::observe).
enum class Timed { kApply, kSnapshotSend, kSnapshotReceive };

struct DriverOptions {
  raft::NodeId id = raft::kNoNode;
  // Called on the loop with how long an apply batch, or a whole snapshot
  // stream sent or received, took (seconds); may be empty.
  std::function<void(Timed, double)> observe;
  // The length of a tick on the monotonic clock (CatchUpTicks).
  uint64_t tick_us = 50'000;
  // A waiting write or read fails with kUnavailable after this many ticks.
  uint64_t request_timeout_ticks = 100;
  uint64_t compact_after_entries = 10000;
  uint64_t session_ttl_ms = 30 * 60 * 1000;
  uint64_t snapshot_chunk_bytes = 1 << 20;
  // Snapshot chunks are sent gzip-compressed (each on its own, compressed on
  // the snapshot executor, kept only when smaller). A receiver inflates
  // compressed chunks whatever its own setting.
  bool snapshot_gzip = false;
  // A snapshot transfer with no progress for this many ticks is abandoned.
  uint64_t snapshot_timeout_ticks = 40;
  // Snapshot streams together send at most this many bytes per tick (a token
  // bucket refilled every tick; 0: unlimited), so that a large transfer does
  // not starve the writes the node serves meanwhile of the network, disk and
  // CPU. Counted on the wire: after compression (snapshot_gzip).
  uint64_t snapshot_bytes_per_tick = 0;
  // The members' addresses until the log says otherwise: the --cluster of
  // the bootstrap, or what a joining node was told by the cluster.
  MemberAddresses initial_members;
  // Called on the loop whenever the peers to dial change: members() plus
  // the members a not yet applied change removes.
  std::function<void(const MemberAddresses&)> on_members_changed;
  // One line per notable event. May be empty.
  std::function<void(const std::string&)> log;
  // Called once, on the loop, when storage fails and the node must stop.
  std::function<void(const absl::Status&)> on_failure;
};

// Everything a driver reaches the world through. REQUIRES: every pointer
// outlives the driver; the two executors are distinct.
struct DriverSeams {
  raft::LogStorage* log_storage = nullptr;
  storage::KvStore* kv_store = nullptr;
  storage::SnapshotStaging* staging = nullptr;
  PeerSender* peers = nullptr;
  OffLoopExecutor* storage_executor = nullptr;
  OffLoopExecutor* snapshot_executor = nullptr;
  Clock* clock = nullptr;
  TurnEnd* turn_end = nullptr;
};

// A snapshot's data, as the core carries it from the last chunk to the
// Ready, is a tag naming the staged transfer.
std::string TransferTagOf(uint64_t transfer);
uint64_t TransferOfTagIn(const std::string& tag);  // 0 if malformed

class NodeDriver {
 public:
  using Reply = std::function<void(Outcome)>;

  NodeDriver(DriverOptions options, const DriverSeams& seams);
  ~NodeDriver();

  // Loads the state machine and creates the core from storage.
  absl::Status Open(const raft::Config& config);

  // One tick of logical time: the core's timers and request timeouts.
  void Tick();
  // The ticks the monotonic clock says are due since Open (one per tick_us),
  // all at once if the loop fell behind or the process was paused; returns
  // how many. Reads and peer messages call it first, so that a leader never
  // judges its lease (raft::Config::lease_reads) by ticks its clock has
  // outrun. Production's timer and the simulator call it; transcripts call
  // Tick().
  uint64_t CatchUpTicks();
  // Microseconds until the next tick is due (for the timer).
  uint64_t MicrosToNextTick();
  // Ticks due on the clock and not yet done.
  uint64_t TicksDue();
  // Steps messages received from peers (malformed and stale ones are
  // dropped, and so are snapshots that do not arrive as chunks).
  void Deliver(const std::vector<raft::Message>& messages);
  // The two halves of a snapshot stream.
  void DeliverSnapshotChunk(raft::SnapshotChunk chunk);
  void DeliverSnapshotAck(const raft::SnapshotAck& ack);
  // Leader only: proposes `command`, stamped with the clock, and replies once
  // it is committed and applied (with its result) or has failed.
  void Write(net::wire::Command::Reader command, Reply reply);
  // Replies OK once a linearizable read may be served from this node's state
  // machine (ReadIndex, thesis §6.4: a follower asks its leader for the read
  // index and waits until it has applied it), or with why not.
  void ReadBarrier(Reply reply);
  // Reads `key` from the state machine: a linearizable read after
  // ReadBarrier (leader or follower), a serializable one at once.
  // Replies kOk with the value, kNotFound, or why not (driver_reads.cc).
  void Get(std::string key, bool linearizable, Reply reply);
  using ScanReply = std::function<void(Outcome, storage::ScanPage)>;
  // A page of keys in order, as Get.
  void Scan(storage::ScanOptions options, bool linearizable, ScanReply reply);

  // Starts an election now (bootstrapping a lone node, or an operator's
  // choice).
  void Campaign();
  // The transport's evidence that node `id`'s process is gone (connection
  // reset, redial refused): see raft::Core::PeerDown.
  void PeerDown(raft::NodeId id);
  // Leader only: hands leadership to `to` once its log is caught up (thesis
  // §3.10).
  absl::Status TransferLeader(raft::NodeId to);
  // Leader only: proposes a membership change (raft/confchange.h); `added`
  // gives the address of every node a step adds. Replies once the change is
  // committed and applied (a joint change: once C_old,new is; the leader
  // leaves it by itself), or with why not: kInvalidArgument for a step that
  // does not fit, kUnavailable for "retry" (a change in flight, a new
  // leader).
  void ChangeMembership(std::vector<raft::ConfChangeStep> steps,
                        const MemberAddresses& added, Reply reply);
  // Every member's address: the newest membership record in the log (in
  // force from its append, thesis §4.1), else the state machine's, else the
  // initial members.
  const MemberAddresses& members() const { return members_; }
  // The address of `id`, or "" if it is not known.
  std::string AddressOf(raft::NodeId id) const;
  // Where clients reach node `id`: the address it told its peers it serves
  // clients on, else its member address. "Not the leader" names this one.
  std::string ClientAddressOf(raft::NodeId id) const;
  void SetClientAddress(raft::NodeId id, std::string address) {
    client_addresses_[id] = std::move(address);
  }
  // Node `id` listens for peers at `address`, as it told us with its
  // messages: it is dialed too while the log this node has seen does not list
  // it (a member added by a record not received yet, perhaps the leader or a
  // candidate waiting for our answer). Forgotten on restart.
  void LearnPeerAddress(raft::NodeId id, const std::string& address);

  // Graceful shutdown, step one: a leader hands leadership to its most
  // up-to-date follower (thesis §3.10). Returns whether a transfer started.
  bool HandOffLeadership();
  // Step two: no further Ready is taken and every waiting request fails.
  void Stop();
  // No persist job is in flight (safe to close storage once stopped).
  bool idle() const {
    return !write_in_flight_ && !compaction_in_flight_ &&
           snapshot_jobs_in_flight_ == 0;
  }
  // Snapshot transfers this node is sending now.
  size_t snapshots_sending() const { return outgoing_.size(); }
  size_t pending_writes() const { return pending_writes_.size(); }
  size_t pending_reads() const { return pending_reads_.size(); }
  const DriverStats& stats() const { return stats_; }
  bool stopped() const { return stopped_; }
  // OK, or the storage error that stopped the node.
  const absl::Status& failure() const { return failure_; }

  // "Not the leader", naming the leader this node knows (the one place that
  // builds it); `message` replaces the default text.
  Outcome NotLeader(std::string message = "") const;
  raft::Role role() const { return role_; }
  raft::NodeId leader() const { return leader_; }
  const raft::Core& core() const { return *core_; }
  StateMachine& machine() { return *machine_; }
  const DriverOptions& options() const { return options_; }

 private:
  struct PendingWrite {
    raft::Term term;
    uint64_t deadline;
    Reply reply;
  };
  struct PendingRead {
    raft::LogIndex index = raft::kNoIndex;
    bool confirmed = false;
    uint64_t deadline;
    Reply reply;
  };

  void Process();
  // Process() once this turn's other events are handled (TurnEnd).
  void ProcessAtTurnEnd();
  bool process_deferred_ = false;
  absl::Status Persist(const raft::Ready& ready);
  void AfterPersist(raft::Ready& ready);
  void ApplyCommitted(const std::vector<raft::Entry>& committed);
  // Only in //kv:driver_mutant_ack_before_*: acknowledges writes too early.
  void AcknowledgeEarly(absl::Span<const raft::Entry> entries);
  // Sends `messages`, starting a snapshot stream for each kSnapshot.
  void SendMessages(std::vector<raft::Message> messages);
  void StartSnapshot(raft::Message message);
  void SendNextChunk(raft::NodeId to);
  void AckChunk(raft::NodeId to, uint64_t transfer, uint64_t next_offset,
                bool ok);
  // Per tick: refills the stream budget and resumes streams waiting on it,
  // abandons stalled transfers.
  void TickSnapshots();
  void OnRoleChange(raft::Role role, raft::NodeId leader);
  void FailAllPending(const Outcome& result);
  void Fail(const absl::Status& status);
  void ServeReads();
  void FailForwardedReads();
  void ExpireRequests();
  void TickOnce();  // Tick() without the Ready loop
  void MaybeCompact();
  // Recomputes members_ after the log or state machine changed.
  void RefreshMembers();
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  const DriverOptions options_;
  raft::LogStorage* const log_storage_;
  storage::KvStore* const kv_store_;
  storage::SnapshotStaging* const staging_;
  PeerSender* const peers_;
  OffLoopExecutor* const executor_;
  OffLoopExecutor* const snapshot_executor_;
  Clock* const clock_;
  TurnEnd* const turn_end_;
  std::unique_ptr<StateMachine> machine_;
  std::unique_ptr<raft::Core> core_;

  // Shared with executor completions, which do nothing once the driver is
  // gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool write_in_flight_ = false;
  bool compaction_in_flight_ = false;
  bool stopped_ = false;
  absl::Status failure_;
  uint64_t ticks_ = 0;
  // CatchUpTicks: ticks are due every tick_us from tick_origin_us_;
  // clock_ticks_ of them are done (or skipped).
  uint64_t tick_origin_us_ = 0;
  uint64_t clock_ticks_ = 0;
  uint64_t max_catch_up_ = 0;
  DriverStats stats_;
  raft::Role role_ = raft::Role::kFollower;
  raft::NodeId leader_ = raft::kNoNode;
  std::map<raft::LogIndex, PendingWrite> pending_writes_;
  std::map<std::string, PendingRead> pending_reads_;
  MemberAddresses members_;
  MemberAddresses dialed_;  // what on_members_changed was last told
  // The inputs RefreshMembers last saw.
  bool refreshed_ = false;
  std::string refreshed_context_;
  uint64_t refreshed_version_ = 0;
  std::vector<raft::NodeId> refreshed_departing_;
  uint64_t next_read_ = 1;
  std::string read_prefix_;  // unique to this run (Open)

  // Snapshot streams this node sends, one per follower at most.
  static constexpr int kGzipSkipAfterMiss = 15;
  struct Outgoing {
    uint64_t transfer = 0;
    std::shared_ptr<storage::KvSnapshotReader> reader;
    raft::Message message;    // kSnapshot, with the metadata of `reader`
    uint64_t offset = 0;      // bytes acknowledged
    uint64_t in_flight = 0;   // bytes of the chunk not yet acknowledged
    uint64_t wire_bytes = 0;  // sent, after compression
    int gzip_skip = 0;        // chunks to send uncompressed before trying again
    bool last_sent = false;
    bool waiting_for_budget = false;  // the next chunk waits for a tick
    uint64_t deadline = 0;
    uint64_t started_us = 0;
  };
  std::map<raft::NodeId, Outgoing> outgoing_;
  int64_t snapshot_budget_ = 0;  // bytes the streams may still send now
  // The stream this node receives, if any.
  struct Incoming {
    raft::NodeId from = raft::kNoNode;
    uint64_t transfer = 0;
    uint64_t offset = 0;   // bytes staged
    bool staging = false;  // a chunk is being written
    uint64_t deadline = 0;
    uint64_t started_us = 0;
  };
  std::optional<Incoming> incoming_;
  std::map<raft::NodeId, std::string> client_addresses_;
  MemberAddresses learned_;  // LearnPeerAddress
  void Observe(Timed what, uint64_t started_us);
  uint64_t next_transfer_ = 0;
  int snapshot_jobs_in_flight_ = 0;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_DRIVER_H_

// The simulator's model of one node: a real kv::NodeDriver (the production
// Ready loop, core and state machine) over the in-memory storage twins, with
// the seams wired to the simulation: a disk whose writes complete after a
// random latency, a network, and a skewed clock. Apart from the run loop and
// its checks (simulator.cc) and the clients (sim_clients.h).
//
// Thread safety: plain data, owned by one Simulation on one thread.
// Invariants: SimNode::chain[i] is the hash of the node's durable log through
// index i; the storage twins survive a crash, everything else is rebuilt.
#ifndef RAFTKV_TESTING_SIM_SIM_NODE_H_
#define RAFTKV_TESTING_SIM_SIM_NODE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "kv/driver.h"
#include "raft/core.h"
#include "storage/memory_kv_store.h"
#include "storage/memory_log_storage.h"
#include "storage/snapshot_staging.h"

namespace raftkv::testing::sim {

using raft::Entry;
using raft::LogIndex;
using raft::Message;
using raft::NodeId;
using raft::Term;

inline uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

inline uint64_t HashBytes(uint64_t h, const std::string& data) {
  for (char c : data) h = Mix(h, static_cast<uint8_t>(c));
  return Mix(h, data.size());
}

inline uint64_t HashEntry(uint64_t prev, Term term, const std::string& data) {
  return HashBytes(Mix(prev, term), data);
}

// What travels between nodes: Raft messages and the two halves of snapshot
// streams.
using Packet = std::variant<Message, raft::SnapshotChunk, raft::SnapshotAck>;

inline NodeId FromOf(const Packet& p) {
  return std::visit([](const auto& m) { return m.from; }, p);
}
inline NodeId ToOf(const Packet& p) {
  return std::visit([](const auto& m) { return m.to; }, p);
}

struct InFlight {
  uint64_t deliver_at;
  uint64_t seq;
  Packet packet;
  bool operator>(const InFlight& other) const {
    return deliver_at != other.deliver_at ? deliver_at > other.deliver_at
                                          : seq > other.seq;
  }
};

// The node's durable Raft log: the in-memory twin, observed so that the
// simulator can check log matching on every durable write.
class SimLog final : public raft::LogStorage {
 public:
  std::function<void(absl::Span<const Entry>)> on_save;
  std::function<void(const raft::SnapshotMetadata&)> on_install;
  storage::MemoryLogStorage twin;

  raft::InitialState GetInitialState() const override {
    return twin.GetInitialState();
  }
  absl::StatusOr<std::vector<Entry>> Entries(
      LogIndex lo, LogIndex hi, uint64_t max_bytes) const override {
    return twin.Entries(lo, hi, max_bytes);
  }
  absl::StatusOr<Term> TermAt(LogIndex index) const override {
    return twin.TermAt(index);
  }
  LogIndex FirstIndex() const override { return twin.FirstIndex(); }
  LogIndex LastIndex() const override { return twin.LastIndex(); }
  raft::SnapshotMetadata Snapshot() const override { return twin.Snapshot(); }
  absl::Status Save(const std::optional<raft::HardState>& hard_state,
                    absl::Span<const Entry> entries) override {
    absl::Status status = twin.Save(hard_state, entries);
    if (status.ok() && on_save) on_save(entries);
    return status;
  }
  absl::Status Compact(LogIndex index,
                       const raft::ConfState& conf_state) override {
    return twin.Compact(index, conf_state);
  }
  absl::Status InstallSnapshot(
      const raft::SnapshotMetadata& snapshot) override {
    absl::Status status = twin.InstallSnapshot(snapshot);
    if (status.ok() && on_install) on_install(snapshot);
    return status;
  }
};

// The node's KV store: the in-memory twin, observed so that the simulator can
// check that every node applies the same change at each index (§5.4.3).
class SimKv final : public storage::KvStore {
 public:
  std::function<void(const storage::KvBatch&)> on_apply;
  std::function<void(LogIndex)> on_restore;  // after a snapshot is restored
  storage::MemoryKvStore twin;

  absl::StatusOr<std::optional<std::string>> Get(
      absl::string_view key) const override {
    return twin.Get(key);
  }
  absl::StatusOr<storage::ScanPage> Scan(
      const storage::ScanOptions& options) const override {
    return twin.Scan(options);
  }
  LogIndex AppliedIndex() const override { return twin.AppliedIndex(); }
  absl::StatusOr<std::vector<storage::SessionRecord>> LoadSessions()
      const override {
    return twin.LoadSessions();
  }
  absl::Status Apply(const storage::KvBatch& batch) override {
    return ApplyBatches({&batch, 1});
  }
  absl::Status ApplyBatches(
      absl::Span<const storage::KvBatch> batches) override {
    absl::Status status = twin.ApplyBatches(batches);
    if (status.ok() && on_apply) {
      for (const storage::KvBatch& batch : batches) on_apply(batch);
    }
    return status;
  }
  absl::Status Sync() override { return twin.Sync(); }
  absl::StatusOr<std::unique_ptr<storage::KvSnapshotReader>> ReadSnapshot()
      const override {
    return twin.ReadSnapshot();
  }
  absl::Status RestoreSnapshot(
      storage::SnapshotChunkSource next_chunk) override {
    absl::Status status = twin.RestoreSnapshot(next_chunk);
    if (status.ok() && on_restore) on_restore(twin.AppliedIndex());
    return status;
  }
};

// The disk's queue: a job runs (its writes become durable) at `run_at`, and
// its completion reaches the loop one microtick later. A crash drops the
// queue: jobs not yet run are lost (unsynced writes), and a job that ran but
// was not reported is durable but never acknowledged.
class SimExecutor final : public kv::OffLoopExecutor {
 public:
  explicit SimExecutor(std::function<uint64_t()> latency)
      : latency_(std::move(latency)) {}
  void Run(std::function<absl::Status()> job,
           std::function<void(absl::Status)> done) override {
    jobs_.push_back({std::move(job), std::move(done), 0, std::nullopt});
  }
  bool busy() const { return !jobs_.empty(); }
  // Advances the disk to `now`; a paused process's disk goes on writing, but
  // the completion waits for the process (`report` false).
  void Step(uint64_t now, bool report = true) {
    if (jobs_.empty()) return;
    Job& job = jobs_.front();
    if (job.run_at == 0) job.run_at = now + latency_();
    if (!job.status.has_value() && now >= job.run_at) {
      job.status = job.job();
      return;
    }
    if (report && job.status.has_value() && now > job.run_at) {
      Job done = std::move(jobs_.front());
      jobs_.pop_front();
      done.done(*done.status);
    }
  }

 private:
  struct Job {
    std::function<absl::Status()> job;
    std::function<void(absl::Status)> done;
    uint64_t run_at;
    std::optional<absl::Status> status;
  };
  std::function<uint64_t()> latency_;
  std::deque<Job> jobs_;
};

// The end of a node's turn in the simulator: what the driver defers runs
// after the step's deliveries and client requests (Run).
class SimTurnEnd final : public kv::TurnEnd {
 public:
  void Defer(std::function<void()> fn) override {
    deferred_.push_back(std::move(fn));
  }
  // Runs what was deferred; false if there was nothing.
  bool Run() {
    std::vector<std::function<void()>> now;
    now.swap(deferred_);
    for (auto& fn : now) fn();
    return !now.empty();
  }

 private:
  std::vector<std::function<void()>> deferred_;
};

class SimTransport final : public kv::PeerSender {
 public:
  explicit SimTransport(std::function<void(Packet)> send)
      : send_(std::move(send)) {}
  void Send(std::vector<Message> messages) override {
    for (Message& m : messages) send_(Packet(std::move(m)));
  }
  void SendSnapshotChunk(raft::SnapshotChunk chunk) override {
    send_(Packet(std::move(chunk)));
  }
  void SendSnapshotAck(const raft::SnapshotAck& ack) override {
    send_(Packet(ack));
  }

 private:
  std::function<void(Packet)> send_;
};

// A node's clocks: the wall clock runs at its own rate from its own offset;
// the monotonic clock (which its ticks follow) at another rate, as NTP
// slews the one and not the other.
class SimClock final : public kv::Clock {
 public:
  SimClock(const uint64_t* now, double rate, uint64_t offset_ms,
           double mono_rate)
      : now_(now), rate_(rate), offset_ms_(offset_ms), mono_rate_(mono_rate) {}
  uint64_t NowMs() override {
    return offset_ms_ +
           static_cast<uint64_t>(static_cast<double>(*now_) * rate_);
  }
  uint64_t MonotonicMicros() override {
    return static_cast<uint64_t>(static_cast<double>(*now_) * mono_rate_ *
                                 1000);
  }

 private:
  const uint64_t* now_;
  double rate_;
  uint64_t offset_ms_;
  double mono_rate_;
};

struct SimNode {
  NodeId id = 0;
  // Durable: survive crashes (the KV store loses what it had not synced).
  SimLog log;
  SimKv kv;
  storage::MemorySnapshotStaging staging;  // cleared by a crash
  // Rebuilt at every start; null while crashed.
  std::unique_ptr<SimExecutor> disk;
  std::unique_ptr<SimExecutor> snapshot_disk;
  std::unique_ptr<SimTransport> transport;
  SimTurnEnd turn_end;
  std::unique_ptr<SimClock> clock;
  std::unique_ptr<kv::NodeDriver> driver;
  uint64_t incarnation = 0;
  uint64_t restart_at = 0;
  // Its monotonic clock's rate: a tick (10 ms of it) lasts 10 / mono_rate
  // microticks.
  double mono_rate = 1.0;
  double clock_rate = 1.0;
  uint64_t clock_offset_ms = 0;
  bool storage_failed = false;  // set by the driver's on_failure
  bool retired = false;         // removed from the cluster and stopped for good
  // Paused (SIGSTOP) until this microtick: nothing runs, and what reaches it
  // waits: client requests in `held`, messages in the network.
  uint64_t paused_until = 0;
  std::vector<std::function<void()>> held;
  // The members it was first told of (bootstrap, or the join handshake), and
  // the peers its driver says to dial now: it can send to no one else.
  kv::MemberAddresses initial_members;
  std::set<NodeId> dialable;
  LogIndex durable_snapshot = 0;  // the last snapshot installed durably
  // Hash chain of the durable log: chain[i] covers entries 1..i.
  std::vector<uint64_t> chain{0};
  LogIndex last_commit_seen = 0;
  uint64_t lease_reads_seen = 0;  // of this incarnation's core

  // The driver's seams: this node's storage, disks and transport, and
  // `clock`. REQUIRES: disk, snapshot_disk and transport are set.
  kv::DriverSeams Seams(kv::Clock* clock) {
    kv::DriverSeams seams;
    seams.log_storage = &log;
    seams.kv_store = &kv;
    seams.staging = &staging;
    seams.peers = transport.get();
    seams.storage_executor = disk.get();
    seams.snapshot_executor = snapshot_disk.get();
    seams.clock = clock;
    seams.turn_end = &turn_end;
    return seams;
  }
};

}  // namespace raftkv::testing::sim

#endif  // RAFTKV_TESTING_SIM_SIM_NODE_H_

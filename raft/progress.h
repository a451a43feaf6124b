// Progress: what a leader knows about one follower's log, and how fast it may
// send to it.
//
// States (etcd-io/raft's tracker): kProbe sends one AppendEntries per heartbeat
// interval until the follower's match is known; kReplicate pipelines
// AppendEntries optimistically, bounded by an in-flight window counted in
// messages and bytes; kSnapshot waits for a snapshot to be installed and gives
// up after a timeout. Thread safety: none; owned by the core. Invariants: match
// < next; in kReplicate the in-flight window holds the last index of each
// unacknowledged message, ascending.
#ifndef RAFTKV_RAFT_PROGRESS_H_
#define RAFTKV_RAFT_PROGRESS_H_

#include <cstdint>
#include <deque>
#include <utility>

#include "raft/types.h"

namespace raftkv::raft {

class Progress {
 public:
  enum class State : uint8_t { kProbe, kReplicate, kSnapshot };

  Progress(LogIndex next, uint64_t max_inflight_messages,
           uint64_t max_inflight_bytes)
      : next_(next),
        max_inflight_messages_(max_inflight_messages),
        max_inflight_bytes_(max_inflight_bytes) {}

  LogIndex match() const { return match_; }
  LogIndex next() const { return next_; }
  State state() const { return state_; }
  LogIndex pending_snapshot() const { return pending_snapshot_; }
  bool recent_active() const { return recent_active_; }
  void set_recent_active(bool active) { recent_active_ = active; }

  // No new AppendEntries may go out now.
  bool IsPaused() const;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(LogIndex snapshot_index);

  // Records an acknowledged match; returns whether it advanced.
  bool MaybeUpdate(LogIndex index);
  // A rejection for the append whose previous index was `rejected`; `hint` is
  // where the follower suggests to continue. Returns false when the rejection
  // is stale.
  bool MaybeDecrease(LogIndex rejected, LogIndex hint);
  // Records an AppendEntries sent with entries up to `last` totalling `bytes`.
  void SentEntries(LogIndex last, uint64_t bytes);
  // A probe (or an empty append) went out: stay quiet until the next heartbeat.
  void SentProbe() { probe_sent_ = true; }
  // The follower is alive: a probe may go again, and a full window gives up its
  // oldest message (appends may have been lost while it was down, which it
  // cannot reject).
  void OnHeartbeatResponse();
  // Snapshot state: ticks; returns true when the snapshot should be given up
  // on.
  bool TickSnapshot(uint64_t timeout_ticks);

 private:
  void FreeInflightsThrough(LogIndex index);

  LogIndex match_ = kNoIndex;
  LogIndex next_;
  State state_ = State::kProbe;
  LogIndex pending_snapshot_ = kNoIndex;
  uint64_t snapshot_ticks_ = 0;
  bool probe_sent_ = false;
  bool recent_active_ = false;
  uint64_t max_inflight_messages_;
  uint64_t max_inflight_bytes_;
  std::deque<std::pair<LogIndex, uint64_t>> inflight_;  // (last index, bytes)
  uint64_t inflight_bytes_ = 0;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_PROGRESS_H_

#include "raft/progress.h"

#include <algorithm>

namespace raftkv::raft {

bool Progress::IsPaused() const {
  switch (state_) {
    case State::kProbe:
      return probe_sent_;
    case State::kReplicate:
      return inflight_.size() >= max_inflight_messages_ ||
             (max_inflight_bytes_ > 0 &&
              inflight_bytes_ >= max_inflight_bytes_);
    case State::kSnapshot:
      return true;
  }
  return true;
}

void Progress::BecomeProbe() {
  // After a snapshot, continue right after it; otherwise after what is known to
  // match.
  if (state_ == State::kSnapshot) {
    next_ = std::max(match_ + 1, pending_snapshot_ + 1);
  } else {
    next_ = match_ + 1;
  }
  state_ = State::kProbe;
  pending_snapshot_ = kNoIndex;
  probe_sent_ = false;
  inflight_.clear();
  inflight_bytes_ = 0;
}

void Progress::BecomeReplicate() {
  state_ = State::kReplicate;
  next_ = match_ + 1;
  pending_snapshot_ = kNoIndex;
  probe_sent_ = false;
  inflight_.clear();
  inflight_bytes_ = 0;
}

void Progress::BecomeSnapshot(LogIndex snapshot_index) {
  state_ = State::kSnapshot;
  pending_snapshot_ = snapshot_index;
  snapshot_ticks_ = 0;
  probe_sent_ = false;
  inflight_.clear();
  inflight_bytes_ = 0;
}

bool Progress::MaybeUpdate(LogIndex index) {
  bool updated = false;
  if (match_ < index) {
    match_ = index;
    updated = true;
    probe_sent_ = false;
  }
  next_ = std::max(next_, index + 1);
  FreeInflightsThrough(index);
  return updated;
}

bool Progress::MaybeDecrease(LogIndex rejected, LogIndex hint) {
  if (state_ == State::kReplicate) {
    // Only a rejection of something not yet known to match is news.
    if (rejected <= match_) return false;
    next_ = match_ + 1;
    return true;
  }
  // Probe: only the rejection of the probe we sent counts.
  if (next_ - 1 != rejected) return false;
  next_ = std::max(std::min(rejected, hint + 1), match_ + 1);
  probe_sent_ = false;
  return true;
}

void Progress::SentEntries(LogIndex last, uint64_t bytes) {
  if (state_ == State::kReplicate) {
    next_ = last + 1;
    inflight_.emplace_back(last, bytes);
    inflight_bytes_ += bytes;
  } else if (state_ == State::kProbe) {
    probe_sent_ = true;
  }
}

void Progress::OnHeartbeatResponse() {
  probe_sent_ = false;
  if (state_ == State::kReplicate && IsPaused() && !inflight_.empty()) {
    inflight_bytes_ -= inflight_.front().second;
    inflight_.pop_front();
  }
}

void Progress::FreeInflightsThrough(LogIndex index) {
  while (!inflight_.empty() && inflight_.front().first <= index) {
    inflight_bytes_ -= inflight_.front().second;
    inflight_.pop_front();
  }
}

bool Progress::TickSnapshot(uint64_t timeout_ticks) {
  if (state_ != State::kSnapshot) return false;
  return ++snapshot_ticks_ >= timeout_ticks;
}

}  // namespace raftkv::raft

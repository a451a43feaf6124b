// NodeDriver's snapshot streams (Raft paper §7, Figure 13's InstallSnapshot
// with offset, data and done): the sending side reads a point-in-time view of
// the store chunk by chunk on the snapshot executor, the receiving side stages
// chunks there, and only the final chunk's message reaches the core.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kv/driver.h"
#include "net/gzip.h"
#include "raft/status_macros.h"

namespace raftkv::kv {

void NodeDriver::SendMessages(std::vector<raft::Message> messages) {
  std::vector<raft::Message> plain;
  plain.reserve(messages.size());
  for (raft::Message& m : messages) {
    if (m.type == raft::MessageType::kSnapshot) {
      StartSnapshot(std::move(m));
    } else {
      plain.push_back(std::move(m));
    }
  }
  if (!plain.empty()) peers_->Send(std::move(plain));
}

void NodeDriver::StartSnapshot(raft::Message message) {
  // One stream per follower: while one is in flight, the core's repeated
  // requests (it retries on its own timeout) are not new transfers.
  if (outgoing_.count(message.to) > 0) return;
  absl::StatusOr<std::unique_ptr<storage::KvSnapshotReader>> reader =
      kv_store_->ReadSnapshot();
  if (!reader.ok()) {
    return Log(absl::StrCat("node ", options_.id, ": cannot read a snapshot: ",
                            reader.status().message()));
  }
  // Send the state machine as it is now: newer than the log's compaction
  // point, which the follower accepts just the same (it acknowledges the
  // newer index).
  const raft::LogIndex index = (*reader)->applied_index();
  message.snapshot = {index, core_->log().TermOrZero(index),
                      core_->ConfStateAt(index)};
  message.snapshot_data.clear();
  Outgoing out;
  // Unique across this node's restarts: the clock, then a counter.
  out.transfer = (clock_->NowMs() << 20) + (++next_transfer_ & 0xfffff);
  out.reader = std::move(*reader);
  out.message = std::move(message);
  out.deadline = ticks_ + options_.snapshot_timeout_ticks;
  out.started_us = clock_->MonotonicMicros();
  const raft::NodeId to = out.message.to;
  Log(absl::StrCat("node ", options_.id, ": streaming snapshot at index ",
                   index, " to node ", to, " (transfer ", out.transfer, ")"));
  outgoing_[to] = std::move(out);
  ++stats_.snapshots_sent;
  SendNextChunk(to);
}

void NodeDriver::SendNextChunk(raft::NodeId to) {
  Outgoing& out = outgoing_.at(to);
  if (options_.snapshot_bytes_per_tick > 0 && snapshot_budget_ <= 0) {
    out.waiting_for_budget = true;  // Tick() resumes it
    out.deadline = ticks_ + options_.snapshot_timeout_ticks;
    return;
  }
  out.waiting_for_budget = false;
  struct Read {
    std::optional<std::string> data;  // nullopt: the stream has ended
    size_t size = 0;                  // of the data before compression
    bool gzip = false;
  };
  auto chunk = std::make_shared<Read>();
  std::shared_ptr<storage::KvSnapshotReader> reader = out.reader;
  const size_t max_bytes = options_.snapshot_chunk_bytes;
  // A chunk that did not shrink says the store is incompressible (already
  // compressed or random values): the next kGzipSkipAfterMiss chunks are sent
  // as they are, and compression is tried again after them.
  const bool gzip = options_.snapshot_gzip && out.gzip_skip == 0;
  if (out.gzip_skip > 0) --out.gzip_skip;
  const uint64_t transfer = out.transfer;
  std::weak_ptr<bool> alive = alive_;
  ++snapshot_jobs_in_flight_;
  snapshot_executor_->Run(
      [reader, chunk, max_bytes, gzip]() -> absl::Status {
        ASSIGN_OR_RETURN(chunk->data, reader->NextChunk(max_bytes));
        if (!chunk->data.has_value()) return absl::OkStatus();
        chunk->size = chunk->data->size();
        if (gzip) {
          std::string packed = net::Gzip(*chunk->data);
          if (packed.size() < chunk->size) {  // random bytes do not shrink
            chunk->data = std::move(packed);
            chunk->gzip = true;
          }
        }
        return absl::OkStatus();
      },
      [this, alive, to, transfer, chunk, gzip](absl::Status status) {
        if (alive.expired() || !*alive.lock()) return;
        --snapshot_jobs_in_flight_;
        auto it = outgoing_.find(to);
        if (it == outgoing_.end() || it->second.transfer != transfer) return;
        Outgoing& out = it->second;
        if (!status.ok()) {
          Log(absl::StrCat("node ", options_.id, ": reading snapshot for node ",
                           to, " failed: ", status.message()));
          outgoing_.erase(it);
          return;
        }
        raft::SnapshotChunk next;
        next.from = options_.id;
        next.to = to;
        next.transfer = transfer;
        next.offset = out.offset;
        if (chunk->data.has_value()) {
          if (gzip && !chunk->gzip) out.gzip_skip = kGzipSkipAfterMiss;
          next.data = std::move(*chunk->data);
          next.gzip = chunk->gzip;
        } else {
          next.last = true;
          next.message = out.message;
        }
        // Offsets count the bytes the follower stages; the rate limit counts
        // the bytes on the wire.
        out.in_flight = chunk->size;
        out.wire_bytes += next.data.size();
        snapshot_budget_ -= static_cast<int64_t>(next.data.size());
        out.last_sent = next.last;
        out.deadline = ticks_ + options_.snapshot_timeout_ticks;
        peers_->SendSnapshotChunk(std::move(next));
      });
}

void NodeDriver::DeliverSnapshotAck(const raft::SnapshotAck& ack) {
  if (stopped_ || !failure_.ok()) return;
  auto it = outgoing_.find(ack.from);
  if (it == outgoing_.end() || it->second.transfer != ack.transfer) return;
  Outgoing& out = it->second;
  if (!ack.ok) {
    Log(absl::StrCat("node ", options_.id, ": node ", ack.from,
                     " gave up snapshot transfer ", ack.transfer));
    outgoing_.erase(it);
    return;
  }
  // Duplicates and acknowledgements of earlier chunks change nothing.
  if (out.in_flight == 0 && !out.last_sent) return;
  if (ack.next_offset != out.offset + out.in_flight) return;
  out.offset = ack.next_offset;
  out.in_flight = 0;
  if (out.last_sent) {
    // Done; the follower's core answers through Raft once installed.
    Log(absl::StrCat("node ", options_.id, ": snapshot at index ",
                     out.message.snapshot.index, " streamed to node ", ack.from,
                     " (", out.offset, " bytes, ", out.wire_bytes,
                     " on the wire)"));
    Observe(Timed::kSnapshotSend, out.started_us);
    outgoing_.erase(it);
    return;
  }
  SendNextChunk(ack.from);
}

void NodeDriver::AckChunk(raft::NodeId to, uint64_t transfer,
                          uint64_t next_offset, bool ok) {
  peers_->SendSnapshotAck(
      raft::SnapshotAck{options_.id, to, transfer, next_offset, ok});
}

void NodeDriver::DeliverSnapshotChunk(raft::SnapshotChunk chunk) {
  if (stopped_ || !failure_.ok()) return;
  const bool known = incoming_.has_value() &&
                     incoming_->transfer == chunk.transfer &&
                     incoming_->from == chunk.from;
  if (!known) {
    // Only the start of a stream can begin one; a newer stream replaces an
    // unfinished older one.
    if (chunk.offset != 0 || chunk.last) {
      return AckChunk(chunk.from, chunk.transfer, 0, false);
    }
    if (incoming_.has_value() && incoming_->staging) return;  // retried later
    incoming_ = Incoming{chunk.from, chunk.transfer,           0, false,
                         0,          clock_->MonotonicMicros()};
  }
  Incoming& in = *incoming_;
  if (in.staging) return;  // a duplicate while the chunk is written
  if (chunk.offset != in.offset) {
    // A duplicate of a chunk already staged: say again how far we are.
    return AckChunk(chunk.from, chunk.transfer, in.offset, true);
  }
  in.deadline = ticks_ + options_.snapshot_timeout_ticks;
  if (chunk.last) {
    // Everything is staged: the core decides whether to install it.
    raft::Message message = std::move(chunk.message);
    message.snapshot_data = TransferTagOf(chunk.transfer);
    AckChunk(chunk.from, chunk.transfer, in.offset, true);
    Observe(Timed::kSnapshotReceive, in.started_us);
    incoming_.reset();
    (void)core_->Step(message);
    Process();
    return;
  }
  // Stage off the loop. The transfer the core holds (accepted, maybe being
  // installed) is kept when a new stream begins.
  in.staging = true;
  const bool begin = chunk.offset == 0;
  uint64_t keep = 0;
  if (core_->log().UnstableSnapshot().has_value())
    keep = TransferOfTagIn(core_->log().UnstableSnapshot()->data);
  storage::SnapshotStaging* staging = staging_;
  const uint64_t transfer = chunk.transfer;
  const bool gzip = chunk.gzip;
  auto data = std::make_shared<std::string>(std::move(chunk.data));
  std::weak_ptr<bool> alive = alive_;
  ++snapshot_jobs_in_flight_;
  snapshot_executor_->Run(
      [staging, transfer, keep, begin, data, gzip]() -> absl::Status {
        // Inflated here, off the loop, and never past what a chunk may hold.
        if (gzip) {
          ASSIGN_OR_RETURN(*data,
                           net::Gunzip(*data, raft::kMaxSnapshotChunkBytes));
        }
        if (begin) RETURN_IF_ERROR(staging->Begin(transfer, keep));
        return staging->Append(transfer, *data);
      },
      [this, alive, transfer, data](absl::Status status) {
        if (alive.expired() || !*alive.lock()) return;
        --snapshot_jobs_in_flight_;
        if (!incoming_.has_value() || incoming_->transfer != transfer) return;
        incoming_->staging = false;
        if (!status.ok()) {
          // Staging is not Raft state: the node goes on, the transfer stops.
          Log(absl::StrCat("node ", options_.id,
                           ": staging snapshot failed: ", status.message()));
          AckChunk(incoming_->from, transfer, incoming_->offset, false);
          incoming_.reset();
          return;
        }
        incoming_->offset += data->size();
        AckChunk(incoming_->from, transfer, incoming_->offset, true);
      });
}

void NodeDriver::TickSnapshots() {
  if (options_.snapshot_bytes_per_tick > 0) {
    // Refill, keeping at most one tick's worth unused.
    const auto per_tick =
        static_cast<int64_t>(options_.snapshot_bytes_per_tick);
    snapshot_budget_ = std::min(snapshot_budget_ + per_tick, per_tick);
    for (auto& [to, out] : outgoing_) {
      if (out.waiting_for_budget && snapshot_budget_ > 0) SendNextChunk(to);
    }
  }
  for (auto it = outgoing_.begin(); it != outgoing_.end();) {
    if (it->second.deadline > ticks_) {
      ++it;
      continue;
    }
    Log(absl::StrCat("node ", options_.id, ": snapshot transfer to node ",
                     it->first, " stalled; it starts over when needed"));
    it = outgoing_.erase(it);
  }
  if (incoming_.has_value() && !incoming_->staging &&
      incoming_->deadline <= ticks_) {
    incoming_.reset();
  }
}

}  // namespace raftkv::kv

// Converts raft::Message to and from its Cap'n Proto form (net/raft.capnp).
//
// FromWire validates what the core relies on (a known message type, entry
// types, counts) and returns kInvalidArgument for a malformed message, which
// the transport drops; it never crashes on hostile input. Thread safety: pure
// functions.
#ifndef RAFTKV_NET_RAFT_CODEC_H_
#define RAFTKV_NET_RAFT_CODEC_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "net/raft.capnp.h"
#include "raft/message.h"

namespace raftkv::net {

void ToWire(const raft::Message& message, wire::RaftMessage::Builder out);
absl::StatusOr<raft::Message> FromWire(wire::RaftMessage::Reader in);

// The first `count` of `messages` as a RaftBatch in Cap'n Proto's packed
// encoding (--peer-encoding=packed): zero bytes, which fill the high words of
// small integers and the padding, shrink to a tag bit each.
std::string PackMessages(const std::deque<raft::Message>& messages,
                         size_t count);
// The messages of a packed RaftBatch, malformed ones left out (as in a plain
// batch). A batch that is not a packed message, or whose segment table claims
// more than kMaxUnpackedBatchBytes, is an error, refused before its segments
// are allocated. (A sender's batch holds about 4 MiB of entries: see
// PeerTransport::kMaxBatchBytes and Config::max_entries_bytes_per_message.)
// So is one of more than kMaxBatchMessages messages.
inline constexpr size_t kMaxUnpackedBatchBytes = 64 << 20;
// The most messages a batch holds: a sender queues no more for one peer
// (PeerTransport::kMaxQueuedMessages). A list of empty structs costs Cap'n
// Proto's reader a word per element but a decoded raft::Message hundreds of
// bytes, so a few bytes of (packed) input could otherwise claim millions of
// them.
inline constexpr size_t kMaxBatchMessages = 4096;
absl::StatusOr<std::vector<raft::Message>> UnpackMessages(
    absl::string_view packed);
// A batch's messages, plain or unpacked: malformed ones left out (Raft
// resends), and more than kMaxBatchMessages an error, before any is decoded.
absl::StatusOr<std::vector<raft::Message>> FromWire(
    capnp::List<wire::RaftMessage>::Reader batch);

using raft::kMaxSnapshotChunkBytes;

void ToWire(const raft::SnapshotChunk& chunk, wire::SnapshotChunk::Builder out);
absl::StatusOr<raft::SnapshotChunk> FromWire(wire::SnapshotChunk::Reader in);
void ToWire(const raft::SnapshotAck& ack, wire::SnapshotAck::Builder out);
raft::SnapshotAck FromWire(wire::SnapshotAck::Reader in);

}  // namespace raftkv::net

#endif  // RAFTKV_NET_RAFT_CODEC_H_

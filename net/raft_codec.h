// Converts raft::Message to and from its Cap'n Proto form (net/raft.capnp).
//
// FromWire validates what the core relies on (a known message type, entry
// types, counts) and returns kInvalidArgument for a malformed message, which
// the transport drops; it never crashes on hostile input. Thread safety: pure
// functions.
#ifndef RAFTKV_NET_RAFT_CODEC_H_
#define RAFTKV_NET_RAFT_CODEC_H_

#include "absl/status/statusor.h"
#include "net/raft.capnp.h"
#include "raft/message.h"

namespace raftkv::net {

void ToWire(const raft::Message& message, wire::RaftMessage::Builder out);
absl::StatusOr<raft::Message> FromWire(wire::RaftMessage::Reader in);

// The largest chunk a receiver accepts (senders use 1 MiB).
inline constexpr size_t kMaxSnapshotChunkBytes = 4 << 20;

void ToWire(const raft::SnapshotChunk& chunk, wire::SnapshotChunk::Builder out);
absl::StatusOr<raft::SnapshotChunk> FromWire(wire::SnapshotChunk::Reader in);
void ToWire(const raft::SnapshotAck& ack, wire::SnapshotAck::Builder out);
raft::SnapshotAck FromWire(wire::SnapshotAck::Reader in);

}  // namespace raftkv::net

#endif  // RAFTKV_NET_RAFT_CODEC_H_

// The peer stream: how Raft messages travel from one node to another, one
// way (net/raft.capnp, PeerFrame).
//
// A sender dials, writes PeerStreamPreamble() and a `hello` frame, then a
// frame per batch of messages (and per snapshot chunk or ack), each in Cap'n
// Proto's stream framing. Nothing answers a frame: the receiver writes back
// only how many frames it has taken (`received`), once per event-loop turn
// whatever the number of frames the turn read, which lets the sender tell a
// live link from a stalled one. A request/response RPC per batch (what
// `deliver` was) costs a Return message, a question-table entry and a promise
// per batch on both sides; a stream costs none of those.
//
// One port serves both the peer stream and Cap'n Proto RPC: the preamble's
// first word, 0xffffffff, would announce 2^32 segments as RPC framing, which no
// RPC peer sends.
//
// Thread safety: everything here runs on one event loop thread. Invariants: a
// stream's first frame is its hello and there is no other; the receiver
// hands frames to its inbox in the order sent; each `received` count covers
// every frame before it (counts never decrease).
#ifndef RAFTKV_NET_PEER_STREAM_H_
#define RAFTKV_NET_PEER_STREAM_H_

#include <capnp/message.h>
#include <kj/async-io.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "net/raft.capnp.h"
#include "raft/message.h"

namespace raftkv::net {

// The 8 bytes a peer stream starts with.
kj::ArrayPtr<const kj::byte> PeerStreamPreamble();

// A frame builder whose first segment holds `words` of content (Cap'n
// Proto's default is 8 KiB, allocated and zeroed for every message).
kj::Own<capnp::MallocMessageBuilder> NewFrame(size_t words);

// Writes one frame; resolves once the stream has taken it.
kj::Promise<void> WriteFrame(kj::AsyncOutputStream& out,
                             kj::Own<capnp::MallocMessageBuilder> frame);

// What a receiving node does with the frames of one peer stream. Each method
// returns an error to refuse the stream: its message goes back to the sender,
// and the connection closes.
class PeerInbox {
 public:
  virtual ~PeerInbox() = default;
  // The first frame: who sends.
  virtual absl::Status Hello(uint64_t cluster_id, raft::NodeId from,
                             absl::string_view peer_address,
                             absl::string_view client_address) = 0;
  virtual absl::Status Messages(std::vector<raft::Message> messages) = 0;
  virtual absl::Status SnapshotChunk(raft::SnapshotChunk chunk) = 0;
  virtual absl::Status SnapshotAck(const raft::SnapshotAck& ack) = 0;
};

// Decodes one frame a sender sent and hands it to `inbox`. A malformed
// message, batch or chunk is dropped, as a lost one would be (Raft resends);
// a frame a sender never sends (`received`, `refused`, a second `hello`) or
// one that comes before `hello` refuses the stream.
absl::Status Dispatch(wire::PeerFrame::Reader frame, bool said_hello,
                      PeerInbox& inbox);

// Serves a peer stream whose preamble has been read, frames read under
// `limits`, until it ends or `inbox` refuses it.
kj::Promise<void> ServePeerStream(kj::AsyncIoStream& stream,
                                  capnp::ReaderOptions limits, kj::Timer& timer,
                                  PeerInbox& inbox);

}  // namespace raftkv::net

#endif  // RAFTKV_NET_PEER_STREAM_H_

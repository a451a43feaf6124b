// PeerTransport: sends Raft messages to the other members of the cluster, one
// peer stream per peer (net/peer_stream.h: one-way frames, no answer per
// batch).
//
// One connection per peer, dialled lazily on the first message and redialled
// after a failure with exponential backoff (50 ms doubling to 250 ms, plus up
// to 50% jitter). A link never waits on a stalled connection: a connect that
// takes longer than kConnectDeadlineMs, or a frame the peer has not taken
// after kFrameDeadlineMs (packets silently dropped, a paused peer), counts as
// a failure, so every link is back within about half a second of a heal.
// Everything queued for a peer when a frame is written goes in that frame (up
// to kMaxBatchBytes). A slow or dead peer never blocks the event loop or the
// other peers: its queue is bounded and what does not fit is dropped, as Raft
// tolerates lost messages and resends; a stream more than
// BufferedStream::kMaxPendingBytes behind takes no new frame until it catches
// up. Incoming streams are served by the node's listener, not here. When a
// connection that was answering is lost, the peer is redialled at once; if
// that redial is refused, or closed before it answers (nothing serves on the
// peer's port: its process is gone), the peer-down callback says so, which
// lets a follower replace a crashed leader without waiting out the election
// timeout (raft::Core::PeerDown). A deadline (lost packets, a frozen peer) is
// not taken as such evidence.
//
// Thread safety: event-loop thread only. Invariant: at most one connection
// attempt per peer is in progress; a peer's queue never exceeds
// kMaxQueuedMessages.
#ifndef RAFTKV_NET_PEER_TRANSPORT_H_
#define RAFTKV_NET_PEER_TRANSPORT_H_

#include <capnp/message.h>
#include <kj/async-io.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "net/raft.capnp.h"
#include "net/tls.h"
#include "raft/message.h"

namespace raftkv::net {

// Sets TCP_NODELAY: requests and acknowledgements are small and latency-bound,
// so they must never wait to be coalesced. A no-op for streams that are not TCP
// sockets.
void SetNoDelay(kj::AsyncIoStream& stream);

// Per peer, for metrics.
struct PeerLinkStats {
  raft::NodeId id = 0;
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;    // entries and snapshot payload, framing excluded
  uint64_t batch_bytes = 0;   // the batches as encoded (plain or packed)
  uint64_t connects = 0;      // connections established
  uint64_t failures = 0;      // connections given up (error, reset, deadline)
  uint64_t down_reports = 0;  // lost, then the redial refused or closed
  uint64_t answers = 0;       // acknowledgements (`received`) from the peer
  double round_trip_seconds = 0;  // from a frame to its acknowledgement
  int frames_unacknowledged = 0;
};

class PeerTransport {
 public:
  static constexpr size_t kMaxQueuedMessages = 4096;
  static constexpr size_t kMaxBatchBytes = 4 << 20;
  // A peer acknowledges the frames it read at the end of its event-loop
  // turn, so a frame untaken after a second (twice the default election
  // timeout) means the connection is stalled.
  static constexpr uint64_t kFrameDeadlineMs = 1000;
  static constexpr uint64_t kConnectDeadlineMs = 250;

  // `self`: this node's id, which every stream's hello names.
  PeerTransport(kj::AsyncIoContext& io, uint64_t cluster_id, raft::NodeId self,
                std::map<raft::NodeId, std::string> peer_addresses,
                uint64_t seed);
  ~PeerTransport();

  // Mutual TLS for the connections dialled from now on (nullptr: plain TCP).
  void set_tls(std::shared_ptr<Tls> tls) { tls_ = std::move(tls); }
  // Called on the loop with a peer whose answering connection was lost and
  // whose immediate redial was refused or closed before answering.
  void set_on_peer_down(std::function<void(raft::NodeId)> on_peer_down) {
    on_peer_down_ = std::move(on_peer_down);
  }
  // Batches go out in Cap'n Proto's packed encoding (--peer-encoding=packed)
  // instead of as plain lists; a receiver takes either.
  void set_packed(bool packed) { packed_ = packed; }
  // Tells every peer where this node listens for peers (in every stream's
  // hello), so that a peer whose log does not list this node yet can answer
  // it, and where it serves clients (--client-bind).
  void set_peer_address(std::string address) {
    peer_address_ = std::move(address);
  }
  void set_client_address(std::string address) {
    client_address_ = std::move(address);
  }

  // Queues the messages for their destinations and starts sending.
  void Send(std::vector<raft::Message> messages);
  // Snapshot streams: sent at once on the peer's connection, after what is
  // already queued there, or dropped (and the connection started) when there
  // is none; the sender's flow control and timeout recover.
  void SendSnapshotChunk(const raft::SnapshotChunk& chunk);
  void SendSnapshotAck(const raft::SnapshotAck& ack);

  // The peers to talk to from now on (the members of the configuration in
  // force, self excluded): new ones are dialled on their first message, a
  // changed address is redialled, and messages to a node that left are
  // dropped.
  void SetPeers(const std::map<raft::NodeId, std::string>& peer_addresses);

  // Statistics for logs, metrics and tests.
  uint64_t messages_dropped() const { return dropped_; }
  std::vector<PeerLinkStats> Stats() const;

 private:
  struct Connection;
  struct Link;
  void Flush(Link& link);
  // A snapshot chunk or ack: after what is queued, or dropped when the link
  // is not open.
  template <typename Build>
  void SendNow(raft::NodeId to, Build build);
  // Writes one frame on the link's open connection.
  void Write(Link& link, kj::Own<capnp::MallocMessageBuilder> frame);
  void Connect(Link& link);
  void Opened(Link& link, kj::Own<kj::AsyncIoStream> stream);
  kj::Promise<void> ReadAcknowledgements(Link& link, uint64_t generation);
  void Acknowledged(Link& link, uint64_t frames);
  // Fails the link when its oldest unacknowledged frame passes the deadline.
  void Watch(Link& link);
  void Disconnect(Link& link, const kj::Exception& why);
  // Drops the connection, if any, so that the next message dials afresh.
  void Reset(Link& link);

  kj::AsyncIoContext& io_;
  const uint64_t cluster_id_;
  const raft::NodeId self_;
  std::map<raft::NodeId, std::unique_ptr<Link>> links_;
  std::mt19937_64 rng_;
  uint64_t dropped_ = 0;
  std::shared_ptr<Tls> tls_;
  std::string client_address_;
  std::string peer_address_;
  bool packed_ = false;
  std::function<void(raft::NodeId)> on_peer_down_;
  kj::TaskSet::ErrorHandler* error_handler_;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace raftkv::net

#endif  // RAFTKV_NET_PEER_TRANSPORT_H_

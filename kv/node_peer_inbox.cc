// NodeRuntime, peers: what the node does with each frame of a peer stream
// (net/peer_stream.h): the sender must belong to this cluster and, with TLS,
// be the node its certificate names; its messages go to the driver.
#include "absl/strings/str_cat.h"
#include "kv/node_runtime.h"
#include "net/peer_stream.h"
#include "net/tls.h"
#include "raft/status_macros.h"

namespace raftkv::kv {
namespace {

class NodePeerInbox final : public net::PeerInbox {
 public:
  // With TLS, `identity` is the peer certificate's name, "node-N": what the
  // stream carries must come from node N.
  NodePeerInbox(NodeRuntime& runtime, const Identity& identity)
      : runtime_(runtime), identity_(identity) {
    if (identity.authenticated) proven_ = net::NodeIdOfName(identity.name);
  }

  absl::Status Hello(uint64_t cluster_id, raft::NodeId from,
                     absl::string_view peer_address,
                     absl::string_view client_address) override {
    if (cluster_id != runtime_.cluster_id()) {
      runtime_.Warn("peer-cluster",
                    absl::StrCat("refused a peer stream from node ", from,
                                 ": it belongs to another cluster"));
      return absl::FailedPreconditionError(
          "message from a member of another cluster (its --cluster lists "
          "different node ids)");
    }
    RETURN_IF_ERROR(Impersonation(from));
    if (!client_address.empty()) {
      runtime_.NoteClientAddress(from, std::string(client_address));
    }
    if (!peer_address.empty()) {
      runtime_.NotePeerAddress(from, std::string(peer_address));
    }
    return absl::OkStatus();
  }

  absl::Status Messages(std::vector<raft::Message> messages) override {
    for (const raft::Message& m : messages)
      RETURN_IF_ERROR(Impersonation(m.from));
    runtime_.Deliver(std::move(messages));
    return absl::OkStatus();
  }

  absl::Status SnapshotChunk(raft::SnapshotChunk chunk) override {
    RETURN_IF_ERROR(Impersonation(chunk.from));
    runtime_.DeliverSnapshotChunk(std::move(chunk));
    return absl::OkStatus();
  }

  absl::Status SnapshotAck(const raft::SnapshotAck& ack) override {
    RETURN_IF_ERROR(Impersonation(ack.from));
    runtime_.DeliverSnapshotAck(ack);
    return absl::OkStatus();
  }

 private:
  // With TLS: an error (the stream is refused, nothing more delivered)
  // unless the certificate names node `from`.
  absl::Status Impersonation(raft::NodeId from) {
    if (!identity_.authenticated || proven_ == from) return absl::OkStatus();
    const std::string why =
        absl::StrCat("peer certificate \"", identity_.name, "\" ",
                     proven_ ? "" : "names no node (expected CN node-N) ",
                     "but sends messages from node ", from);
    runtime_.Warn(absl::StrCat("impostor-", identity_.name),
                  absl::StrCat("refused a peer: ", why));
    return absl::PermissionDeniedError(why);
  }

  NodeRuntime& runtime_;
  const Identity identity_;
  std::optional<raft::NodeId> proven_;
};

}  // namespace

kj::Promise<void> NodeRuntime::ServePeers(net::BufferedStream& stream,
                                          capnp::ReaderOptions limits,
                                          const Identity& identity) {
  auto inbox = kj::heap<NodePeerInbox>(*this, identity);
  kj::Promise<void> served =
      net::ServePeerStream(stream, limits, io_.provider->getTimer(), *inbox);
  return served.attach(kj::mv(inbox));
}

}  // namespace raftkv::kv

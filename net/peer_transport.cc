#include "net/peer_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <deque>

#include "net/buffered_stream.h"
#include "net/bytes.h"
#include "net/raft_codec.h"

namespace raftkv::net {
namespace {

constexpr uint64_t kMinBackoffMs = 50;
// Low enough that a link comes back within about half a second of a heal
// (backoff plus jitter plus one connect deadline); a redial is one SYN.
constexpr uint64_t kMaxBackoffMs = 250;

class IgnoreErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}
};

IgnoreErrors ignore_errors;

}  // namespace

capnp::ReaderOptions PeerReaderOptions() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords =
      (512ull << 20) / sizeof(capnp::word);  // 512 MiB
  options.nestingLimit = 64;
  return options;
}

void SetNoDelay(kj::AsyncIoStream& stream) {
  int one = 1;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] {
                 stream.setsockopt(IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
               })) {
    (void)e;
  }
}

struct PeerTransport::Link {
  raft::NodeId id;
  std::string address;
  std::deque<raft::Message> queue;
  // The live connection, if any.
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  kj::Maybe<wire::RaftPeer::Client> peer;
  bool connecting = false;
  bool up = false;       // answered since the last failure
  bool probing = false;  // redialled at once after losing an answering link
  uint64_t generation =
      0;  // bumps on every disconnect, to ignore stale completions
  int calls_in_flight = 0;
  uint64_t backoff_ms = kMinBackoffMs;
  kj::TimePoint next_attempt = kj::origin<kj::TimePoint>();
  PeerLinkStats stats;
};

PeerTransport::PeerTransport(kj::AsyncIoContext& io, uint64_t cluster_id,
                             std::map<raft::NodeId, std::string> peer_addresses,
                             uint64_t seed)
    : io_(io),
      cluster_id_(cluster_id),
      rng_(seed),
      error_handler_(&ignore_errors),
      tasks_(kj::heap<kj::TaskSet>(*error_handler_)) {
  SetPeers(peer_addresses);
}

void PeerTransport::SetPeers(
    const std::map<raft::NodeId, std::string>& peer_addresses) {
  // Links are never destroyed while the transport lives: completions of
  // their calls still point at them (and ignore them by generation).
  for (auto& [id, link] : links_) {
    auto it = peer_addresses.find(id);
    const std::string address = it == peer_addresses.end() ? "" : it->second;
    if (link->address == address) continue;
    const bool leaving = address.empty();
    link->address = address;  // "": not a member, messages to it are dropped
    // A node that leaves still gets what is already queued for it (the
    // leader's last word: that it was removed); its connection just idles.
    if (!leaving) Reset(*link);
  }
  for (const auto& [id, address] : peer_addresses) {
    if (links_.count(id) > 0) continue;
    auto link = std::make_unique<Link>();
    link->id = id;
    link->stats.id = id;
    link->address = address;
    links_.emplace(id, std::move(link));
  }
}

void PeerTransport::Reset(Link& link) {
  ++link.generation;
  link.peer = nullptr;
  link.rpc = nullptr;
  link.network = nullptr;
  link.stream = nullptr;
  link.connecting = false;
  link.up = false;
  link.probing = false;
  link.calls_in_flight = 0;
  dropped_ += link.queue.size();
  link.queue.clear();
  link.backoff_ms = kMinBackoffMs;
  link.next_attempt = kj::origin<kj::TimePoint>();
}

PeerTransport::~PeerTransport() {
  tasks_ = nullptr;
  links_.clear();
}

void PeerTransport::Send(std::vector<raft::Message> messages) {
  for (raft::Message& m : messages) {
    auto it = links_.find(m.to);
    if (it == links_.end() || it->second->address.empty()) {
      ++dropped_;
      continue;
    }
    Link& link = *it->second;
    if (link.queue.size() >= kMaxQueuedMessages) {
      link.queue
          .pop_front();  // the oldest is the least useful; Raft will resend
      ++dropped_;
    }
    link.queue.push_back(std::move(m));
  }
  for (auto& [id, link] : links_) {
    if (!link->queue.empty()) Flush(*link);
  }
}

void PeerTransport::SendSnapshotChunk(const raft::SnapshotChunk& chunk) {
  SendNow(chunk.to, [this, &chunk](wire::RaftPeer::Client& peer) {
    auto request = peer.snapshotChunkRequest();
    request.setClusterId(cluster_id_);
    ToWire(chunk, request.initChunk());
    return request.send().ignoreResult();
  });
}

void PeerTransport::SendSnapshotAck(const raft::SnapshotAck& ack) {
  SendNow(ack.to, [this, &ack](wire::RaftPeer::Client& peer) {
    auto request = peer.snapshotAckRequest();
    request.setClusterId(cluster_id_);
    ToWire(ack, request.initAck());
    return request.send().ignoreResult();
  });
}

template <typename Request>
void PeerTransport::SendNow(raft::NodeId to, Request request) {
  auto it = links_.find(to);
  if (it == links_.end() || it->second->address.empty()) {
    ++dropped_;
    return;
  }
  Link& link = *it->second;
  // What is queued goes first, so that the stream keeps its place among the
  // peer's messages.
  Flush(link);
  KJ_IF_MAYBE (peer, link.peer) {
    const uint64_t generation = link.generation;
    Link* target = &link;
    tasks_->add(
        request(*peer).then([] {},
                            [this, target, generation](kj::Exception&& e) {
                              if (target->generation == generation)
                                Disconnect(*target, e);
                            }));
    return;
  }
  ++dropped_;
  Connect(link);
}

void PeerTransport::Flush(Link& link) {
  if (link.queue.empty()) return;
  KJ_IF_MAYBE (peer, link.peer) {
    while (!link.queue.empty() && link.calls_in_flight < kMaxCallsInFlight) {
      size_t count = 0, bytes = 0, entries = 0;
      for (const raft::Message& m : link.queue) {
        ++count;
        entries += m.entries.size();
        for (const raft::Entry& e : m.entries) bytes += e.ByteSize();
        bytes += m.snapshot_data.size();
        if (bytes >= kMaxBatchBytes) break;
      }
      // A first segment that fits the batch (Cap'n Proto's default is 8 KiB,
      // zeroed, for every call): a message is 16 words, an entry 4 and its
      // bytes.
      auto request = peer->deliverRequest(capnp::MessageSize{
          16 + count * 16 + entries * 4 + bytes / sizeof(capnp::word) +
              (client_address_.size() + peer_address_.size()) /
                  sizeof(capnp::word),
          0});
      request.setClusterId(cluster_id_);
      if (!client_address_.empty()) request.setClientAddress(client_address_);
      if (!peer_address_.empty()) request.setPeerAddress(peer_address_);
      if (packed_) {
        const std::string packed = PackMessages(link.queue, count);
        request.setPacked(AsData(packed));
        link.stats.batch_bytes += packed.size();
        link.queue.erase(link.queue.begin(),
                         link.queue.begin() + static_cast<ptrdiff_t>(count));
      } else {
        auto list = request.initMessages(static_cast<unsigned>(count));
        for (size_t i = 0; i < count; ++i) {
          ToWire(link.queue.front(), list[static_cast<unsigned>(i)]);
          link.queue.pop_front();
        }
        link.stats.batch_bytes +=
            list.asReader().totalSize().wordCount * sizeof(capnp::word);
      }
      ++link.calls_in_flight;
      link.stats.messages_sent += count;
      link.stats.bytes_sent += bytes;
      const uint64_t generation = link.generation;
      const kj::TimePoint sent = io_.provider->getTimer().now();
      Link* target = &link;
      // A call that is not answered within the deadline means a stalled
      // connection (packets dropped, the peer paused or gone without a
      // reset): TCP alone would wait out its backed-off retransmissions,
      // seconds after a long partition heals. Redial instead.
      tasks_->add(
          io_.provider->getTimer()
              .timeoutAfter(kCallDeadlineMs * kj::MILLISECONDS, request.send())
              .then(
                  [this, target, generation, sent](auto&&) {
                    if (target->generation != generation) return;
                    ++target->stats.answers;
                    target->up = true;
                    target->probing = false;
                    target->stats.round_trip_seconds =
                        static_cast<double>(
                            (io_.provider->getTimer().now() - sent) /
                            kj::NANOSECONDS) /
                        1e9;
                    --target->calls_in_flight;
                    Flush(*target);
                  },
                  [this, target, generation](kj::Exception&& e) {
                    if (target->generation != generation) return;
                    Disconnect(*target, e);
                  }));
    }
    return;
  }
  Connect(link);
}

void PeerTransport::Connect(Link& link) {
  if (link.address.empty()) {
    dropped_ += link.queue.size();
    link.queue.clear();
    return;
  }
  if (link.connecting || io_.provider->getTimer().now() < link.next_attempt) {
    if (!link.connecting) {
      // Backing off: what is queued now would be stale by then.
      dropped_ += link.queue.size();
      link.queue.clear();
    }
    return;
  }
  link.connecting = true;
  const uint64_t generation = link.generation;
  Link* target = &link;
  kj::Timer& timer = io_.provider->getTimer();
  // With TLS, the peer must prove it is node `link.id` (its certificate
  // names node-N); the handshake shares the connect deadline.
  std::shared_ptr<Tls> tls = tls_;
  const std::string name = NodeName(link.id);
  tasks_->add(
      io_.provider->getNetwork()
          .parseAddress(link.address)
          .then([&timer, tls, name](kj::Own<kj::NetworkAddress> address) {
            // A SYN lost to a partition is retried by the kernel only after
            // a second or more; a fresh attempt after the backoff is sooner.
            auto connected = address->connect().attach(kj::mv(address));
            if (tls != nullptr) {
              connected = connected.then(
                  [tls, name](kj::Own<kj::AsyncIoStream> stream) {
                    return tls->WrapClient(kj::mv(stream), name).attach(tls);
                  });
            }
            return timer.timeoutAfter(kConnectDeadlineMs * kj::MILLISECONDS,
                                      kj::mv(connected));
          })
          .then(
              [this, target, generation](kj::Own<kj::AsyncIoStream> stream) {
                target->connecting = false;
                if (target->generation != generation) return;
                SetNoDelay(*stream);
                target->stream = kj::heap<BufferedStream>(kj::mv(stream));
                target->network = kj::heap<capnp::TwoPartyVatNetwork>(
                    *target->stream, capnp::rpc::twoparty::Side::CLIENT,
                    PeerReaderOptions());
                target->rpc =
                    kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(
                        capnp::makeRpcClient(*target->network));
                capnp::MallocMessageBuilder vat;
                auto server = vat.initRoot<capnp::rpc::twoparty::VatId>();
                server.setSide(capnp::rpc::twoparty::Side::SERVER);
                target->peer =
                    target->rpc->bootstrap(server).castAs<wire::RaftPeer>();
                target->backoff_ms = kMinBackoffMs;
                ++target->stats.connects;
                tasks_->add(target->network->onDisconnect().then(
                    [this, target, generation]() {
                      if (target->generation == generation) {
                        Disconnect(*target,
                                   KJ_EXCEPTION(DISCONNECTED, "peer hung up"));
                      }
                    }));
                Flush(*target);
              },
              [this, target, generation](kj::Exception&& e) {
                target->connecting = false;
                if (target->generation == generation) Disconnect(*target, e);
              }));
}

std::vector<PeerLinkStats> PeerTransport::Stats() const {
  std::vector<PeerLinkStats> stats;
  for (const auto& [id, link] : links_) {
    if (link->address.empty()) continue;
    stats.push_back(link->stats);
    stats.back().calls_in_flight = link->calls_in_flight;
  }
  return stats;
}

void PeerTransport::Disconnect(Link& link, const kj::Exception& why) {
  ++link.stats.failures;
  const uint64_t backoff_ms = link.backoff_ms;
  const bool was_up = link.up;
  // The redial after losing an answering link was refused, or closed before
  // it answered (a proxy in front of a dead process): nothing serves there.
  // A deadline (packets lost, a frozen peer) is not such evidence.
  if (link.probing && why.getType() == kj::Exception::Type::DISCONNECTED) {
    ++link.stats.down_reports;
    if (on_peer_down_) on_peer_down_(link.id);
  }
  Reset(link);
  if (was_up) {
    // Redial at once: a refusal tells a crashed process from a lost packet.
    link.probing = true;
    Connect(link);
    return;
  }
  link.backoff_ms = backoff_ms;
  const uint64_t jitter = rng_() % (link.backoff_ms / 2 + 1);
  link.next_attempt = io_.provider->getTimer().now() +
                      (link.backoff_ms + jitter) * kj::MILLISECONDS;
  link.backoff_ms = std::min(link.backoff_ms * 2, kMaxBackoffMs);
}

}  // namespace raftkv::net

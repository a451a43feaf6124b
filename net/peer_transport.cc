#include "net/peer_transport.h"

#include <capnp/serialize-async.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <deque>

#include "net/buffered_stream.h"
#include "net/bytes.h"
#include "net/peer_stream.h"
#include "net/raft_codec.h"

namespace raftkv::net {
namespace {

static_assert(PeerTransport::kMaxQueuedMessages <= kMaxBatchMessages,
              "a frame carries at most the queue, and a receiver takes at most "
              "kMaxBatchMessages");

constexpr uint64_t kMinBackoffMs = 50;
// Low enough that a link comes back within about half a second of a heal
// (backoff plus jitter plus one connect deadline); a redial is one SYN.
constexpr uint64_t kMaxBackoffMs = 250;

class IgnoreErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}
};

IgnoreErrors ignore_errors;

// A peer answers a stream with acknowledgements and at most a line of
// refusal: anything larger is refused before it is allocated.
capnp::ReaderOptions AcknowledgementLimits() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = (64 << 10) / sizeof(capnp::word);
  options.nestingLimit = 8;
  return options;
}

}  // namespace

void SetNoDelay(kj::AsyncIoStream& stream) {
  int one = 1;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] {
                 stream.setsockopt(IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
               })) {
    (void)e;
  }
}

// One established connection. Its tasks (the acknowledgement reader, the
// deadline, write errors) end with it; it is destroyed outside its own
// callbacks (Reset hands it to the transport's tasks).
struct PeerTransport::Connection final : public kj::TaskSet::ErrorHandler {
  Connection(PeerTransport& transport, Link& link, uint64_t generation,
             kj::Own<kj::AsyncIoStream> raw)
      : transport(transport),
        link(link),
        generation(generation),
        stream(kj::heap<BufferedStream>(kj::mv(raw))) {}
  void taskFailed(kj::Exception&& e) override;

  PeerTransport& transport;
  Link& link;
  const uint64_t generation;
  kj::Own<BufferedStream> stream;
  uint64_t frames_sent = 0;           // hello included
  std::deque<kj::TimePoint> unacked;  // when each untaken frame was sent
  bool watching = false;
  kj::TaskSet tasks{*this};  // declared after the stream: cancelled first
};

struct PeerTransport::Link {
  raft::NodeId id;
  std::string address;
  std::deque<raft::Message> queue;
  kj::Own<Connection> connection;  // open: hello written
  bool connecting = false;
  bool up = false;       // answered since the last failure
  bool probing = false;  // redialled at once after losing an answering link
  uint64_t generation =
      0;  // bumps on every disconnect, to ignore stale completions
  uint64_t backoff_ms = kMinBackoffMs;
  kj::TimePoint next_attempt = kj::origin<kj::TimePoint>();
  PeerLinkStats stats;
};

void PeerTransport::Connection::taskFailed(kj::Exception&& e) {
  if (link.generation == generation) transport.Disconnect(link, e);
}

PeerTransport::PeerTransport(kj::AsyncIoContext& io, uint64_t cluster_id,
                             raft::NodeId self,
                             std::map<raft::NodeId, std::string> peer_addresses,
                             uint64_t seed)
    : io_(io),
      cluster_id_(cluster_id),
      self_(self),
      rng_(seed),
      error_handler_(&ignore_errors),
      tasks_(kj::heap<kj::TaskSet>(*error_handler_)) {
  SetPeers(peer_addresses);
}

void PeerTransport::SetPeers(
    const std::map<raft::NodeId, std::string>& peer_addresses) {
  // Links are never destroyed while the transport lives: completions of
  // their connections still point at them (and ignore them by generation).
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
  if (link.connection.get() != nullptr) {
    // Not here: this may run inside one of the connection's own callbacks.
    tasks_->add(kj::evalLater([] {}).attach(kj::mv(link.connection)));
  }
  link.connecting = false;
  link.up = false;
  link.probing = false;
  dropped_ += link.queue.size();
  link.queue.clear();
  link.backoff_ms = kMinBackoffMs;
  link.next_attempt = kj::origin<kj::TimePoint>();
}

PeerTransport::~PeerTransport() {
  for (auto& [id, link] : links_) link->connection = nullptr;
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
  SendNow(chunk.to, [&chunk](capnp::MallocMessageBuilder& frame) {
    ToWire(chunk, frame.initRoot<wire::PeerFrame>().initSnapshotChunk());
  });
}

void PeerTransport::SendSnapshotAck(const raft::SnapshotAck& ack) {
  SendNow(ack.to, [&ack](capnp::MallocMessageBuilder& frame) {
    ToWire(ack, frame.initRoot<wire::PeerFrame>().initSnapshotAck());
  });
}

template <typename Build>
void PeerTransport::SendNow(raft::NodeId to, Build build) {
  auto it = links_.find(to);
  if (it == links_.end() || it->second->address.empty()) {
    ++dropped_;
    return;
  }
  Link& link = *it->second;
  // What is queued goes first, so that the stream keeps its place among the
  // peer's messages.
  Flush(link);
  if (link.connection.get() != nullptr) {
    kj::Own<capnp::MallocMessageBuilder> frame = NewFrame(1 << 10);
    build(*frame);
    Write(link, kj::mv(frame));
    return;
  }
  ++dropped_;
  Connect(link);
}

void PeerTransport::Flush(Link& link) {
  if (link.queue.empty()) return;
  if (link.connection.get() == nullptr) {
    Connect(link);
    return;
  }
  // Far behind: the next Send tries again (its queue bounded meanwhile).
  if (link.connection->stream->unwritten_bytes() >=
      BufferedStream::kMaxPendingBytes) {
    return;
  }
  while (!link.queue.empty()) {
    size_t count = 0, bytes = 0, entries = 0;
    for (const raft::Message& m : link.queue) {
      ++count;
      entries += m.entries.size();
      for (const raft::Entry& e : m.entries) bytes += e.ByteSize();
      bytes += m.snapshot_data.size();
      if (bytes >= kMaxBatchBytes) break;
    }
    // A message is 16 words, an entry 4 and its bytes.
    kj::Own<capnp::MallocMessageBuilder> frame =
        NewFrame(count * 16 + entries * 4 + bytes / sizeof(capnp::word));
    auto root = frame->initRoot<wire::PeerFrame>();
    if (packed_) {
      const std::string packed = PackMessages(link.queue, count);
      root.setPacked(AsData(packed));
      link.stats.batch_bytes += packed.size();
      link.queue.erase(link.queue.begin(),
                       link.queue.begin() + static_cast<ptrdiff_t>(count));
    } else {
      auto list = root.initMessages(static_cast<unsigned>(count));
      for (size_t i = 0; i < count; ++i) {
        ToWire(link.queue.front(), list[static_cast<unsigned>(i)]);
        link.queue.pop_front();
      }
      link.stats.batch_bytes +=
          list.asReader().totalSize().wordCount * sizeof(capnp::word);
    }
    link.stats.messages_sent += count;
    link.stats.bytes_sent += bytes;
    Write(link, kj::mv(frame));
  }
}

void PeerTransport::Write(Link& link,
                          kj::Own<capnp::MallocMessageBuilder> frame) {
  Connection& connection = *link.connection;
  ++connection.frames_sent;
  connection.unacked.push_back(io_.provider->getTimer().now());
  // The stream copies the frame at once; the promise reports a failure.
  connection.tasks.add(WriteFrame(*connection.stream, kj::mv(frame)));
  Watch(link);
}

void PeerTransport::Watch(Link& link) {
  Connection& connection = *link.connection;
  if (connection.watching || connection.unacked.empty()) return;
  connection.watching = true;
  kj::Timer& timer = io_.provider->getTimer();
  Link* target = &link;
  const uint64_t generation = link.generation;
  // A frame not taken within the deadline means a stalled connection
  // (packets dropped, the peer paused or gone without a reset): TCP alone
  // would wait out its backed-off retransmissions, seconds after a long
  // partition heals. Redial instead.
  connection.tasks.add(
      timer
          .atTime(connection.unacked.front() +
                  kFrameDeadlineMs * kj::MILLISECONDS)
          .then([this, target, generation, &timer] {
            if (target->generation != generation) return;
            Connection& watched = *target->connection;
            watched.watching = false;
            if (!watched.unacked.empty() &&
                timer.now() - watched.unacked.front() >=
                    kFrameDeadlineMs * kj::MILLISECONDS) {
              Disconnect(
                  *target,
                  KJ_EXCEPTION(OVERLOADED,
                               "peer took no frame within the deadline"));
              return;
            }
            Watch(*target);
          }));
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
                Opened(*target, kj::mv(stream));
              },
              [this, target, generation](kj::Exception&& e) {
                target->connecting = false;
                if (target->generation == generation) Disconnect(*target, e);
              }));
}

void PeerTransport::Opened(Link& link, kj::Own<kj::AsyncIoStream> stream) {
  SetNoDelay(*stream);
  link.connection =
      kj::heap<Connection>(*this, link, link.generation, kj::mv(stream));
  ++link.stats.connects;
  Connection& connection = *link.connection;
  connection.tasks.add(connection.stream->write(PeerStreamPreamble().begin(),
                                                PeerStreamPreamble().size()));
  kj::Own<capnp::MallocMessageBuilder> frame =
      NewFrame((peer_address_.size() + client_address_.size()) / 8 + 8);
  auto hello = frame->initRoot<wire::PeerFrame>().initHello();
  hello.setClusterId(cluster_id_);
  hello.setFrom(self_);
  hello.setPeerAddress(peer_address_);
  hello.setClientAddress(client_address_);
  Write(link, kj::mv(frame));
  connection.tasks.add(ReadAcknowledgements(link, link.generation));
  Flush(link);
}

kj::Promise<void> PeerTransport::ReadAcknowledgements(Link& link,
                                                      uint64_t generation) {
  Link* target = &link;
  return capnp::tryReadMessage(*link.connection->stream,
                               AcknowledgementLimits())
      .then([this, target,
             generation](kj::Maybe<kj::Own<capnp::MessageReader>> read)
                -> kj::Promise<void> {
        if (target->generation != generation) return kj::READY_NOW;
        KJ_IF_MAYBE (message, read) {
          auto frame = (*message)->getRoot<wire::PeerFrame>();
          if (frame.isReceived()) {
            Acknowledged(*target, frame.getReceived());
            return ReadAcknowledgements(*target, generation);
          }
          if (frame.isRefused()) {
            // Not evidence that the peer is down: it is there, and said no.
            return KJ_EXCEPTION(FAILED, "peer refused the stream",
                                frame.getRefused());
          }
          return KJ_EXCEPTION(FAILED, "peer sent an unexpected frame");
        }
        return KJ_EXCEPTION(DISCONNECTED, "peer hung up");
      });
}

void PeerTransport::Acknowledged(Link& link, uint64_t frames) {
  Connection& connection = *link.connection;
  const uint64_t untaken =
      connection.frames_sent - std::min(frames, connection.frames_sent);
  kj::Maybe<kj::TimePoint> sent;
  while (connection.unacked.size() > untaken) {
    sent = connection.unacked.front();
    connection.unacked.pop_front();
  }
  ++link.stats.answers;
  link.up = true;
  link.probing = false;
  // The peer took more than the hello: a working link, whose next failure
  // starts the backoff afresh.
  if (frames > 1) link.backoff_ms = kMinBackoffMs;
  KJ_IF_MAYBE (time, sent) {
    link.stats.round_trip_seconds =
        static_cast<double>((io_.provider->getTimer().now() - *time) /
                            kj::NANOSECONDS) /
        1e9;
  }
}

std::vector<PeerLinkStats> PeerTransport::Stats() const {
  std::vector<PeerLinkStats> stats;
  for (const auto& [id, link] : links_) {
    if (link->address.empty()) continue;
    stats.push_back(link->stats);
    stats.back().frames_unacknowledged =
        link->connection.get() == nullptr
            ? 0
            : static_cast<int>(link->connection->unacked.size());
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
  // A peer that refused the stream (another cluster, a certificate naming
  // another node) is not lost; it backs off like one that never answered.
  if (was_up && why.getType() != kj::Exception::Type::FAILED) {
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

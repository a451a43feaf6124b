#include "net/peer_transport.h"

#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <functional>
#include <string>
#include <vector>

#include "net/buffered_stream.h"
#include "net/peer_stream.h"
#include "net/raft_codec.h"

namespace raftkv::net {
namespace {

raft::Message Heartbeat() {
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  return m;
}

// Sends a heartbeat to node 2 every 50 ms, as a leader would, until `done`
// or `seconds` have passed.
template <typename Done>
void SendHeartbeats(kj::AsyncIoContext& io, PeerTransport& transport,
                    kj::Promise<void>& accepting, int seconds, Done done) {
  kj::Timer& timer = io.provider->getTimer();
  const kj::TimePoint deadline = timer.now() + seconds * kj::SECONDS;
  while (!done() && timer.now() < deadline) {
    transport.Send({Heartbeat()});
    timer.afterDelay(50 * kj::MILLISECONDS).wait(io.waitScope);
    accepting.poll(io.waitScope);
  }
}

// A peer whose connection stays open but never answers (its packets are
// dropped, or it is paused) must be redialled: TCP alone never gives up on
// it. Without the call deadline the link waits forever on one connection.
TEST(PeerTransportTest, RedialsAPeerThatNeverAnswers) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  auto listener = io.provider->getNetwork()
                      .parseAddress("127.0.0.1", 0)
                      .wait(io.waitScope)
                      ->listen();
  std::vector<kj::Own<kj::AsyncIoStream>> accepted;  // held open, never read
  std::function<kj::Promise<void>()> accept_loop = [&]() {
    return listener->accept().then([&](kj::Own<kj::AsyncIoStream> stream) {
      accepted.push_back(kj::mv(stream));
      return accept_loop();
    });
  };
  kj::Promise<void> accepting = accept_loop();
  PeerTransport transport(
      io, 7, 1, {{2, "127.0.0.1:" + std::to_string(listener->getPort())}}, 1);
  SendHeartbeats(io, transport, accepting, 10,
                 [&] { return accepted.size() >= 2; });
  EXPECT_GE(accepted.size(), 2u)
      << "the stalled connection was never given up and redialled";
}

// A peer that counts what arrives on its streams.
class CountingInbox final : public PeerInbox {
 public:
  absl::Status Hello(uint64_t cluster_id, raft::NodeId from,
                     absl::string_view peer_address,
                     absl::string_view) override {
    ++hellos;
    if (refuse_all) return absl::PermissionDeniedError("not from you");
    if (cluster_id != 7) return absl::FailedPreconditionError("not cluster 7");
    last_from = from;
    last_peer_address = std::string(peer_address);
    return absl::OkStatus();
  }
  absl::Status Messages(std::vector<raft::Message> batch) override {
    if (refuse_messages || refuse_all) {
      return absl::PermissionDeniedError("not from you");
    }
    messages += static_cast<int>(batch.size());
    ++frames;
    return absl::OkStatus();
  }
  absl::Status SnapshotChunk(raft::SnapshotChunk) override {
    return absl::OkStatus();
  }
  absl::Status SnapshotAck(const raft::SnapshotAck&) override {
    return absl::OkStatus();
  }
  bool refuse_messages = false;
  bool refuse_all = false;
  int hellos = 0;
  int frames = 0;
  int messages = 0;
  raft::NodeId last_from = 0;
  std::string last_peer_address;
};

// Accepts connections and serves each as a peer stream, as a node's peer
// listener does.
struct StreamServer {
  explicit StreamServer(kj::AsyncIoContext& io)
      : io(io),
        listener(io.provider->getNetwork()
                     .parseAddress("127.0.0.1", 0)
                     .wait(io.waitScope)
                     ->listen()) {}
  std::string Address() {
    return "127.0.0.1:" + std::to_string(listener->getPort());
  }
  kj::Promise<void> AcceptLoop() {
    return listener->accept().then([this](kj::Own<kj::AsyncIoStream> raw) {
      ++connections;
      auto stream = kj::heap<BufferedStream>(kj::mv(raw));
      BufferedStream& read = *stream;
      tasks.add(read.ConsumePrefix(PeerStreamPreamble())
                    .then([this, &read](bool peer) -> kj::Promise<void> {
                      if (!peer) return kj::READY_NOW;
                      return ServePeerStream(read, capnp::ReaderOptions(),
                                             io.provider->getTimer(), inbox);
                    })
                    .attach(kj::mv(stream)));
      return AcceptLoop();
    });
  }
  class Ignore final : public kj::TaskSet::ErrorHandler {
    void taskFailed(kj::Exception&&) override {}
  };
  kj::AsyncIoContext& io;
  kj::Own<kj::ConnectionReceiver> listener;
  CountingInbox inbox;
  int connections = 0;
  Ignore ignore;
  kj::TaskSet tasks{ignore};
};

// A peer that answers keeps its one connection: the deadline never fires on
// a healthy link. The stream says who sends, once.
TEST(PeerTransportTest, KeepsOneConnectionToAPeerThatAnswers) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  StreamServer server(io);
  kj::Promise<void> accepting = server.AcceptLoop();
  PeerTransport transport(io, 7, 1, {{2, server.Address()}}, 1);
  transport.set_peer_address("127.0.0.1:1111");
  // Three frame deadlines' worth of heartbeats.
  SendHeartbeats(io, transport, accepting, 3, [] { return false; });
  EXPECT_EQ(server.connections, 1);
  EXPECT_EQ(server.inbox.hellos, 1);
  EXPECT_EQ(server.inbox.last_from, 1u);
  EXPECT_EQ(server.inbox.last_peer_address, "127.0.0.1:1111");
  EXPECT_GT(server.inbox.messages, 40);
  EXPECT_EQ(transport.messages_dropped(), 0u);
  const std::vector<PeerLinkStats> stats = transport.Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_GT(stats[0].answers, 0u) << "no acknowledgement came back";
  EXPECT_EQ(stats[0].failures, 0u);
}

// Messages queued in one turn travel as one frame.
TEST(PeerTransportTest, SendsWhatOneTurnQueuedAsOneFrame) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  StreamServer server(io);
  kj::Promise<void> accepting = server.AcceptLoop();
  PeerTransport transport(io, 7, 1, {{2, server.Address()}}, 1);
  SendHeartbeats(io, transport, accepting, 5,
                 [&] { return server.inbox.messages > 0; });
  const int frames = server.inbox.frames;
  transport.Send({Heartbeat(), Heartbeat(), Heartbeat()});
  kj::Timer& timer = io.provider->getTimer();
  const kj::TimePoint deadline = timer.now() + 5 * kj::SECONDS;
  while (server.inbox.messages < 4 && timer.now() < deadline) {
    timer.afterDelay(10 * kj::MILLISECONDS).wait(io.waitScope);
  }
  EXPECT_EQ(server.inbox.messages, 4);
  EXPECT_EQ(server.inbox.frames, frames + 1);
}

// A peer of another cluster refuses the stream at its hello: nothing is
// delivered, and the link fails and keeps trying (a refusal after answering:
// the next test).
TEST(PeerTransportTest, ARefusedStreamFailsTheLinkWithoutReportingThePeerDown) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  StreamServer server(io);
  kj::Promise<void> accepting = server.AcceptLoop();
  PeerTransport transport(io, 8, 1, {{2, server.Address()}}, 1);
  int down = 0;
  transport.set_on_peer_down([&](raft::NodeId) { ++down; });
  SendHeartbeats(io, transport, accepting, 10,
                 [&] { return server.connections >= 3; });
  EXPECT_GE(server.connections, 3);
  EXPECT_EQ(server.inbox.messages, 0);
  EXPECT_EQ(down, 0);
  const std::vector<PeerLinkStats> stats = transport.Stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_GE(stats[0].failures, 2u);
}

// A peer that answered and then refuses the stream (and every redial) is
// there and says no: its refusals are never taken for a crashed process,
// whose redial would be refused by the kernel.
TEST(PeerTransportTest, ARefusalAfterAnsweringIsNoEvidenceThatThePeerIsDown) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  StreamServer server(io);
  kj::Promise<void> accepting = server.AcceptLoop();
  PeerTransport transport(io, 7, 1, {{2, server.Address()}}, 1);
  int down = 0;
  transport.set_on_peer_down([&](raft::NodeId) { ++down; });
  SendHeartbeats(io, transport, accepting, 5,
                 [&] { return server.inbox.messages > 5; });
  ASSERT_GT(server.inbox.messages, 5);
  server.inbox.refuse_all = true;
  SendHeartbeats(io, transport, accepting, 2, [] { return false; });
  EXPECT_GE(server.connections, 2);
  EXPECT_EQ(down, 0);
}

// A peer that takes the hello and then refuses the messages: a connection
// that opens is no working link, so the backoff grows (50 ms doubling to 250)
// instead of starting afresh at every connect (which redialled about every
// 60 ms: 22 connections in these 2 s).
TEST(PeerTransportTest, BacksOffFromAPeerThatRefusesAfterTheHello) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  StreamServer server(io);
  server.inbox.refuse_messages = true;
  kj::Promise<void> accepting = server.AcceptLoop();
  PeerTransport transport(io, 7, 1, {{2, server.Address()}}, 1);
  int down = 0;
  transport.set_on_peer_down([&](raft::NodeId) { ++down; });
  SendHeartbeats(io, transport, accepting, 2, [] { return false; });
  EXPECT_GE(server.connections, 2);
  EXPECT_LE(server.connections, 12);  // 2 s of backoff allows about 9
  EXPECT_EQ(down, 0);
}

// A frame of more messages than a sender queues for a peer is refused before
// any is decoded (a list of empty structs is cheap to send and costly to
// decode).
TEST(PeerStreamTest, RefusesABatchOfMoreMessagesThanASenderQueues) {
  CountingInbox inbox;
  for (size_t count : {kMaxBatchMessages, kMaxBatchMessages + 1}) {
    capnp::MallocMessageBuilder frame;
    frame.initRoot<wire::PeerFrame>().initMessages(
        static_cast<unsigned>(count));
    const absl::Status taken =
        Dispatch(frame.getRoot<wire::PeerFrame>().asReader(), true, inbox);
    EXPECT_EQ(taken.ok(), count == kMaxBatchMessages) << count << taken;
  }
  EXPECT_EQ(inbox.frames, 1);
}

}  // namespace
}  // namespace raftkv::net

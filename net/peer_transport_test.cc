#include "net/peer_transport.h"

#include <capnp/rpc-twoparty.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <functional>
#include <string>
#include <vector>

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
      io, 7, {{2, "127.0.0.1:" + std::to_string(listener->getPort())}}, 1);
  SendHeartbeats(io, transport, accepting, 10,
                 [&] { return accepted.size() >= 2; });
  EXPECT_GE(accepted.size(), 2u)
      << "the stalled connection was never given up and redialled";
}

// A peer that answers keeps its one connection: the deadline never fires on
// a healthy link.
class CountingPeer final : public wire::RaftPeer::Server {
 public:
  explicit CountingPeer(int& messages) : messages_(messages) {}
  kj::Promise<void> deliver(DeliverContext context) override {
    messages_ += static_cast<int>(context.getParams().getMessages().size());
    return kj::READY_NOW;
  }

 private:
  int& messages_;
};

TEST(PeerTransportTest, KeepsOneConnectionToAPeerThatAnswers) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  auto listener = io.provider->getNetwork()
                      .parseAddress("127.0.0.1", 0)
                      .wait(io.waitScope)
                      ->listen();
  int messages = 0;
  int connections = 0;
  capnp::TwoPartyServer server(kj::heap<CountingPeer>(messages));
  std::function<kj::Promise<void>()> accept_loop = [&]() {
    return listener->accept().then([&](kj::Own<kj::AsyncIoStream> stream) {
      ++connections;
      server.accept(kj::mv(stream));
      return accept_loop();
    });
  };
  kj::Promise<void> accepting = accept_loop();
  PeerTransport transport(
      io, 7, {{2, "127.0.0.1:" + std::to_string(listener->getPort())}}, 1);
  // Three call deadlines' worth of heartbeats.
  SendHeartbeats(io, transport, accepting, 3, [] { return false; });
  EXPECT_EQ(connections, 1);
  EXPECT_GT(messages, 40);
  EXPECT_EQ(transport.messages_dropped(), 0u);
}

}  // namespace
}  // namespace raftkv::net

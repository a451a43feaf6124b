#include "net/peer_stream.h"

#include <capnp/serialize-async.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "net/bytes.h"
#include "net/raft_codec.h"

namespace raftkv::net {
namespace {

constexpr kj::byte kPreamble[8] = {0xff, 0xff, 0xff, 0xff, 'R', 'K', 'P', '1'};
// A refused sender gets this long to read why before the connection closes.
constexpr uint64_t kRefusedLingerMs = 1000;

absl::Status Unexpected(const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat("peer stream: unexpected ", what, " frame"));
}

// Reads frames, hands them to the inbox, and writes `received` once per
// event-loop turn.
class PeerStreamServer final : public kj::TaskSet::ErrorHandler {
 public:
  PeerStreamServer(kj::AsyncIoStream& stream, capnp::ReaderOptions limits,
                   kj::Timer& timer, PeerInbox& inbox)
      : stream_(stream), limits_(limits), timer_(timer), inbox_(inbox) {}

  kj::Promise<void> Run() {
    auto failed = kj::newPromiseAndFulfiller<void>();
    write_failed_ = kj::mv(failed.fulfiller);
    return ReadNext().exclusiveJoin(kj::mv(failed.promise));
  }

  void taskFailed(kj::Exception&&) override { write_failed_->fulfill(); }

 private:
  kj::Promise<void> ReadNext() {
    return capnp::tryReadMessage(stream_, limits_)
        .then([this](kj::Maybe<kj::Own<capnp::MessageReader>> read)
                  -> kj::Promise<void> {
          KJ_IF_MAYBE (message, read) {
            const absl::Status taken = Dispatch(
                (*message)->getRoot<wire::PeerFrame>(), said_hello_, inbox_);
            if (!taken.ok()) return Refuse(taken);
            said_hello_ = true;
            Taken();
            return ReadNext();
          }
          return kj::READY_NOW;  // the sender closed the stream
        });
  }

  // Counts a frame; the count goes out when the turn's other events are
  // done, so a burst of frames costs one acknowledgement.
  void Taken() {
    ++received_;
    if (ack_scheduled_) return;
    ack_scheduled_ = true;
    tasks_.add(kj::evalLast([this] {
      ack_scheduled_ = false;
      kj::Own<capnp::MallocMessageBuilder> frame = NewFrame(2);
      frame->initRoot<wire::PeerFrame>().setReceived(received_);
      return WriteFrame(stream_, kj::mv(frame));
    }));
  }

  kj::Promise<void> Refuse(const absl::Status& why) {
    kj::Own<capnp::MallocMessageBuilder> frame = NewFrame(32);
    frame->initRoot<wire::PeerFrame>().setRefused(std::string(why.message()));
    return WriteFrame(stream_, kj::mv(frame)).then([this] {
      return timer_.afterDelay(kRefusedLingerMs * kj::MILLISECONDS);
    });
  }

  kj::AsyncIoStream& stream_;
  const capnp::ReaderOptions limits_;
  kj::Timer& timer_;
  PeerInbox& inbox_;
  bool said_hello_ = false;
  uint64_t received_ = 0;
  bool ack_scheduled_ = false;
  kj::Own<kj::PromiseFulfiller<void>> write_failed_;
  kj::TaskSet tasks_{*this};  // declared last: cancelled first
};

}  // namespace

kj::ArrayPtr<const kj::byte> PeerStreamPreamble() {
  return kj::arrayPtr(kPreamble, sizeof(kPreamble));
}

kj::Own<capnp::MallocMessageBuilder> NewFrame(size_t words) {
  return kj::heap<capnp::MallocMessageBuilder>(
      static_cast<unsigned>(std::min<size_t>(words + 8, 1u << 20)));
}

kj::Promise<void> WriteFrame(kj::AsyncOutputStream& out,
                             kj::Own<capnp::MallocMessageBuilder> frame) {
  kj::Promise<void> written = capnp::writeMessage(out, *frame);
  return written.attach(kj::mv(frame));
}

absl::Status Dispatch(wire::PeerFrame::Reader frame, bool said_hello,
                      PeerInbox& inbox) {
  const auto which = frame.which();
  if (which == wire::PeerFrame::HELLO) {
    if (said_hello) return Unexpected("second hello");
    auto hello = frame.getHello();
    return inbox.Hello(hello.getClusterId(), hello.getFrom(),
                       AsStringView(hello.getPeerAddress()),
                       AsStringView(hello.getClientAddress()));
  }
  if (!said_hello) return Unexpected("first (not a hello)");
  switch (which) {
    case wire::PeerFrame::MESSAGES: {
      // More than a sender ever queues refuses the stream.
      absl::StatusOr<std::vector<raft::Message>> messages =
          FromWire(frame.getMessages());
      if (!messages.ok()) return messages.status();
      return inbox.Messages(std::move(*messages));
    }
    case wire::PeerFrame::PACKED: {  // --peer-encoding=packed
      absl::StatusOr<std::vector<raft::Message>> unpacked =
          UnpackMessages(AsStringView(frame.getPacked()));
      if (!unpacked.ok()) return absl::OkStatus();  // dropped, like one
      return inbox.Messages(std::move(*unpacked));
    }
    case wire::PeerFrame::SNAPSHOT_CHUNK: {
      absl::StatusOr<raft::SnapshotChunk> chunk =
          FromWire(frame.getSnapshotChunk());
      if (!chunk.ok()) return absl::OkStatus();
      return inbox.SnapshotChunk(std::move(*chunk));
    }
    case wire::PeerFrame::SNAPSHOT_ACK:
      return inbox.SnapshotAck(FromWire(frame.getSnapshotAck()));
    case wire::PeerFrame::RECEIVED:
      return Unexpected("received");
    case wire::PeerFrame::REFUSED:
      return Unexpected("refused");
    default:
      return Unexpected("unknown");
  }
}

kj::Promise<void> ServePeerStream(kj::AsyncIoStream& stream,
                                  capnp::ReaderOptions limits, kj::Timer& timer,
                                  PeerInbox& inbox) {
  auto server = kj::heap<PeerStreamServer>(stream, limits, timer, inbox);
  kj::Promise<void> runs = server->Run();
  return runs.attach(kj::mv(server));
}

}  // namespace raftkv::net

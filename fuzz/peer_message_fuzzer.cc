// Peer stream frames (net/peer_stream.h, Dispatch, and the codec of
// net/raft_codec.h under it): any bytes a peer sends as a frame. The decoder
// must refuse what is malformed without crashing, and what it accepts must
// survive a round trip unchanged.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdlib>
#include <string>

#include "fuzz/capnp_input.h"
#include "net/bytes.h"
#include "net/gzip.h"
#include "net/peer_stream.h"
#include "net/raft.capnp.h"
#include "net/raft_codec.h"

namespace {

using raftkv::net::FromWire;
using raftkv::net::ToWire;
namespace wire = raftkv::net::wire;

template <typename Wire, typename Value>
std::string Encoded(const Value& value) {
  capnp::MallocMessageBuilder message;
  ToWire(value, message.initRoot<Wire>());
  return raftkv::fuzz::FlatBytes(message);
}

// Decoding what we encoded gives back the same bytes.
template <typename Wire, typename Value>
void CheckRoundTrip(const Value& value) {
  const std::string once = Encoded<Wire>(value);
  raftkv::fuzz::WithRoot<Wire>(
      reinterpret_cast<const uint8_t*>(once.data()), once.size(),
      [&](typename Wire::Reader again) {
        auto decoded = FromWire(again);
        if constexpr (std::is_same_v<decltype(decoded), Value>) {
          if (Encoded<Wire>(decoded) != once) abort();
        } else {
          if (!decoded.ok() || Encoded<Wire>(*decoded) != once) abort();
        }
      });
}

// Checks what the receiver's decoding hands a node.
class CheckingInbox final : public raftkv::net::PeerInbox {
 public:
  absl::Status Hello(uint64_t, raftkv::raft::NodeId, absl::string_view,
                     absl::string_view) override {
    return absl::OkStatus();
  }
  absl::Status Messages(std::vector<raftkv::raft::Message> messages) override {
    for (const auto& m : messages) CheckRoundTrip<wire::RaftMessage>(m);
    return absl::OkStatus();
  }
  absl::Status SnapshotChunk(raftkv::raft::SnapshotChunk chunk) override {
    CheckRoundTrip<wire::SnapshotChunk>(chunk);
    // What the receiving driver does with a compressed chunk.
    if (chunk.gzip) {
      (void)raftkv::net::Gunzip(chunk.data,
                                raftkv::raft::kMaxSnapshotChunkBytes);
    }
    return absl::OkStatus();
  }
  absl::Status SnapshotAck(const raftkv::raft::SnapshotAck& ack) override {
    CheckRoundTrip<wire::SnapshotAck>(ack);
    return absl::OkStatus();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  raftkv::fuzz::WithRoot<wire::PeerFrame>(
      data, size, [](wire::PeerFrame::Reader frame) {
        CheckingInbox inbox;
        // As the first frame of a stream, and as a later one.
        (void)raftkv::net::Dispatch(frame, false, inbox);
        (void)raftkv::net::Dispatch(frame, true, inbox);
      });
  return 0;
}

// Peer message decode and validation (net/raft_codec.h): any bytes a peer
// sends as the parameters of deliver, snapshotChunk or snapshotAck. The
// decoder must refuse what is malformed without crashing, and what it accepts
// must survive a round trip unchanged.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdlib>
#include <string>

#include "fuzz/capnp_input.h"
#include "net/bytes.h"
#include "net/gzip.h"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t which = data[0] % 3;
  ++data;
  --size;
  switch (which) {
    case 0:
      raftkv::fuzz::WithRoot<wire::RaftPeer::DeliverParams>(
          data, size, [](wire::RaftPeer::DeliverParams::Reader params) {
            for (auto m : params.getMessages()) {
              auto message = FromWire(m);
              if (message.ok()) CheckRoundTrip<wire::RaftMessage>(*message);
            }
            if (params.hasPacked()) {  // --peer-encoding=packed
              auto messages = raftkv::net::UnpackMessages(
                  raftkv::net::AsStringView(params.getPacked()));
              if (messages.ok()) {
                for (const auto& m : *messages)
                  CheckRoundTrip<wire::RaftMessage>(m);
              }
            }
          });
      break;
    case 1:
      raftkv::fuzz::WithRoot<wire::RaftPeer::SnapshotChunkParams>(
          data, size, [](wire::RaftPeer::SnapshotChunkParams::Reader params) {
            auto chunk = FromWire(params.getChunk());
            if (chunk.ok()) CheckRoundTrip<wire::SnapshotChunk>(*chunk);
            // What the receiving driver does with a compressed chunk.
            if (chunk.ok() && chunk->gzip) {
              (void)raftkv::net::Gunzip(chunk->data,
                                        raftkv::raft::kMaxSnapshotChunkBytes);
            }
          });
      break;
    default:
      raftkv::fuzz::WithRoot<wire::RaftPeer::SnapshotAckParams>(
          data, size, [](wire::RaftPeer::SnapshotAckParams::Reader params) {
            CheckRoundTrip<wire::SnapshotAck>(FromWire(params.getAck()));
          });
  }
  return 0;
}

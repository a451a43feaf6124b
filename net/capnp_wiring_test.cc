// Proves the Cap'n Proto wiring: a schema compiled by cc_capnp_library that
// imports another one round-trips through the wire format, and one RPC call
// crosses a real two-party connection inside one process.

#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <string>

#include "net/testdata/echo.capnp.h"
#include "net/testdata/payload.capnp.h"

namespace raftkv::net {
namespace {

using testdata::Echo;
using testdata::Payload;

TEST(CapnpWiringTest, Message_RoundTripsThroughFlatArray) {
  capnp::MallocMessageBuilder builder;
  Payload::Builder payload = builder.initRoot<Payload>();
  payload.setKey("k1");
  const std::string value(1000, 'v');
  payload.setValue(kj::arrayPtr(reinterpret_cast<const kj::byte*>(value.data()),
                                value.size()));
  payload.setIndex(42);

  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  capnp::FlatArrayMessageReader reader(words);
  Payload::Reader read = reader.getRoot<Payload>();

  EXPECT_EQ(std::string(read.getKey().cStr()), "k1");
  EXPECT_EQ(read.getValue().size(), value.size());
  EXPECT_EQ(
      std::string(read.getValue().asChars().begin(), read.getValue().size()),
      value);
  EXPECT_EQ(read.getIndex(), 42u);
}

class EchoImpl final : public Echo::Server {
 protected:
  kj::Promise<void> echo(EchoContext context) override {
    Payload::Reader in = context.getParams().getPayload();
    Payload::Builder out = context.getResults().initPayload();
    out.setKey(in.getKey());
    out.setValue(in.getValue());
    out.setIndex(in.getIndex() + 1);
    return kj::READY_NOW;
  }
};

TEST(CapnpWiringTest, Rpc_CallCrossesTwoPartyConnection) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();

  capnp::TwoPartyClient server(*pipe.ends[1], kj::heap<EchoImpl>(),
                               capnp::rpc::twoparty::Side::SERVER);
  capnp::TwoPartyClient client(*pipe.ends[0]);
  Echo::Client echo = client.bootstrap().castAs<Echo>();

  auto request = echo.echoRequest();
  Payload::Builder payload = request.initPayload();
  payload.setKey("hello");
  payload.setIndex(7);
  auto response = request.send().wait(io.waitScope);

  EXPECT_EQ(std::string(response.getPayload().getKey().cStr()), "hello");
  EXPECT_EQ(response.getPayload().getIndex(), 8u);
}

}  // namespace
}  // namespace raftkv::net

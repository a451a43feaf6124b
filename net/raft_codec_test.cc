#include "net/raft_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

namespace raftkv::net {
namespace {

raft::Message RoundTrip(const raft::Message& m) {
  capnp::MallocMessageBuilder builder;
  ToWire(m, builder.initRoot<wire::RaftMessage>());
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  capnp::FlatArrayMessageReader reader(words);
  absl::StatusOr<raft::Message> out =
      FromWire(reader.getRoot<wire::RaftMessage>());
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : raft::Message{};
}

TEST(RaftCodecTest, Append_RoundTripsEveryField) {
  raft::Message m;
  m.type = raft::MessageType::kAppend;
  m.from = 1;
  m.to = 3;
  m.term = 7;
  m.log_term = 6;
  m.index = 41;
  m.commit = 40;
  m.entries = {{7, 42, raft::EntryType::kNormal, std::string("a\0b", 3)},
               {7, 43, raft::EntryType::kConfChange, "conf"}};
  raft::Message out = RoundTrip(m);
  EXPECT_EQ(out.type, m.type);
  EXPECT_EQ(out.from, 1u);
  EXPECT_EQ(out.to, 3u);
  EXPECT_EQ(out.term, 7u);
  EXPECT_EQ(out.log_term, 6u);
  EXPECT_EQ(out.index, 41u);
  EXPECT_EQ(out.commit, 40u);
  EXPECT_EQ(out.entries, m.entries);
}

TEST(RaftCodecTest, ResponsesAndSnapshots_RoundTrip) {
  raft::Message reject;
  reject.type = raft::MessageType::kAppendResponse;
  reject.reject = true;
  reject.reject_hint = 9;
  reject.hint_term = 2;
  reject.context = "ctx";
  raft::Message out = RoundTrip(reject);
  EXPECT_TRUE(out.reject);
  EXPECT_EQ(out.reject_hint, 9u);
  EXPECT_EQ(out.hint_term, 2u);
  EXPECT_EQ(out.context, "ctx");

  raft::Message snapshot;
  snapshot.type = raft::MessageType::kSnapshot;
  snapshot.snapshot = {100, 5, {{1, 2, 3}, {4}}};
  snapshot.snapshot_data = std::string(5000, 's');
  out = RoundTrip(snapshot);
  EXPECT_EQ(out.snapshot, snapshot.snapshot);
  EXPECT_EQ(out.snapshot_data, snapshot.snapshot_data);

  raft::Message vote;
  vote.type = raft::MessageType::kPreVote;
  vote.transfer = true;
  EXPECT_TRUE(RoundTrip(vote).transfer);
}

TEST(RaftCodecTest, Malformed_IsRejectedNotTrusted) {
  capnp::MallocMessageBuilder builder;
  auto wire = builder.initRoot<wire::RaftMessage>();
  wire.setType(200);
  EXPECT_EQ(FromWire(wire.asReader()).status().code(),
            absl::StatusCode::kInvalidArgument);
  wire.setType(static_cast<uint8_t>(raft::MessageType::kAppend));
  wire.setIndex(5);
  auto entries = wire.initEntries(2);
  entries[0].setIndex(6);
  entries[1].setIndex(9);  // a gap
  EXPECT_EQ(FromWire(wire.asReader()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace raftkv::net

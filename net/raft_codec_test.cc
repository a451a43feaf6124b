#include "net/raft_codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>

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

std::deque<raft::Message> Heartbeats(size_t n) {
  std::deque<raft::Message> batch;
  for (size_t i = 0; i < n; ++i) {
    raft::Message m;
    m.type = raft::MessageType::kAppend;
    m.from = 1;
    m.to = 2;
    m.term = 3;
    m.index = 100 + i;
    m.log_term = 3;
    m.commit = 99 + i;
    m.entries = {{3, 101 + i, raft::EntryType::kNormal, "value"}};
    batch.push_back(m);
  }
  return batch;
}

TEST(RaftCodecTest, PackedBatch_RoundTripsAndIsSmaller) {
  const std::deque<raft::Message> batch = Heartbeats(20);
  const std::string packed = PackMessages(batch, 15);  // the first 15 only
  absl::StatusOr<std::vector<raft::Message>> out = UnpackMessages(packed);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 15u);
  for (size_t i = 0; i < 15; ++i) {
    EXPECT_EQ((*out)[i].index, batch[i].index);
    EXPECT_EQ((*out)[i].commit, batch[i].commit);
    EXPECT_EQ((*out)[i].entries, batch[i].entries);
  }
  // The plain encoding of the same 15 messages.
  capnp::MallocMessageBuilder builder;
  auto list = builder.initRoot<wire::RaftBatch>().initMessages(15);
  for (unsigned i = 0; i < 15; ++i) ToWire(batch[i], list[i]);
  const size_t plain = capnp::computeSerializedSizeInWords(builder) * 8;
  EXPECT_LT(packed.size() * 2, plain) << packed.size() << " vs " << plain;
}

TEST(RaftCodecTest, PackedBatch_MalformedOrOversizedIsRefused) {
  EXPECT_FALSE(UnpackMessages("").ok());
  EXPECT_FALSE(UnpackMessages("\x01\x02garbage").ok());
  const std::string good = PackMessages(Heartbeats(5), 5);
  EXPECT_FALSE(UnpackMessages(good.substr(0, good.size() / 2)).ok());
  // A segment table that claims 1 GiB (one segment of 2^27 words), packed:
  // tag 0xf0 (bytes 4..7 non-zero) then the segment size; nothing follows.
  const std::string bomb("\xf0\x00\x00\x00\x08", 5);
  absl::StatusOr<std::vector<raft::Message>> out = UnpackMessages(bomb);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("too large"), std::string::npos)
      << out.status();
  // A malformed message inside a valid batch is left out, not fatal.
  std::deque<raft::Message> mixed = Heartbeats(3);
  mixed[1].type = static_cast<raft::MessageType>(200);
  out = UnpackMessages(PackMessages(mixed, 3));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->size(), 2u);
}

// More messages than a sender ever queues for a peer: refused, whatever they
// are (the fuzzer's packed input of 200 bytes that claimed millions of empty
// messages took 6.5 s and 277 MB to decode before this limit).
TEST(RaftCodecTest, PackedBatch_OfMoreMessagesThanABatchHoldsIsRefused) {
  ASSERT_TRUE(UnpackMessages(PackMessages(Heartbeats(kMaxBatchMessages),
                                          kMaxBatchMessages))
                  .ok());
  absl::StatusOr<std::vector<raft::Message>> out = UnpackMessages(
      PackMessages(Heartbeats(kMaxBatchMessages + 1), kMaxBatchMessages + 1));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("more messages than a batch holds"),
            std::string::npos)
      << out.status();
}

TEST(RaftCodecTest, SnapshotChunk_CarriesItsCompressionFlag) {
  raft::SnapshotChunk chunk;
  chunk.from = 1;
  chunk.to = 2;
  chunk.transfer = 9;
  chunk.offset = 4096;
  chunk.data = "compressed bytes";
  chunk.gzip = true;
  capnp::MallocMessageBuilder builder;
  ToWire(chunk, builder.initRoot<wire::SnapshotChunk>());
  absl::StatusOr<raft::SnapshotChunk> out =
      FromWire(builder.getRoot<wire::SnapshotChunk>().asReader());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->gzip);
  EXPECT_EQ(out->offset, 4096u);
  EXPECT_EQ(out->data, chunk.data);
}

}  // namespace
}  // namespace raftkv::net

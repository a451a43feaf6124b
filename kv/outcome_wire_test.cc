#include "kv/outcome_wire.h"

#include <capnp/message.h>

#include "gtest/gtest.h"

namespace raftkv::kv {
namespace {

Outcome RoundTrip(const Outcome& outcome) {
  capnp::MallocMessageBuilder message;
  auto result = message.initRoot<net::wire::Result>();
  Encode(outcome, result);
  return Decode(result.asReader());
}

TEST(OutcomeWireTest, EveryCodeKeepsItsMeaningAcrossTheWire) {
  // By name: a swapped pair in either direction fails here.
  const std::pair<Code, net::wire::Code> pairs[] = {
      {Code::kOk, net::wire::Code::OK},
      {Code::kNotFound, net::wire::Code::NOT_FOUND},
      {Code::kNotLeader, net::wire::Code::NOT_LEADER},
      {Code::kInvalidArgument, net::wire::Code::INVALID_ARGUMENT},
      {Code::kUnavailable, net::wire::Code::UNAVAILABLE},
      {Code::kCompareFailed, net::wire::Code::COMPARE_FAILED},
      {Code::kSessionExpired, net::wire::Code::SESSION_EXPIRED},
      {Code::kFailedPrecondition, net::wire::Code::FAILED_PRECONDITION},
      {Code::kPermissionDenied, net::wire::Code::PERMISSION_DENIED},
  };
  ASSERT_EQ(std::size(pairs), static_cast<size_t>(kCodeCount));
  for (const auto& [code, wire] : pairs) {
    EXPECT_EQ(ToWire(code), wire) << CodeName(code);
    EXPECT_EQ(FromWire(wire), code) << CodeName(code);
    Outcome outcome;
    outcome.code = code;
    outcome.message = CodeName(code);
    EXPECT_EQ(RoundTrip(outcome).code, code);
    EXPECT_EQ(RoundTrip(outcome).message, CodeName(code));
  }
  // A code this build does not know (from a newer node) is "retry later".
  EXPECT_EQ(FromWire(static_cast<net::wire::Code>(200)), Code::kUnavailable);
}

TEST(OutcomeWireTest, TheLeaderHintAndValueTravelAsData) {
  Outcome outcome;
  outcome.code = Code::kNotLeader;
  outcome.message = "node 2 at 127.0.0.1:7002 is the leader";
  outcome.leader_id = 2;
  outcome.leader_address = "127.0.0.1:7002";
  Outcome back = RoundTrip(outcome);
  EXPECT_EQ(back.leader_id, 2u);
  EXPECT_EQ(back.leader_address, "127.0.0.1:7002");

  Outcome cas;
  cas.code = Code::kCompareFailed;
  cas.value = std::string("\0cur", 4);
  back = RoundTrip(cas);
  ASSERT_TRUE(back.value.has_value());
  EXPECT_EQ(*back.value, std::string("\0cur", 4));
  EXPECT_EQ(back.leader_id, 0u);  // only "not the leader" carries a hint
  Outcome absent;
  absent.code = Code::kNotFound;
  EXPECT_FALSE(RoundTrip(absent).value.has_value());
}

// The size hint is enough: the answer fits the first segment it sizes (a
// second segment would mean the hint is too small), and it is far below
// Cap'n Proto's default 8 KiB for a small answer.
TEST(OutcomeWireTest, ResultSizeFitsTheAnswerInOneSegment) {
  Outcome ok;
  Outcome value;
  value.value = std::string(100000, 'v');
  Outcome hint;
  hint.code = Code::kNotLeader;
  hint.message = std::string(333, 'm');
  hint.leader_address = "127.0.0.1:7002";
  hint.leader_id = 2;
  for (const Outcome& outcome : {ok, value, hint}) {
    const capnp::MessageSize size = ResultSize(outcome);
    capnp::MallocMessageBuilder message(
        static_cast<unsigned>(size.wordCount),
        capnp::AllocationStrategy::FIXED_SIZE);
    Encode(outcome,
           message.initRoot<net::wire::KvService::GetResults>().initResult());
    EXPECT_EQ(message.getSegmentsForOutput().size(), 1u);
  }
  EXPECT_LT(ResultSize(ok).wordCount, 64u);
}

}  // namespace
}  // namespace raftkv::kv

#include "kv/state_machine.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include "kv/command.h"
#include "raft/confchange.h"
#include "storage/memory_kv_store.h"

namespace raftkv::kv {
namespace {

class StateMachineTest : public ::testing::Test {
 protected:
  StateMachineTest() : machine_(&store_, {.session_ttl_ms = 1000}) {
    EXPECT_TRUE(machine_.Load().ok());
  }
  Outcome Apply(const std::string& data) {
    raft::Entry entry{1, ++index_, raft::EntryType::kNormal, data};
    absl::StatusOr<Outcome> result = machine_.Apply(entry);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : Outcome{};
  }
  std::optional<std::string> Get(const std::string& key) {
    return *store_.Get(key);
  }

  storage::MemoryKvStore store_;
  StateMachine machine_;
  raft::LogIndex index_ = 0;
};

TEST_F(StateMachineTest, Put_AppliesAndAdvancesIndex) {
  EXPECT_EQ(Apply(PutCommand(7, 1, "k", "v", 100)).code, Code::kOk);
  EXPECT_EQ(Get("k"), "v");
  EXPECT_EQ(machine_.applied(), 1u);
  EXPECT_EQ(Apply("").code, Code::kOk);  // a leader's no-op
  EXPECT_EQ(machine_.applied(), 2u);
}

TEST_F(StateMachineTest,
       RetriedCommand_ReturnsOriginalResultAndIsNotReapplied) {
  ASSERT_EQ(Apply(PutCommand(7, 1, "k", "first", 100)).code, Code::kOk);
  ASSERT_EQ(Apply(DeleteCommand(7, 2, "k", 101)).code, Code::kOk);
  // The client never saw the answer to request 2 and retries it: the original
  // "ok" comes back, although deleting again would now say "not found".
  EXPECT_EQ(Apply(DeleteCommand(7, 2, "k", 102)).code, Code::kOk);
  // A stale duplicate of request 1 must not resurrect the key.
  Outcome stale = Apply(PutCommand(7, 1, "k", "first", 103));
  EXPECT_EQ(stale.code, Code::kInvalidArgument);
  EXPECT_EQ(Get("k"), std::nullopt);
  EXPECT_EQ(Apply(DeleteCommand(7, 3, "k", 104)).code, Code::kNotFound);
}

TEST_F(StateMachineTest, Sessions_SurviveRestart) {
  ASSERT_EQ(Apply(PutCommand(7, 1, "k", "v1", 100)).code, Code::kOk);
  ASSERT_EQ(Apply(PutCommand(7, 2, "k", "v2", 100)).code, Code::kOk);
  StateMachine restarted(&store_, {.session_ttl_ms = 1000});
  ASSERT_TRUE(restarted.Load().ok());
  absl::StatusOr<Outcome> retry =
      restarted.Apply({1, ++index_, raft::EntryType::kNormal,
                       PutCommand(7, 1, "k", "v1", 101)});
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->code, Code::kInvalidArgument);
  EXPECT_EQ(Get("k"), "v2");
  EXPECT_EQ(restarted.session_count(), 1u);
}

TEST_F(StateMachineTest, IdleSessions_ExpireOnTheLogClock) {
  ASSERT_EQ(Apply(PutCommand(7, 1, "a", "1", 1000)).code, Code::kOk);
  ASSERT_EQ(Apply(PutCommand(8, 1, "b", "1", 1500)).code, Code::kOk);
  EXPECT_EQ(machine_.session_count(), 2u);
  // 2,100 ms: client 7 (last seen at 1,000) is past the 1,000 ms TTL, client 8
  // is not.
  ASSERT_EQ(Apply(PutCommand(9, 1, "c", "1", 2100)).code, Code::kOk);
  EXPECT_EQ(machine_.session_count(), 2u);
  Outcome expired = Apply(PutCommand(7, 2, "a", "2", 2200));
  EXPECT_EQ(expired.code, Code::kSessionExpired);
  EXPECT_EQ(Get("a"), "1");
  EXPECT_TRUE(store_.LoadSessions().ok());
  // 8 and 9, the tombstone of 7, and the session clock record.
  EXPECT_EQ(store_.LoadSessions()->size(), 4u);
  EXPECT_EQ(machine_.tombstone_count(), 1u);
}

TEST_F(StateMachineTest, CompareAndSwap_ChecksExpectedOrAbsent) {
  capnp::MallocMessageBuilder builder;
  auto cas = [&](uint64_t seq, bool absent, const std::string& expected,
                 const std::string& value) {
    auto command = builder.initRoot<net::wire::Command>();
    command.getSession().setClientId(5);
    command.getSession().setSequence(seq);
    auto c = command.initCas();
    c.setKey(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("k"), 1));
    c.setExpectAbsent(absent);
    c.setExpected(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(expected.data()), expected.size()));
    c.setValue(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(value.data()), value.size()));
    return Apply(SerializeCommand(command.asReader(), 10));
  };
  EXPECT_EQ(cas(1, true, "", "v1").code, Code::kOk);
  EXPECT_EQ(Get("k"), "v1");
  Outcome failed = cas(2, true, "", "v2");
  EXPECT_EQ(failed.code, Code::kCompareFailed);
  EXPECT_EQ(failed.value, "v1");
  EXPECT_EQ(cas(3, false, "v1", "v3").code, Code::kOk);
  EXPECT_EQ(Get("k"), "v3");
}

TEST_F(StateMachineTest, MalformedCommand_FailsAlikeAndAdvances) {
  EXPECT_EQ(Apply("not a capnp message").code, Code::kInvalidArgument);
  EXPECT_EQ(Apply(std::string(64, '\xff')).code, Code::kInvalidArgument);
  EXPECT_EQ(machine_.applied(), 2u);
}

TEST_F(StateMachineTest, ApplyEntries_GroupSeesItsOwnWritesLikeOneByOne) {
  std::vector<raft::Entry> group = {
      {1, 1, raft::EntryType::kNormal, PutCommand(5, 1, "k", "v1", 10)},
      {1, 2, raft::EntryType::kNormal, DeleteCommand(5, 2, "k", 11)},
      {1, 3, raft::EntryType::kNormal,
       DeleteCommand(5, 3, "k", 12)},  // already gone
      {1, 4, raft::EntryType::kNormal, ""},
      {1, 5, raft::EntryType::kNormal, PutCommand(6, 1, "k", "v2", 13)},
      {1, 6, raft::EntryType::kNormal,
       DeleteCommand(5, 2, "k", 14)},  // a retry
  };
  absl::StatusOr<std::vector<Outcome>> results = machine_.ApplyEntries(group);
  ASSERT_TRUE(results.ok()) << results.status();
  std::vector<Code> codes;
  for (const Outcome& r : *results) codes.push_back(r.code);
  EXPECT_EQ(codes,
            (std::vector<Code>{Code::kOk, Code::kOk, Code::kNotFound, Code::kOk,
                               Code::kOk, Code::kInvalidArgument}));
  EXPECT_EQ(Get("k"), "v2");
  EXPECT_EQ(machine_.applied(), 6u);

  // The same entries one by one on a fresh store give the same results and
  // state.
  storage::MemoryKvStore other_store;
  StateMachine other(&other_store, {.session_ttl_ms = 1000});
  ASSERT_TRUE(other.Load().ok());
  for (size_t i = 0; i < group.size(); ++i) {
    absl::StatusOr<Outcome> one = other.Apply(group[i]);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->code, codes[i]) << "entry " << i + 1;
  }
  EXPECT_EQ(*other_store.Get("k"), std::optional<std::string>("v2"));
  EXPECT_EQ(*other_store.LoadSessions(), *store_.LoadSessions());
}

TEST_F(StateMachineTest,
       Restart_ExpiresTheSameSessionsAsAReplicaThatKeptRunning) {
  // Found by the whole-node simulator: a retried command moves the session
  // clock without touching any session (the retrying client's own session is
  // neither refreshed nor expired by it), so a replica that restarted used to
  // rebuild an older clock and expire sessions later than the others did.
  EXPECT_EQ(Apply(PutCommand(8, 1, "b", "1", 100)).code, Code::kOk);
  EXPECT_EQ(Apply(PutCommand(8, 1, "b", "1", 1150)).code, Code::kOk);  // retry
  // The next command, stamped by a leader whose clock is behind, is applied
  // at clock 1150 by a replica that kept running: client 8 (last active at
  // 100) is past the 1,000 ms TTL. A restarted replica must agree.
  StateMachine restarted(&store_, {.session_ttl_ms = 1000});
  ASSERT_TRUE(restarted.Load().ok());
  raft::Entry next{1, ++index_, raft::EntryType::kNormal,
                   PutCommand(9, 1, "c", "1", 0)};
  absl::StatusOr<Outcome> on_restarted = restarted.Apply(next);
  ASSERT_TRUE(on_restarted.ok());
  EXPECT_EQ(restarted.session_count(), 1u);  // 9 only; 8 expired
}

TEST_F(StateMachineTest, FirstCommandRetriedAfterExpiry_IsNotAppliedAgain) {
  // Found by the whole-node simulator: a client's first command is applied,
  // its session expires (a leader whose clock runs ahead), and the client's
  // retry of that same command must not be applied a second time.
  EXPECT_EQ(Apply(PutCommand(7, 1, "a", "1", 100)).code, Code::kOk);
  EXPECT_EQ(Apply(PutCommand(8, 1, "b", "1", 5000)).code, Code::kOk);
  EXPECT_EQ(machine_.session_count(), 1u);  // 7 expired
  EXPECT_EQ(Apply(PutCommand(9, 1, "a", "other", 5000)).code, Code::kOk);
  Outcome retry = Apply(PutCommand(7, 1, "a", "1", 5001));
  EXPECT_EQ(retry.code, Code::kSessionExpired);
  EXPECT_EQ(Get("a"), "other");
  // Tombstones survive a restart.
  StateMachine restarted(&store_, {.session_ttl_ms = 1000});
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.tombstone_count(), 1u);
  raft::Entry again{1, ++index_, raft::EntryType::kNormal,
                    PutCommand(7, 1, "a", "1", 5002)};
  absl::StatusOr<Outcome> on_restarted = restarted.Apply(again);
  ASSERT_TRUE(on_restarted.ok());
  EXPECT_EQ(on_restarted->code, Code::kSessionExpired);
}

}  // namespace
}  // namespace raftkv::kv

namespace raftkv::kv {
namespace {

raft::Entry ConfEntry(raft::LogIndex index, raft::ConfState conf,
                      const MemberAddresses& addresses) {
  raft::ConfChangeRecord record{std::move(conf), {}, EncodeMembers(addresses)};
  return {1, index, raft::EntryType::kConfChange,
          raft::EncodeConfChangeRecord(record)};
}

TEST(StateMachineMembersTest,
     AppliedMembers_KeepOnlyTheConfigurationsAndSurviveRestart) {
  storage::MemoryKvStore store;
  StateMachine machine(&store, {});
  ASSERT_TRUE(machine.Load().ok());
  EXPECT_TRUE(machine.applied_members().empty());
  // A joint record names every member of both halves; an address of a node
  // in neither is dropped.
  const MemberAddresses addresses = {
      {1, "h:1"}, {2, "h:2"}, {3, "h:3"}, {4, "h:4"}, {9, "h:9"}};
  ASSERT_TRUE(
      machine.Apply(ConfEntry(1, {{1, 2, 4}, {}, {1, 2, 3}}, addresses)).ok());
  EXPECT_EQ(machine.applied_members(),
            (MemberAddresses{{1, "h:1"}, {2, "h:2"}, {3, "h:3"}, {4, "h:4"}}));
  ASSERT_TRUE(machine.Apply(ConfEntry(2, {{1, 2, 4}, {}, {}}, addresses)).ok());
  StateMachine restarted(&store, {});
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.applied_members(),
            (MemberAddresses{{1, "h:1"}, {2, "h:2"}, {4, "h:4"}}));
  EXPECT_EQ(restarted.applied_conf(), (raft::ConfState{{1, 2, 4}, {}, {}}));
}

TEST(StateMachineMembersTest, ReservedClientId_IsRefused) {
  storage::MemoryKvStore store;
  StateMachine machine(&store, {});
  ASSERT_TRUE(machine.Load().ok());
  absl::StatusOr<Outcome> result = machine.Apply(
      {1, 1, raft::EntryType::kNormal, PutCommand(UINT64_MAX, 1, "k", "v", 1)});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->code, Code::kInvalidArgument);
  EXPECT_TRUE(machine.applied_members().empty());
}

}  // namespace
}  // namespace raftkv::kv

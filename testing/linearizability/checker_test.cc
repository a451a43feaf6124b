// Hand-made histories with known verdicts: each kind of anomaly a replicated
// store can show (stale read, lost write, write applied twice, cas on a stale
// value) is reported, and correct concurrent histories are not.
#include "testing/linearizability/checker.h"

#include <gtest/gtest.h>

namespace raftkv::testing::linearizability {
namespace {

Operation Put(uint64_t client, std::string key, std::string value,
              uint64_t invoke, uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.invoke = invoke;
  op.ret = ret;
  return op;
}

Operation Get(uint64_t client, std::string key, std::optional<std::string> out,
              uint64_t invoke, uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kGet;
  op.key = std::move(key);
  op.output = std::move(out);
  op.invoke = invoke;
  op.ret = ret;
  return op;
}

Operation Cas(uint64_t client, std::string key,
              std::optional<std::string> expected, std::string value, bool ok,
              uint64_t invoke, uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kCas;
  op.key = std::move(key);
  op.expected = std::move(expected);
  op.value = std::move(value);
  op.ok = ok;
  op.invoke = invoke;
  op.ret = ret;
  return op;
}

Operation Delete(uint64_t client, std::string key, bool ok, uint64_t invoke,
                 uint64_t ret) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kDelete;
  op.key = std::move(key);
  op.ok = ok;
  op.invoke = invoke;
  op.ret = ret;
  return op;
}

Operation Unknown(Operation op) {
  op.known = false;
  return op;
}

TEST(CheckerTest, Sequential_Linearizable) {
  CheckResult r =
      Check({Put(1, "x", "a", 0, 1), Get(1, "x", "a", 2, 3),
             Delete(1, "x", true, 4, 5), Get(1, "x", std::nullopt, 6, 7)});
  EXPECT_TRUE(r.linearizable) << r.explanation;
  EXPECT_EQ(r.operations, 4u);
}

TEST(CheckerTest, ConcurrentReadsSeeEitherValue_Linearizable) {
  // The read overlaps the write: old and new value are both allowed.
  EXPECT_TRUE(Check({Put(1, "x", "a", 0, 1), Put(2, "x", "b", 10, 20),
                     Get(3, "x", "a", 11, 12), Get(4, "x", "b", 13, 14)})
                  .linearizable);
  // But once one read saw the new value, a later read may not see the old.
  CheckResult r = Check({Put(1, "x", "a", 0, 1), Put(2, "x", "b", 10, 20),
                         Get(3, "x", "b", 11, 12), Get(4, "x", "a", 13, 14)});
  EXPECT_FALSE(r.linearizable);
}

TEST(CheckerTest, StaleRead_Violation) {
  CheckResult r = Check(
      {Put(1, "x", "a", 0, 1), Put(1, "x", "b", 2, 3), Get(2, "x", "a", 4, 5)});
  EXPECT_FALSE(r.linearizable);
  EXPECT_EQ(r.key, "x");
  EXPECT_NE(r.explanation.find("[4, 5] client 2: get x -> \"a\""),
            std::string::npos)
      << r.explanation;
}

TEST(CheckerTest, LostWrite_Violation) {
  // An acknowledged write that no later read sees.
  CheckResult r =
      Check({Put(1, "x", "a", 0, 1), Get(2, "x", std::nullopt, 5, 6)});
  EXPECT_FALSE(r.linearizable);
}

TEST(CheckerTest, WriteAppliedTwice_Violation) {
  // a, then b, then a again although a was written once.
  CheckResult r = Check({Put(1, "x", "a", 0, 1), Put(2, "x", "b", 2, 3),
                         Get(3, "x", "b", 4, 5), Get(3, "x", "a", 6, 7)});
  EXPECT_FALSE(r.linearizable);
}

TEST(CheckerTest, CasOnStaleValue_Violation) {
  // The cas claims to have seen "a" after "b" replaced it.
  CheckResult r = Check({Put(1, "x", "a", 0, 1), Put(1, "x", "b", 2, 3),
                         Cas(2, "x", "a", "c", true, 4, 5)});
  EXPECT_FALSE(r.linearizable);
  // A failed cas must report the value it saw.
  Operation failed = Cas(2, "x", "a", "c", false, 4, 5);
  failed.output = "b";
  EXPECT_TRUE(Check({Put(1, "x", "a", 0, 1), Put(1, "x", "b", 2, 3), failed})
                  .linearizable);
  failed.output = "a";
  EXPECT_FALSE(Check({Put(1, "x", "a", 0, 1), Put(1, "x", "b", 2, 3), failed})
                   .linearizable);
}

TEST(CheckerTest, DeleteOfAbsentKey) {
  EXPECT_TRUE(Check({Delete(1, "x", false, 0, 1)}).linearizable);
  EXPECT_FALSE(Check({Delete(1, "x", true, 0, 1)}).linearizable);
}

TEST(CheckerTest, UnknownWrite_MayTakeEffectLateOrNever) {
  // A write that timed out may show up long after its invoke...
  EXPECT_TRUE(
      Check({Unknown(Put(1, "x", "a", 0, 0)), Get(2, "x", std::nullopt, 10, 11),
             Get(2, "x", "a", 50, 51)})
          .linearizable);
  // ...or never.
  EXPECT_TRUE(Check({Unknown(Put(1, "x", "a", 0, 0)),
                     Get(2, "x", std::nullopt, 50, 51)})
                  .linearizable);
  // But not before it was invoked.
  EXPECT_FALSE(Check({Get(2, "x", "a", 0, 1), Unknown(Put(1, "x", "a", 5, 0))})
                   .linearizable);
  // And it takes effect once: a, b, then a again is still a violation.
  EXPECT_FALSE(Check({Unknown(Put(1, "x", "a", 0, 0)), Put(2, "x", "b", 1, 2),
                      Get(3, "x", "a", 3, 4), Get(3, "x", "b", 5, 6),
                      Get(3, "x", "a", 7, 8)})
                   .linearizable);
}

TEST(CheckerTest, UnknownReadsAreDropped) {
  CheckResult r =
      Check({Put(1, "x", "a", 0, 1), Unknown(Get(2, "x", "zzz", 2, 0))});
  EXPECT_TRUE(r.linearizable);
  EXPECT_EQ(r.operations, 1u);
}

TEST(CheckerTest, KeysAreIndependent) {
  EXPECT_TRUE(Check({Put(1, "x", "a", 0, 1), Put(1, "y", "b", 2, 3),
                     Get(2, "x", "a", 4, 5), Get(2, "y", "b", 4, 5)})
                  .linearizable);
  CheckResult r =
      Check({Put(1, "x", "a", 0, 1), Put(1, "y", "b", 2, 3),
             Get(2, "x", "a", 4, 5), Get(2, "y", std::nullopt, 4, 5)});
  EXPECT_FALSE(r.linearizable);
  EXPECT_EQ(r.key, "y");
}

TEST(CheckerTest, Witness_DropsReadsThatDoNotMatter) {
  std::vector<Operation> history = {Put(1, "x", "a", 0, 1)};
  for (uint64_t t = 2; t < 40; t += 2)
    history.push_back(Get(2, "x", "a", t, t + 1));
  history.push_back(Get(3, "x", std::nullopt, 50, 51));
  CheckResult r = Check(history);
  ASSERT_FALSE(r.linearizable);
  // Only the write and the read that cannot see it remain.
  EXPECT_NE(r.explanation.find("(2 operations)"), std::string::npos)
      << r.explanation;
}

TEST(CheckerTest, ManyConcurrentClients_FinishesQuickly) {
  // 8 clients, 400 overlapping operations on one key, all linearizable: the
  // cache keeps the search polynomial in practice.
  std::vector<Operation> history;
  std::string current;
  uint64_t t = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string v = "v" + std::to_string(i);
    history.push_back(Put(0, "x", v, t, t + 10));
    for (uint64_t c = 1; c < 8; ++c)
      history.push_back(
          Get(c, "x", c % 2 ? v : (i ? current : ""), t + c, t + 9));
    if (i == 0) {
      for (size_t j = history.size() - 7; j < history.size(); ++j)
        if (history[j].client % 2 == 0) history[j].output = std::nullopt;
    }
    current = v;
    t += 5;
  }
  CheckResult r = Check(history);
  EXPECT_TRUE(r.linearizable) << r.explanation;
  EXPECT_FALSE(r.inconclusive);
}

}  // namespace
}  // namespace raftkv::testing::linearizability

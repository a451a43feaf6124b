// A client keeps working across leader changes without any write applied twice.
//
// The client increments a counter with compare-and-swap (n -> n+1). If a
// retried CAS were applied a second time it would fail its compare (the counter
// already moved), the client would see "compare failed", and the final count
// would disagree with the successes.
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

TEST(ClusterExactlyOnceTest, CasCounterAcrossLeaderKills_NeverAppliedTwice) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  kv::Client& client = h.client();
  ASSERT_TRUE(client.Put("counter", "0").ok());
  int successes = 0;
  int kills = 0;
  for (int i = 0; i < 120; ++i) {
    if (i % 40 == 20) {  // kill the leader twice in the middle of the run, then
                         // restart it
      auto leader = h.WaitForLeader();
      ASSERT_TRUE(leader.ok());
      h.Kill(*leader);
      ++kills;
      ASSERT_TRUE(h.Restart(*leader).ok());
    }
    auto cas = client.CompareAndSwap("counter", std::to_string(successes),
                                     std::to_string(successes + 1));
    ASSERT_TRUE(cas.ok()) << "step " << i << ": " << cas.status() << h.Logs();
    ASSERT_TRUE(cas->swapped)
        << "step " << i << ": the counter is "
        << cas->current.value_or("absent") << ", expected " << successes
        << " (a write was applied twice)";
    ++successes;
  }
  auto value = client.Get("counter");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>(std::to_string(successes)));
  EXPECT_EQ(kills, 3);
}

}  // namespace
}  // namespace raftkv::testing

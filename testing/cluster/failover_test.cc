// Failures of real processes: kill -9 of the leader, a follower restarted from
// its data directory, and a leader frozen with SIGSTOP.
#include <gtest/gtest.h>
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

TEST(ClusterFailoverTest, LeaderKill9_NewLeaderServesEveryAcknowledgedWrite) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 100; ++i) {
    const std::string key = absl::StrCat("acked", i);
    ASSERT_TRUE(h.client().Put(key, key).ok());
    acknowledged.push_back(key);
  }
  h.Kill(*leader);
  auto next = h.WaitForLeader(10000, {*leader});
  ASSERT_TRUE(next.ok()) << next.status() << h.Logs();
  EXPECT_NE(*next, *leader);
  for (const std::string& key : acknowledged) {
    auto value = h.client().Get(key);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_EQ(*value, std::optional<std::string>(key))
        << "acknowledged write lost: " << key;
  }
  ASSERT_TRUE(h.client().Put("after", "failover").ok());
}

TEST(ClusterFailoverTest, FollowerRestartedFromItsDataDir_CatchesUp) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(h.client().Put("before", "1").ok());
  raft::NodeId follower = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  h.Kill(follower);
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(h.client().Put(absl::StrCat("while-down", i), "x").ok());
  ASSERT_TRUE(h.Restart(follower).ok());
  ASSERT_TRUE(h.WaitForConvergence(15000).ok()) << h.Logs();
  auto contents = h.Contents(follower);
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(contents->count("before"), 1u);
  EXPECT_EQ(contents->count("while-down29"), 1u);
}

TEST(ClusterFailoverTest, PausedLeader_IsReplacedAndRejoinsAsFollower) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(h.client().Put("k", "v1").ok());
  h.Pause(*leader);
  auto next = h.WaitForLeader(10000, {*leader});
  ASSERT_TRUE(next.ok()) << next.status() << h.Logs();
  ASSERT_TRUE(h.client().Put("k", "v2").ok());
  h.Resume(*leader);
  ASSERT_TRUE(h.WaitForConvergence(15000).ok()) << h.Logs();
  auto info = h.Status(*leader);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->role, "follower");  // a higher term deposed it
  auto value = h.client().Get("k");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>("v2"));
}

}  // namespace
}  // namespace raftkv::testing

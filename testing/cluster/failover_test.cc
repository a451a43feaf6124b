// Failures of real processes: kill -9 of the leader, a follower restarted from
// its data directory, and a leader frozen with SIGSTOP.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

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
  // The survivors learnt it from the transport (connection reset, redial
  // refused), not from the election timeout: --fast-failover.
  bool evidence = false;
  for (raft::NodeId id : h.ids()) {
    if (id != *leader && h.NodeLog(id).find(absl::StrCat(
                             "leader ", *leader,
                             " is down (connection lost, redial refused)")) !=
                             std::string::npos) {
      evidence = true;
    }
  }
  EXPECT_TRUE(evidence) << h.Logs();
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

// A client that does not know the leader asks every listed node at once, so a
// frozen node first in --cluster costs it nothing. Asking one node at a time,
// each command would give the frozen node its whole one-second deadline
// (max(1 s, timeout / 3)) and fail.
TEST(ClusterFailoverTest, FrozenNodeFirstInList_CommandsDoNotWaitForIt) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  raft::NodeId frozen = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  std::string cluster = h.cluster().client_address(frozen);
  for (raft::NodeId id : h.ids()) {
    if (id != frozen) cluster += "," + h.cluster().client_address(id);
  }
  h.Pause(frozen);
  for (int i = 0; i < 10; ++i) {
    CommandOutput put = h.Run({"--cluster=" + cluster, "--timeout=1s", "put",
                               absl::StrCat("k", i), "v"});
    EXPECT_EQ(put.exit_code, 0) << put.err;
  }
  CommandOutput get =
      h.Run({"--cluster=" + cluster, "--timeout=1s", "get", "k9"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "v\n");
  // One client with many sessions in flight over its one connection, as
  // `kvnode bench` drives it (on a thread of its own: one kj loop each).
  int ok = 0;
  std::thread([&] {
    kv::ClientOptions options;
    options.cluster = cluster;
    options.timeout_ms = 1000;
    auto client = kv::Client::Create(options);
    ASSERT_TRUE(client.ok());
    std::vector<kv::Client::Session> sessions;
    for (int i = 0; i < 16; ++i) sessions.push_back((*client)->NewSession());
    for (int i = 0; i < 16; ++i) {
      (*client)->PutAsync(sessions[i], absl::StrCat("s", i), "x",
                          [&ok](absl::Status status) {
                            EXPECT_TRUE(status.ok()) << status;
                            ok += status.ok();
                          });
    }
    (*client)->Run();
  }).join();
  EXPECT_EQ(ok, 16);
  h.Resume(frozen);
  ASSERT_TRUE(h.WaitForConvergence(15000).ok()) << h.Logs();
  auto contents = h.Contents(*leader);
  ASSERT_TRUE(contents.ok());
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(contents->count(absl::StrCat("s", i)), 1u) << i;
  }
}

// With two of three nodes frozen the third knows no leader: `kvnode status`
// shows the nodes and says why there is no member list, instead of waiting
// for a leader that cannot answer.
TEST(ClusterFailoverTest,
     StatusWithoutALeader_SaysSoInsteadOfAskingForMembers) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const raft::NodeId awake = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  for (raft::NodeId id : h.ids()) {
    if (id != awake) h.Pause(id);
  }
  // Until the awake node gives up on its leader (an election timeout).
  bool leaderless = false;
  for (int i = 0; i < 200 && !leaderless; ++i) {
    auto info = h.Status(awake);
    leaderless = info.ok() && info->leader == 0;
    if (!leaderless) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(leaderless);
  CommandOutput status = h.Run(
      {"--cluster=" + h.cluster().client_cluster(), "--timeout=1s", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("members: no node knows a leader"),
            std::string::npos)
      << status.out;
  for (raft::NodeId id : h.ids()) {
    if (id != awake) h.Resume(id);
  }
  ASSERT_TRUE(h.WaitForLeader().ok());
}

}  // namespace
}  // namespace raftkv::testing

// Linearizable reads served by followers (thesis §6.4): the follower asks the
// leader for the read index and answers once it has applied it, so a read on a
// follower right after a write was acknowledged sees that write, although the
// follower learns the new commit index only with the leader's next message.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/scrape.h"

namespace raftkv::testing {
namespace {

TEST(FollowerReadTest, ReadOnAFollowerSeesTheWriteJustAcknowledged) {
  auto harness = ClusterHarness::Start({.metrics = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const raft::NodeId follower = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  constexpr int kRounds = 60;
  int stale = 0;
  // The reader knows only the follower, so it is served there, not
  // redirected (a client of its own thread: one kj loop per thread); each
  // write is a `kvnode put` that returns once the leader acknowledged it.
  std::thread([&] {
    kv::ClientOptions options;
    options.cluster = h.cluster().client_address(follower);
    auto reader = kv::Client::Create(options);
    ASSERT_TRUE(reader.ok());
    for (int i = 0; i < kRounds; ++i) {
      const std::string value = absl::StrCat(i);
      CommandOutput put = h.Run(
          {"--cluster=" + h.cluster().client_cluster(), "put", "k", value});
      ASSERT_EQ(put.exit_code, 0) << put.err;
      auto read = (*reader)->Get("k");
      ASSERT_TRUE(read.ok()) << read.status();
      if (*read != std::optional<std::string>(value)) ++stale;
    }
  }).join();
  EXPECT_EQ(stale, 0) << "follower reads missed the write acknowledged before";
  const HttpReply metrics =
      HttpGet(h.cluster().metrics_port(follower), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_GE(Sample("\n" + metrics.body,
                   "raftkv_client_requests_total{op=\"get\",result=\"ok\"}"),
            kRounds)
      << "the follower did not serve the reads itself";
}

// A follower that no longer hears from the leader (the link from the leader
// cut) must not answer from its own state: the leader's read index cannot
// reach it, so the read fails rather than return the value the leader has
// since replaced.
TEST(FollowerReadTest, FollowerCutOffFromTheLeaderNeverServesAStaleValue) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const raft::NodeId follower = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  ASSERT_TRUE(h.client().Put("k", "old").ok());
  ASSERT_TRUE(h.WaitForConvergence().ok());
  h.CutLink(*leader, follower);
  ASSERT_TRUE(h.client().Put("k", "new").ok());  // the other follower acks
  absl::StatusOr<std::optional<std::string>> read;
  std::thread([&] {
    kv::ClientOptions options;
    options.cluster = h.cluster().client_address(follower);
    options.timeout_ms = 1500;
    auto reader = kv::Client::Create(options);
    ASSERT_TRUE(reader.ok());
    read = (*reader)->Get("k");
  }).join();
  if (read.ok()) {
    EXPECT_EQ(*read, std::optional<std::string>("new"))
        << "a linearizable read returned a value already overwritten";
  }
  h.Heal();
}

}  // namespace
}  // namespace raftkv::testing

// Network partitions made by the harness's proxies: a minority cannot commit,
// the majority goes on, and after healing every node converges on the
// majority's history. Partitions come both as reset connections (the proxies)
// and as packets silently dropped with connections left open (iptables).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/packet_filter.h"

namespace raftkv::testing {
namespace {

TEST(ClusterPartitionTest, MinorityCannotCommit_MajorityContinues_AllConverge) {
  auto harness = ClusterHarness::Start({.client_timeout_ms = 3000});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(h.client().Put("before", "1").ok());

  std::set<raft::NodeId> majority;
  for (raft::NodeId id : h.ids()) {
    if (id != *leader) majority.insert(id);
  }
  h.Partition({{*leader}, majority});

  // The old leader alone cannot commit: a client that can only reach it gets
  // "unavailable".
  CommandOutput minority_write =
      h.Run({absl::StrCat("--cluster=", h.cluster().client_address(*leader)),
             "--timeout=1500ms", "put", "minority", "lost"});
  EXPECT_EQ(minority_write.exit_code, 3) << minority_write.err;

  auto next = h.WaitForLeader(10000, {*leader});
  ASSERT_TRUE(next.ok()) << next.status() << h.Logs();
  std::string majority_cluster;
  for (raft::NodeId id : majority) {
    absl::StrAppend(&majority_cluster, majority_cluster.empty() ? "" : ",",
                    h.cluster().client_address(id));
  }
  CommandOutput majority_write =
      h.Run({absl::StrCat("--cluster=", majority_cluster), "put", "majority",
             "kept"});
  EXPECT_EQ(majority_write.exit_code, 0) << majority_write.err;

  h.Heal();
  ASSERT_TRUE(h.WaitForConvergence(15000).ok()) << h.Logs();
  for (raft::NodeId id : h.ids()) {
    auto contents = h.Contents(id);
    ASSERT_TRUE(contents.ok());
    EXPECT_EQ(contents->count("majority"), 1u) << "node " << id;
    EXPECT_EQ(contents->count("minority"), 0u)
        << "node " << id << " kept an uncommitted write";
    EXPECT_EQ(contents->count("before"), 1u) << "node " << id;
  }
}

// A follower whose packets are dropped (its connections stay open, nothing
// tells either side) misses the writes made meanwhile, and catches up once
// the packets flow again: its peers redial the stalled links.
TEST(ClusterPartitionTest, FollowerCutOffByDroppedPackets_RejoinsAfterHeal) {
  if (!PacketFilter::Available())
    GTEST_SKIP() << "packets cannot be dropped here: "
                 << PacketFilter::Unavailable();
  auto harness = ClusterHarness::Start({.client_timeout_ms = 3000});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(h.client().Put("before", "1").ok());
  raft::NodeId follower = raft::kNoNode;
  std::set<raft::NodeId> rest;
  for (raft::NodeId id : h.ids()) {
    if (id != *leader && follower == raft::kNoNode) {
      follower = id;
    } else {
      rest.insert(id);
    }
  }
  ASSERT_TRUE(h.WaitForConvergence().ok());
  auto before = h.Status(follower);
  ASSERT_TRUE(before.ok());

  h.Partition({{follower}, rest}, LinkFault::kDrop);
  // Several call deadlines long: every link to and from it stalls, is given
  // up, and is redialled in vain.
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(h.client().Put(absl::StrCat("during-", i), "x").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto during = h.Status(follower);
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->applied, before->applied)
      << "the follower heard from the leader through the dropped links";

  const auto healed = std::chrono::steady_clock::now();
  h.Heal();
  ASSERT_TRUE(h.WaitForConvergence(15000).ok()) << h.Logs();
  printf("follower %llu rejoined %lld ms after the heal\n",
         static_cast<unsigned long long>(follower),
         static_cast<long long>(
             std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - healed)
                 .count()));
  auto contents = h.Contents(follower);
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(contents->count("during-29"), 1u);
}

}  // namespace
}  // namespace raftkv::testing

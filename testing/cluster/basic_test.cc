// A real 3-process cluster elects one leader and replicates every write to
// every node.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

TEST(ClusterBasicTest, Election_ExactlyOneLeaderAndEveryoneAgrees) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto leader = (*harness)->WaitForLeader();
  ASSERT_TRUE(leader.ok()) << leader.status() << (*harness)->Logs();
  // Give followers a heartbeat to learn the leader, then ask everyone.
  ASSERT_TRUE((*harness)->client().Put("warmup", "1").ok());
  int leaders = 0;
  raft::Term term = 0;
  for (raft::NodeId id : (*harness)->ids()) {
    auto info = (*harness)->Status(id);
    ASSERT_TRUE(info.ok()) << info.status();
    leaders += info->role == "leader";
    EXPECT_EQ(info->leader, *leader) << "node " << id;
    if (term == 0) term = info->term;
    EXPECT_EQ(info->term, term) << "node " << id;
  }
  EXPECT_EQ(leaders, 1);
}

TEST(ClusterBasicTest, Replication_EveryNodeHoldsEveryWrite) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  kv::Client& client = (*harness)->client();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        client.Put(absl::StrCat("key", i), absl::StrCat("value", i)).ok());
  }
  ASSERT_TRUE(client.Delete("key7").ok());
  ASSERT_TRUE((*harness)->WaitForConvergence().ok()) << (*harness)->Logs();
  for (raft::NodeId id : (*harness)->ids()) {
    auto contents = (*harness)->Contents(id);
    ASSERT_TRUE(contents.ok()) << contents.status();
    EXPECT_EQ(contents->size(), 49u) << "node " << id;
    EXPECT_EQ(contents->at("key42"), "value42") << "node " << id;
    EXPECT_EQ(contents->count("key7"), 0u) << "node " << id;
  }
  auto value = client.Get("key49");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>("value49"));
}

}  // namespace
}  // namespace raftkv::testing

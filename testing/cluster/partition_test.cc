// Network partitions made by the harness's proxies: a minority cannot commit,
// the majority goes on, and after healing every node converges on the
// majority's history.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

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
      h.Run({absl::StrCat("--cluster=", h.cluster().address(*leader)),
             "--timeout=1500ms", "put", "minority", "lost"});
  EXPECT_EQ(minority_write.exit_code, 3) << minority_write.err;

  auto next = h.WaitForLeader(10000, {*leader});
  ASSERT_TRUE(next.ok()) << next.status() << h.Logs();
  std::string majority_cluster;
  for (raft::NodeId id : majority) {
    absl::StrAppend(&majority_cluster, majority_cluster.empty() ? "" : ",",
                    h.cluster().address(id));
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

}  // namespace
}  // namespace raftkv::testing

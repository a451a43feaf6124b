// A real 3-process cluster elects one leader and replicates every write to
// every node.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

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

// `status --digest`: nodes at the same applied index show the same checksum
// of their state, and a write changes it.
TEST(ClusterBasicTest, StateDigest_SameOnEveryNode_ChangesWithAWrite) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto digests = [&]() {
    std::set<uint64_t> seen;
    for (raft::NodeId id : h.ids()) {
      auto info = h.client().Status(h.cluster().client_address(id), true);
      EXPECT_TRUE(info.ok()) << info.status();
      if (info.ok()) seen.insert(info->digest);
    }
    return seen;
  };
  ASSERT_TRUE(h.client().Put("a", "1").ok());
  ASSERT_TRUE(h.WaitForConvergence().ok()) << h.Logs();
  const std::set<uint64_t> first = digests();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(*first.begin(), 0u);
  ASSERT_TRUE(h.client().Put("a", "2").ok());
  ASSERT_TRUE(h.WaitForConvergence().ok()) << h.Logs();
  const std::set<uint64_t> second = digests();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(*second.begin(), *first.begin());

  CommandOutput table =
      h.Run({absl::StrCat("--cluster=", h.cluster().client_cluster()), "status",
             "--digest"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("DIGEST"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(
                absl::StrCat(absl::Hex(*second.begin(), absl::kZeroPad16))),
            std::string::npos)
      << table.out;
}

// Table files (*.ldb) under a node's data directory: LevelDB writes one each
// time a store's write buffer fills.
int TableFiles(const std::string& dir) {
  int tables = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    tables += entry.path().extension() == ".ldb";
  }
  return tables;
}

// --storage-write-buffer-mib reaches both stores: 6 MiB of writes fill the
// default 4 MiB buffers (table files appear) and stay in 64 MiB ones.
TEST(ClusterBasicTest, StorageWriteBuffer_IsWhatTheFlagSays) {
  for (const bool large : {false, true}) {
    HarnessOptions options;
    if (large) options.extra_flags.push_back("--storage-write-buffer-mib=64");
    auto harness = ClusterHarness::Start(options);
    ASSERT_TRUE(harness.ok()) << harness.status();
    ClusterHarness& h = **harness;
    const std::string value(256 << 10, 'v');
    for (int i = 0; i < 24; ++i)
      ASSERT_TRUE(h.client().Put(absl::StrCat("big", i), value).ok());
    ASSERT_TRUE(h.WaitForConvergence(20000).ok()) << h.Logs();
    for (raft::NodeId id : h.ids()) {
      const int tables = TableFiles(h.cluster().data_dir(id));
      if (large) {
        EXPECT_EQ(tables, 0) << "node " << id;
      } else {
        EXPECT_GT(tables, 0) << "node " << id;
      }
    }
  }
}

}  // namespace
}  // namespace raftkv::testing

// A node whose disk fills up stops with exit code 7 and a one-line reason, and
// never acknowledges what it could not make durable: every write it
// acknowledged is there when the node restarts on a larger disk. The data
// directory is a tmpfs with 8 MiB free that the test mounts itself
// (small_disk.h; as root, elsewhere the test says why it skips).
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/small_disk.h"

namespace raftkv::testing {
namespace {

TEST(DiskFullTest, DiskFills_NodeExitsSevenAndKeepsEveryAcknowledgedWrite) {
  auto harness = ClusterHarness::Start({.nodes = 1});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  const raft::NodeId id = h.ids()[0];
  ASSERT_TRUE(h.client().Put("before", "1").ok());

  // Move the node's data onto a disk with 8 MiB left.
  ASSERT_EQ(h.cluster().Stop(id).value_or(-1), 0);
  auto disk = SmallDisk::Mount(h.cluster().data_dir(id), 8 << 20);
  if (!disk.ok()) GTEST_SKIP() << "no small disk here: " << disk.status();
  ASSERT_TRUE(h.Restart(id).ok());
  ASSERT_TRUE(h.WaitForLeader().ok());

  // 512 KiB values until the disk is full: the first refused write ends it.
  // Random bytes, so that LevelDB's compression cannot make them fit.
  std::string value(512 << 10, '\0');
  std::mt19937_64 random(42);
  for (char& c : value) c = static_cast<char>(random());
  int acknowledged = 0;
  for (int i = 0; i < 60; ++i) {
    if (!h.client().Put(absl::StrCat("fill", i), value).ok()) break;
    ++acknowledged;
  }
  ASSERT_LT(acknowledged, 60) << "the disk never filled\n" << h.Logs();
  ASSERT_GT(acknowledged, 0);
  // The node stops by itself, with exit code 7 and one line saying why.
  for (int i = 0; i < 200; ++i) {
    if (absl::StrContains(h.NodeLog(id), "kvnode: storage failed")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto code = h.cluster().Stop(id);
  ASSERT_TRUE(code.ok()) << code.status() << "\n" << h.Logs();
  EXPECT_EQ(*code, 7) << h.Logs();
  const std::string log = h.NodeLog(id);
  EXPECT_TRUE(absl::StrContains(
      log, "kvnode: storage failed, node stopped to protect its data: "))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "fix the disk")) << log;

  // Started again on the full disk, it cannot even open its storage: exit 7
  // again, with a line that says so.
  ASSERT_TRUE(h.Restart(id).ok());
  auto again = h.cluster().Wait(id, 10000);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << h.Logs();
  EXPECT_EQ(*again, 7) << h.NodeLog(id);
  EXPECT_TRUE(absl::StrContains(h.NodeLog(id), "free space on that disk"))
      << h.NodeLog(id);

  // On a larger disk, every acknowledged write is there.
  ASSERT_TRUE((*disk)->Unmount().ok());
  ASSERT_TRUE(h.Restart(id).ok());
  ASSERT_TRUE(h.WaitForLeader().ok()) << h.Logs();
  for (int i = 0; i < acknowledged; ++i) {
    auto got = h.client().Get(absl::StrCat("fill", i));
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_TRUE(got->has_value()) << "acknowledged write fill" << i << " lost";
    EXPECT_EQ(got->value().size(), value.size());
  }
  EXPECT_TRUE(h.client().Put("after", "roomy").ok());
}

}  // namespace
}  // namespace raftkv::testing

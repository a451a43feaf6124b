// A follower that missed 72 MiB catches up from a streamed snapshot while the
// leader keeps serving writes, even though it is killed with SIGKILL in the
// middle of the transfer and restarted: the leader abandons the stalled
// stream, starts a new one when asked again, and the follower installs it
// whole. Values are 1 MiB, the largest a client may write.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

constexpr int kBigValues = 72;
constexpr uint64_t kKillAfterBytes = 8 << 20;

std::string BigValue(int i) {
  std::string value(1 << 20, '\0');
  for (size_t j = 0; j < value.size(); ++j)
    value[j] = static_cast<char>('a' + (i * 7 + j / 4096) % 26);
  return value;
}

// Bytes staged so far by a follower (its snapshot-staging directory).
uint64_t StagedBytes(const std::string& data_dir) {
  std::error_code error;
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(
           data_dir + "/snapshot-staging", error)) {
    total += entry.file_size(error);
  }
  return total;
}

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

TEST(BigSnapshotTest, FollowerKilledMidTransfer_StillCatchesUp) {
  auto harness = ClusterHarness::Start(
      {.extra_flags = {"--tick-ms=20", "--compact-after-entries=8"},
       .client_timeout_ms = 30000});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  const raft::NodeId follower = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  h.Kill(follower);
  for (int i = 0; i < kBigValues; ++i) {
    ASSERT_TRUE(h.client().Put(absl::StrCat("big", i), BigValue(i)).ok()) << i;
  }
  ASSERT_TRUE(h.Restart(follower).ok());

  // Keep writing while the snapshot streams; kill the follower once it has
  // staged part of it.
  const std::string data_dir = h.cluster().data_dir(follower);
  int writes = 0;
  uint64_t staged = 0;
  const uint64_t deadline = NowMs() + 30000;
  while (NowMs() < deadline) {
    staged = StagedBytes(data_dir);
    if (staged >= kKillAfterBytes) break;
    if (writes % 4 == 0) {
      ASSERT_TRUE(h.client().Put(absl::StrCat("during", writes), "x").ok());
    }
    ++writes;
    usleep(500);
  }
  ASSERT_GE(staged, kKillAfterBytes)
      << "the follower never staged 8 MiB of the snapshot\n"
      << h.Logs();
  h.Kill(follower);
  const std::string before_restart = h.NodeLog(*leader);
  ASSERT_FALSE(absl::StrContains(before_restart,
                                 absl::StrCat("streamed to node ", follower)))
      << "the transfer finished before the follower was killed";
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(h.client().Put(absl::StrCat("after-kill", i), "y").ok());
  }
  ASSERT_TRUE(h.Restart(follower).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(h.client().Put(absl::StrCat("after-restart", i), "z").ok());
  }
  ASSERT_TRUE(h.WaitForConvergence(60000).ok()) << h.Logs();

  auto contents = h.Contents(follower);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->size(),
            static_cast<size_t>(kBigValues + (writes + 3) / 4 + 40));
  EXPECT_EQ(contents->at("big0"), BigValue(0));
  EXPECT_EQ(contents->at(absl::StrCat("big", kBigValues - 1)),
            BigValue(kBigValues - 1));
  EXPECT_EQ(contents->at("after-restart19"), "z");
  const std::string leader_log = h.NodeLog(*leader);
  EXPECT_TRUE(absl::StrContains(leader_log,
                                absl::StrCat("streamed to node ", follower)))
      << h.Logs();
  // Staging is cleared once installed.
  EXPECT_EQ(StagedBytes(data_dir), 0u);
}

}  // namespace
}  // namespace raftkv::testing

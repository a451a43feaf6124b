// Backup and restore with real processes: `kvnode snapshot save` under writes,
// `snapshot status`, every data directory destroyed, `snapshot restore` into a
// new 3-node cluster, and every write acknowledged before the save is there.
// A damaged or truncated backup is refused with one line and exit code 9.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

std::string Flag(ClusterHarness& h) {
  return absl::StrCat("--cluster=", h.cluster().client_cluster());
}

TEST(BackupTest, SaveUnderWrites_DestroyEverything_RestoreANewCluster) {
  auto old_harness = ClusterHarness::Start();
  ASSERT_TRUE(old_harness.ok()) << old_harness.status();
  ClusterHarness& old = **old_harness;
  ASSERT_TRUE(old.WaitForLeader().ok());
  const int kBefore = 300;
  for (int i = 0; i < kBefore; ++i) {
    ASSERT_TRUE(old.client()
                    .Put(absl::StrCat("before-", i), absl::StrCat("v", i))
                    .ok());
  }
  ASSERT_TRUE(old.client().Delete("before-7").ok());

  // The save runs while another client keeps writing.
  std::atomic<bool> stop{false};
  std::atomic<int> during{0};
  std::thread writer([&] {
    auto client =
        kv::Client::Create({old.cluster().client_cluster(), 2000, true});
    if (!client.ok()) return;
    for (int i = 0; !stop && i < 100000; ++i) {
      if ((*client)->Put(absl::StrCat("during-", i), "x").ok()) ++during;
    }
  });
  while (during < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::string file = TempDir() + "/cluster.backup";
  CommandOutput saved = old.Run({Flag(old), "snapshot", "save", file});
  stop = true;
  writer.join();
  ASSERT_EQ(saved.exit_code, 0) << saved.err << old.Logs();
  EXPECT_TRUE(absl::StrContains(saved.out, "(verified)")) << saved.out;
  printf("saved under writes (%d writes during the run):\n%s", during.load(),
         saved.out.c_str());

  CommandOutput status = old.Run({"snapshot", "status", file, "--output=json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(absl::StrContains(status.out, "\"voters\":[1,2,3]"))
      << status.out;
  printf("%s", status.out.c_str());

  // A damaged copy and a truncated copy are refused, each with one line.
  const std::string damaged = file + ".damaged";
  const std::string truncated = file + ".truncated";
  fs::copy_file(file, damaged);
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(damaged) / 2));
    f.put('\x7f');
  }
  fs::copy_file(file, truncated);
  fs::resize_file(truncated, fs::file_size(file) - 100);
  for (const std::string& bad : {damaged, truncated}) {
    CommandOutput refused = old.Run({"snapshot", "status", bad});
    EXPECT_EQ(refused.exit_code, 9) << refused.out << refused.err;
    EXPECT_TRUE(absl::StartsWith(refused.err, "kvnode: ")) << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1)
        << refused.err;
    printf("%s", refused.err.c_str());
  }

  // Every node of the old cluster stops and loses its data.
  for (raft::NodeId id : old.ids()) {
    ASSERT_EQ(old.cluster().Stop(id).value_or(-1), 0);
    fs::remove_all(old.cluster().data_dir(id));
  }
  old_harness->reset();  // one harness (one client event loop) per thread

  // A new cluster (its own ports and token), seeded from the file.
  auto new_harness = ClusterHarness::Start(
      {.extra_flags = {"--tick-ms=20", "--cluster-token=restored"}});
  ASSERT_TRUE(new_harness.ok()) << new_harness.status();
  ClusterHarness& fresh = **new_harness;
  ASSERT_TRUE(fresh.WaitForLeader().ok());  // up (SIGTERM handled) before stopping
  for (raft::NodeId id : fresh.ids()) {
    ASSERT_EQ(fresh.cluster().Stop(id).value_or(-1), 0);
    fs::remove_all(fresh.cluster().data_dir(id));
    const std::vector<std::string> restore = {
        "snapshot",
        "restore",
        file,
        "--data-dir=" + fresh.cluster().data_dir(id),
        absl::StrCat("--node-id=", id),
        Flag(fresh),
        "--cluster-token=restored"};
    // Refused: the damaged file, and the old cluster's own token.
    std::vector<std::string> from_damaged = restore;
    from_damaged[2] = damaged;
    EXPECT_EQ(fresh.Run(from_damaged).exit_code, 9);
    EXPECT_FALSE(fs::exists(fresh.cluster().data_dir(id) + "/kv"));
    std::vector<std::string> same_token = restore;
    same_token.back() = "--cluster-token=raftkv";
    CommandOutput refused = fresh.Run(same_token);
    EXPECT_EQ(refused.exit_code, 2) << refused.err;
    EXPECT_TRUE(absl::StrContains(refused.err, "--cluster-token"))
        << refused.err;
    CommandOutput restored = fresh.Run(restore);
    ASSERT_EQ(restored.exit_code, 0) << restored.err;
    if (id == 1) printf("%s", restored.out.c_str());
    ASSERT_TRUE(fresh.Restart(id).ok());
  }
  ASSERT_TRUE(fresh.WaitForLeader(15000).ok()) << fresh.Logs();

  int present = 0;
  for (int i = 0; i < kBefore; ++i) {
    auto value = fresh.client().Get(absl::StrCat("before-", i));
    ASSERT_TRUE(value.ok()) << value.status();
    if (i == 7) {
      EXPECT_FALSE(value->has_value()) << "a deleted key came back";
      continue;
    }
    ASSERT_TRUE(value->has_value())
        << "acknowledged write before-" << i << " is missing";
    EXPECT_EQ(**value, absl::StrCat("v", i));
    ++present;
  }
  printf("restored cluster: %d of %d keys written before the save present\n",
         present, kBefore - 1);
  ASSERT_TRUE(fresh.client().Put("after-restore", "1").ok());
  ASSERT_TRUE(fresh.WaitForConvergence(15000).ok()) << fresh.Logs();
  auto members = fresh.client().Members();
  ASSERT_TRUE(members.ok()) << members.status();
  EXPECT_EQ(members->members.size(), 3u);
  for (const kv::MemberInfo& m : members->members)
    EXPECT_EQ(m.address, fresh.cluster().address(m.id)) << "member " << m.id;
}

}  // namespace
}  // namespace raftkv::testing

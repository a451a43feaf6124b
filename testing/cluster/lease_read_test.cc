// Lease reads (--read-mode=lease, thesis §6.4.1) on real processes: the
// leader answers linearizable reads from its lease, without a heartbeat round
// per read; and a leader that was stopped (SIGSTOP) while a new one took over
// and accepted a write never answers from its old lease when it resumes: its
// ticks catch up with the clock before it looks at the lease.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/scrape.h"

namespace raftkv::testing {
namespace {

double LeaseReads(ClusterHarness& h, raft::NodeId id) {
  const HttpReply metrics = HttpGet(h.cluster().metrics_port(id), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  return Sample("\n" + metrics.body, "raftkv_raft_lease_reads_total");
}

HarnessOptions LeaseCluster() {
  HarnessOptions options;
  options.extra_flags = {"--tick-ms=20", "--read-mode=lease"};
  options.metrics = true;
  return options;
}

TEST(LeaseReadTest, TheLeaderAnswersReadsFromItsLease) {
  auto harness = ClusterHarness::Start(LeaseCluster());
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  constexpr int kReads = 200;
  for (int i = 0; i < kReads; ++i) {
    const std::string value = absl::StrCat(i);
    if (i % 20 == 0) {
      ASSERT_TRUE(h.client().Put("k", value).ok());
    }
    auto read = h.client().Get("k");
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, std::optional<std::string>(absl::StrCat(i / 20 * 20)));
  }
  // Most reads needed no round (a read that arrives while the lease is being
  // renewed, or before this term's first commit, waits for one).
  EXPECT_GE(LeaseReads(h, *leader), kReads / 2)
      << "the leader did not answer reads from its lease";
}

TEST(LeaseReadTest, AResumedLeaderNeverAnswersFromItsOldLease) {
  auto harness = ClusterHarness::Start(LeaseCluster());
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto old_leader = h.WaitForLeader();
  ASSERT_TRUE(old_leader.ok()) << old_leader.status();
  ASSERT_TRUE(h.client().Put("k", "old").ok());
  ASSERT_TRUE(h.WaitForConvergence().ok());
  const double served_before = LeaseReads(h, *old_leader);
  std::string others;
  for (raft::NodeId id : h.ids()) {
    if (id == *old_leader) continue;
    absl::StrAppend(&others, others.empty() ? "" : ",",
                    h.cluster().client_address(id));
  }
  h.Pause(*old_leader);
  // A reader that knows only the stopped leader: its read waits in the
  // socket until the process resumes.
  absl::StatusOr<std::optional<std::string>> read;
  std::thread reader([&] {
    kv::ClientOptions options;
    options.cluster = h.cluster().client_address(*old_leader);
    options.timeout_ms = 8000;
    auto client = kv::Client::Create(options);
    ASSERT_TRUE(client.ok());
    read = (*client)->Get("k");
  });
  // Meanwhile the others elect a leader (200-400 ms) and take a write.
  CommandOutput put =
      h.Run({"--cluster=" + others, "--timeout=5s", "put", "k", "new"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  h.Resume(*old_leader);
  reader.join();
  if (read.ok()) {
    EXPECT_EQ(*read, std::optional<std::string>("new"))
        << "a resumed leader answered from the lease it held before the stop";
  }
  EXPECT_EQ(LeaseReads(h, *old_leader), served_before)
      << "the resumed leader served a read from its old lease";
}

}  // namespace
}  // namespace raftkv::testing

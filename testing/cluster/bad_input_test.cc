// Bad input gets a one-line error naming the limit or the fix and a distinct
// exit code, and never crashes a node or loses data.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

bool OneLine(const std::string& s) {
  return !s.empty() && s.find('\n') == s.size() - 1;
}

TEST(ClusterBadInputTest, EveryMistakeHasItsMessageAndExitCode) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  ASSERT_TRUE(h.client().Put("precious", "data").ok());
  const std::string cluster =
      absl::StrCat("--cluster=", h.cluster().client_cluster());

  CommandOutput big_key = h.Run({cluster, "put", std::string(5000, 'k'), "v"});
  EXPECT_EQ(big_key.exit_code, 4);
  EXPECT_EQ(big_key.err,
            "kvnode: key of 5000 bytes exceeds the limit of 4096 bytes "
            "(--max-key-bytes)\n");

  // (A 1.1 MB value cannot travel as a command-line argument; the library sends
  // it.)
  absl::Status big_value = h.client().Put("k", std::string(1100000, 'v'));
  EXPECT_EQ(big_value.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(big_value.message(),
            "value of 1100000 bytes exceeds the limit of 1048576 bytes "
            "(--max-value-bytes)");

  CommandOutput unknown = h.Run({cluster, "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "kvnode: unknown command \"frobnicate\"; run kvnode --help for the "
            "list\n");

  CommandOutput usage = h.Run({cluster, "put", "only-a-key"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_TRUE(OneLine(usage.err)) << usage.err;

  CommandOutput bad_flag = h.Run({"--no-such-flag=1", "status"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_TRUE(OneLine(bad_flag.err)) << bad_flag.err;

  CommandOutput malformed =
      h.Run({"serve", "--node-id=1", "--cluster=1=127.0.0.1:1,banana",
             "--data-dir=/tmp/unused"});
  EXPECT_EQ(malformed.exit_code, 2);
  EXPECT_TRUE(
      absl::StartsWith(malformed.err, "kvnode: bad --cluster entry \"banana\""))
      << malformed.err;
  EXPECT_TRUE(OneLine(malformed.err)) << malformed.err;

  for (const char* lease : {"--read-mode=bogus", "--lease-clock-drift=1.5"}) {
    CommandOutput bad_lease =
        h.Run({"serve", "--node-id=1", "--cluster=1=127.0.0.1:1",
               "--data-dir=/tmp/unused", "--read-mode=lease", lease});
    EXPECT_EQ(bad_lease.exit_code, 2) << lease;
    EXPECT_EQ(bad_lease.err,
              "kvnode: --read-mode must be index or lease and "
              "--lease-clock-drift at least 0 and below 1\n")
        << lease;
  }

  // A second server on a running node's data directory is refused and harms
  // nothing.
  const raft::NodeId id = h.ids()[0];
  CommandOutput in_use =
      h.Run({"serve", absl::StrCat("--node-id=", id),
             absl::StrCat("--cluster=", h.cluster().client_cluster()),
             "--bind=127.0.0.1:0",
             absl::StrCat("--data-dir=", h.cluster().data_dir(id))});
  EXPECT_EQ(in_use.exit_code, 6);
  EXPECT_TRUE(absl::StrContains(in_use.err, "is in use by another process"))
      << in_use.err;
  EXPECT_TRUE(OneLine(in_use.err)) << in_use.err;

  CommandOutput unreachable =
      h.Run({"--cluster=127.0.0.1:1", "--timeout=300ms", "get", "k"});
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_TRUE(absl::StartsWith(unreachable.err, "kvnode: cluster unavailable"))
      << unreachable.err;

  CommandOutput missing = h.Run({cluster, "get", "nothing-here"});
  EXPECT_EQ(missing.exit_code, 1);

  // Nothing was lost and every node still runs.
  CommandOutput kept = h.Run({cluster, "get", "precious"});
  EXPECT_EQ(kept.exit_code, 0);
  EXPECT_EQ(kept.out, "data\n");
  for (raft::NodeId node : h.ids())
    EXPECT_TRUE(h.Status(node).ok()) << "node " << node;
}

}  // namespace
}  // namespace raftkv::testing

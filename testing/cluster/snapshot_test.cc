// A follower that missed more than the leader keeps in its log catches up from
// a snapshot: the leader's state streamed over the peer link, restored into the
// follower's KV store (sessions included), and the log restarted after it.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/scrape.h"

namespace raftkv::testing {
namespace {

TEST(ClusterSnapshotTest, FollowerBehindCompaction_CatchesUpFromSnapshot) {
  auto harness = ClusterHarness::Start(
      {.extra_flags = {"--tick-ms=20", "--compact-after-entries=40"},
       .metrics = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  const raft::NodeId follower = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  ASSERT_TRUE(h.client().Put("early", "1").ok());
  h.Kill(follower);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(
        h.client().Put(absl::StrCat("while-down", i), absl::StrCat(i)).ok());
  }
  // The client's session must survive the transfer: a later write with it still
  // works.
  ASSERT_TRUE(h.Restart(follower).ok());
  ASSERT_TRUE(h.WaitForConvergence(20000).ok()) << h.Logs();
  auto contents = h.Contents(follower);
  ASSERT_TRUE(contents.ok());
  EXPECT_EQ(contents->size(), 201u);
  EXPECT_EQ(contents->at("while-down199"), "199");
  const std::string leader_log = h.NodeLog(*leader);
  EXPECT_TRUE(absl::StrContains(
      leader_log, absl::StrCat("streamed to node ", follower, " (")))
      << "the follower caught up without a snapshot; the test no longer covers "
         "snapshots\n"
      << h.Logs();
  // Both ends timed the whole stream (raftkv_snapshot_duration_seconds).
  const std::string series = "raftkv_snapshot_duration_seconds_count";
  const std::string sent =
      "\n" + HttpGet(h.cluster().metrics_port(*leader), "/metrics").body;
  const std::string received =
      "\n" + HttpGet(h.cluster().metrics_port(follower), "/metrics").body;
  EXPECT_GE(Sample(sent, series + "{direction=\"sent\"}"), 1) << sent;
  EXPECT_GE(Sample(received, series + "{direction=\"received\"}"), 1)
      << received;
  // The restored follower can lead: kill the others' leader and keep writing.
  h.Kill(*leader);
  auto next = h.WaitForLeader(10000, {*leader});
  ASSERT_TRUE(next.ok()) << h.Logs();
  ASSERT_TRUE(h.client().Put("after", "snapshot").ok());
  auto value = h.client().Get("while-down0");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>("0"));
}

// The bytes of the leader's log line "streamed to node F (N bytes, M on the
// wire)": {N, M}, or {0, 0} when there is none.
std::pair<uint64_t, uint64_t> StreamedBytes(const std::string& log,
                                            raft::NodeId to) {
  const std::string head = absl::StrCat("streamed to node ", to, " (");
  const size_t at = log.rfind(head);
  if (at == std::string::npos) return {0, 0};
  uint64_t raw = 0, wire = 0;
  const char* p = log.c_str() + at + head.size();
  if (sscanf(p, "%lu bytes, %lu on the wire", &raw, &wire) != 2) return {0, 0};
  return {raw, wire};
}

// --snapshot-compression=gzip and --peer-encoding=packed: the same catch-up,
// with the stream gzipped chunk by chunk and every peer batch packed; values
// mostly of zero bytes shrink under both.
TEST(ClusterSnapshotTest, GzipSnapshotsAndPackedPeers_SendFewerBytes) {
  auto harness = ClusterHarness::Start(
      {.extra_flags = {"--tick-ms=20", "--compact-after-entries=40",
                       "--snapshot-compression=gzip", "--peer-encoding=packed"},
       .metrics = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  const raft::NodeId follower = h.ids()[0] == *leader ? h.ids()[1] : h.ids()[0];
  raft::NodeId other = raft::kNoNode;
  for (raft::NodeId id : h.ids())
    if (id != *leader && id != follower) other = id;
  h.Kill(follower);
  auto value = [](int i) { return absl::StrCat(i, std::string(1000, '\0')); };
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(h.client().Put(absl::StrCat("k", i), value(i)).ok());
  ASSERT_TRUE(h.Restart(follower).ok());
  ASSERT_TRUE(h.WaitForConvergence(20000).ok()) << h.Logs();
  auto contents = h.Contents(follower);
  ASSERT_TRUE(contents.ok());
  ASSERT_EQ(contents->size(), 200u);
  EXPECT_EQ(contents->at("k199"), value(199));
  const auto [raw, wire] = StreamedBytes(h.NodeLog(*leader), follower);
  ASSERT_GT(raw, 200u * 1000) << "no snapshot was streamed\n" << h.Logs();
  EXPECT_LT(wire * 10, raw) << "the snapshot went uncompressed";
  // The follower that stayed got every entry in packed batches, smaller than
  // the entries they carry (plain batches are larger: framing and pointers).
  const std::string metrics =
      "\n" + HttpGet(h.cluster().metrics_port(*leader), "/metrics").body;
  const std::string peer = absl::StrCat("{peer=\"", other, "\"}");
  const double payload = Sample(metrics, "raftkv_peer_sent_bytes_total" + peer);
  const double batches =
      Sample(metrics, "raftkv_peer_batch_bytes_total" + peer);
  ASSERT_GT(payload, 200.0 * 1000) << metrics;
  EXPECT_LT(batches * 2, payload) << metrics;
}

}  // namespace
}  // namespace raftkv::testing

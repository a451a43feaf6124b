// Membership changes against real kvnode processes: a dead node replaced
// through a learner that joins with --join and catches up from a snapshot,
// growing to 5 and shrinking to 3, removing the leader, a removed node that
// comes back, all while a client writes and every acknowledged write stays
// readable; and every bad request's message and exit code.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Writes w/0, w/1, ... through its own client (its own event loop, on its own
// thread) until stopped, at most 20,000 writes or 60 s; remembers every write
// that was acknowledged.
class Writer {
 public:
  explicit Writer(std::string cluster) {
    thread_ = std::thread([this, cluster] {
      auto client = kv::Client::Create({cluster, 3000, true});
      if (!client.ok()) return;
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      for (int i = 0; i < 20000 && !stop_ && Clock::now() < deadline; ++i) {
        const std::string key = absl::StrCat("w/", i);
        if ((*client)->Put(key, absl::StrCat("v", i)).ok()) {
          acked_.push_back(key);
          ++count_;
        }
      }
    });
  }
  ~Writer() { Stop(); }
  // Returns the acknowledged keys.
  const std::vector<std::string>& Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return acked_;
  }
  int count() const { return count_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  std::vector<std::string> acked_;
  std::thread thread_;
};

std::string Flag(ClusterHarness& h) {
  return "--cluster=" + h.cluster().client_cluster();
}

// Waits until `done` holds, polling every 50 ms, for at most `ms`.
bool WaitFor(const std::function<bool()>& done, int ms = 15000) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The leader's view, through the real CLI: "voter" / "learner" per id.
std::map<raft::NodeId, std::string> Suffrages(ClusterHarness& h) {
  std::map<raft::NodeId, std::string> out;
  auto members = h.client().Members();
  if (!members.ok()) return out;
  for (const kv::MemberInfo& m : members->members) out[m.id] = m.suffrage;
  return out;
}

void ExpectAllReadable(ClusterHarness& h,
                       const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    auto value = h.client().Get(key);
    ASSERT_TRUE(value.ok()) << key << ": " << value.status();
    ASSERT_TRUE(value->has_value()) << "acknowledged write " << key << " lost";
  }
}

HarnessOptions Options() {
  HarnessOptions options;
  // Compact often, so that a joining node catches up from a snapshot.
  options.extra_flags = {"--tick-ms=20", "--compact-after-entries=50"};
  return options;
}

TEST(ClusterMembershipTest, DeadNodeReplaced_ByJoiningLearner_UnderWrites) {
  auto harness = ClusterHarness::Start(Options());
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  Writer writer(h.cluster().client_cluster());
  ASSERT_TRUE(WaitFor([&] { return writer.count() > 200; })) << h.Logs();

  h.Kill(3);
  CommandOutput removed = h.Run({Flag(h), "member", "remove", "3"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err << h.Logs();
  EXPECT_EQ(removed.out, "node 3 removed\n");

  // Node 4 starts first: it waits, saying so once, until it is added.
  ASSERT_TRUE(h.StartJoining(4).ok());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(h.NodeLog(4), "is not a member of cluster");
  })) << h.NodeLog(4);
  const std::string address = h.cluster().address(4);
  CommandOutput added = h.Run({Flag(h), "member", "add-learner", "4", address});
  ASSERT_EQ(added.exit_code, 0) << added.err << h.Logs();
  EXPECT_EQ(added.out, "node 4 added as a learner\n");
  EXPECT_EQ(Suffrages(h)[4], "learner");

  // It catches up (from a snapshot: the log was compacted long before).
  ASSERT_TRUE(WaitFor([&] {
    auto members = h.client().Members();
    if (!members.ok()) return false;
    for (const kv::MemberInfo& m : members->members)
      if (m.id == 4) return m.has_progress && m.lag < 20 && m.match > 0;
    return false;
  })) << h.Logs();
  CommandOutput promoted = h.Run({Flag(h), "member", "promote", "4"});
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err << h.Logs();
  EXPECT_EQ(Suffrages(h), (std::map<raft::NodeId, std::string>{
                              {1, "voter"}, {2, "voter"}, {4, "voter"}}));

  ASSERT_TRUE(WaitFor([&] { return writer.count() > 600; })) << h.Logs();
  const std::vector<std::string> acked = writer.Stop();
  ExpectAllReadable(h, acked);
  ASSERT_TRUE(h.WaitForConvergence(20000).ok()) << h.Logs();
  const std::string log4 = h.NodeLog(4);
  EXPECT_TRUE(absl::StrContains(log4, "installing snapshot")) << log4;
  // "Saying so once".
  size_t waits = 0;
  for (size_t at = log4.find("is not a member"); at != std::string::npos;
       at = log4.find("is not a member", at + 1))
    ++waits;
  EXPECT_EQ(waits, 1u) << log4;
}

TEST(ClusterMembershipTest, GrowTo5_ShrinkTo3_UnderWrites) {
  auto harness = ClusterHarness::Start(Options());
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  Writer writer(h.cluster().client_cluster());
  for (raft::NodeId id : {4, 5}) {
    ASSERT_TRUE(h.StartJoining(id).ok());
    const std::string address = h.cluster().address(id);
    CommandOutput added =
        h.Run({Flag(h), "member", "add-learner", absl::StrCat(id), address});
    ASSERT_EQ(added.exit_code, 0) << added.err << h.Logs();
    CommandOutput promoted;
    ASSERT_TRUE(WaitFor([&] {
      promoted = h.Run({Flag(h), "member", "promote", absl::StrCat(id)});
      return promoted.exit_code == 0;
    })) << promoted.err
        << h.Logs();
  }
  EXPECT_EQ(Suffrages(h).size(), 5u);
  for (const auto& [id, suffrage] : Suffrages(h)) EXPECT_EQ(suffrage, "voter");
  ASSERT_TRUE(WaitFor([&] { return writer.count() > 300; })) << h.Logs();

  // Shrink by removing two founders, one at a time.
  for (raft::NodeId id : {1, 2}) {
    CommandOutput removed =
        h.Run({Flag(h), "member", "remove", absl::StrCat(id)});
    ASSERT_EQ(removed.exit_code, 0) << removed.err << h.Logs();
  }
  EXPECT_EQ(Suffrages(h), (std::map<raft::NodeId, std::string>{
                              {3, "voter"}, {4, "voter"}, {5, "voter"}}));
  const int before = writer.count();
  ASSERT_TRUE(WaitFor([&] { return writer.count() > before + 100; }))
      << h.Logs();
  const std::vector<std::string> acked = writer.Stop();
  ExpectAllReadable(h, acked);
  ASSERT_TRUE(h.WaitForConvergence(20000, {1, 2}).ok()) << h.Logs();
}

TEST(ClusterMembershipTest, RemoveTheLeader_HandsOverAndKeepsServing) {
  auto harness = ClusterHarness::Start(Options());
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  Writer writer(h.cluster().client_cluster());
  ASSERT_TRUE(WaitFor([&] { return writer.count() > 100; })) << h.Logs();
  CommandOutput removed =
      h.Run({Flag(h), "member", "remove", absl::StrCat(*leader)});
  ASSERT_EQ(removed.exit_code, 0) << removed.err << h.Logs();
  auto next = h.WaitForLeader(10000, {*leader});
  ASSERT_TRUE(next.ok()) << h.Logs();
  EXPECT_NE(*next, *leader);
  EXPECT_EQ(Suffrages(h).count(*leader), 0u);
  EXPECT_TRUE(absl::StrContains(h.NodeLog(*leader), "handing over"))
      << h.Logs();
  const int before = writer.count();
  ASSERT_TRUE(WaitFor([&] { return writer.count() > before + 100; }))
      << h.Logs();
  const std::vector<std::string> acked = writer.Stop();
  ExpectAllReadable(h, acked);
  ASSERT_TRUE(h.WaitForConvergence(20000, {*leader}).ok()) << h.Logs();
}

TEST(ClusterMembershipTest, RemovedNodeRestarted_DoesNotDisturbTheCluster) {
  auto harness = ClusterHarness::Start(Options());
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  const raft::NodeId victim = *leader == 3 ? 2 : 3;
  CommandOutput removed =
      h.Run({Flag(h), "member", "remove", absl::StrCat(victim)});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  auto before = h.Status(*leader);
  ASSERT_TRUE(before.ok());
  // The leader tells a removed node that its removal committed; once it has
  // applied it, it never campaigns again, restarts included.
  ASSERT_TRUE(WaitFor([&] {
    auto status = h.Status(victim);
    return status.ok() && status->applied >= before->commit;
  })) << h.Logs();
  ASSERT_TRUE(h.cluster().Stop(victim).ok());
  // Back with its old data directory: it knows it was removed.
  ASSERT_TRUE(h.Restart(victim).ok());
  Writer writer(h.cluster().client_cluster());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::vector<std::string> acked = writer.Stop();
  EXPECT_GT(acked.size(), 50u);
  auto after = h.Status(*leader);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->role, "leader");
  EXPECT_EQ(after->term, before->term) << "the removed node disrupted it";
  // (The harness client's connection to the old process is gone: the first
  // call may fail.)
  absl::StatusOr<kv::NodeInfo> victim_status;
  ASSERT_TRUE(
      WaitFor([&] { return (victim_status = h.Status(victim)).ok(); }, 3000))
      << victim_status.status() << h.Logs();
  EXPECT_EQ(victim_status->term, before->term);
  EXPECT_EQ(victim_status->role, "follower");
  ExpectAllReadable(h, acked);
}

TEST(ClusterMembershipTest, BadRequests_OneLineErrorAndDistinctExitCode) {
  HarnessOptions options = Options();
  // A slow check-quorum, so a leader cut off from its followers keeps its
  // change in flight for a while.
  options.extra_flags = {"--tick-ms=20", "--election-ticks=100"};
  auto harness = ClusterHarness::Start(options);
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader(20000);
  ASSERT_TRUE(leader.ok());
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::string free_address = "127.0.0.1:1";
  for (const Case& c : std::vector<Case>{
           {{"member", "add", "2", free_address},
            4,
            "kvnode: node 2 is already a voter; pick an id that is not a "
            "member\n"},
           {{"member", "promote", "9"},
            4,
            "kvnode: node 9 is not a member; only a learner can be promoted\n"},
           {{"member", "remove", "9"}, 4, "kvnode: node 9 is not a member\n"},
           {{"member", "add-learner", "9", "nowhere"},
            4,
            "kvnode: add-learner 9 needs the address the cluster reaches it "
            "at, as HOST:PORT\n"},
           // The leader's own address (each node reaches the others through
           // the harness's proxies, so only its own is the real one to it).
           {{"member", "add-learner", "9", h.cluster().address(*leader)},
            4,
            absl::StrCat("kvnode: address ", h.cluster().address(*leader),
                         " is node ", *leader, "'s; give node 9 its own\n")},
           {{"member", "remove", "x"},
            2,
            "kvnode: node id must be a positive number, got \"x\"\n"},
           {{"member", "frob"},
            2,
            "kvnode: usage: kvnode member list | add-learner ID HOST:PORT | "
            "add ID HOST:PORT | promote ID | remove ID\n"},
       }) {
    std::vector<std::string> args = {Flag(h)};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandOutput out = h.Run(args);
    EXPECT_EQ(out.exit_code, c.exit_code) << c.args[1] << ": " << out.err;
    EXPECT_EQ(out.err, c.message);
  }

  // Two voters away: the last voter cannot be removed.
  for (raft::NodeId id : {1, 2, 3}) {
    if (id == *leader) continue;
    CommandOutput removed =
        h.Run({Flag(h), "member", "remove", absl::StrCat(id)});
    ASSERT_EQ(removed.exit_code, 0) << removed.err;
  }
  CommandOutput last =
      h.Run({Flag(h), "member", "remove", absl::StrCat(*leader)});
  EXPECT_EQ(last.exit_code, 4);
  EXPECT_EQ(last.err,
            "kvnode: a change may not remove the last voter; add another "
            "voter first\n");

  // One change at a time: with the only other voter paused, a change cannot
  // commit, and a second one is refused (exit 8), not queued.
  ASSERT_TRUE(h.StartJoining(4).ok());
  CommandOutput add4 =
      h.Run({Flag(h), "member", "add", "4", h.cluster().address(4)});
  ASSERT_EQ(add4.exit_code, 0) << add4.err << h.Logs();
  h.Pause(4);
  CommandOutput first;
  std::thread pending([&] {
    first = h.Run(
        {Flag(h), "--timeout=2s", "member", "add-learner", "5", "127.0.0.1:2"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CommandOutput second =
      h.Run({Flag(h), "member", "add-learner", "6", "127.0.0.1:3"});
  pending.join();
  h.Resume(4);
  EXPECT_EQ(second.exit_code, 8) << second.err;
  EXPECT_TRUE(absl::StrContains(second.err, "another membership change"))
      << second.err;
  EXPECT_EQ(first.exit_code, 3) << first.err;
}

TEST(ClusterMembershipTest, DataDirOfAnotherCluster_RefusedWithExit2) {
  auto harness = ClusterHarness::Start(Options());
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  // A --cluster that disagrees with node 1's data directory.
  ASSERT_TRUE(h.cluster().Stop(1).ok());
  CommandOutput wrong = h.Run(
      {"serve", "--node-id=1", absl::StrCat("--bind=", h.cluster().address(1)),
       absl::StrCat("--data-dir=", h.cluster().data_dir(1)),
       "--cluster=1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3,4=127.0.0.1:4"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(wrong.err, "restart without --cluster"))
      << wrong.err;
  // Joining with the data directory of another cluster (a lone node
  // bootstrapped elsewhere).
  auto port = cli::PickFreePort();
  ASSERT_TRUE(port.ok());
  const std::string other = absl::StrCat(h.cluster().options().dir, "/other");
  CommandOutput lone = h.Run(
      {"serve", "--node-id=7", absl::StrCat("--cluster=7=127.0.0.1:", *port),
       absl::StrCat("--data-dir=", other), "--cluster-token=elsewhere"},
      1500);  // killed after 1.5 s: it only needs to write its identity
  CommandOutput join =
      h.Run({"serve", "--node-id=7", absl::StrCat("--bind=127.0.0.1:", *port),
             absl::StrCat("--join=", h.cluster().address(2)),
             absl::StrCat("--data-dir=", other)});
  EXPECT_EQ(join.exit_code, 2) << join.err << lone.err;
  EXPECT_TRUE(absl::StrContains(join.err, "give an empty --data-dir to join"))
      << join.err;
}

}  // namespace
}  // namespace raftkv::testing

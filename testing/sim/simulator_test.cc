// Runs the whole-node simulator over 2,200 seeds (1,200 with 3 nodes, 1,000
// with 5) under the default fault mix, each client history checked for
// linearizability while an operator changes the members, plus a fault-free
// run, other cluster sizes, determinism, lease reads with paused leaders,
// and the checker's own blind-spot test: serializable reads counted as
// linearizable must be caught. A failure prints the seed and the command that
// replays it.

#include "testing/sim/simulator.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace raftkv::testing {
namespace {

// A run's verdict, with the command that replays it when it failed.
::testing::AssertionResult Clean(const SimResult& result,
                                 const SimOptions& options) {
  if (result.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << result.violation << "\n  replay: bazel run //testing:raft_sim -- "
         << ReplayFlags(options);
}

struct Batch {
  int nodes;
  uint64_t first_seed;
  uint64_t seeds;
};

class SimulatorSeedsTest : public ::testing::TestWithParam<Batch> {};

TEST_P(SimulatorSeedsTest, NoViolations) {
  const Batch batch = GetParam();
  uint64_t committed = 0, operations = 0, elected = 0, histories = 0,
           pauses = 0, lease_reads = 0;
  sim::MembershipStats members;
  for (uint64_t seed = batch.first_seed; seed < batch.first_seed + batch.seeds;
       ++seed) {
    SimOptions options;
    options.nodes = batch.nodes;
    options.seed = seed;
    SimResult result = RunSimulation(options);
    ASSERT_TRUE(Clean(result, options));
    committed += result.committed;
    operations += result.operations;
    histories += result.history_checked ? 1 : 0;
    elected += result.leaders_elected;
    pauses += result.pauses;
    lease_reads += result.lease_reads;
    members.acknowledged += result.membership.acknowledged;
    members.joint += result.membership.joint;
    members.removed_leader += result.membership.removed_leader;
    members.retired += result.membership.retired;
  }
  // The runs did real work: entries committed, client histories checked,
  // leaders replaced.
  EXPECT_GT(committed, batch.seeds * 100);
  EXPECT_EQ(histories, batch.seeds);
  EXPECT_GT(operations, batch.seeds * 500);
  EXPECT_GT(elected, batch.seeds);
  // Nodes paused, and a quarter of the runs served reads from leases.
  EXPECT_GT(pauses, batch.seeds);
  EXPECT_GT(lease_reads, batch.seeds * 20);
  // And the members changed under the faults: joint changes, the leader
  // removed, removed nodes retired.
  EXPECT_GT(members.acknowledged, batch.seeds);
  EXPECT_GT(members.joint, batch.seeds / 10);
  EXPECT_GT(members.removed_leader, batch.seeds / 20);
  EXPECT_GT(members.retired, batch.seeds / 2);
}

std::vector<Batch> Batches() {
  std::vector<Batch> batches;
  for (uint64_t i = 0; i < 12; ++i) batches.push_back({3, 1 + i * 100, 100});
  for (uint64_t i = 0; i < 10; ++i)
    batches.push_back({5, 100001 + i * 100, 100});
  return batches;
}

INSTANTIATE_TEST_SUITE_P(Seeds, SimulatorSeedsTest,
                         ::testing::ValuesIn(Batches()),
                         [](const ::testing::TestParamInfo<Batch>& info) {
                           return absl::StrCat("nodes", info.param.nodes,
                                               "_seeds", info.param.first_seed);
                         });

TEST(SimulatorTest, SameSeed_SameRun) {
  SimOptions options;
  options.seed = 42;
  options.nodes = 5;
  SimResult a = RunSimulation(options), b = RunSimulation(options);
  EXPECT_EQ(a.committed, b.committed);
  EXPECT_EQ(a.leaders_elected, b.leaders_elected);
  EXPECT_EQ(a.crashes, b.crashes);
  EXPECT_EQ(a.operations, b.operations);
  EXPECT_EQ(a.unknown_outcomes, b.unknown_outcomes);
  EXPECT_EQ(a.writes_acknowledged, b.writes_acknowledged);
}

TEST(SimulatorTest, FaultFree_OneLeaderCommitsSteadily) {
  SimOptions options;
  options.drop_rate = options.duplicate_rate = options.partition_rate =
      options.crash_rate = options.disk_fail_rate = options.membership_rate =
          options.pause_rate = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    options.seed = seed;
    SimResult result = RunSimulation(options);
    ASSERT_TRUE(result.ok) << result.violation;
    EXPECT_EQ(result.leaders_elected, 1u) << "seed " << seed;
    EXPECT_GT(result.writes_acknowledged, 400u) << "seed " << seed;
    // Only operations still open when the run ends have unknown outcomes.
    EXPECT_LE(result.unknown_outcomes, static_cast<uint64_t>(options.clients))
        << "seed " << seed;
  }
}

TEST(SimulatorTest, OtherClusterSizes_NoViolations) {
  for (int nodes : {1, 2, 4, 7}) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      SimOptions options;
      options.nodes = nodes;
      options.seed = seed;
      SimResult result = RunSimulation(options);
      ASSERT_TRUE(Clean(result, options));
    }
  }
}

TEST(SimulatorTest, SerializableReadsCheckedAsLinearizable_Violation) {
  // Serializable reads may be stale by design; if the checker accepted them
  // as linearizable, it would be blind to stale reads.
  int caught = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.serializable_as_linearizable = true;
    SimResult result = RunSimulation(options);
    if (!result.ok) {
      EXPECT_NE(result.violation.find("linearizability"), std::string::npos)
          << result.violation;
      ++caught;
    }
  }
  EXPECT_GE(caught, 5);
}

TEST(SimulatorTest, LeaseReads_PausedLeaders_NeverStale) {
  // Every run with lease reads, and many pauses (often of the leader): each
  // lease read is checked against what was committed and against the
  // followers' promises (sim_safety.h), and every history for linearizability.
  SimOptions options;
  options.lease_seeds = 1;
  options.pause_rate = 0.002;
  uint64_t pauses = 0, lease_reads = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    options.seed = seed;
    SimResult result = RunSimulation(options);
    ASSERT_TRUE(Clean(result, options));
    pauses += result.pauses;
    lease_reads += result.lease_reads;
  }
  EXPECT_GT(pauses, 60u * 4);
  EXPECT_GT(lease_reads, 60u * 100);
}

TEST(SimulatorTest, FoundBefore_NodesAnswerMembersTheirLogDoesNotListYet) {
  // Two runs that once ended without a leader: a joining node replaying old
  // records that do not list the leader sending them, and a voter behind on
  // the log asked for its vote by a member added after its last record. Both
  // could not answer (no address) until peers told their address (now in the peer stream's hello).
  SimOptions paused;
  paused.seed = 260;
  paused.pause_rate = 0.002;
  paused.lease_seeds = 1;
  SimOptions lagging;
  lagging.seed = 1424;
  for (const SimOptions& options : {paused, lagging}) {
    SimResult result = RunSimulation(options);
    EXPECT_TRUE(Clean(result, options));
  }
}

TEST(SimulatorTest, DiskFailures_NodesStopAndRecover) {
  SimOptions options;
  options.disk_fail_rate = 0.002;
  uint64_t failures = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    options.seed = seed;
    SimResult result = RunSimulation(options);
    ASSERT_TRUE(Clean(result, options));
    failures += result.disk_failures;
  }
  EXPECT_GT(failures, 40u);
}

}  // namespace
}  // namespace raftkv::testing

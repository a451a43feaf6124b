// Runs the simulator over 2,200 seeds (1,200 with 3 nodes, 1,000 with 5) under
// the default fault mix, plus a fault-free run, a 1-node and a 7-node cluster,
// and checks determinism. A failure prints the seed and the command that
// replays it.

#include "testing/sim/simulator.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace raftkv::testing {
namespace {

struct Batch {
  int nodes;
  uint64_t first_seed;
  uint64_t seeds;
};

class SimulatorSeedsTest : public ::testing::TestWithParam<Batch> {};

TEST_P(SimulatorSeedsTest, NoViolations) {
  const Batch batch = GetParam();
  uint64_t committed = 0, reads = 0, elected = 0;
  for (uint64_t seed = batch.first_seed; seed < batch.first_seed + batch.seeds;
       ++seed) {
    SimOptions options;
    options.nodes = batch.nodes;
    options.seed = seed;
    SimResult result = RunSimulation(options);
    ASSERT_TRUE(result.ok) << result.violation
                           << "\n  replay: bazel run //testing:raft_sim -- "
                           << ReplayFlags(options);
    committed += result.committed;
    reads += result.reads_checked;
    elected += result.leaders_elected;
  }
  // The runs did real work: entries committed, reads checked, leaders replaced.
  EXPECT_GT(committed, batch.seeds * 100);
  EXPECT_GT(reads, batch.seeds * 50);
  EXPECT_GT(elected, batch.seeds);
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
  EXPECT_EQ(a.reads_checked, b.reads_checked);
  EXPECT_EQ(a.writes_acknowledged, b.writes_acknowledged);
}

TEST(SimulatorTest, FaultFree_OneLeaderCommitsSteadily) {
  SimOptions options;
  options.drop_rate = options.duplicate_rate = options.partition_rate =
      options.crash_rate = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    options.seed = seed;
    SimResult result = RunSimulation(options);
    ASSERT_TRUE(result.ok) << result.violation;
    EXPECT_EQ(result.leaders_elected, 1u) << "seed " << seed;
    EXPECT_GT(result.writes_acknowledged, 500u) << "seed " << seed;
  }
}

TEST(SimulatorTest, OtherClusterSizes_NoViolations) {
  for (int nodes : {1, 2, 4, 7}) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
      SimOptions options;
      options.nodes = nodes;
      options.seed = seed;
      SimResult result = RunSimulation(options);
      ASSERT_TRUE(result.ok)
          << result.violation << "\n  replay: bazel run //testing:raft_sim -- "
          << ReplayFlags(options);
    }
  }
}

}  // namespace
}  // namespace raftkv::testing

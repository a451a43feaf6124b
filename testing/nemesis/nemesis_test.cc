// The nemesis in CI: 12 seeded runs against real clusters (seeds 1-10: 3
// nodes, 11-12: 5 nodes), and 2 more with lease reads, each at least 500
// operations under at least 6 faults of at least 4 kinds; every history must
// be linearizable, every node must converge and exit 0 on SIGTERM.
#include "testing/nemesis/nemesis.h"

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"

namespace raftkv::testing {
namespace {

class NemesisTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(NemesisTest, HistoryLinearizable_NodesConverge) {
  NemesisOptions options;
  options.seed = GetParam();
  options.nodes = options.seed > 10 ? 5 : 3;
  NemesisResult result = RunNemesis(options);
  EXPECT_TRUE(result.ok) << "seed " << options.seed << ": " << result.failure
                         << "\ntimeline:\n"
                         << absl::StrJoin(result.timeline, "\n");
  EXPECT_GE(result.operations, 500u);
  EXPECT_GE(result.faults, 6u);
  EXPECT_GE(result.fault_kinds.size(), 4u)
      << absl::StrJoin(result.fault_kinds, ", ");
  printf(
      "seed %llu, %d nodes: %llu operations (%llu unknown), %llu faults: %s\n",
      static_cast<unsigned long long>(options.seed), options.nodes,
      static_cast<unsigned long long>(result.operations),
      static_cast<unsigned long long>(result.unknown),
      static_cast<unsigned long long>(result.faults),
      absl::StrJoin(result.fault_kinds, ", ").c_str());
}

INSTANTIATE_TEST_SUITE_P(Seeds, NemesisTest, ::testing::Range<uint64_t>(1, 13));

// Lease reads (--read-mode=lease) under every fault but the clock ones: a
// lease assumes clocks that drift by at most --lease-clock-drift (10%), and
// those faults run a clock at a quarter or three times the speed.
class LeaseNemesisTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(LeaseNemesisTest, HistoryLinearizable_NodesConverge) {
  NemesisOptions options;
  options.seed = GetParam();
  options.node_flags = {"--tick-ms=20", "--read-mode=lease"};
  for (uint64_t kind = 0; kind < 11; ++kind) {
    if (kind != 7 && kind != 8) options.only_kinds.push_back(kind);
  }
  NemesisResult result = RunNemesis(options);
  EXPECT_TRUE(result.ok) << "seed " << options.seed << ": " << result.failure
                         << "\ntimeline:\n"
                         << absl::StrJoin(result.timeline, "\n");
  EXPECT_GE(result.operations, 500u);
  EXPECT_GE(result.fault_kinds.size(), 4u)
      << absl::StrJoin(result.fault_kinds, ", ");
}

INSTANTIATE_TEST_SUITE_P(Seeds, LeaseNemesisTest,
                         ::testing::Range<uint64_t>(101, 103));

}  // namespace
}  // namespace raftkv::testing

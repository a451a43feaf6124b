// The nemesis in CI: 12 seeded runs (6 shards of 2) against real clusters
// (seeds 1-10: 3 nodes, 11-12: 5 nodes), each at least 500 operations under at
// least 6 faults of at least 4 kinds; every history must be linearizable, every
// node must converge and exit 0 on SIGTERM.
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

}  // namespace
}  // namespace raftkv::testing

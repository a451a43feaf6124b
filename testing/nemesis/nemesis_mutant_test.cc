// Proof that the nemesis can fail: against a kvnode whose leader serves reads
// from its own state without a ReadIndex round (//cli:kvnode_mutant_*, never
// shipped), the slow-clock-leader fault must produce a history that the
// checker rejects. Runs seeds until one does (at most five).
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "testing/cluster/harness.h"
#include "testing/nemesis/nemesis.h"

namespace raftkv::testing {
namespace {

TEST(NemesisMutantTest, ReadsWithoutReadIndexAreCaught) {
  const std::string why_not = ClusterHarness::ClockSkewUnavailable();
  if (!why_not.empty()) GTEST_SKIP() << why_not;
  int runs = 0;
  bool caught = false;
  for (uint64_t seed = 1; seed <= 5 && !caught; ++seed) {
    NemesisOptions options;
    options.seed = seed;
    options.operations = 100;
    options.min_faults = 2;
    options.only_kinds = {7};  // the slow-clock leader, cut off
    NemesisResult result = RunNemesis(options);
    ++runs;
    caught = result.anomaly;
    printf("seed %llu: %s\n", static_cast<unsigned long long>(seed),
           result.anomaly
               ? "anomaly reported"
               : (result.ok ? "no anomaly" : result.failure.c_str()));
  }
  EXPECT_TRUE(caught) << "the nemesis passed a node that reads without "
                         "ReadIndex in "
                      << runs << " runs";
  printf("caught after %d run(s)\n", runs);
}

}  // namespace
}  // namespace raftkv::testing

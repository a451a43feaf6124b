// nemesis: the long mode of the nemesis (nemesis.h), run by hand:
//   bazel run -c opt //testing/nemesis -- --runs=200 --duration_ms=30000
// One line per run, then "runs=N ops=M anomalies=A failures=F"; a failing run
// prints its seed, the failure and the fault timeline (and the node logs).
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_join.h"
#include "testing/cluster/harness.h"
#include "testing/nemesis/nemesis.h"

ABSL_FLAG(std::string, kvnode, "", "the kvnode binary (the rule passes it)");
ABSL_FLAG(uint64_t, runs, 10, "how many seeded runs");
ABSL_FLAG(uint64_t, first_seed, 1, "the first run's seed");
ABSL_FLAG(int, nodes, 3, "cluster size");
ABSL_FLAG(int, operations, 2000, "operations per run (at least)");
ABSL_FLAG(uint64_t, duration_ms, 30000, "a run stops after this long");
ABSL_FLAG(uint64_t, min_faults, 12, "faults per run (at least)");
ABSL_FLAG(bool, verbose, false, "print every run's fault timeline");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  raftkv::testing::SetKvnodePath(absl::GetFlag(FLAGS_kvnode));
  uint64_t ops = 0, anomalies = 0, failures = 0, unknown = 0, faults = 0;
  const uint64_t runs = absl::GetFlag(FLAGS_runs);
  for (uint64_t i = 0; i < runs; ++i) {
    raftkv::testing::NemesisOptions options;
    options.seed = absl::GetFlag(FLAGS_first_seed) + i;
    options.nodes = absl::GetFlag(FLAGS_nodes);
    options.operations = absl::GetFlag(FLAGS_operations);
    options.duration_ms = absl::GetFlag(FLAGS_duration_ms);
    options.min_faults = absl::GetFlag(FLAGS_min_faults);
    raftkv::testing::NemesisResult result =
        raftkv::testing::RunNemesis(options);
    ops += result.operations;
    unknown += result.unknown;
    faults += result.faults;
    anomalies += result.anomaly;
    failures += !result.ok;
    printf("seed=%llu ops=%llu unknown=%llu faults=%llu kinds=%s %s\n",
           static_cast<unsigned long long>(options.seed),
           static_cast<unsigned long long>(result.operations),
           static_cast<unsigned long long>(result.unknown),
           static_cast<unsigned long long>(result.faults),
           absl::StrJoin(result.fault_kinds, ",").c_str(),
           result.ok ? "ok" : "FAILED");
    if (absl::GetFlag(FLAGS_verbose) && result.ok) {
      printf("  %s\n", absl::StrJoin(result.timeline, "\n  ").c_str());
    }
    if (!result.ok) {
      printf("  %s\n  timeline:\n  %s\n", result.failure.c_str(),
             absl::StrJoin(result.timeline, "\n  ").c_str());
    }
    fflush(stdout);
  }
  printf(
      "runs=%llu ops=%llu unknown=%llu faults=%llu anomalies=%llu "
      "failures=%llu\n",
      static_cast<unsigned long long>(runs),
      static_cast<unsigned long long>(ops),
      static_cast<unsigned long long>(unknown),
      static_cast<unsigned long long>(faults),
      static_cast<unsigned long long>(anomalies),
      static_cast<unsigned long long>(failures));
  return failures > 0 ? 1 : 0;
}

// nemesis: the long mode of the nemesis (nemesis.h), run by hand:
//   bazel run -c opt //testing/nemesis -- --runs=200 --duration_ms=30000
// One line per run, then "runs=N ops=M anomalies=A failures=F"; a failing run
// prints its seed, the failure and the fault timeline (and the node logs).
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/packet_filter.h"
#include "testing/cluster/small_disk.h"
#include "testing/nemesis/nemesis.h"

ABSL_FLAG(std::string, kvnode, "", "the kvnode binary (the rule passes it)");
ABSL_FLAG(uint64_t, runs, 10, "how many seeded runs");
ABSL_FLAG(uint64_t, first_seed, 1, "the first run's seed");
ABSL_FLAG(int, nodes, 3, "cluster size");
ABSL_FLAG(int, operations, 2000, "operations per run (at least)");
ABSL_FLAG(uint64_t, duration_ms, 30000, "a run stops after this long");
ABSL_FLAG(uint64_t, min_faults, 12, "faults per run (at least)");
ABSL_FLAG(bool, verbose, false, "print every run's fault timeline");
ABSL_FLAG(std::string, long_partitions_ms, "3000,20000",
          "a third of the partitions last one of these (comma-separated)");
ABSL_FLAG(int, replace_nodes, 1, "replace nodes through member add/remove");
ABSL_FLAG(std::string, only_kinds, "",
          "only these fault kinds (comma-separated numbers, nemesis.h)");

namespace {

// "3000,20000" as numbers; nullopt if one is not a number.
std::optional<std::vector<uint64_t>> Numbers(const std::string& list) {
  std::vector<uint64_t> numbers;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    uint64_t value = 0;
    if (!absl::SimpleAtoi(part, &value)) return std::nullopt;
    numbers.push_back(value);
  }
  return numbers;
}

uint64_t Percentile(std::vector<uint64_t> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t at = std::min(
      values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5));
  return values[at];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string no_mounts = raftkv::testing::EnterPrivateMounts();
  const std::string why_not = raftkv::testing::EnterPrivateNetwork();
  absl::ParseCommandLine(argc, argv);
  if (!why_not.empty())
    printf("packet drops unavailable (proxies only): %s\n", why_not.c_str());
  if (!no_mounts.empty())
    printf("mounts are shared with the machine: %s\n", no_mounts.c_str());
  raftkv::testing::SetKvnodePath(absl::GetFlag(FLAGS_kvnode));
  auto long_partitions = Numbers(absl::GetFlag(FLAGS_long_partitions_ms));
  auto only_kinds = Numbers(absl::GetFlag(FLAGS_only_kinds));
  if (!long_partitions.has_value() || !only_kinds.has_value()) {
    fprintf(stderr,
            "nemesis: --long_partitions_ms and --only_kinds take "
            "comma-separated numbers\n");
    return 2;
  }
  std::vector<uint64_t> rejoins;
  std::map<std::string, std::vector<uint64_t>> by_length;
  uint64_t ops = 0, anomalies = 0, failures = 0, unknown = 0, faults = 0;
  const uint64_t runs = absl::GetFlag(FLAGS_runs);
  for (uint64_t i = 0; i < runs; ++i) {
    raftkv::testing::NemesisOptions options;
    options.seed = absl::GetFlag(FLAGS_first_seed) + i;
    options.nodes = absl::GetFlag(FLAGS_nodes);
    options.operations = absl::GetFlag(FLAGS_operations);
    options.duration_ms = absl::GetFlag(FLAGS_duration_ms);
    options.min_faults = absl::GetFlag(FLAGS_min_faults);
    options.long_partition_ms = *long_partitions;
    options.only_kinds = *only_kinds;
    options.replace_nodes = absl::GetFlag(FLAGS_replace_nodes) != 0;
    raftkv::testing::NemesisResult result =
        raftkv::testing::RunNemesis(options);
    ops += result.operations;
    unknown += result.unknown;
    faults += result.faults;
    anomalies += result.anomaly;
    for (const auto& rejoin : result.rejoins) {
      rejoins.push_back(rejoin.rejoin_ms);
      const char* bucket = rejoin.partition_ms < 3000    ? "under 3 s"
                           : rejoin.partition_ms < 20000 ? "3 s"
                                                         : "20 s";
      by_length[bucket].push_back(rejoin.rejoin_ms);
    }
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
      "heal-to-rejoin over %zu partitions: p50=%llu ms p99=%llu ms max=%llu "
      "ms\n",
      rejoins.size(), static_cast<unsigned long long>(Percentile(rejoins, 0.5)),
      static_cast<unsigned long long>(Percentile(rejoins, 0.99)),
      static_cast<unsigned long long>(Percentile(rejoins, 1.0)));
  for (const auto& [bucket, values] : by_length) {
    printf(
        "  after partitions of %s: %zu, p50=%llu ms p99=%llu ms max=%llu ms\n",
        bucket.c_str(), values.size(),
        static_cast<unsigned long long>(Percentile(values, 0.5)),
        static_cast<unsigned long long>(Percentile(values, 0.99)),
        static_cast<unsigned long long>(Percentile(values, 1.0)));
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

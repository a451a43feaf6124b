// The main() the cluster benchmarks share: the kvnode binary they start, their
// own flags, and the temporary directories their clusters live in.
//
// Thread safety: call from main's thread only. Invariant: every directory
// NewBenchDir made is removed when RunClusterBenchmarks returns.
#ifndef RAFTKV_BENCHMARKS_CLUSTER_BENCH_MAIN_H_
#define RAFTKV_BENCHMARKS_CLUSTER_BENCH_MAIN_H_

#include <functional>
#include <string>
#include <vector>

namespace raftkv::benchmarks {

// One "--name=value" flag of a benchmark binary; `set` gets the value.
struct BenchFlag {
  std::string name;
  std::function<void(const char* value)> set;
};

// A fresh directory under $TEST_TMPDIR or $TMPDIR (else /tmp) whose name
// starts with `prefix`, or "" if it cannot be made.
std::string NewBenchDir(const std::string& prefix);

// Takes --kvnode=PATH (required: `bazel run` passes it) and `flags` out of
// argv, calls `before` (to register benchmarks that depend on flags), runs the
// benchmarks, calls `after` (to stop clusters kept across benchmarks), and
// removes the directories. Returns the exit code.
int RunClusterBenchmarks(int argc, char** argv, const char* program,
                         std::string* kvnode,
                         const std::vector<BenchFlag>& flags,
                         const std::function<void()>& before = {},
                         const std::function<void()>& after = {});

}  // namespace raftkv::benchmarks

#endif  // RAFTKV_BENCHMARKS_CLUSTER_BENCH_MAIN_H_

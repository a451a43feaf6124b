// main() for kv_cluster_test binaries: takes --kvnode=PATH (the real binary
// under test, passed by the rule), then runs the tests. On a fatal signal,
// nodes are still killed: they share the test's process group, which Bazel
// kills on timeout, and the harness' destructors run on every normal failure.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace raftkv::testing {
void SetKvnodePath(std::string path);
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--kvnode=", 9) == 0)
      raftkv::testing::SetKvnodePath(argv[i] + 9);
  }
  return RUN_ALL_TESTS();
}

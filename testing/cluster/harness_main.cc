// main() for kv_cluster_test binaries: takes --kvnode=PATH (the real binary
// under test, passed by the rule), then runs the tests. On a fatal signal,
// nodes are still killed: they share the test's process group, which Bazel
// kills on timeout, and the harness' destructors run on every normal failure.
// Each test binary runs in network and mount namespaces of its own
// (packet_filter.h, small_disk.h), where the platform allows.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "testing/cluster/packet_filter.h"
#include "testing/cluster/small_disk.h"

namespace raftkv::testing {
void SetKvnodePath(std::string path);
}

int main(int argc, char** argv) {
  // Before any thread starts: every thread and node then lives in it.
  const std::string no_mounts = raftkv::testing::EnterPrivateMounts();
  if (!no_mounts.empty()) {
    printf("mounts are shared with the machine: %s\n", no_mounts.c_str());
  }
  const std::string why_not = raftkv::testing::EnterPrivateNetwork();
  if (!why_not.empty()) {
    printf("packet drops unavailable, partitions reset connections: %s\n",
           why_not.c_str());
  }
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (strncmp(argv[i], "--kvnode=", 9) == 0)
      raftkv::testing::SetKvnodePath(argv[i] + 9);
  }
  return RUN_ALL_TESTS();
}

// SIGTERM: a leader hands leadership over, finishes, closes storage and exits
// 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

TEST(ClusterShutdownTest, SigtermLeader_HandsOverAndExitsZero) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(h.client().Put("k", "v").ok());
  auto code = h.cluster().Stop(*leader);
  ASSERT_TRUE(code.ok()) << code.status() << h.Logs();
  EXPECT_EQ(*code, 0) << h.Logs();
  // Handed over: a successor is leader right away, without waiting out an
  // election timeout.
  auto next = h.WaitForLeader(300, {*leader});
  EXPECT_TRUE(next.ok())
      << "no successor within 300 ms of the old leader's exit\n"
      << h.Logs();
  auto value = h.client().Get("k");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>("v"));
  // Restarting from the cleanly closed data directory works.
  ASSERT_TRUE(h.Restart(*leader).ok());
  ASSERT_TRUE(h.WaitForConvergence(15000).ok()) << h.Logs();
}

}  // namespace
}  // namespace raftkv::testing

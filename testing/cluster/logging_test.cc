// Structured logs of real kvnode processes: with --log-format=json every line
// a node writes is one JSON object with time, level, node, term and msg, and
// the warnings that could repeat (an unreachable peer, slow requests) come at
// most once per interval.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

int CountLines(const std::string& log, const std::string& needle) {
  int n = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    n += absl::StrContains(line, needle);
  return n;
}

TEST(LoggingTest, JsonLines_RateLimitedWarnings) {
  // --slow-ms=0: every request counts as slow, so only the limiter keeps the
  // log from one line per request.
  auto harness = ClusterHarness::Start(
      {.extra_flags = {"--tick-ms=20", "--log-format=json", "--slow-ms=0"}});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(h.client().Put(absl::StrCat("k", i), "v").ok());
  raft::NodeId victim = raft::kNoNode;
  for (raft::NodeId id : h.ids())
    if (id != *leader) victim = id;
  h.Kill(victim);
  const std::string unreachable =
      absl::StrCat("peer ", victim, " at ");  // "... unreachable for N s"
  for (int i = 0; i < 100 && CountLines(h.NodeLog(*leader), unreachable) == 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::string log = h.NodeLog(*leader);

  std::istringstream lines(log);
  int total = 0;
  for (std::string line; std::getline(lines, line); ++total) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"time\":\"") &&
                absl::EndsWith(line, "\"}"))
        << "not a JSON line: " << line;
    for (const char* field :
         {"\",\"level\":\"", "\",\"node\":", ",\"term\":", ",\"msg\":\""}) {
      EXPECT_TRUE(absl::StrContains(line, field)) << field << " in " << line;
    }
  }
  EXPECT_GT(total, 3);
  EXPECT_TRUE(absl::StrContains(log, absl::StrCat("\"node\":", *leader)));
  // 100 slow requests, one line (the next one may come 10 s later).
  EXPECT_EQ(CountLines(log, "slow request"), 1) << log;
  // The dead peer is reported once within the 10 s interval, as a warning.
  EXPECT_EQ(CountLines(log, unreachable), 1) << log;
  EXPECT_TRUE(absl::StrContains(log, "\"level\":\"warning\",\"node\":")) << log;
}

}  // namespace
}  // namespace raftkv::testing

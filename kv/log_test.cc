#include "kv/log.h"

#include <gtest/gtest.h>

namespace raftkv::kv {
namespace {

TEST(LogTest, JsonLinesCarryTimeLevelNodeTermAndAnEscapedMessage) {
  const std::string line = FormatLogRecord(
      {LogLevel::kWarning, 7, "slow \"disk\"\n"}, 3, true, 1700000000123456);
  EXPECT_EQ(line,
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"warning\","
            "\"node\":3,\"term\":7,\"msg\":\"slow \\\"disk\\\"\\u000a\"}");
}

TEST(LogTest, TextLinesCarryLevelNodeAndTerm) {
  const std::string line =
      FormatLogRecord({LogLevel::kInfo, 2, "became leader"}, 1, false, 0);
  EXPECT_NE(line.find(" INFO node=1 term=2 became leader"), std::string::npos)
      << line;
}

TEST(LogTest, LevelsParseByName) {
  EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarning);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("loud").has_value());
}

TEST(LogTest, ARepeatedWarningIsOneLinePerIntervalWithACount) {
  WarningLimiter limiter(10000);
  EXPECT_EQ(limiter.Admit("fsync", "slow fsync", 1000), "slow fsync");
  EXPECT_FALSE(limiter.Admit("fsync", "slow fsync", 2000).has_value());
  EXPECT_FALSE(limiter.Admit("fsync", "slow fsync", 9000).has_value());
  // Another kind is not held back by the first.
  EXPECT_EQ(limiter.Admit("peer-2", "peer 2 unreachable", 9000),
            "peer 2 unreachable");
  EXPECT_EQ(limiter.Admit("fsync", "slow fsync", 11000),
            "slow fsync (2 more like it in the last 10 s)");
}

}  // namespace
}  // namespace raftkv::kv

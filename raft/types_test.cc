#include "raft/types.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/status_macros.h"

namespace raftkv::raft {
namespace {

TEST(TypesTest, Sentinels_AreZeroAndWide) {
  EXPECT_EQ(kNoNode, 0u);
  EXPECT_EQ(kNoTerm, 0u);
  EXPECT_EQ(kNoIndex, 0u);
  // Terms and indexes must not wrap in any realistic lifetime.
  static_assert(sizeof(Term) == 8 && std::is_unsigned_v<Term>);
  static_assert(sizeof(LogIndex) == 8 && std::is_unsigned_v<LogIndex>);
  static_assert(sizeof(NodeId) == 8 && std::is_unsigned_v<NodeId>);
}

absl::Status FailIf(bool fail, int* calls) {
  ++*calls;
  return fail ? absl::UnavailableError("disk gone") : absl::OkStatus();
}

absl::Status TwoSteps(bool fail_first, int* calls, bool* reached_second) {
  RETURN_IF_ERROR(FailIf(fail_first, calls));
  *reached_second = true;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfError_PropagatesFailureAndStops) {
  int calls = 0;
  bool reached = false;
  absl::Status status = TwoSteps(/*fail_first=*/true, &calls, &reached);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "disk gone");
  EXPECT_FALSE(reached);
  EXPECT_EQ(calls, 1);
}

TEST(StatusMacrosTest, ReturnIfError_ContinuesOnOk) {
  int calls = 0;
  bool reached = false;
  EXPECT_TRUE(TwoSteps(/*fail_first=*/false, &calls, &reached).ok());
  EXPECT_TRUE(reached);
  EXPECT_EQ(calls, 1);
}

absl::StatusOr<std::unique_ptr<std::string>> MakeValue(bool fail, int* calls) {
  ++*calls;
  if (fail) return absl::NotFoundError("no such key");
  return std::make_unique<std::string>("value");
}

absl::StatusOr<size_t> LengthOf(bool fail, int* calls) {
  // Move-only value and a declaration on the left: the common use.
  ASSIGN_OR_RETURN(std::unique_ptr<std::string> value, MakeValue(fail, calls));
  // Two uses in one function must not collide.
  ASSIGN_OR_RETURN(auto again, MakeValue(false, calls));
  return value->size() + again->size();
}

TEST(StatusMacrosTest, AssignOrReturn_AssignsValueOnOk) {
  int calls = 0;
  absl::StatusOr<size_t> length = LengthOf(/*fail=*/false, &calls);
  ASSERT_TRUE(length.ok()) << length.status();
  EXPECT_EQ(*length, 10u);
  EXPECT_EQ(calls, 2);  // each expression evaluated exactly once
}

TEST(StatusMacrosTest, AssignOrReturn_ReturnsStatusOnError) {
  int calls = 0;
  absl::StatusOr<size_t> length = LengthOf(/*fail=*/true, &calls);
  EXPECT_EQ(length.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(length.status().message(), "no such key");
  EXPECT_EQ(calls, 1);
}

absl::Status AssignToExisting(int* out) {
  ASSIGN_OR_RETURN(*out, absl::StatusOr<int>(5));
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturn_AssignsToExistingLvalue) {
  int out = 0;
  ASSERT_TRUE(AssignToExisting(&out).ok());
  EXPECT_EQ(out, 5);
}

}  // namespace
}  // namespace raftkv::raft

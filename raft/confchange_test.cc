#include "raft/confchange.h"

#include <gtest/gtest.h>

namespace raftkv::raft {
namespace {

using T = ConfChangeType;

ConfState Plan(const ConfState& from, std::vector<ConfChangeStep> steps) {
  absl::StatusOr<ConfState> next = PlanChange(from, steps);
  EXPECT_TRUE(next.ok()) << next.status();
  return next.value_or(ConfState{});
}

std::string Refusal(const ConfState& from, std::vector<ConfChangeStep> steps) {
  absl::StatusOr<ConfState> next = PlanChange(from, steps);
  EXPECT_FALSE(next.ok());
  return std::string(next.status().message());
}

const ConfState kThree{{1, 2, 3}, {}, {}};

TEST(PlanChangeTest, OneVoter_IsSimple) {
  EXPECT_EQ(Plan(kThree, {{T::kAddVoter, 4}}),
            (ConfState{{1, 2, 3, 4}, {}, {}}));
  EXPECT_EQ(Plan(kThree, {{T::kRemoveNode, 2}}), (ConfState{{1, 3}, {}, {}}));
  EXPECT_EQ(Plan(kThree, {{T::kAddLearner, 4}}),
            (ConfState{{1, 2, 3}, {4}, {}}));
  EXPECT_EQ(Plan(ConfState{{1, 2, 3}, {4}, {}}, {{T::kPromoteLearner, 4}}),
            (ConfState{{1, 2, 3, 4}, {}, {}}));
}

TEST(PlanChangeTest, TwoVoters_IsJoint) {
  EXPECT_EQ(Plan(kThree, {{T::kAddVoter, 4}, {T::kRemoveNode, 3}}),
            (ConfState{{1, 2, 4}, {}, {1, 2, 3}}));
  // A learner added alongside one voter change changes one voter: simple.
  EXPECT_EQ(Plan(kThree, {{T::kAddLearner, 4}, {T::kRemoveNode, 3}}),
            (ConfState{{1, 2}, {4}, {}}));
  EXPECT_EQ(LeaveJoint(ConfState{{1, 2, 4}, {}, {1, 2, 3}}),
            (ConfState{{1, 2, 4}, {}, {}}));
}

TEST(PlanChangeTest, BadSteps_AreRefusedWithTheFix) {
  EXPECT_EQ(Refusal(kThree, {{T::kAddVoter, 2}}),
            "node 2 is already a voter; pick an id that is not a member");
  EXPECT_EQ(Refusal(kThree, {{T::kPromoteLearner, 9}}),
            "node 9 is not a member; only a learner can be promoted");
  EXPECT_EQ(Refusal(kThree, {{T::kRemoveNode, 9}}), "node 9 is not a member");
  EXPECT_EQ(Refusal(ConfState{{1}, {}, {}}, {{T::kRemoveNode, 1}}),
            "a change may not remove the last voter; add another voter first");
  EXPECT_EQ(Refusal(kThree, {{T::kAddVoter, 4}, {T::kRemoveNode, 4}}),
            "node 4 appears twice in one change");
  EXPECT_EQ(Refusal(kThree, {{T::kAddVoter, 0}}), "node ids must be positive");
  EXPECT_TRUE(absl::IsFailedPrecondition(
      PlanChange(ConfState{{1, 2, 4}, {}, {1, 2, 3}}, {{T::kAddVoter, 5}})
          .status()));
}

TEST(ConfChangeRecordTest, RoundTrips_AndRejectsGarbage) {
  ConfChangeRecord record{ConfState{{1, 2, 4}, {5}, {1, 2, 3}},
                          {{T::kAddVoter, 4}, {T::kRemoveNode, 3}},
                          "addresses"};
  absl::StatusOr<ConfChangeRecord> back =
      DecodeConfChangeRecord(EncodeConfChangeRecord(record));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, record);
  std::string data = EncodeConfChangeRecord(record);
  EXPECT_FALSE(DecodeConfChangeRecord(data.substr(0, data.size() - 1)).ok());
  EXPECT_FALSE(DecodeConfChangeRecord("").ok());
  EXPECT_FALSE(DecodeConfChangeRecord(std::string(40, '\xff')).ok());
}

}  // namespace
}  // namespace raftkv::raft

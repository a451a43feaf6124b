#include "raft/quorum.h"

#include <gtest/gtest.h>

#include <map>

namespace raftkv::raft {
namespace {

std::function<LogIndex(NodeId)> Acked(std::map<NodeId, LogIndex> acked) {
  return [acked](NodeId id) {
    auto it = acked.find(id);
    return it == acked.end() ? kNoIndex : it->second;
  };
}

std::function<std::optional<bool>(NodeId)> Votes(std::map<NodeId, bool> votes) {
  return [votes](NodeId id) -> std::optional<bool> {
    auto it = votes.find(id);
    if (it == votes.end()) return std::nullopt;
    return it->second;
  };
}

TEST(MajorityConfigTest, CommittedIndex_IsWhatAMajorityHolds) {
  MajorityConfig five({1, 2, 3, 4, 5});
  EXPECT_EQ(five.CommittedIndex(Acked({{1, 9}, {2, 7}, {3, 5}, {4, 2}})), 5u);
  EXPECT_EQ(five.CommittedIndex(Acked({{1, 9}, {2, 7}})), 0u);
  MajorityConfig four({1, 2, 3, 4});
  EXPECT_EQ(four.CommittedIndex(Acked({{1, 9}, {2, 7}, {3, 5}})), 5u);
  EXPECT_EQ(four.CommittedIndex(Acked({{1, 9}, {2, 7}})), 0u);
}

TEST(MajorityConfigTest, Vote_WonLostPending) {
  MajorityConfig three({1, 2, 3});
  EXPECT_EQ(three.Vote(Votes({{1, true}, {2, true}})), VoteResult::kWon);
  EXPECT_EQ(three.Vote(Votes({{1, true}, {2, false}})), VoteResult::kPending);
  EXPECT_EQ(three.Vote(Votes({{1, false}, {2, false}})), VoteResult::kLost);
  // A vote from a node outside the configuration counts for nothing.
  EXPECT_EQ(three.Vote(Votes({{1, true}, {9, true}})), VoteResult::kPending);
}

TEST(MajorityConfigTest, Empty_AgreesToEverything) {
  MajorityConfig none;
  EXPECT_EQ(none.Vote(Votes({})), VoteResult::kWon);
  EXPECT_EQ(none.CommittedIndex(Acked({})),
            std::numeric_limits<LogIndex>::max());
}

// Thesis §4.3: in C_old,new an entry commits only with majorities of both.
TEST(JointConfigTest, CommittedIndex_NeedsBothHalves) {
  JointConfig joint(ConfState{{1, 2, 4}, {}, {1, 2, 3}});
  // 1 and 4 are a majority of the new half only.
  EXPECT_EQ(joint.CommittedIndex(Acked({{1, 8}, {4, 8}})), 0u);
  // 1 and 3 are a majority of the old half only.
  EXPECT_EQ(joint.CommittedIndex(Acked({{1, 8}, {3, 8}})), 0u);
  EXPECT_EQ(joint.CommittedIndex(Acked({{1, 8}, {3, 8}, {4, 6}})), 6u);
  EXPECT_EQ(joint.CommittedIndex(Acked({{1, 8}, {2, 7}})), 7u);
}

TEST(JointConfigTest, Vote_LostIfEitherHalfLost) {
  JointConfig joint(ConfState{{1, 2, 4}, {}, {1, 2, 3}});
  EXPECT_EQ(joint.Vote(Votes({{1, true}, {4, true}})), VoteResult::kPending);
  EXPECT_EQ(joint.Vote(Votes({{1, true}, {4, true}, {3, true}})),
            VoteResult::kWon);
  EXPECT_EQ(joint.Vote(Votes({{1, true}, {2, false}, {3, false}})),
            VoteResult::kLost);
  EXPECT_EQ(joint.Voters(), (std::vector<NodeId>{1, 2, 3, 4}));
}

TEST(JointConfigTest, NotJoint_IsItsIncomingMajority) {
  JointConfig simple(ConfState{{1, 2, 3}, {4}, {}});
  EXPECT_TRUE(simple.IsQuorum([](NodeId id) { return id == 1 || id == 2; }));
  // A learner is no voter.
  EXPECT_FALSE(simple.IsQuorum([](NodeId id) { return id == 1 || id == 4; }));
  EXPECT_FALSE(simple.Contains(4));
}

}  // namespace
}  // namespace raftkv::raft

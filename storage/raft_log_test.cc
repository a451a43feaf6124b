// A data directory written by an older kvnode (the Raft log in LevelDB) moves
// onto the write-ahead log at its first open, whole, and a crash during the
// move is repaired by the next open.

#include "storage/raft_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/leveldb_log_storage.h"
#include "testing/temp_dir.h"

namespace raftkv::storage {
namespace {

using raft::Entry;
namespace fs = std::filesystem;

std::vector<Entry> Range(raft::LogIndex first, raft::LogIndex last,
                         raft::Term term) {
  std::vector<Entry> entries;
  for (raft::LogIndex i = first; i <= last; ++i) {
    entries.push_back(Entry{
        term, i,
        i % 7 == 0 ? raft::EntryType::kConfChange : raft::EntryType::kNormal,
        std::string(1 + i % 300, static_cast<char>(i))});
  }
  return entries;
}

const raft::ConfState kMembers{{1, 2, 3}, {4}, {}};
const raft::HardState kHardState{7, 2, 5000};

class RaftLogTest : public ::testing::Test {
 protected:
  RaftLogTest() : dir_(*testing::MakeTempDir("raft_log")) {}

  // What an older kvnode left: entries 1..6000 in LevelDB, compacted through
  // 1000, and a hard state.
  void WriteOldLog() {
    auto old = LevelDbLogStorage::Open(data_dir() + "/raft");
    ASSERT_TRUE(old.ok()) << old.status();
    ASSERT_TRUE((*old)->InstallSnapshot({0, 0, kMembers}).ok());
    for (raft::LogIndex i = 1; i <= 6000; i += 500)
      ASSERT_TRUE(
          (*old)->Save(std::nullopt, Range(i, i + 499, 1 + i / 2000)).ok());
    ASSERT_TRUE((*old)->Compact(1000, kMembers).ok());
    ASSERT_TRUE((*old)->Save(kHardState, {}).ok());
  }

  void ExpectTheOldLog(const raft::LogStorage& log) {
    EXPECT_EQ(log.GetInitialState().hard_state, kHardState);
    EXPECT_EQ(log.Snapshot(), (raft::SnapshotMetadata{1000, 1, kMembers}));
    EXPECT_EQ(log.LastIndex(), 6000u);
    std::vector<Entry> expected;
    for (raft::LogIndex i = 1; i <= 6000; i += 500) {
      for (Entry& entry : Range(i, i + 499, 1 + i / 2000))
        if (entry.index > 1000) expected.push_back(std::move(entry));
    }
    auto entries = log.Entries(1001, 6001, raft::kNoByteLimit);
    ASSERT_TRUE(entries.ok()) << entries.status();
    EXPECT_EQ(*entries, expected);
  }

  std::string data_dir() const { return dir_.path(); }
  testing::TempDir dir_;
};

TEST_F(RaftLogTest, OldLevelDbLog_MovesOntoTheWalWhole) {
  WriteOldLog();
  {
    auto log = OpenRaftLog(data_dir());
    ASSERT_TRUE(log.ok()) << log.status();
    ExpectTheOldLog(**log);
    ASSERT_TRUE((*log)->Save(std::nullopt, Range(6001, 6001, 3)).ok());
  }
  EXPECT_FALSE(fs::exists(data_dir() + "/raft"));
  EXPECT_FALSE(fs::exists(data_dir() + "/raft-log.migrating"));
  auto log = OpenRaftLog(data_dir());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LastIndex(), 6001u);
}

TEST_F(RaftLogTest, CrashDuringTheCopy_TheNextOpenCopiesAgain) {
  WriteOldLog();
  // A copy cut short: a few entries and nothing else.
  {
    auto partial = WalLogStorage::Open(data_dir() + "/raft-log.migrating");
    ASSERT_TRUE(partial.ok());
    ASSERT_TRUE((*partial)->Save(std::nullopt, Range(1, 10, 9)).ok());
  }
  auto log = OpenRaftLog(data_dir());
  ASSERT_TRUE(log.ok()) << log.status();
  ExpectTheOldLog(**log);
}

TEST_F(RaftLogTest, CrashAfterTheRename_TheOldLogIsRemovedAndTheNewKept) {
  WriteOldLog();
  {
    auto log = OpenRaftLog(data_dir());
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Save(std::nullopt, Range(6001, 6001, 3)).ok());
  }
  // The old directory back, as if its removal never reached the disk.
  WriteOldLog();
  auto log = OpenRaftLog(data_dir());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LastIndex(), 6001u);  // the new log, not a second copy
  EXPECT_FALSE(fs::exists(data_dir() + "/raft"));
}

TEST_F(RaftLogTest, NewDataDirectory_StartsAnEmptyWal) {
  auto log = OpenRaftLog(data_dir());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LastIndex(), 0u);
  EXPECT_TRUE(fs::exists(data_dir() + "/raft-log"));
  EXPECT_FALSE(fs::exists(data_dir() + "/raft"));
}

}  // namespace
}  // namespace raftkv::storage

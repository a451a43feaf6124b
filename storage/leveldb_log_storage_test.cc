// What only the LevelDB log store has to show, now that it is read once to
// move an older data directory onto the write-ahead log: it opens only where
// no other process has the directory, names the file when its data is corrupt
// or unreadable, and reads old entries back through the cache or LevelDB. (Its
// writes are in the conformance suite; the fault-injecting Env is checked here
// against LevelDB itself.)

#include "storage/leveldb_log_storage.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/fault_injection_env.h"
#include "testing/held_elsewhere.h"
#include "testing/temp_dir.h"

namespace raftkv::storage {
namespace {

using raft::Entry;
using raft::kNoByteLimit;

std::vector<Entry> Range(raft::LogIndex first, raft::LogIndex last,
                         raft::Term term, size_t data_bytes = 32) {
  std::vector<Entry> entries;
  for (raft::LogIndex i = first; i <= last; ++i) {
    entries.push_back(
        Entry{term, i, raft::EntryType::kNormal,
              std::string(data_bytes, static_cast<char>('a' + i % 26))});
  }
  return entries;
}

class LevelDbLogStorageTest : public ::testing::Test {
 protected:
  LevelDbLogStorageTest() : dir_(*testing::MakeTempDir("leveldb_log")) {}

  absl::StatusOr<std::unique_ptr<LevelDbLogStorage>> Open(
      leveldb::Env* env = nullptr, uint64_t cache_bytes = 16 << 20) {
    LevelDbLogStorageOptions options;
    options.leveldb.base_env = env;
    options.entry_cache_bytes = cache_bytes;
    return LevelDbLogStorage::Open(path(), options);
  }
  std::string path() const { return dir_.path() + "/raft"; }

  testing::TempDir dir_;
};

// Runs first, before this process has started any LevelDB background thread,
// because it forks: a child process holds the directory open while this one
// tries to open it too.
TEST_F(LevelDbLogStorageTest,
       Open_DirectoryHeldByAnotherProcessIsRefusedByName) {
  const absl::Status second =
      testing::OpenWhileHeldElsewhere([this] { return Open(); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      second.message(),
      absl::StrCat(
          "data directory ", path(),
          " is in use by another process (its LOCK file is held); stop the "
          "other kvnode or choose another --data-dir"));
}

TEST_F(LevelDbLogStorageTest, Open_SecondOpenInSameProcessIsRefused) {
  auto first = Open();
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Open();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(second.status().message(), path()))
      << second.status();
}

// The Env itself: synced writes survive a power cut, unsynced ones vanish
// cleanly, and the database still opens. This is what makes the test above
// meaningful.
TEST_F(LevelDbLogStorageTest, FaultInjectionEnv_DropsOnlyUnsyncedWrites) {
  FaultInjectionEnv env;
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.env = &env;
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, path(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    leveldb::WriteOptions synced, unsynced;
    synced.sync = true;
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(db->Put(synced, absl::StrCat("s", i), "v").ok());
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(db->Put(unsynced, absl::StrCat("u", i), "v").ok());
    env.SetFilesystemActive(false);
  }
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  env.SetFilesystemActive(true);
  leveldb::DB* raw = nullptr;
  leveldb::Status opened = leveldb::DB::Open(options, path(), &raw);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  std::unique_ptr<leveldb::DB> db(raw);
  std::string value;
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(db->Get({}, absl::StrCat("s", i), &value).ok()) << i;
    EXPECT_TRUE(db->Get({}, absl::StrCat("u", i), &value).IsNotFound()) << i;
  }
}

TEST_F(LevelDbLogStorageTest, PermissionDenied_FailsOpenWithMessage) {
  FaultInjectionEnv env;
  env.SetWriteError(leveldb::Status::IOError(path(), "Permission denied"));
  auto log = Open(&env);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(log.status().message(),
            absl::StrCat("permission denied while creating ", path(),
                         ": IO error: ", path(),
                         ": Permission denied; make the data directory "
                         "writable by this user"));
}

// Flips bytes in the middle of every file whose name ends with `suffix`.
int CorruptFiles(const std::string& dir, const std::string& suffix) {
  int corrupted = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    const std::string name = file.path().string();
    if (!absl::EndsWith(name, suffix) || file.file_size() < 64) continue;
    std::fstream stream(name, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(static_cast<std::streamoff>(file.file_size() / 2));
    stream.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
    ++corrupted;
  }
  return corrupted;
}

TEST_F(LevelDbLogStorageTest, CorruptWriteAheadLog_FailsOpenNamingTheFile) {
  {
    auto log = Open();
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Save(std::nullopt, Range(1, 50, 1)).ok());
  }
  ASSERT_EQ(CorruptFiles(path(), ".log"), 1);
  auto log = Open();
  ASSERT_FALSE(log.ok()) << "a corrupt record must never be skipped silently";
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(log.status().message(),
                               "corrupt data in " + path() + "/"))
      << log.status();
  EXPECT_TRUE(absl::StrContains(log.status().message(), ".log while opening"))
      << log.status();
}

TEST_F(LevelDbLogStorageTest, CorruptTable_FailsOpenNamingTheFile) {
  {
    auto log = Open();
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Save(std::nullopt, Range(1, 50, 1, 1000)).ok());
  }
  {
    ASSERT_TRUE(Open().ok());
  }  // recovery turns the write-ahead log into a table file
  ASSERT_GE(CorruptFiles(path(), ".ldb"), 1);
  auto log = Open();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(log.status().message(),
                               "corrupt data in " + path() + "/"))
      << log.status();
  EXPECT_TRUE(absl::StrContains(log.status().message(), ".ldb while"))
      << log.status();
}

TEST_F(LevelDbLogStorageTest, Entries_RecentOnesComeFromCache) {
  auto log = Open(nullptr, /*cache_bytes=*/100 * Range(1, 1, 1)[0].ByteSize());
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Save(std::nullopt, Range(1, 300, 1)).ok());
  ASSERT_TRUE((*log)->Entries(250, 301, kNoByteLimit).ok());
  ASSERT_TRUE((*log)->TermAt(300).ok());
  EXPECT_EQ((*log)->entries_read_from_disk(), 0u);
  auto old = (*log)->Entries(1, 11, kNoByteLimit);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(*old, Range(1, 10, 1));
  EXPECT_EQ((*log)->entries_read_from_disk(), 10u);
}

}  // namespace
}  // namespace raftkv::storage

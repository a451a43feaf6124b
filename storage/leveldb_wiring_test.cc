// Proves the LevelDB wiring: the system library opens a database under
// TEST_TMPDIR with the options raftkv relies on (synced writes, paranoid
// checks), data survives a reopen, and the LOCK file keeps a second opener out
// of a directory in use.

#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <memory>
#include <string>

#include "testing/temp_dir.h"

namespace raftkv::storage {
namespace {

std::unique_ptr<leveldb::DB> Open(const std::string& path,
                                  leveldb::Status* status) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  leveldb::DB* db = nullptr;
  *status = leveldb::DB::Open(options, path, &db);
  return std::unique_ptr<leveldb::DB>(db);
}

TEST(LevelDbWiringTest, SyncedBatch_SurvivesReopen) {
  absl::StatusOr<testing::TempDir> dir = testing::MakeTempDir("leveldb_wiring");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string path = dir->path() + "/db";
  {
    leveldb::Status status;
    std::unique_ptr<leveldb::DB> db = Open(path, &status);
    ASSERT_TRUE(status.ok()) << status.ToString();
    leveldb::WriteBatch batch;
    batch.Put("term", "7");
    batch.Put("vote", "3");
    leveldb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Write(sync, &batch).ok());
  }
  leveldb::Status status;
  std::unique_ptr<leveldb::DB> db = Open(path, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  std::string value;
  ASSERT_TRUE(db->Get(leveldb::ReadOptions(), "term", &value).ok());
  EXPECT_EQ(value, "7");
  ASSERT_TRUE(db->Get(leveldb::ReadOptions(), "vote", &value).ok());
  EXPECT_EQ(value, "3");
}

TEST(LevelDbWiringTest, SecondOpen_IsRefusedByLock) {
  absl::StatusOr<testing::TempDir> dir = testing::MakeTempDir("leveldb_wiring");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string path = dir->path() + "/db";
  leveldb::Status first_status;
  std::unique_ptr<leveldb::DB> first = Open(path, &first_status);
  ASSERT_TRUE(first_status.ok()) << first_status.ToString();
  leveldb::Status second_status;
  std::unique_ptr<leveldb::DB> second = Open(path, &second_status);
  EXPECT_FALSE(second_status.ok());
  EXPECT_EQ(second, nullptr);
  EXPECT_NE(second_status.ToString().find("LOCK"), std::string::npos)
      << second_status.ToString();
}

}  // namespace
}  // namespace raftkv::storage

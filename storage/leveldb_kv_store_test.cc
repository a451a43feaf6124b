// What only the LevelDB KV store has to show: a snapshot restore interrupted at
// any step leaves exactly the old or exactly the new state; applied index and
// mutations are durable together; and its directory errors read clearly.

#include "storage/leveldb_kv_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/fault_injection_env.h"
#include "storage/memory_kv_store.h"
#include "testing/temp_dir.h"

namespace raftkv::storage {
namespace {

KvMutation Put(std::string key, std::string value) {
  return {KvMutation::Kind::kPut, std::move(key), std::move(value)};
}

class LevelDbKvStoreTest : public ::testing::Test {
 protected:
  LevelDbKvStoreTest() : dir_(*testing::MakeTempDir("leveldb_kv")) {}
  std::string path() const { return dir_.path() + "/kv"; }
  absl::StatusOr<std::unique_ptr<LevelDbKvStore>> Open(
      LevelDbKvStoreOptions options = {}) {
    return LevelDbKvStore::Open(path(), options);
  }
  int Generations() const {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path())) {
      count += absl::StartsWith(entry.path().filename().string(), "gen-");
    }
    return count;
  }
  testing::TempDir dir_;
};

constexpr RestoreStep kSteps[] = {
    RestoreStep::kChunkWritten, RestoreStep::kNewStateSynced,
    RestoreStep::kPointerWritten, RestoreStep::kPointerSwapped,
    RestoreStep::kOldRemoved};

TEST_F(LevelDbKvStoreTest, RestoreInterruptedAtEveryStep_LeavesOldOrNewState) {
  // The new state is big enough (3 MiB) that the restore writes it in several
  // parts.
  MemoryKvStore source;
  std::vector<KvMutation> puts;
  for (int i = 0; i < 3000; ++i)
    puts.push_back(Put(absl::StrCat("new", i), std::string(1024, 'n')));
  ASSERT_TRUE(source.Apply({900, puts, {{1, "new session"}}, {}}).ok());

  for (RestoreStep crash_at : kSteps) {
    SCOPED_TRACE(static_cast<int>(crash_at));
    std::filesystem::remove_all(path());
    {
      auto store = Open();
      ASSERT_TRUE(store.ok()) << store.status();
      ASSERT_TRUE(
          (*store)
              ->Apply({40, {Put("old", "state")}, {{2, "old session"}}, {}})
              .ok());
      ASSERT_TRUE((*store)->Sync().ok());
    }
    LevelDbKvStoreOptions options;
    int reached = 0;
    options.restore_hook = [&](RestoreStep step) {
      ++reached;
      return step != crash_at;
    };
    {
      auto store = Open(options);
      ASSERT_TRUE(store.ok()) << store.status();
      auto reader = source.ReadSnapshot();
      ASSERT_TRUE(reader.ok());
      absl::Status restored = (*store)->RestoreSnapshot(
          [&] { return (*reader)->NextChunk(64 << 10); });
      EXPECT_EQ(restored.code(), absl::StatusCode::kAborted) << restored;
    }
    ASSERT_GT(reached, 0);
    auto store = Open();  // the "restarted process"
    ASSERT_TRUE(store.ok()) << store.status();
    const bool swapped = crash_at == RestoreStep::kPointerSwapped ||
                         crash_at == RestoreStep::kOldRemoved;
    if (swapped) {
      EXPECT_EQ((*store)->AppliedIndex(), 900u);
      EXPECT_EQ(*(*store)->Get("old"), std::nullopt);
      EXPECT_EQ((*store)->Get("new2999")->value_or(""), std::string(1024, 'n'));
      EXPECT_EQ(*(*store)->LoadSessions(),
                (std::vector<SessionRecord>{{1, "new session"}}));
    } else {
      EXPECT_EQ((*store)->AppliedIndex(), 40u);
      EXPECT_EQ(*(*store)->Get("old"), "state");
      EXPECT_EQ(*(*store)->Get("new0"), std::nullopt);
      EXPECT_EQ(*(*store)->LoadSessions(),
                (std::vector<SessionRecord>{{2, "old session"}}));
    }
    EXPECT_EQ(Generations(), 1);  // leftovers are cleaned up on open
  }
}

TEST_F(LevelDbKvStoreTest,
       PowerCut_KeepsSyncedAppliesWithTheirIndexAndDropsTheRest) {
  FaultInjectionEnv env;
  LevelDbKvStoreOptions options;
  options.leveldb.base_env = &env;
  {
    auto store = Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    for (raft::LogIndex i = 1; i <= 20; ++i) {
      ASSERT_TRUE(
          (*store)->Apply({i, {Put("counter", absl::StrCat(i))}, {}, {}}).ok());
      if (i == 10) {
        ASSERT_TRUE((*store)->Sync().ok());
      }
    }
    env.SetFilesystemActive(false);
  }
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  env.SetFilesystemActive(true);
  auto store = Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  // Whatever survived, index and data agree: the node re-applies the rest from
  // its log.
  const raft::LogIndex applied = (*store)->AppliedIndex();
  EXPECT_GE(applied, 10u);
  EXPECT_EQ(*(*store)->Get("counter"), absl::StrCat(applied));
}

TEST_F(LevelDbKvStoreTest, Open_DirectoryInUseIsRefusedByName) {
  auto first = Open();
  ASSERT_TRUE(first.ok());
  auto second = Open();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      second.status().message(),
      absl::StrCat(
          "data directory ", path(),
          " is in use by another process (its LOCK file is held); stop the "
          "other kvnode or choose another --data-dir"));
}

TEST_F(LevelDbKvStoreTest, Open_MissingGenerationIsDataLossNotAnEmptyStore) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Apply({1, {Put("k", "v")}, {}, {}}).ok());
  }
  std::filesystem::remove_all(path() + "/gen-1");
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(store.status().message(), "names gen-1"))
      << store.status();
}

TEST_F(LevelDbKvStoreTest, Open_CorruptPointerIsReported) {
  { ASSERT_TRUE(Open().ok()); }
  std::FILE* f = std::fopen((path() + "/CURRENT_KV").c_str(), "w");
  std::fputs("garbage\n", f);
  std::fclose(f);
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(store.status().message(),
                               "corrupt " + path() + "/CURRENT_KV"))
      << store.status();
}

TEST_F(LevelDbKvStoreTest, DiskFull_ApplyFailsWithMessage) {
  FaultInjectionEnv env;
  LevelDbKvStoreOptions options;
  options.leveldb.base_env = &env;
  auto store = Open(options);
  ASSERT_TRUE(store.ok());
  env.SetWriteError(
      leveldb::Status::IOError("kv log", "No space left on device"));
  absl::Status full = (*store)->Apply({1, {Put("k", "v")}, {}, {}});
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(
      absl::StartsWith(full.message(), "disk full while applying to " + path()))
      << full;
  EXPECT_EQ((*store)->AppliedIndex(), 0u);
  env.SetWriteError(leveldb::Status::OK());
}

}  // namespace
}  // namespace raftkv::storage

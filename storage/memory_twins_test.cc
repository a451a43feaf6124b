// The fault models of the in-memory twins that the simulator relies on: a
// crash loses exactly the KV writes not yet synced, and an injected disk
// error fails every write without changing anything.
#include <gtest/gtest.h>

#include "storage/memory_kv_store.h"
#include "storage/memory_log_storage.h"

namespace raftkv::storage {
namespace {

KvBatch Put(raft::LogIndex index, std::string key, std::string value) {
  KvBatch batch;
  batch.applied_index = index;
  batch.mutations.push_back(
      {KvMutation::Kind::kPut, std::move(key), std::move(value)});
  return batch;
}

TEST(MemoryKvStoreTest, LoseUnsyncedWrites_KeepsWhatWasSynced) {
  MemoryKvStore store;
  ASSERT_TRUE(store.Apply(Put(1, "a", "1")).ok());
  ASSERT_TRUE(store.Sync().ok());
  ASSERT_TRUE(store.Apply(Put(2, "b", "2")).ok());
  store.LoseUnsyncedWrites();
  EXPECT_EQ(store.AppliedIndex(), 1u);
  EXPECT_EQ(*store.Get("a"), "1");
  EXPECT_EQ(*store.Get("b"), std::nullopt);
  // Applying again after the crash works from the synced state.
  ASSERT_TRUE(store.Apply(Put(2, "b", "3")).ok());
  EXPECT_EQ(*store.Get("b"), "3");
}

TEST(MemoryKvStoreTest, InjectWriteError_FailsWritesAndChangesNothing) {
  MemoryKvStore store;
  ASSERT_TRUE(store.Apply(Put(1, "a", "1")).ok());
  store.InjectWriteError(absl::ResourceExhaustedError("disk full"));
  EXPECT_TRUE(absl::IsResourceExhausted(store.Apply(Put(2, "a", "2"))));
  EXPECT_TRUE(absl::IsResourceExhausted(store.Sync()));
  EXPECT_EQ(*store.Get("a"), "1");
  store.InjectWriteError(absl::OkStatus());
  EXPECT_TRUE(store.Apply(Put(2, "a", "2")).ok());
}

TEST(MemoryLogStorageTest, InjectWriteError_FailsWritesAndChangesNothing) {
  MemoryLogStorage log;
  ASSERT_TRUE(log.InstallSnapshot({0, 0, {{1}, {}}}).ok());
  log.InjectWriteError(absl::ResourceExhaustedError("disk full"));
  std::vector<raft::Entry> entries = {{1, 1, raft::EntryType::kNormal, "x"}};
  EXPECT_TRUE(absl::IsResourceExhausted(log.Save(std::nullopt, entries)));
  EXPECT_EQ(log.LastIndex(), 0u);
  log.InjectWriteError(absl::OkStatus());
  EXPECT_TRUE(log.Save(std::nullopt, entries).ok());
  EXPECT_EQ(log.LastIndex(), 1u);
}

}  // namespace
}  // namespace raftkv::storage

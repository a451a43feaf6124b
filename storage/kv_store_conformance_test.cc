// One conformance suite for every KvStore: the LevelDB store and its in-memory
// twin must agree on every behaviour and produce byte-identical snapshots.
// Reopen() closes and reopens the LevelDB store and is a no-op for the twin.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/kv_store.h"
#include "storage/leveldb_kv_store.h"
#include "storage/memory_kv_store.h"
#include "testing/temp_dir.h"

namespace raftkv::storage {
namespace {

class MemoryFactory {
 public:
  KvStore* store() { return store_.get(); }
  void Reopen() {}
  std::unique_ptr<KvStore> MakeAnother() {
    return std::make_unique<MemoryKvStore>();
  }

 private:
  std::unique_ptr<MemoryKvStore> store_ = std::make_unique<MemoryKvStore>();
};

class LevelDbFactory {
 public:
  LevelDbFactory() : dir_(*testing::MakeTempDir("kv_conformance")) { Reopen(); }
  KvStore* store() { return store_.get(); }
  void Reopen() {
    store_.reset();
    auto opened = LevelDbKvStore::Open(dir_.path() + "/kv");
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }
  std::unique_ptr<KvStore> MakeAnother() {
    auto opened = LevelDbKvStore::Open(dir_.path() + "/another" +
                                       std::to_string(++others_));
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

 private:
  testing::TempDir dir_;
  int others_ = 0;
  std::unique_ptr<LevelDbKvStore> store_;
};

KvMutation Put(std::string key, std::string value) {
  return {KvMutation::Kind::kPut, std::move(key), std::move(value)};
}
KvMutation Del(std::string key) {
  return {KvMutation::Kind::kDelete, std::move(key), ""};
}

std::vector<std::string> Keys(const ScanPage& page) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : page.items) keys.push_back(kv.key);
  return keys;
}

// Reads a whole snapshot as chunks of at most `max_bytes`.
std::vector<std::string> ReadAll(const KvStore& store, size_t max_bytes) {
  auto reader = store.ReadSnapshot();
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> chunks;
  while (true) {
    auto chunk = (*reader)->NextChunk(max_bytes);
    EXPECT_TRUE(chunk.ok()) << chunk.status();
    if (!chunk.ok() || !chunk->has_value()) break;
    chunks.push_back(**chunk);
  }
  return chunks;
}

absl::Status Restore(KvStore& store, const std::vector<std::string>& chunks) {
  size_t next = 0;
  return store.RestoreSnapshot(
      [&]() -> absl::StatusOr<std::optional<std::string>> {
        if (next == chunks.size()) return std::nullopt;
        return chunks[next++];
      });
}

std::string Join(const std::vector<std::string>& chunks) {
  std::string all;
  for (const std::string& c : chunks) all += c;
  return all;
}

template <typename Factory>
class KvStoreConformanceTest : public ::testing::Test {
 protected:
  KvStore& kv() { return *factory_.store(); }
  void Reopen() { factory_.Reopen(); }
  std::optional<std::string> Get(const std::string& key) {
    auto value = kv().Get(key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : std::nullopt;
  }
  void Apply(raft::LogIndex index, std::vector<KvMutation> mutations,
             std::vector<SessionRecord> sessions = {},
             std::vector<uint64_t> expired = {}) {
    KvBatch batch{index, std::move(mutations), std::move(sessions),
                  std::move(expired)};
    absl::Status status = kv().Apply(batch);
    ASSERT_TRUE(status.ok()) << status;
  }
  // A store with 26 keys a..z, two sessions, applied through index 30.
  void Fill() {
    std::vector<KvMutation> puts;
    for (char c = 'a'; c <= 'z'; ++c)
      puts.push_back(Put(std::string(1, c), std::string(3, c)));
    Apply(30, puts, {{7, "seven"}, {9, "nine"}});
  }
  Factory factory_;
};

using Factories = ::testing::Types<MemoryFactory, LevelDbFactory>;
class FactoryNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryFactory> ? "Memory" : "LevelDb";
  }
};
TYPED_TEST_SUITE(KvStoreConformanceTest, Factories, FactoryNames);

TYPED_TEST(KvStoreConformanceTest, Apply_PutsDeletesAndAdvancesAppliedIndex) {
  EXPECT_EQ(this->kv().AppliedIndex(), 0u);
  EXPECT_EQ(this->Get("k"), std::nullopt);
  this->Apply(5, {Put("k", "v1"), Put("gone", "x")});
  this->Apply(6, {Put("k", "v2"), Del("gone"), Del("never-there")});
  this->Reopen();
  EXPECT_EQ(this->kv().AppliedIndex(), 6u);
  EXPECT_EQ(this->Get("k"), "v2");
  EXPECT_EQ(this->Get("gone"), std::nullopt);
}

TYPED_TEST(KvStoreConformanceTest, Apply_RejectsIndexNotAfterApplied) {
  this->Apply(5, {Put("k", "v")});
  absl::Status again = this->kv().Apply({5, {Put("k", "twice")}, {}, {}});
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(),
            "batch for log index 5 is not after the applied index 5");
  EXPECT_FALSE(this->kv().Apply({3, {Put("k", "older")}, {}, {}}).ok());
  EXPECT_EQ(this->Get("k"), "v");
}

TYPED_TEST(KvStoreConformanceTest, Sessions_SavedAndExpiredWithTheirBatch) {
  this->Apply(1, {Put("a", "1")}, {{7, "client 7 at seq 1"}, {8, "client 8"}});
  this->Apply(2, {}, {{7, "client 7 at seq 2"}}, {8});
  ASSERT_TRUE(this->kv().Sync().ok());
  this->Reopen();
  auto sessions = this->kv().LoadSessions();
  ASSERT_TRUE(sessions.ok()) << sessions.status();
  EXPECT_EQ(*sessions, (std::vector<SessionRecord>{{7, "client 7 at seq 2"}}));
  EXPECT_EQ(this->kv().AppliedIndex(), 2u);
}

TYPED_TEST(KvStoreConformanceTest, Scan_ByPrefixRangeAndLimit) {
  this->Apply(1, {Put("user/1", "a"), Put("user/2", "b"), Put("user/3", "c"),
                  Put("users", "x"), Put("zebra", "z")});
  ScanOptions prefix{.prefix = "user/", .limit = 10};
  auto page = this->kv().Scan(prefix);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Keys(*page),
            (std::vector<std::string>{"user/1", "user/2", "user/3"}));
  EXPECT_EQ(page->items[1].value, "b");
  EXPECT_FALSE(page->more);

  ScanOptions range{
      .start = "user/2", .end = "zebra", .limit = 10, .keys_only = true};
  page = this->kv().Scan(range);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page),
            (std::vector<std::string>{"user/2", "user/3", "users"}));
  EXPECT_EQ(page->items[0].value, "");  // keys only

  ScanOptions limited{.limit = 2};
  page = this->kv().Scan(limited);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page), (std::vector<std::string>{"user/1", "user/2"}));
  EXPECT_TRUE(page->more);
  EXPECT_EQ(page->next_start, "user/3");
}

TYPED_TEST(KvStoreConformanceTest, Scan_PagesThroughEveryKeyOnce) {
  std::vector<KvMutation> puts;
  for (int i = 0; i < 500; ++i)
    puts.push_back(Put("k" + std::to_string(1000 + i), "v"));
  this->Apply(1, puts);
  std::vector<std::string> seen;
  ScanOptions options{.prefix = "k", .limit = 7};
  for (int pages = 0; pages < 100; ++pages) {
    auto page = this->kv().Scan(options);
    ASSERT_TRUE(page.ok());
    for (const std::string& key : Keys(*page)) seen.push_back(key);
    if (!page->more) break;
    options.start = page->next_start;
  }
  ASSERT_EQ(seen.size(), 500u);
  for (int i = 0; i < 500; ++i)
    EXPECT_EQ(seen[i], "k" + std::to_string(1000 + i));
}

TYPED_TEST(KvStoreConformanceTest, Scan_PrefixOfHighBytesAndBadOptions) {
  this->Apply(1, {Put("\xff\xff", "top"), Put("\xff\xff\x01", "below"),
                  Put("\xfe", "no")});
  auto page = this->kv().Scan({.prefix = "\xff\xff", .limit = 5});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Keys(*page),
            (std::vector<std::string>{"\xff\xff", "\xff\xff\x01"}));
  EXPECT_EQ(this->kv().Scan({.limit = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->kv().Scan({.start = "b", .end = "a"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TYPED_TEST(KvStoreConformanceTest, Snapshot_IsPointInTime) {
  this->Fill();
  auto reader = this->kv().ReadSnapshot();
  ASSERT_TRUE(reader.ok());
  this->Apply(31, {Put("a", "changed"), Del("b"), Put("new", "n")}, {}, {7});
  std::vector<std::string> chunks;
  while (true) {
    auto chunk = (*reader)->NextChunk(64);
    ASSERT_TRUE(chunk.ok());
    if (!chunk->has_value()) break;
    chunks.push_back(**chunk);
  }
  EXPECT_EQ((*reader)->applied_index(), 30u);
  EXPECT_GT(chunks.size(), 3u);  // really chunked

  std::unique_ptr<KvStore> other = this->factory_.MakeAnother();
  ASSERT_TRUE(Restore(*other, chunks).ok());
  EXPECT_EQ(other->AppliedIndex(), 30u);
  EXPECT_EQ(*other->Get("a"), "aaa");
  EXPECT_EQ(*other->Get("b"), "bbb");
  EXPECT_EQ(*other->Get("new"), std::nullopt);
  EXPECT_EQ(*other->LoadSessions(),
            (std::vector<SessionRecord>{{7, "seven"}, {9, "nine"}}));
}

TYPED_TEST(KvStoreConformanceTest, Snapshot_BytesEqualTheTwinsForTheSameState) {
  this->Fill();
  MemoryKvStore twin;
  std::vector<KvMutation> puts;
  for (char c = 'a'; c <= 'z'; ++c)
    puts.push_back(Put(std::string(1, c), std::string(3, c)));
  ASSERT_TRUE(twin.Apply({30, puts, {{7, "seven"}, {9, "nine"}}, {}}).ok());
  EXPECT_EQ(Join(ReadAll(this->kv(), 100)), Join(ReadAll(twin, 1 << 20)));
}

TYPED_TEST(KvStoreConformanceTest,
           Restore_ReplacesEverythingEvenWithLowerIndex) {
  MemoryKvStore source;
  ASSERT_TRUE(
      source.Apply({12, {Put("only", "this")}, {{3, "three"}}, {}}).ok());
  this->Fill();
  ASSERT_TRUE(Restore(this->kv(), ReadAll(source, 1)).ok());  // 1-byte chunks
  this->Reopen();
  EXPECT_EQ(this->kv().AppliedIndex(), 12u);
  EXPECT_EQ(this->Get("only"), "this");
  EXPECT_EQ(this->Get("a"), std::nullopt);
  EXPECT_EQ(*this->kv().LoadSessions(),
            (std::vector<SessionRecord>{{3, "three"}}));
  this->Apply(13, {Put("after", "restore")});
  EXPECT_EQ(this->Get("after"), "restore");
}

TYPED_TEST(KvStoreConformanceTest,
           Restore_RejectsTruncatedOrDamagedStreamsAndKeepsState) {
  this->Fill();
  MemoryKvStore source;
  ASSERT_TRUE(source
                  .Apply({50,
                          {Put("x1", std::string(100, 'x')),
                           Put("x2", std::string(100, 'y')),
                           Put("x3", std::string(100, 'z'))},
                          {},
                          {}})
                  .ok());
  std::vector<std::string> chunks = ReadAll(source, 64);
  ASSERT_GT(chunks.size(), 2u);

  std::vector<std::string> truncated(chunks.begin(), chunks.end() - 1);
  absl::Status status = Restore(this->kv(), truncated);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(status.message(),
            "snapshot is truncated: the stream ended before its trailer; it "
            "was not installed");

  std::vector<std::string> damaged = chunks;
  damaged[1][20] ^= 0x40;  // a byte of x2's value
  status = Restore(this->kv(), damaged);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(status.message(), "snapshot is corrupt: checksum mismatch");

  std::vector<std::string> garbage = {"definitely not a snapshot"};
  EXPECT_EQ(Restore(this->kv(), garbage).message(),
            "snapshot is corrupt: bad magic; not a raftkv snapshot");

  this->Reopen();
  EXPECT_EQ(this->kv().AppliedIndex(), 30u);
  EXPECT_EQ(this->Get("a"), "aaa");
  EXPECT_EQ(this->Get("x1"), std::nullopt);
}

TYPED_TEST(KvStoreConformanceTest,
           ApplyBatches_AppliesAGroupAtomicallyInOrder) {
  std::vector<KvBatch> group = {
      {3, {Put("a", "1"), Put("b", "1")}, {{7, "s1"}}, {}},
      {4, {Put("a", "2"), Del("b")}, {{7, "s2"}}, {}},
      {6, {Put("c", "3")}, {}, {7}}};
  ASSERT_TRUE(this->kv().ApplyBatches(group).ok());
  this->Reopen();
  EXPECT_EQ(this->kv().AppliedIndex(), 6u);
  EXPECT_EQ(this->Get("a"), "2");
  EXPECT_EQ(this->Get("b"), std::nullopt);
  EXPECT_EQ(this->Get("c"), "3");
  EXPECT_TRUE(this->kv().LoadSessions()->empty());
  // A group whose indexes do not increase is refused whole.
  std::vector<KvBatch> bad = {{8, {Put("x", "1")}, {}, {}},
                              {8, {Put("y", "1")}, {}, {}}};
  EXPECT_EQ(this->kv().ApplyBatches(bad).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(this->Get("x"), std::nullopt);
  EXPECT_EQ(this->kv().AppliedIndex(), 6u);
}

}  // namespace
}  // namespace raftkv::storage

// One conformance suite for every raft::LogStorage: the write-ahead log nodes
// run, the LevelDB store older data directories are migrated from, and the
// in-memory twin must agree on every behaviour, so the simulator's storage
// cannot drift from the real one. Reopen() closes and reopens a durable store
// (proving durability) and is a no-op for the twin.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/log_storage.h"
#include "storage/leveldb_log_storage.h"
#include "storage/memory_log_storage.h"
#include "storage/wal_log_storage.h"
#include "testing/temp_dir.h"

namespace raftkv::storage {
namespace {

using raft::Entry;
using raft::HardState;
using raft::kNoByteLimit;

class MemoryFactory {
 public:
  raft::LogStorage* storage() { return &storage_; }
  void Reopen() {}

 private:
  MemoryLogStorage storage_;
};

class LevelDbFactory {
 public:
  LevelDbFactory() : dir_(*testing::MakeTempDir("log_conformance")) {
    Reopen();
  }
  raft::LogStorage* storage() { return storage_.get(); }
  void Reopen() {
    storage_.reset();
    LevelDbLogStorageOptions options;
    options.entry_cache_bytes = 200;  // small, so reads also exercise LevelDB
    absl::StatusOr<std::unique_ptr<LevelDbLogStorage>> opened =
        LevelDbLogStorage::Open(dir_.path() + "/raft", options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    storage_ = std::move(*opened);
  }

 private:
  testing::TempDir dir_;
  std::unique_ptr<LevelDbLogStorage> storage_;
};

class WalFactory {
 public:
  WalFactory() : dir_(*testing::MakeTempDir("log_conformance")) { Reopen(); }
  raft::LogStorage* storage() { return storage_.get(); }
  void Reopen() {
    storage_.reset();
    WalLogStorageOptions options;
    options.entry_cache_bytes = 200;  // small, so reads also exercise the files
    options.segment_bytes = 300;      // and segments roll, and are removed
    absl::StatusOr<std::unique_ptr<WalLogStorage>> opened =
        WalLogStorage::Open(dir_.path() + "/raft-log", options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    storage_ = std::move(*opened);
  }

 private:
  testing::TempDir dir_;
  std::unique_ptr<WalLogStorage> storage_;
};

Entry MakeEntry(raft::LogIndex index, raft::Term term, std::string data = "") {
  if (data.empty())
    data = "cmd" + std::to_string(index) + "@" + std::to_string(term);
  return Entry{term, index, raft::EntryType::kNormal, std::move(data)};
}

std::vector<Entry> Range(raft::LogIndex first, raft::LogIndex last,
                         raft::Term term) {
  std::vector<Entry> entries;
  for (raft::LogIndex i = first; i <= last; ++i)
    entries.push_back(MakeEntry(i, term));
  return entries;
}

std::vector<raft::Term> Terms(const std::vector<Entry>& entries) {
  std::vector<raft::Term> terms;
  for (const Entry& e : entries) terms.push_back(e.term);
  return terms;
}

template <typename Factory>
class LogStorageConformanceTest : public ::testing::Test {
 protected:
  raft::LogStorage& log() { return *factory_.storage(); }
  void Reopen() { factory_.Reopen(); }
  std::vector<Entry> All() {
    absl::StatusOr<std::vector<Entry>> entries =
        log().Entries(log().FirstIndex(), log().LastIndex() + 1, kNoByteLimit);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<Entry>{};
  }
  Factory factory_;
};

using Factories = ::testing::Types<MemoryFactory, WalFactory, LevelDbFactory>;
class FactoryNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryFactory>) return "Memory";
    return std::is_same_v<T, WalFactory> ? "Wal" : "LevelDb";
  }
};
TYPED_TEST_SUITE(LogStorageConformanceTest, Factories, FactoryNames);

TYPED_TEST(LogStorageConformanceTest, Empty_HasSentinelAndNoEntries) {
  EXPECT_EQ(this->log().FirstIndex(), 1u);
  EXPECT_EQ(this->log().LastIndex(), 0u);
  EXPECT_EQ(*this->log().TermAt(0), 0u);
  EXPECT_TRUE(this->log().GetInitialState().hard_state.IsEmpty());
  EXPECT_TRUE(this->All().empty());
  EXPECT_TRUE(raft::IsEntryUnavailable(this->log().TermAt(1).status()));
}

TYPED_TEST(LogStorageConformanceTest, Save_AppendsEntriesAndHardStateDurably) {
  ASSERT_TRUE(this->log().Save(HardState{3, 2, 1}, Range(1, 5, 3)).ok());
  this->Reopen();
  EXPECT_EQ(this->log().LastIndex(), 5u);
  EXPECT_EQ(this->log().GetInitialState().hard_state, (HardState{3, 2, 1}));
  EXPECT_EQ(this->All(), Range(1, 5, 3));
  EXPECT_EQ(*this->log().TermAt(5), 3u);
}

TYPED_TEST(LogStorageConformanceTest, Save_HardStateAloneLeavesLog) {
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(1, 2, 1)).ok());
  ASSERT_TRUE(this->log().Save(HardState{4, 0, 2}, {}).ok());
  this->Reopen();
  EXPECT_EQ(this->log().GetInitialState().hard_state, (HardState{4, 0, 2}));
  EXPECT_EQ(this->All(), Range(1, 2, 1));
}

TYPED_TEST(LogStorageConformanceTest, Save_ReplacesConflictingSuffix) {
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(1, 6, 1)).ok());
  // A new leader's entries at 3 and 4 conflict with ours: 3..6 go, 3..4 come
  // (§5.3).
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(3, 4, 2)).ok());
  this->Reopen();
  EXPECT_EQ(this->log().LastIndex(), 4u);
  EXPECT_EQ(Terms(this->All()), (std::vector<raft::Term>{1, 1, 2, 2}));
  EXPECT_EQ(this->All()[2], MakeEntry(3, 2));
  EXPECT_TRUE(raft::IsEntryUnavailable(this->log().TermAt(5).status()));
  // Appending after the truncation continues the log.
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(5, 5, 2)).ok());
  EXPECT_EQ(this->log().LastIndex(), 5u);
}

TYPED_TEST(LogStorageConformanceTest,
           Save_RejectsGapsDisorderAndDecreasingTerms) {
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(1, 3, 2)).ok());
  EXPECT_EQ(this->log().Save(std::nullopt, Range(5, 6, 2)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<Entry> unordered = {MakeEntry(4, 2), MakeEntry(6, 2)};
  EXPECT_EQ(this->log().Save(std::nullopt, unordered).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(this->log().Save(std::nullopt, Range(4, 4, 1)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<Entry> falling = {MakeEntry(4, 3), MakeEntry(5, 2)};
  EXPECT_EQ(this->log().Save(std::nullopt, falling).code(),
            absl::StatusCode::kInvalidArgument);
  // A rejected save changes nothing, including the hard state that came with
  // it.
  EXPECT_FALSE(this->log().Save(HardState{9, 9, 9}, Range(5, 6, 2)).ok());
  this->Reopen();
  EXPECT_EQ(this->All(), Range(1, 3, 2));
  EXPECT_TRUE(this->log().GetInitialState().hard_state.IsEmpty());
}

TYPED_TEST(LogStorageConformanceTest,
           Entries_StopsAtMaxBytesButReturnsAtLeastOne) {
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(1, 10, 1)).ok());
  const uint64_t one = MakeEntry(1, 1).ByteSize();
  absl::StatusOr<std::vector<Entry>> page = this->log().Entries(2, 11, 3 * one);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(*page, Range(2, 4, 1));
  page = this->log().Entries(2, 11, 1);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, Range(2, 2, 1));
  page = this->log().Entries(4, 4, kNoByteLimit);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
}

TYPED_TEST(LogStorageConformanceTest,
           Entries_DistinguishesCompactedFromUnavailable) {
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(1, 10, 1)).ok());
  ASSERT_TRUE(this->log().Compact(4, {{1, 2, 3}, {}}).ok());
  absl::Status compacted = this->log().Entries(3, 6, kNoByteLimit).status();
  EXPECT_TRUE(raft::IsCompacted(compacted)) << compacted;
  EXPECT_FALSE(raft::IsEntryUnavailable(compacted));
  absl::Status unavailable = this->log().Entries(6, 12, kNoByteLimit).status();
  EXPECT_TRUE(raft::IsEntryUnavailable(unavailable)) << unavailable;
  EXPECT_FALSE(raft::IsCompacted(unavailable));
  EXPECT_NE(unavailable.message().find("ends at 10"), absl::string_view::npos)
      << unavailable;
  EXPECT_TRUE(raft::IsCompacted(this->log().TermAt(3).status()));
}

TYPED_TEST(LogStorageConformanceTest, Compact_DropsPrefixAndKeepsBoundaryTerm) {
  std::vector<Entry> entries = Range(1, 3, 1);
  for (const Entry& e : Range(4, 8, 2)) entries.push_back(e);
  ASSERT_TRUE(this->log().Save(HardState{2, 1, 8}, entries).ok());
  const raft::ConfState conf{{1, 2, 3}, {4}};
  ASSERT_TRUE(this->log().Compact(5, conf).ok());
  this->Reopen();
  EXPECT_EQ(this->log().FirstIndex(), 6u);
  EXPECT_EQ(this->log().LastIndex(), 8u);
  EXPECT_EQ(*this->log().TermAt(5),
            2u);  // the consistency check needs it (§5.3)
  EXPECT_EQ(this->log().Snapshot(), (raft::SnapshotMetadata{5, 2, conf}));
  EXPECT_EQ(this->log().GetInitialState().snapshot,
            (raft::SnapshotMetadata{5, 2, conf}));
  EXPECT_EQ(this->All(), Range(6, 8, 2));
  // Compacting again to an old point, or past the end, fails with the right
  // kind.
  EXPECT_TRUE(raft::IsCompacted(this->log().Compact(5, conf)));
  EXPECT_TRUE(raft::IsEntryUnavailable(this->log().Compact(9, conf)));
  // The whole log can be compacted; appends continue after it.
  ASSERT_TRUE(this->log().Compact(8, conf).ok());
  EXPECT_EQ(this->log().FirstIndex(), 9u);
  EXPECT_EQ(this->log().LastIndex(), 8u);
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(9, 9, 3)).ok());
  this->Reopen();
  EXPECT_EQ(this->All(), Range(9, 9, 3));
}

TYPED_TEST(LogStorageConformanceTest, Save_CannotRewriteCompactedEntries) {
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(1, 5, 1)).ok());
  ASSERT_TRUE(this->log().Compact(3, {}).ok());
  EXPECT_TRUE(
      raft::IsCompacted(this->log().Save(std::nullopt, Range(2, 6, 1))));
  EXPECT_EQ(this->log().LastIndex(), 5u);
}

TYPED_TEST(LogStorageConformanceTest, InstallSnapshot_ReplacesWholeLog) {
  ASSERT_TRUE(this->log().Save(HardState{1, 1, 2}, Range(1, 5, 1)).ok());
  const raft::SnapshotMetadata snapshot{20, 4, {{1, 2, 3}, {}}};
  ASSERT_TRUE(this->log().InstallSnapshot(snapshot).ok());
  this->Reopen();
  EXPECT_EQ(this->log().FirstIndex(), 21u);
  EXPECT_EQ(this->log().LastIndex(), 20u);
  EXPECT_EQ(*this->log().TermAt(20), 4u);
  EXPECT_TRUE(this->All().empty());
  EXPECT_EQ(this->log().Snapshot(), snapshot);
  // An older snapshot is refused; appends continue after the installed one.
  absl::Status stale = this->log().InstallSnapshot({10, 3, {}});
  EXPECT_TRUE(raft::IsSnapshotOutOfDate(stale)) << stale;
  ASSERT_TRUE(this->log().Save(std::nullopt, Range(21, 22, 4)).ok());
  EXPECT_TRUE(raft::IsSnapshotOutOfDate(this->log().InstallSnapshot(snapshot)));
  this->Reopen();
  EXPECT_EQ(this->All(), Range(21, 22, 4));
}

TYPED_TEST(LogStorageConformanceTest, InstallSnapshot_AtZeroBootstrapsMembers) {
  const raft::SnapshotMetadata bootstrap{0, 0, {{1, 2, 3}, {}}};
  ASSERT_TRUE(this->log().InstallSnapshot(bootstrap).ok());
  this->Reopen();
  EXPECT_EQ(this->log().GetInitialState().snapshot.conf_state.voters,
            (std::vector<raft::NodeId>{1, 2, 3}));
  EXPECT_EQ(this->log().FirstIndex(), 1u);
}

TYPED_TEST(LogStorageConformanceTest, Entries_PreserveTypeAndBinaryData) {
  Entry conf{1, 1, raft::EntryType::kConfChange, std::string("\0\x01\xff", 3)};
  Entry empty{1, 2, raft::EntryType::kNormal, ""};
  ASSERT_TRUE(
      this->log().Save(std::nullopt, std::vector<Entry>{conf, empty}).ok());
  this->Reopen();
  EXPECT_EQ(this->All(), (std::vector<Entry>{conf, empty}));
}

}  // namespace
}  // namespace raftkv::storage

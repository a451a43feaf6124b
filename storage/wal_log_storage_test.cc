// What only the write-ahead log has to show (the conformance suite covers the
// raft::LogStorage contract): durability across power cuts, torn writes cut
// off and never mistaken for corruption, corruption never mistaken for a torn
// write, segments removed by compaction, the entry cache, and a clear one-line
// error for every storage failure a user can meet.

#include "storage/wal_log_storage.h"

#include <gtest/gtest.h>
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
namespace fs = std::filesystem;

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

class WalLogStorageTest : public ::testing::Test {
 protected:
  WalLogStorageTest() : dir_(*testing::MakeTempDir("wal_log")) {}

  absl::StatusOr<std::unique_ptr<WalLogStorage>> Open(
      leveldb::Env* env = nullptr, uint64_t cache_bytes = 16 << 20,
      uint64_t segment_bytes = 1 << 20) {
    WalLogStorageOptions options;
    options.env = env;
    options.entry_cache_bytes = cache_bytes;
    options.segment_bytes = segment_bytes;
    return WalLogStorage::Open(path(), options);
  }
  std::string path() const { return dir_.path() + "/raft-log"; }
  std::string Newest(const WalLogStorage& log) const {
    return path() + "/" + log.SegmentFiles().back();
  }
  // Writes 1..50 in five frames and returns the newest segment's file.
  std::string WriteFiftyEntries() {
    auto log = Open();
    EXPECT_TRUE(log.ok()) << log.status();
    for (raft::LogIndex i = 1; i <= 50; i += 10)
      EXPECT_TRUE(
          (*log)->Save(raft::HardState{1, 1, i}, Range(i, i + 9, 1)).ok());
    return Newest(**log);
  }
  void ExpectFiftyEntries() {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->LastIndex(), 50u);
    auto entries = (*log)->Entries(1, 51, kNoByteLimit);
    ASSERT_TRUE(entries.ok()) << entries.status();
    EXPECT_EQ(*entries, Range(1, 50, 1));
  }

  testing::TempDir dir_;
};

// Where a segment's frames end: its last nonzero byte is the last byte of its
// last frame (the frames here end in entry data, which is never zero), and
// zeros follow up to the preallocated size.
uint64_t DataEnd(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  const size_t last = bytes.find_last_not_of('\0');
  return last == std::string::npos ? 0 : last + 1;
}

void AppendBytes(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void OverwriteAt(const std::string& file, uint64_t offset,
                 const std::string& bytes) {
  std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
  stream.seekp(static_cast<std::streamoff>(offset));
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs first, before this process holds any lock: a child process holds the
// directory open while this one tries to open it too.
TEST_F(WalLogStorageTest, Open_DirectoryHeldByAnotherProcessIsRefusedByName) {
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

TEST_F(WalLogStorageTest, Open_SecondOpenInSameProcessIsRefused) {
  auto first = Open();
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Open();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(WalLogStorageTest, PowerCut_KeepsEverySyncedSave) {
  FaultInjectionEnv env;
  {
    auto log = Open(&env, 16 << 20, /*segment_bytes=*/2000);
    ASSERT_TRUE(log.ok()) << log.status();
    for (raft::LogIndex i = 1; i <= 200; i += 4) {
      ASSERT_TRUE(
          (*log)->Save(raft::HardState{1, 1, i}, Range(i, i + 3, 1)).ok());
    }
    EXPECT_GT((*log)->SegmentFiles().size(), 3u);
    env.SetFilesystemActive(false);  // the power goes: nothing more lands
    EXPECT_TRUE(
        (*log)->Save(raft::HardState{1, 1, 201}, Range(201, 204, 1)).ok());
  }
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  env.SetFilesystemActive(true);
  auto log = Open(&env);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LastIndex(), 200u);
  EXPECT_EQ((*log)->GetInitialState().hard_state, (raft::HardState{1, 1, 197}));
  auto entries = (*log)->Entries(1, 201, kNoByteLimit);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(*entries, Range(1, 200, 1));
}

// A crash in the middle of a write leaves part of the last frame in the
// segment's preallocated zeros: cut short, or with a header whose page never
// landed (zeros, then a later page of the frame), or whole but with pages of
// zeros (its checksum fails), or a header cut across pages (an impossible
// length). Each is cut off; the log opens with every synced frame, and what it
// appends next is read back after another restart (which a frame behind the
// tear would not be). The same tears at the end of a file that was not
// preallocated (a file system without fallocate) are cut off too.
TEST_F(WalLogStorageTest, TornLastFrame_IsCutOffAndTheLogGoesOn) {
  struct Tear {
    const char* what;
    uint64_t skip;  // bytes of zeros between the last frame and the tear
    std::string bytes;
  };
  const std::vector<Tear> tears = {
      {"cut short", 0, std::string("\x00\x00\x01\x00\x12\x34", 6)},
      {"cut after its header", 0,
       std::string("\x00\x00\x01\x00\x12\x34\x56\x78Hxx", 11)},
      {"header page lost", 4096, std::string("Exxxxxxxxxxxxxxxxxxxxxxxxx")},
      {"checksum", 0,
       std::string("\x00\x00\x00\x03\x12\x34\x56\x78"
                   "abc",
                   11)},
      {"impossible length", 0, std::string("\xff\xff\xff\xff\x12\x34", 6)},
  };
  for (bool preallocated : {true, false}) {
    for (const Tear& tear : tears) {
      SCOPED_TRACE(absl::StrCat(tear.what, preallocated ? "" : ", no zeros"));
      fs::remove_all(path());
      const std::string file = WriteFiftyEntries();
      const uint64_t end = DataEnd(file);
      if (!preallocated) fs::resize_file(file, end);
      OverwriteAt(file, end + tear.skip, tear.bytes);
      {
        auto log = Open();
        ASSERT_TRUE(log.ok()) << log.status();
        EXPECT_EQ((*log)->LastIndex(), 50u);
        ASSERT_TRUE(
            (*log)->Save(raft::HardState{2, 1, 50}, Range(51, 60, 2)).ok());
      }
      auto log = Open();
      ASSERT_TRUE(log.ok()) << log.status();
      EXPECT_EQ((*log)->LastIndex(), 60u);
      auto entries = (*log)->Entries(45, 61, kNoByteLimit);
      ASSERT_TRUE(entries.ok()) << entries.status();
      EXPECT_EQ(entries->back(), Range(60, 60, 2)[0]);
    }
  }
}

// Each segment reserves its size when it starts: appends then overwrite
// zeros instead of growing the file, and the zeros read as the end. At the
// next open the segment is cut to its frames (appends go to a new one), so
// restarts do not each keep a segment's worth of disk; zeros left in an older
// segment (an InstallSnapshot cut short by a crash leaves them) are no damage.
TEST_F(WalLogStorageTest, Segments_ArePreallocatedAndTrimmedAtOpen) {
  const std::string file = WriteFiftyEntries();
  const uint64_t end = DataEnd(file);
  EXPECT_EQ(fs::file_size(file), uint64_t{1} << 20);  // the fixture's size
  EXPECT_LT(end, uint64_t{4} << 10);
  ExpectFiftyEntries();
  EXPECT_EQ(fs::file_size(file), end);
  {
    auto log = Open();
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->SegmentFiles().size(), 3u);
    EXPECT_EQ(fs::file_size(Newest(**log)), uint64_t{1} << 20);
  }
  fs::resize_file(file, uint64_t{1} << 20);
  ExpectFiftyEntries();
}

// Damage to a frame that has frames after it, or to any older segment, was
// synced data: it is an error naming the file and offset, never cut off.
TEST_F(WalLogStorageTest, CorruptSyncedFrame_FailsOpenNamingFileAndOffset) {
  const std::string file = WriteFiftyEntries();
  OverwriteAt(file, DataEnd(file) / 2, "\xde\xad\xbe\xef");
  auto log = Open();
  ASSERT_FALSE(log.ok()) << "a corrupt frame must never be skipped silently";
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(log.status().message(),
                               "corrupt raft log in " + file + " at offset "))
      << log.status();
  EXPECT_TRUE(absl::EndsWith(log.status().message(),
                             "; restore this node from a healthy peer"))
      << log.status();
  // The opens that failed changed nothing: it fails the same way again.
  EXPECT_EQ(Open().status(), log.status());
}

TEST_F(WalLogStorageTest, TearInAnOlderSegment_IsCorruption) {
  const std::string file = WriteFiftyEntries();
  ExpectFiftyEntries();  // the reopen started a newer segment
  OverwriteAt(file, DataEnd(file), std::string("\x00\x00\x01\x00\x12\x34", 6));
  auto log = Open();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(
      absl::StartsWith(log.status().message(), "corrupt raft log in " + file))
      << log.status();
}

TEST_F(WalLogStorageTest, MissingSegment_FailsOpenNamingTheMissingEntries) {
  std::vector<std::string> files;
  {
    auto log = Open(nullptr, 16 << 20, /*segment_bytes=*/1000);
    ASSERT_TRUE(log.ok());
    for (raft::LogIndex i = 1; i <= 100; i += 10)
      ASSERT_TRUE((*log)->Save(std::nullopt, Range(i, i + 9, 1)).ok());
    files = (*log)->SegmentFiles();
  }
  ASSERT_GE(files.size(), 4u);
  fs::remove(path() + "/" + files[1]);
  auto log = Open();
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(
      absl::StrContains(log.status().message(),
                        "raft log in " + path() + " is missing entries 1 to "))
      << log.status();
  EXPECT_TRUE(fs::exists(path() + "/" + files[0]))
      << "a failed open removes nothing";
}

TEST_F(WalLogStorageTest, Compact_RemovesSegmentsOfCompactedEntriesOnly) {
  auto log = Open(nullptr, 16 << 20, /*segment_bytes=*/1000);
  ASSERT_TRUE(log.ok());
  for (raft::LogIndex i = 1; i <= 200; i += 10)
    ASSERT_TRUE((*log)->Save(std::nullopt, Range(i, i + 9, 1)).ok());
  const std::vector<std::string> before = (*log)->SegmentFiles();
  ASSERT_GE(before.size(), 8u);
  ASSERT_TRUE((*log)->Compact(100, raft::ConfState{{1}, {}, {}}).ok());
  const std::vector<std::string> after = (*log)->SegmentFiles();
  EXPECT_LT(after.size(), before.size());
  EXPECT_GT(after.size(), 1u);
  for (const std::string& file : before) {
    const bool kept =
        std::find(after.begin(), after.end(), file) != after.end();
    EXPECT_EQ(fs::exists(path() + "/" + file), kept) << file;
  }
  log->reset();
  log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->FirstIndex(), 101u);
  auto entries = (*log)->Entries(101, 201, kNoByteLimit);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(*entries, Range(101, 200, 1));
  ASSERT_TRUE((*log)->Compact(200, raft::ConfState{{1}, {}, {}}).ok());
  EXPECT_EQ((*log)->SegmentFiles().size(), 1u);
}

TEST_F(WalLogStorageTest, DiskFull_FailsSaveWithMessageAndEveryWriteAfter) {
  FaultInjectionEnv env;
  {
    auto log = Open(&env);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE((*log)->Save(std::nullopt, Range(1, 3, 1)).ok());
    env.SetWriteError(
        leveldb::Status::IOError(Newest(**log), "No space left on device"));
    absl::Status full = (*log)->Save(std::nullopt, Range(4, 6, 1));
    EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_TRUE(absl::StartsWith(
        full.message(), "disk full while appending to the log in " + path()))
        << full;
    EXPECT_TRUE(
        absl::EndsWith(full.message(), "free space on that disk and retry"))
        << full;
    EXPECT_EQ((*log)->LastIndex(), 3u);  // the failed batch is not half-applied
    env.SetWriteError(leveldb::Status::OK());
    // What reached the file is unknown: nothing more is appended behind it.
    EXPECT_EQ((*log)->Save(std::nullopt, Range(4, 6, 1)), full);
    EXPECT_EQ((*log)->Compact(2, {}), full);
  }
  auto log = Open(&env);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LastIndex(), 3u);
}

TEST_F(WalLogStorageTest, PermissionDenied_FailsOpenWithMessage) {
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

TEST_F(WalLogStorageTest, Entries_RecentOnesComeFromCacheOlderOnesFromFiles) {
  auto log = Open(nullptr, /*cache_bytes=*/100 * Range(1, 1, 1)[0].ByteSize(),
                  /*segment_bytes=*/4000);
  ASSERT_TRUE(log.ok());
  for (raft::LogIndex i = 1; i <= 300; i += 30)
    ASSERT_TRUE((*log)->Save(std::nullopt, Range(i, i + 29, 1)).ok());
  ASSERT_TRUE((*log)->Entries(250, 301, kNoByteLimit).ok());
  ASSERT_TRUE((*log)->TermAt(1).ok());  // terms are always in memory
  EXPECT_EQ((*log)->entries_read_from_disk(), 0u);
  auto old = (*log)->Entries(1, 151, kNoByteLimit);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(*old, Range(1, 150, 1));
  EXPECT_EQ((*log)->entries_read_from_disk(), 150u);
}

// Segments older than a gap in the sequence are what a compaction left when
// the machine stopped between its removals: they go at the next open.
TEST_F(WalLogStorageTest, LeftoverSegmentBeforeAGap_IsRemovedAtOpen) {
  std::vector<std::string> files;
  {
    auto log = Open(nullptr, 16 << 20, /*segment_bytes=*/1000);
    ASSERT_TRUE(log.ok());
    for (raft::LogIndex i = 1; i <= 100; i += 10)
      ASSERT_TRUE((*log)->Save(std::nullopt, Range(i, i + 9, 1)).ok());
    ASSERT_TRUE((*log)->Compact(80, raft::ConfState{{1}, {}, {}}).ok());
    files = (*log)->SegmentFiles();
  }
  ASSERT_NE(files.front(), wal::SegmentName(1));
  const std::string leftover = path() + "/" + wal::SegmentName(1);
  AppendBytes(leftover, "whatever a removed segment held");
  auto log = Open();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_FALSE(fs::exists(leftover));
  auto entries = (*log)->Entries(81, 101, kNoByteLimit);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(*entries, Range(81, 100, 1));
}

}  // namespace
}  // namespace raftkv::storage

// Both staging implementations behave alike: a transfer is staged, read back
// in bounded chunks, kept or discarded as Begin says; the file staging also
// clears what an earlier run left behind.
#include "storage/snapshot_staging.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/temp_dir.h"

namespace raftkv::storage {
namespace {

std::string ReadAll(const SnapshotStaging& staging, uint64_t transfer,
                    size_t chunk, int* chunks) {
  auto reader = staging.Open(transfer);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return "";
  std::string out;
  *chunks = 0;
  while (true) {
    auto next = (*reader)->Next(chunk);
    EXPECT_TRUE(next.ok());
    if (!next.ok() || !next->has_value()) break;
    EXPECT_LE((*next)->size(), chunk);
    out += **next;
    ++*chunks;
  }
  return out;
}

void Conformance(SnapshotStaging& staging) {
  ASSERT_TRUE(staging.Begin(7, 0).ok());
  ASSERT_TRUE(staging.Append(7, "hello ").ok());
  ASSERT_TRUE(staging.Append(7, "world").ok());
  int chunks = 0;
  EXPECT_EQ(ReadAll(staging, 7, 4, &chunks), "hello world");
  EXPECT_EQ(chunks, 3);
  // A new transfer keeps the one named, and drops the rest.
  ASSERT_TRUE(staging.Begin(8, 7).ok());
  ASSERT_TRUE(staging.Append(8, "x").ok());
  ASSERT_TRUE(staging.Begin(9, 8).ok());
  EXPECT_TRUE(absl::IsNotFound(staging.Open(7).status()));
  EXPECT_EQ(ReadAll(staging, 8, 100, &chunks), "x");
  EXPECT_TRUE(absl::IsNotFound(staging.Append(7, "late")));
  ASSERT_TRUE(staging.Discard(8).ok());
  EXPECT_TRUE(absl::IsNotFound(staging.Open(8).status()));
  EXPECT_EQ(ReadAll(staging, 9, 100, &chunks), "");
}

TEST(SnapshotStagingTest, Memory) {
  MemorySnapshotStaging staging;
  Conformance(staging);
}

TEST(SnapshotStagingTest, File) {
  auto dir = testing::MakeTempDir("staging");
  ASSERT_TRUE(dir.ok());
  auto staging = FileSnapshotStaging::Open(dir->path() + "/staging");
  ASSERT_TRUE(staging.ok()) << staging.status();
  Conformance(**staging);
}

TEST(SnapshotStagingTest, File_OpenClearsWhatAnEarlierRunLeft) {
  auto dir = testing::MakeTempDir("staging");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir->path() + "/staging";
  {
    auto staging = FileSnapshotStaging::Open(path);
    ASSERT_TRUE(staging.ok());
    ASSERT_TRUE((*staging)->Begin(5, 0).ok());
    ASSERT_TRUE((*staging)->Append(5, std::string(1000, 'z')).ok());
  }
  auto reopened = FileSnapshotStaging::Open(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(absl::IsNotFound((*reopened)->Open(5).status()));
  EXPECT_TRUE(std::filesystem::is_empty(path));
}

}  // namespace
}  // namespace raftkv::storage

#include "testing/temp_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace raftkv::testing {
namespace {

TEST(TempDirTest, MakeTempDir_CreatesDistinctEmptyDirsAndRemovesThem) {
  std::string first_path;
  {
    absl::StatusOr<TempDir> first = MakeTempDir("temp_dir_test");
    absl::StatusOr<TempDir> second = MakeTempDir("temp_dir_test");
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_NE(first->path(), second->path());
    EXPECT_TRUE(std::filesystem::is_directory(first->path()));
    EXPECT_TRUE(std::filesystem::is_empty(first->path()));
    std::ofstream(first->path() + "/file") << "data";
    first_path = first->path();
  }
  EXPECT_FALSE(std::filesystem::exists(first_path));
}

TEST(TempDirTest, MakeTempDir_FailsWithPathInMessage) {
  setenv("TEST_TMPDIR", "/nonexistent/raftkv", 1);
  absl::StatusOr<TempDir> dir = MakeTempDir("x");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("/nonexistent/raftkv/x."),
            absl::string_view::npos)
      << dir.status();
}

}  // namespace
}  // namespace raftkv::testing

// Fresh, uniquely named directories for tests and benchmarks.
//
// Under `bazel test` they live below $TEST_TMPDIR, which Bazel cleans;
// elsewhere (a benchmark started with `bazel run`) below $TMPDIR or /tmp. A
// TempDir removes its tree when destroyed. Thread safety: MakeTempDir may be
// called from any thread; a TempDir object is not shared. Invariant: path()
// exists and is empty when MakeTempDir returns.
#ifndef RAFTKV_TESTING_TEMP_DIR_H_
#define RAFTKV_TESTING_TEMP_DIR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::testing {

class TempDir {
 public:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Creates a new directory whose name starts with `prefix`.
absl::StatusOr<TempDir> MakeTempDir(absl::string_view prefix);

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_TEMP_DIR_H_

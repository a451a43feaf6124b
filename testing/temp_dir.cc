#include "testing/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace raftkv::testing {

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

absl::StatusOr<TempDir> MakeTempDir(absl::string_view prefix) {
  const char* root = getenv("TEST_TMPDIR");
  if (root == nullptr || *root == '\0') root = getenv("TMPDIR");
  if (root == nullptr || *root == '\0') root = "/tmp";
  std::string pattern = absl::StrCat(root, "/", prefix, ".XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory like ", pattern, ": ",
                     strerror(errno)));
  }
  return TempDir(std::move(pattern));
}

}  // namespace raftkv::testing

// Small POSIX file helpers for the stores' own files (outside LevelDB):
// whole-file atomic replacement with fsync, directory fsync, and an exclusive
// lock on a data directory.
//
// Errors are one-line absl::Status messages naming the path and, for the errors
// a user can fix, what to do (disk full, permission denied, directory in use).
// Thread safety: functions are thread-safe; a DirectoryLock is owned by one
// object. Invariant: a DirectoryLock holds its flock() until destroyed.
#ifndef RAFTKV_STORAGE_FILE_UTIL_H_
#define RAFTKV_STORAGE_FILE_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::storage {

// The one-line errors a user can act on, shared by the POSIX and LevelDB paths.
// `detail` is the system's own words; `what` says what was being done
// ("opening").
absl::Status DirectoryInUseError(absl::string_view path);
absl::Status DiskFullError(absl::string_view what, absl::string_view path,
                           absl::string_view detail);
absl::Status PermissionError(absl::string_view what, absl::string_view path,
                             absl::string_view detail);
absl::Status IoError(absl::string_view what, absl::string_view path,
                     absl::string_view detail);

// Maps an errno from `what`ing `path` to a status, as LevelDbError does for
// LevelDB.
absl::Status PosixError(int error_number, absl::string_view what,
                        absl::string_view path);

// Creates `path` and any missing parents.
absl::Status MakeDirectories(const std::string& path);

absl::Status SyncDirectory(const std::string& path);

// Replaces `path` with `contents` so that a crash leaves either the old or the
// new file: writes path.tmp, fsyncs it, renames it over `path`, fsyncs the
// directory.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// The whole file; kNotFound if it does not exist.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// The bytes of the regular files directly in `path` (0 if it cannot be read).
uint64_t DirectoryBytes(const std::string& path);

// An exclusive advisory lock on `dir`/LOCK, held for the object's lifetime.
class DirectoryLock {
 public:
  static absl::StatusOr<DirectoryLock> Acquire(const std::string& dir);
  DirectoryLock(DirectoryLock&& other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
  }
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_FILE_UTIL_H_

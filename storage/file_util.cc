#include "storage/file_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace raftkv::storage {

absl::Status DirectoryInUseError(absl::string_view path) {
  return absl::FailedPreconditionError(
      absl::StrCat("data directory ", path,
                   " is in use by another process (its LOCK file is held); ",
                   "stop the other kvnode or choose another --data-dir"));
}

absl::Status DiskFullError(absl::string_view what, absl::string_view path,
                           absl::string_view detail) {
  return absl::ResourceExhaustedError(
      absl::StrCat("disk full while ", what, " ", path, ": ", detail,
                   "; free space on that disk and retry"));
}

absl::Status PermissionError(absl::string_view what, absl::string_view path,
                             absl::string_view detail) {
  return absl::PermissionDeniedError(
      absl::StrCat("permission denied while ", what, " ", path, ": ", detail,
                   "; make the data directory writable by this user"));
}

absl::Status IoError(absl::string_view what, absl::string_view path,
                     absl::string_view detail) {
  return absl::UnavailableError(
      absl::StrCat("I/O error while ", what, " ", path, ": ", detail));
}

absl::Status PosixError(int error_number, absl::string_view what,
                        absl::string_view path) {
  const char* reason = strerror(error_number);
  switch (error_number) {
    case ENOSPC:
    case EDQUOT:
      return DiskFullError(what, path, reason);
    case EACCES:
    case EPERM:
    case EROFS:
      return PermissionError(what, path, reason);
    case EWOULDBLOCK:
      return DirectoryInUseError(path);
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(what, " ", path, ": ", reason));
    default:
      return IoError(what, path, reason);
  }
}

absl::Status MakeDirectories(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) return PosixError(error.value(), "creating", path);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError(errno, "opening directory", path);
  int result = fsync(fd);
  int error_number = errno;
  close(fd);
  if (result != 0) return PosixError(error_number, "syncing directory", path);
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  const std::string temp = path + ".tmp";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError(errno, "creating", temp);
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error_number = errno;
      close(fd);
      return PosixError(error_number, "writing", temp);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int error_number = errno;
    close(fd);
    return PosixError(error_number, "syncing", temp);
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0)
    return PosixError(errno, "renaming", temp);
  return SyncDirectory(std::filesystem::path(path).parent_path().string());
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(errno, "reading", path);
  std::string contents;
  char buffer[64 << 10];  // the Raft log's segments run to 64 MiB
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error_number = errno;
      close(fd);
      return PosixError(error_number, "reading", path);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return contents;
}

absl::StatusOr<DirectoryLock> DirectoryLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/LOCK";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError(errno, "opening", path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error_number = errno;
    close(fd);
    return PosixError(error_number, "locking", dir);
  }
  return DirectoryLock(fd);
}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) close(fd_);
}

uint64_t DirectoryBytes(const std::string& path) {
  std::error_code error;
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    std::error_code size_error;
    if (entry.is_regular_file(size_error)) {
      const uintmax_t size = entry.file_size(size_error);
      if (!size_error) total += size;
    }
  }
  return total;
}

}  // namespace raftkv::storage

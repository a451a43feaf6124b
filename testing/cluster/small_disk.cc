#include "testing/cluster/small_disk.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace raftkv::testing {
namespace {

namespace fs = std::filesystem;

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) bytes += entry.file_size(error);
  }
  return bytes;
}

absl::Status Errno(const std::string& what) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": ", strerror(errno)));
}

// Copies a file leaving its runs of zeros as holes, as `cp --sparse=always`
// does: the Raft log's segments are preallocated, and their unwritten space
// must not take the small disk's room (a compaction that removed such a copy
// would free 64 MiB, and the disk would never fill).
absl::Status CopySparse(const fs::path& from, const fs::path& to) {
  const int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("opening " + from.string());
  const int out =
      open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    close(in);
    return Errno("creating " + to.string());
  }
  static const std::string kZeros(64 << 10, '\0');
  std::string block(kZeros.size(), '\0');
  off_t size = 0;
  absl::Status status;
  for (;;) {
    const ssize_t n = read(in, block.data(), block.size());
    if (n < 0) status = Errno("reading " + from.string());
    if (n <= 0) break;
    if (block.compare(0, n, kZeros, 0, n) != 0 &&
        pwrite(out, block.data(), n, size) != n) {
      status = Errno("writing " + to.string());
      break;
    }
    size += n;
  }
  if (status.ok() && ftruncate(out, size) != 0)
    status = Errno("sizing " + to.string());
  close(in);
  close(out);
  return status;
}

absl::Status CopyTreeSparse(const fs::path& from, const fs::path& to) {
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(from, error)) {
    const fs::path target = to / fs::relative(entry.path(), from);
    if (entry.is_directory()) {
      fs::create_directories(target, error);
    } else if (entry.is_regular_file()) {
      absl::Status copied = CopySparse(entry.path(), target);
      if (!copied.ok()) return copied;
    }
    if (error) return absl::InternalError(error.message());
  }
  if (error) return absl::InternalError(error.message());
  return absl::OkStatus();
}

}  // namespace

std::string EnterPrivateMounts() {
  if (unshare(CLONE_NEWNS) != 0)
    return absl::StrCat("unshare(CLONE_NEWNS): ", strerror(errno));
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return absl::StrCat("making / private: ", strerror(errno));
  return "";
}

absl::StatusOr<std::unique_ptr<SmallDisk>> SmallDisk::Mount(
    const std::string& dir, uint64_t free_bytes) {
  const std::string saved = dir + ".large";
  std::error_code error;
  fs::rename(dir, saved, error);
  if (error)
    return absl::InternalError("moving the data aside: " + error.message());
  fs::create_directories(dir, error);
  // Room for the data, LevelDB's next files, and the free bytes asked for.
  const uint64_t size = DirectoryBytes(saved) + (16 << 20) + free_bytes;
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0,
            absl::StrCat("size=", size).c_str()) != 0) {
    absl::Status status = Errno("mounting a small tmpfs (needs root)");
    fs::remove(dir, error);
    fs::rename(saved, dir, error);
    return status;
  }
  auto disk = std::unique_ptr<SmallDisk>(new SmallDisk(dir));
  absl::Status copied = CopyTreeSparse(saved, dir);
  if (!copied.ok())
    return absl::InternalError("copying the data: " +
                               std::string(copied.message()));
  fs::remove_all(saved, error);
  struct statvfs stats;
  if (statvfs(dir.c_str(), &stats) != 0) return Errno("statvfs");
  const uint64_t available = stats.f_bavail * stats.f_frsize;
  if (available > free_bytes) {
    std::ofstream filler(dir + "/.filler", std::ios::binary);
    const std::string block(1 << 20, 'f');
    uint64_t left = available - free_bytes;
    while (left > 0 && filler) {
      const uint64_t n = std::min<uint64_t>(left, block.size());
      filler.write(block.data(), static_cast<std::streamsize>(n));
      left -= n;
    }
  }
  return disk;
}

absl::Status SmallDisk::Unmount() {
  if (!mounted_) return absl::OkStatus();
  const std::string saved = dir_ + ".large";
  std::error_code error;
  fs::remove(dir_ + "/.filler", error);
  fs::remove_all(saved, error);
  fs::copy(dir_, saved, fs::copy_options::recursive, error);
  if (error)
    return absl::InternalError("copying the data back: " + error.message());
  if (umount2(dir_.c_str(), MNT_DETACH) != 0) return Errno("umount");
  mounted_ = false;
  fs::remove_all(dir_, error);
  fs::rename(saved, dir_, error);
  if (error)
    return absl::InternalError("moving the data back: " + error.message());
  return absl::OkStatus();
}

SmallDisk::~SmallDisk() {
  if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
}

}  // namespace raftkv::testing

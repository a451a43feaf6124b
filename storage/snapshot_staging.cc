#include "storage/snapshot_staging.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "raft/status_macros.h"
#include "storage/file_util.h"

namespace raftkv::storage {
namespace {

constexpr char kSuffix[] = ".snapshot";

class FileReader final : public StagedSnapshotReader {
 public:
  FileReader(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileReader() override { close(fd_); }
  absl::StatusOr<std::optional<std::string>> Next(size_t max_bytes) override {
    std::string out(max_bytes, '\0');
    size_t filled = 0;
    while (filled < max_bytes) {
      const ssize_t n = read(fd_, out.data() + filled, max_bytes - filled);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return PosixError(errno, "reading", path_);
      if (n == 0) break;
      filled += static_cast<size_t>(n);
    }
    if (filled == 0) return std::nullopt;
    out.resize(filled);
    return out;
  }

 private:
  const int fd_;
  const std::string path_;
};

class MemoryReader final : public StagedSnapshotReader {
 public:
  explicit MemoryReader(std::shared_ptr<const std::string> data)
      : data_(std::move(data)) {}
  absl::StatusOr<std::optional<std::string>> Next(size_t max_bytes) override {
    if (offset_ >= data_->size()) return std::nullopt;
    std::string out = data_->substr(offset_, max_bytes);
    offset_ += out.size();
    return out;
  }

 private:
  std::shared_ptr<const std::string> data_;
  size_t offset_ = 0;
};

absl::Status UnknownTransfer(uint64_t transfer) {
  return absl::NotFoundError(
      absl::StrCat("snapshot transfer ", transfer, " is not staged"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileSnapshotStaging>> FileSnapshotStaging::Open(
    const std::string& dir) {
  RETURN_IF_ERROR(MakeDirectories(dir));
  auto staging =
      std::unique_ptr<FileSnapshotStaging>(new FileSnapshotStaging(dir));
  raftkv::MutexLock lock(&staging->mu_);
  RETURN_IF_ERROR(staging->RemoveAllBut(0));
  return staging;
}

std::string FileSnapshotStaging::PathOf(uint64_t transfer) const {
  return absl::StrCat(dir_, "/", transfer, kSuffix);
}

absl::Status FileSnapshotStaging::RemoveAllBut(uint64_t keep) {
  const std::string kept = absl::StrCat(keep, kSuffix);
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
    if (keep != 0 && entry.path().filename().string() == kept) continue;
    std::filesystem::remove(entry.path(), error);
    if (error)
      return PosixError(error.value(), "removing", entry.path().string());
  }
  if (error) return PosixError(error.value(), "listing", dir_);
  return absl::OkStatus();
}

absl::Status FileSnapshotStaging::Begin(uint64_t transfer, uint64_t keep) {
  raftkv::MutexLock lock(&mu_);
  RETURN_IF_ERROR(RemoveAllBut(keep));
  const std::string path = PathOf(transfer);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return PosixError(errno, "creating", path);
  close(fd);
  return absl::OkStatus();
}

absl::Status FileSnapshotStaging::Append(uint64_t transfer,
                                         absl::string_view data) {
  const std::string path = PathOf(transfer);
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND);
  if (fd < 0) {
    if (errno == ENOENT) return UnknownTransfer(transfer);
    return PosixError(errno, "opening", path);
  }
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return PosixError(error, "writing", path);
    }
    written += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return PosixError(errno, "closing", path);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StagedSnapshotReader>> FileSnapshotStaging::Open(
    uint64_t transfer) const {
  const std::string path = PathOf(transfer);
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    if (errno == ENOENT) return UnknownTransfer(transfer);
    return PosixError(errno, "opening", path);
  }
  return std::make_unique<FileReader>(fd, path);
}

absl::Status FileSnapshotStaging::Discard(uint64_t transfer) {
  raftkv::MutexLock lock(&mu_);
  std::error_code error;
  std::filesystem::remove(PathOf(transfer), error);
  if (error) return PosixError(error.value(), "removing", PathOf(transfer));
  return absl::OkStatus();
}

absl::Status MemorySnapshotStaging::Begin(uint64_t transfer, uint64_t keep) {
  raftkv::MutexLock lock(&mu_);
  for (auto it = staged_.begin(); it != staged_.end();) {
    it = it->first == keep ? std::next(it) : staged_.erase(it);
  }
  staged_[transfer] = std::make_shared<std::string>();
  return absl::OkStatus();
}

absl::Status MemorySnapshotStaging::Append(uint64_t transfer,
                                           absl::string_view data) {
  raftkv::MutexLock lock(&mu_);
  auto it = staged_.find(transfer);
  if (it == staged_.end()) return UnknownTransfer(transfer);
  it->second->append(data.data(), data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StagedSnapshotReader>>
MemorySnapshotStaging::Open(uint64_t transfer) const {
  raftkv::MutexLock lock(&mu_);
  auto it = staged_.find(transfer);
  if (it == staged_.end()) return UnknownTransfer(transfer);
  return std::make_unique<MemoryReader>(it->second);
}

absl::Status MemorySnapshotStaging::Discard(uint64_t transfer) {
  raftkv::MutexLock lock(&mu_);
  staged_.erase(transfer);
  return absl::OkStatus();
}

void MemorySnapshotStaging::Clear() {
  raftkv::MutexLock lock(&mu_);
  staged_.clear();
}

}  // namespace raftkv::storage

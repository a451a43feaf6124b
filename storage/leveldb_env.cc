#include "storage/leveldb_env.h"

#include <leveldb/options.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/file_util.h"

namespace raftkv::storage {
namespace {

thread_local std::string last_file_read;

class TrackedSequentialFile final : public leveldb::SequentialFile {
 public:
  TrackedSequentialFile(std::string name, leveldb::SequentialFile* file)
      : name_(std::move(name)), file_(file) {}
  leveldb::Status Read(size_t n, leveldb::Slice* result,
                       char* scratch) override {
    last_file_read = name_;
    return file_->Read(n, result, scratch);
  }
  leveldb::Status Skip(uint64_t n) override { return file_->Skip(n); }

 private:
  std::string name_;
  std::unique_ptr<leveldb::SequentialFile> file_;
};

class TrackedRandomAccessFile final : public leveldb::RandomAccessFile {
 public:
  TrackedRandomAccessFile(std::string name, leveldb::RandomAccessFile* file)
      : name_(std::move(name)), file_(file) {}
  leveldb::Status Read(uint64_t offset, size_t n, leveldb::Slice* result,
                       char* scratch) const override {
    last_file_read = name_;
    return file_->Read(offset, n, result, scratch);
  }

 private:
  std::string name_;
  std::unique_ptr<leveldb::RandomAccessFile> file_;
};

}  // namespace

leveldb::Status FileTrackingEnv::NewSequentialFile(
    const std::string& name, leveldb::SequentialFile** result) {
  leveldb::SequentialFile* file = nullptr;
  leveldb::Status status = target()->NewSequentialFile(name, &file);
  *result = status.ok() ? new TrackedSequentialFile(name, file) : nullptr;
  return status;
}

leveldb::Status FileTrackingEnv::NewRandomAccessFile(
    const std::string& name, leveldb::RandomAccessFile** result) {
  leveldb::RandomAccessFile* file = nullptr;
  leveldb::Status status = target()->NewRandomAccessFile(name, &file);
  *result = status.ok() ? new TrackedRandomAccessFile(name, file) : nullptr;
  return status;
}

const std::string& FileTrackingEnv::LastFileRead() { return last_file_read; }

absl::Status LevelDbError(const leveldb::Status& status, absl::string_view what,
                          absl::string_view path) {
  const std::string detail = status.ToString();
  if (status.IsCorruption()) {
    const std::string& file = FileTrackingEnv::LastFileRead();
    const std::string where = (!file.empty() && absl::StartsWith(file, path))
                                  ? file
                                  : std::string(path);
    return absl::DataLossError(
        absl::StrCat("corrupt data in ", where, " while ", what, ": ", detail,
                     "; this replica's data cannot be trusted: restore the "
                     "node from a healthy peer"));
  }
  if (absl::StrContains(detail, "LOCK") &&
      (absl::StrContains(detail, "already held") ||
       absl::StrContains(detail, "temporarily unavailable"))) {
    return DirectoryInUseError(path);
  }
  if (absl::StrContains(detail, "No space left on device")) {
    return DiskFullError(what, path, detail);
  }
  if (absl::StrContains(detail, "Permission denied") ||
      absl::StrContains(detail, "Read-only file system")) {
    return PermissionError(what, path, detail);
  }
  if (status.IsInvalidArgument()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, ": ", detail));
  }
  return IoError(what, path, detail);
}

absl::StatusOr<LevelDbHandle> OpenLevelDb(const std::string& path,
                                          const LevelDbOpenOptions& options) {
  LevelDbHandle handle;
  handle.path = path;
  handle.env = std::make_unique<FileTrackingEnv>(
      options.base_env != nullptr ? options.base_env : leveldb::Env::Default());
  leveldb::Status created = handle.env->CreateDir(path);
  if (!created.ok() && !handle.env->FileExists(path)) {
    return LevelDbError(created, "creating", path);
  }
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  db_options.paranoid_checks = true;
  db_options.env = handle.env.get();
  db_options.write_buffer_size = options.write_buffer_bytes;
  leveldb::DB* db = nullptr;
  leveldb::Status status = leveldb::DB::Open(db_options, path, &db);
  if (!status.ok()) return LevelDbError(status, "opening", path);
  handle.db.reset(db);
  return handle;
}

}  // namespace raftkv::storage

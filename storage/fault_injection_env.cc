#include "storage/fault_injection_env.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace raftkv::storage {
namespace {

class TrackedWritableFile final : public leveldb::WritableFile {
 public:
  TrackedWritableFile(FaultInjectionEnv* env, std::string name, uint64_t size,
                      leveldb::WritableFile* file)
      : env_(env), name_(std::move(name)), size_(size), file_(file) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    leveldb::Status error = env_->WriteStatus();
    if (!error.ok()) return error;
    if (!env_->active()) return leveldb::Status::OK();  // lost with the power
    leveldb::Status status = file_->Append(data);
    if (status.ok()) {
      size_ += data.size();
      env_->RecordWrite(name_, size_);
    }
    return status;
  }
  leveldb::Status Close() override { return file_->Close(); }
  leveldb::Status Flush() override {
    if (!env_->active()) return leveldb::Status::OK();
    return file_->Flush();
  }
  leveldb::Status Sync() override {
    leveldb::Status error = env_->WriteStatus();
    if (!error.ok()) return error;
    if (!env_->active()) return leveldb::Status::OK();
    leveldb::Status status = file_->Sync();
    if (status.ok()) env_->RecordSync(name_);
    return status;
  }

 private:
  FaultInjectionEnv* env_;
  std::string name_;
  uint64_t size_;
  std::unique_ptr<leveldb::WritableFile> file_;
};

}  // namespace

leveldb::Status FaultInjectionEnv::WrapFile(const std::string& name,
                                            uint64_t initial_size,
                                            leveldb::WritableFile* file,
                                            leveldb::WritableFile** result) {
  {
    raftkv::MutexLock lock(&mu_);
    FileState& state = files_[name];
    state.size = initial_size;
    state.synced_size = initial_size;
  }
  *result = new TrackedWritableFile(this, name, initial_size, file);
  return leveldb::Status::OK();
}

leveldb::Status FaultInjectionEnv::NewWritableFile(
    const std::string& name, leveldb::WritableFile** result) {
  *result = nullptr;
  leveldb::Status error = WriteStatus();
  if (!error.ok()) return error;
  leveldb::WritableFile* file = nullptr;
  leveldb::Status status = target()->NewWritableFile(name, &file);
  if (!status.ok()) return status;
  return WrapFile(name, 0, file, result);
}

leveldb::Status FaultInjectionEnv::NewAppendableFile(
    const std::string& name, leveldb::WritableFile** result) {
  *result = nullptr;
  leveldb::Status error = WriteStatus();
  if (!error.ok()) return error;
  uint64_t size = 0;
  if (!target()->GetFileSize(name, &size).ok()) size = 0;
  leveldb::WritableFile* file = nullptr;
  leveldb::Status status = target()->NewAppendableFile(name, &file);
  if (!status.ok()) return status;
  return WrapFile(name, size, file, result);
}

leveldb::Status FaultInjectionEnv::RemoveFile(const std::string& name) {
  leveldb::Status status = target()->RemoveFile(name);
  if (status.ok()) {
    raftkv::MutexLock lock(&mu_);
    files_.erase(name);
  }
  return status;
}

leveldb::Status FaultInjectionEnv::RenameFile(const std::string& from,
                                              const std::string& to) {
  leveldb::Status error = WriteStatus();
  if (!error.ok()) return error;
  leveldb::Status status = target()->RenameFile(from, to);
  if (status.ok()) {
    raftkv::MutexLock lock(&mu_);
    auto it = files_.find(from);
    if (it != files_.end()) {
      files_[to] = it->second;
      files_.erase(from);
    }
  }
  return status;
}

leveldb::Status FaultInjectionEnv::CreateDir(const std::string& name) {
  leveldb::Status error = WriteStatus();
  if (!error.ok()) return error;
  return target()->CreateDir(name);
}

void FaultInjectionEnv::SetWriteError(const leveldb::Status& status) {
  raftkv::MutexLock lock(&mu_);
  write_error_ = status;
}

void FaultInjectionEnv::SetFilesystemActive(bool active) {
  raftkv::MutexLock lock(&mu_);
  active_ = active;
}

leveldb::Status FaultInjectionEnv::WriteStatus() {
  raftkv::MutexLock lock(&mu_);
  return write_error_;
}

bool FaultInjectionEnv::active() {
  raftkv::MutexLock lock(&mu_);
  return active_;
}

void FaultInjectionEnv::RecordWrite(const std::string& name, uint64_t size) {
  raftkv::MutexLock lock(&mu_);
  files_[name].size = size;
}

void FaultInjectionEnv::RecordSync(const std::string& name) {
  raftkv::MutexLock lock(&mu_);
  FileState& state = files_[name];
  state.synced_size = state.size;
}

leveldb::Status FaultInjectionEnv::DropUnsyncedData() {
  raftkv::MutexLock lock(&mu_);
  for (auto& [name, state] : files_) {
    if (state.size == state.synced_size) continue;
    if (truncate(name.c_str(), static_cast<off_t>(state.synced_size)) != 0) {
      return leveldb::Status::IOError(name, strerror(errno));
    }
    state.size = state.synced_size;
  }
  return leveldb::Status::OK();
}

}  // namespace raftkv::storage

// FaultInjectionEnv: a leveldb::EnvWrapper that simulates power cuts and
// failing disks.
//
// After LevelDB's own db/fault_injection_test.cc: it tracks, for every file
// written through it, how much has been synced. DropUnsyncedData() truncates
// each such file to its synced length, which is what a power cut leaves on
// disk. SetWriteError() makes every later write, sync and file creation fail
// with a chosen status (disk full, permission denied), and
// SetFilesystemActive(false) makes writes fail silently, as a machine that lost
// power mid-write. Files are assumed to keep their directory entries (LevelDB
// syncs the directory for the MANIFEST only; ext4 with the default data=ordered
// keeps synced files' entries). Thread safety: all methods are thread-safe
// (LevelDB writes from its background thread). Invariant: synced_size <= size
// for every tracked file.
#ifndef RAFTKV_STORAGE_FAULT_INJECTION_ENV_H_
#define RAFTKV_STORAGE_FAULT_INJECTION_ENV_H_

#include <leveldb/env.h>
#include <leveldb/status.h>

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "raft/mutex.h"

namespace raftkv::storage {

class FaultInjectionEnv final : public leveldb::EnvWrapper {
 public:
  FaultInjectionEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** result) override;
  leveldb::Status RemoveFile(const std::string& name) override;
  leveldb::Status RenameFile(const std::string& from,
                             const std::string& to) override;
  leveldb::Status CreateDir(const std::string& name) override;

  // Every later write, sync, file or directory creation fails with `status`; OK
  // clears it.
  void SetWriteError(const leveldb::Status& status);
  // When inactive, writes and syncs report success but change nothing on disk.
  void SetFilesystemActive(bool active);
  // Truncates every tracked file to what was synced. Call after closing the
  // database.
  leveldb::Status DropUnsyncedData();

  // Called by the tracked files.
  leveldb::Status WriteStatus();
  bool active();
  void RecordWrite(const std::string& name, uint64_t size);
  void RecordSync(const std::string& name);

 private:
  struct FileState {
    uint64_t size = 0;
    uint64_t synced_size = 0;
  };
  leveldb::Status WrapFile(const std::string& name, uint64_t initial_size,
                           leveldb::WritableFile* file,
                           leveldb::WritableFile** result);

  raftkv::Mutex mu_;
  leveldb::Status write_error_ ABSL_GUARDED_BY(mu_);
  bool active_ ABSL_GUARDED_BY(mu_) = true;
  absl::flat_hash_map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_FAULT_INJECTION_ENV_H_

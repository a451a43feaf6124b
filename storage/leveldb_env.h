// Opening LevelDB databases the way every raftkv store needs them, and turning
// LevelDB's errors into one-line absl::Status messages that name the file or
// directory and the fix.
//
// OpenLevelDb creates the directory, turns on paranoid_checks, and wraps the
// Env in a FileTrackingEnv that remembers, per thread, the last file LevelDB
// read; a Corruption status is then reported with that file's name even where
// LevelDB's own message omits it. Thread safety: OpenLevelDb and LevelDbError
// are thread-safe. A LevelDbHandle is used from any thread as leveldb::DB is.
// Invariant: a handle's env outlives its db.
#ifndef RAFTKV_STORAGE_LEVELDB_ENV_H_
#define RAFTKV_STORAGE_LEVELDB_ENV_H_

#include <leveldb/db.h>
#include <leveldb/env.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::storage {

// An EnvWrapper that records, per thread, the name of the last file read
// through it.
class FileTrackingEnv final : public leveldb::EnvWrapper {
 public:
  explicit FileTrackingEnv(leveldb::Env* target)
      : leveldb::EnvWrapper(target) {}

  leveldb::Status NewSequentialFile(const std::string& name,
                                    leveldb::SequentialFile** result) override;
  leveldb::Status NewRandomAccessFile(
      const std::string& name, leveldb::RandomAccessFile** result) override;

  // The last file this thread read through any FileTrackingEnv, or "" if none.
  static const std::string& LastFileRead();
};

// A LevelDB database together with the Env wrapper it was opened with.
struct LevelDbHandle {
  std::unique_ptr<FileTrackingEnv> env;
  std::unique_ptr<leveldb::DB> db;
  std::string path;

  LevelDbHandle() = default;
  LevelDbHandle(LevelDbHandle&&) = default;
  LevelDbHandle& operator=(LevelDbHandle&&) = default;
  ~LevelDbHandle() { db.reset(); }  // close the db before its env goes
};

struct LevelDbOpenOptions {
  // The Env LevelDB does its file I/O through; nullptr means
  // leveldb::Env::Default(). Tests pass a fault-injecting Env here. Not owned;
  // must outlive the handle.
  leveldb::Env* base_env = nullptr;
  size_t write_buffer_bytes = 4 << 20;
};

// Opens (creating if missing) the database in directory `path`.
absl::StatusOr<LevelDbHandle> OpenLevelDb(const std::string& path,
                                          const LevelDbOpenOptions& options);

// Maps a failed LevelDB status to a one-line absl::Status about `path`:
// in use by another process -> kFailedPrecondition; corruption -> kDataLoss
// naming the file; disk full -> kResourceExhausted; permission denied ->
// kPermissionDenied; other I/O -> kUnavailable. `what` says what was being done
// ("opening", "appending to").
absl::Status LevelDbError(const leveldb::Status& status, absl::string_view what,
                          absl::string_view path);

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_LEVELDB_ENV_H_

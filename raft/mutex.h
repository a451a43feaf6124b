// Mutex and MutexLock: the project's exclusive lock, a std::mutex with
// Abseil's thread-safety annotations, so that both Clang's -Wthread-safety
// and ThreadSanitizer see it. (Debian's Abseil is not built with TSan, so the
// ordering absl::Mutex provides is invisible to it and every field it guards
// would be reported as racy; std::mutex goes through pthread, which TSan
// intercepts.)
//
// Thread safety: that is its job. Invariant: Unlock() only by the holder.
#ifndef RAFTKV_RAFT_MUTEX_H_
#define RAFTKV_RAFT_MUTEX_H_

#include <mutex>

#include "absl/base/thread_annotations.h"

namespace raftkv {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

// Holds `mu` for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace raftkv

#endif  // RAFTKV_RAFT_MUTEX_H_

// StorageWorker: the production OffLoopExecutor (kv/driver.h). One thread runs
// storage jobs (fsyncs, snapshot installs, compactions) one at a time, in the
// order submitted, so nothing on the event loop waits for the disk; each job's
// completion is handed back to the loop through a kj cross-thread promise.
//
// Thread safety: Run() is called on the loop thread that constructed the
// worker; jobs run on the worker thread; completions run on the loop thread.
// Invariant: the destructor waits for the job in progress and drops the
// completions of every job not yet reported, so none reaches a destroyed
// driver.
#ifndef RAFTKV_KV_STORAGE_WORKER_H_
#define RAFTKV_KV_STORAGE_WORKER_H_

#include <kj/async.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "kv/driver.h"

namespace raftkv::kv {

class StorageWorker final : public OffLoopExecutor {
 public:
  // `observe`, if set, gets each job's duration in seconds, on the worker
  // thread.
  explicit StorageWorker(std::function<void(double)> observe = nullptr);
  ~StorageWorker() override;

  void Run(std::function<absl::Status()> job,
           std::function<void(absl::Status)> done) override;

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;    // guarded by mu_
  bool stop_ = false;                         // guarded by mu_
  std::unique_ptr<kj::TaskSet> completions_;  // loop thread only
  const std::function<void(double)> observe_;
  std::thread thread_;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_STORAGE_WORKER_H_

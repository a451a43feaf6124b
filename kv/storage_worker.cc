#include "kv/storage_worker.h"

#include <memory>
#include <utility>

namespace raftkv::kv {
namespace {

class IgnoreErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}
};
IgnoreErrors ignore_errors;

}  // namespace

StorageWorker::StorageWorker()
    : completions_(std::make_unique<kj::TaskSet>(ignore_errors)),
      thread_([this] { Loop(); }) {}

StorageWorker::~StorageWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  completions_.reset();
}

void StorageWorker::Run(std::function<absl::Status()> job,
                        std::function<void(absl::Status)> done) {
  // The worker fulfills a cross-thread promise and goes back to its queue at
  // once; the loop picks the completion up on its next turn.
  auto paf = kj::newPromiseAndCrossThreadFulfiller<absl::Status>();
  auto fulfiller =
      std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<absl::Status>>>(
          kj::mv(paf.fulfiller));
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(
        [job = std::move(job), fulfiller] { (*fulfiller)->fulfill(job()); });
  }
  cv_.notify_one();
  completions_->add(paf.promise.then(
      [done = std::move(done)](absl::Status status) { done(status); }));
}

void StorageWorker::Loop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace raftkv::kv

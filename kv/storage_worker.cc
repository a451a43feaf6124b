#include "kv/storage_worker.h"

#include <chrono>
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

StorageWorker::StorageWorker(std::function<void(double)> observe)
    : completions_(std::make_unique<kj::TaskSet>(ignore_errors)),
      observe_(std::move(observe)),
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
  // once; the loop picks the completion up on its next turn. The status
  // crosses under mu_: KJ's own cross-thread wake-up uses futexes that
  // ThreadSanitizer cannot see, and the mutex gives it the happens-before edge
  // from everything the job wrote to everything the completion reads.
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  auto fulfiller =
      std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<void>>>(
          kj::mv(paf.fulfiller));
  auto result = std::make_shared<absl::Status>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back([this, job = std::move(job), fulfiller, result] {
      const auto start = std::chrono::steady_clock::now();
      absl::Status status = job();
      if (observe_) {
        observe_(std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start)
                     .count());
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        *result = std::move(status);
      }
      (*fulfiller)->fulfill();
    });
  }
  cv_.notify_one();
  completions_->add(paf.promise.then([this, result, done = std::move(done)]() {
    absl::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      status = *result;
    }
    done(status);
  }));
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

#include "testing/nemesis/clients.h"

#include <map>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kv/client.h"

namespace raftkv::testing {

using linearizability::Operation;
using linearizability::OpKind;

uint64_t Recorder::Now() const {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start_)
          .count());
}

void Recorder::Add(Operation op) {
  std::lock_guard<std::mutex> lock(mu_);
  history_.push_back(std::move(op));
}

std::vector<Operation> Recorder::History() {
  std::lock_guard<std::mutex> lock(mu_);
  return history_;
}

// One client: its own session, thread and event loop; one operation at a
// time until `stop`.
void ClientLoop(uint64_t id, const std::string& cluster, uint64_t seed,
                int keys, const std::atomic<bool>& stop,
                std::atomic<int>& completed, Recorder& recorder) {
  auto created = kv::Client::Create({cluster, 1500, true});
  if (!created.ok()) return;
  kv::Client& client = **created;
  std::mt19937_64 rng(seed);
  std::map<std::string, std::optional<std::string>> last_seen;
  for (uint64_t n = 1; !stop; ++n) {
    Operation op;
    op.client = id;
    op.key = absl::StrCat("k", rng() % static_cast<uint64_t>(keys));
    const uint64_t pick = rng() % 100;
    op.invoke = recorder.Now();
    if (pick < 35) {
      op.kind = OpKind::kPut;
      op.value = absl::StrCat(id, ".", n);
      op.known = client.Put(op.key, op.value).ok();
    } else if (pick < 70) {
      op.kind = OpKind::kGet;
      auto value = client.Get(op.key);
      op.known = value.ok();
      if (value.ok()) {
        op.output = *value;
        last_seen[op.key] = *value;
      }
    } else if (pick < 80) {
      op.kind = OpKind::kDelete;
      auto deleted = client.Delete(op.key);
      op.known = deleted.ok();
      if (deleted.ok()) op.ok = *deleted;
    } else {
      op.kind = OpKind::kCas;
      op.expected = last_seen[op.key];
      op.value = absl::StrCat(id, ".", n);
      auto cas = client.CompareAndSwap(op.key, op.expected, op.value);
      op.known = cas.ok();
      if (cas.ok()) {
        op.ok = cas->swapped;
        // A failed cas reports the value it found instead.
        if (!cas->swapped) op.output = cas->current;
        last_seen[op.key] =
            cas->swapped ? std::optional<std::string>(op.value) : cas->current;
      }
    }
    op.ret = recorder.Now();
    recorder.Add(std::move(op));
    ++completed;
  }
}

void PinnedClient(const std::string& addresses, uint64_t client_id, int keys,
                  bool writes, const std::atomic<bool>& stop,
                  std::atomic<int>& done, Recorder& recorder) {
  auto created = kv::Client::Create({addresses, 1000, true});
  if (!created.ok()) return;
  for (uint64_t n = 0; !stop; ++n) {
    Operation op;
    op.client = client_id;
    op.key = absl::StrCat("k", n % static_cast<uint64_t>(keys));
    op.invoke = recorder.Now();
    if (writes) {
      op.kind = OpKind::kPut;
      op.value = absl::StrCat(client_id, ".", n);
      op.known = (*created)->Put(op.key, op.value).ok();
    } else {
      op.kind = OpKind::kGet;
      auto value = (*created)->Get(op.key);
      op.known = value.ok();
      if (value.ok()) op.output = *value;
    }
    op.ret = recorder.Now();
    recorder.Add(std::move(op));
    ++done;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace raftkv::testing

// The nemesis's clients: each its own kv::Client (session, thread, event
// loop), one operation at a time, every operation recorded with its invoke and
// return time and outcome for testing/linearizability (an error is an unknown
// outcome, never a failure).
//
// Thread safety: Recorder is shared by every client thread (one lock); each
// client function runs on its own thread until `stop`.
#ifndef RAFTKV_TESTING_NEMESIS_CLIENTS_H_
#define RAFTKV_TESTING_NEMESIS_CLIENTS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "testing/linearizability/checker.h"

namespace raftkv::testing {

// Every client's operations, stamped in microseconds since the run began.
class Recorder {
 public:
  uint64_t Now() const;
  void Add(linearizability::Operation op);
  std::vector<linearizability::Operation> History();

 private:
  const std::chrono::steady_clock::time_point start_ =
      std::chrono::steady_clock::now();
  std::mutex mu_;
  std::vector<linearizability::Operation> history_;
};

// A client of the whole cluster: put / linearizable get / delete / cas over
// `keys` keys in a seeded mix.
void ClientLoop(uint64_t id, const std::string& cluster, uint64_t seed,
                int keys, const std::atomic<bool>& stop,
                std::atomic<int>& completed, Recorder& recorder);

// A client that only knows `addresses`: puts of fresh values (every key in
// turn) or linearizable gets, one every 10 ms.
void PinnedClient(const std::string& addresses, uint64_t client_id, int keys,
                  bool writes, const std::atomic<bool>& stop,
                  std::atomic<int>& done, Recorder& recorder);

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_NEMESIS_CLIENTS_H_

// A linearizability checker for key-value histories: the Wing & Gong search
// with Lowe's memoization (the algorithm of Porcupine and Knossos), over a
// register-per-key model, checked one key at a time (a history is
// linearizable if and only if each key's sub-history is, because every
// operation touches one key; Herlihy & Wing's locality).
//
// An operation's interval runs from its invoke time to its return time. An
// operation whose outcome is unknown (a timeout, a lost connection, a crashed
// node) has no return: it may take effect at any point after its invoke, or
// never, and its output constrains nothing. A read with an unknown outcome
// changes nothing and is dropped. Operations with equal times are treated as
// concurrent, so ties never produce a false violation.
//
// Thread safety: pure functions. Invariant: Check() never reports a violation
// for a history that has a linearization (a search budget that runs out is
// reported as inconclusive, not as a violation).
#ifndef RAFTKV_TESTING_LINEARIZABILITY_CHECKER_H_
#define RAFTKV_TESTING_LINEARIZABILITY_CHECKER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace raftkv::testing::linearizability {

enum class OpKind : uint8_t { kPut, kGet, kDelete, kCas };

struct Operation {
  uint64_t client = 0;
  OpKind kind = OpKind::kGet;
  std::string key;
  std::string value;                    // put, cas: the value written
  std::optional<std::string> expected;  // cas: nullopt means "expect absent"
  uint64_t invoke = 0;
  uint64_t ret = 0;   // ignored when !known
  bool known = true;  // false: the outcome is unknown
  // Outcome when known. put: always true. delete: true if it deleted, false
  // if the key was absent. cas: true if it swapped, false if the compare
  // failed.
  bool ok = true;
  std::optional<std::string> output;  // get: the value read (nullopt: absent)
};

struct CheckResult {
  bool linearizable = true;
  bool inconclusive = false;  // the search budget ran out on some key
  size_t keys = 0;
  size_t operations = 0;  // operations checked (unknown reads dropped)
  // On a violation: the key, and its smallest failing sub-history (the
  // shortest failing prefix in time, with writes open at its end as unknown,
  // then reads and writes without effect removed while it stays
  // non-linearizable), one operation per line with its invoke and return
  // times.
  std::string key;
  std::string explanation;
};

// `max_steps_per_key` bounds the search on each key.
CheckResult Check(const std::vector<Operation>& history,
                  uint64_t max_steps_per_key = 50'000'000);

// One line: "[invoke, return] client C: put k=v -> ok".
std::string Describe(const Operation& op);

}  // namespace raftkv::testing::linearizability

#endif  // RAFTKV_TESTING_LINEARIZABILITY_CHECKER_H_

#include "testing/linearizability/checker.h"

#include <algorithm>
#include <map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace raftkv::testing::linearizability {
namespace {

constexpr uint64_t kNever = UINT64_MAX;

using State = std::optional<std::string>;

// The register model of one key. Returns whether `op` may take effect on
// `state` with the outcome it reported, and the state after it.
bool Step(const State& state, const Operation& op, State* next) {
  *next = state;
  switch (op.kind) {
    case OpKind::kPut:
      *next = op.value;
      return true;
    case OpKind::kGet:
      return !op.known || op.output == state;
    case OpKind::kDelete:
      *next = std::nullopt;
      return !op.known || op.ok == state.has_value();
    case OpKind::kCas: {
      const bool matches = op.expected.has_value()
                               ? state.has_value() && *state == *op.expected
                               : !state.has_value();
      if (matches) *next = op.value;
      if (!op.known) return true;
      if (op.ok != matches) return false;
      // A failed cas reports the current value it saw.
      return op.ok || op.output == state;
    }
  }
  return false;
}

struct Event {
  size_t op;
  bool is_call;
  Event* match = nullptr;
  Event* prev = nullptr;
  Event* next = nullptr;
};

void Lift(Event* call) {
  call->prev->next = call->next;
  call->next->prev = call->prev;
  Event* ret = call->match;
  ret->prev->next = ret->next;
  if (ret->next != nullptr) ret->next->prev = ret->prev;
}

void Unlift(Event* call) {
  Event* ret = call->match;
  ret->prev->next = ret;
  if (ret->next != nullptr) ret->next->prev = ret;
  call->prev->next = call;
  call->next->prev = call;
}

enum class Verdict { kLinearizable, kViolation, kInconclusive };

// Wing & Gong's search over one key's operations, with Lowe's cache of
// (operations linearized, state) pairs already explored.
Verdict CheckKey(const std::vector<Operation>& ops, uint64_t max_steps) {
  const size_t n = ops.size();
  std::vector<Event> events;
  events.reserve(2 * n + 1);
  events.push_back(Event{n, false});  // sentinel head
  std::vector<std::pair<std::pair<uint64_t, int>, size_t>> order;
  for (size_t i = 0; i < n; ++i) {
    order.push_back({{ops[i].invoke, 0}, 2 * i});
    order.push_back({{ops[i].known ? ops[i].ret : kNever, 1}, 2 * i + 1});
  }
  // Calls before returns at equal times: ties count as concurrent.
  std::sort(order.begin(), order.end());
  std::vector<Event*> by_id(2 * n);
  for (const auto& [when, id] : order) {
    events.push_back(Event{id / 2, id % 2 == 0});
    by_id[id] = &events.back();
  }
  for (size_t i = 0; i < n; ++i) {
    by_id[2 * i]->match = by_id[2 * i + 1];
  }
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    events[i].next = &events[i + 1];
    events[i + 1].prev = &events[i];
  }
  Event* head = &events[0];

  std::vector<uint64_t> linearized((n + 63) / 64, 0);
  std::unordered_set<std::string> cache;
  auto cache_key = [&](const State& state) {
    std::string key(reinterpret_cast<const char*>(linearized.data()),
                    linearized.size() * sizeof(uint64_t));
    key.push_back(state.has_value() ? 1 : 0);
    if (state.has_value()) key += *state;
    return key;
  };
  struct Frame {
    Event* call;
    State state;
  };
  std::vector<Frame> stack;
  State state;
  Event* entry = head->next;
  uint64_t steps = 0;
  while (head->next != nullptr) {
    if (++steps > max_steps) return Verdict::kInconclusive;
    if (entry->is_call) {
      const Operation& op = ops[entry->op];
      State next;
      bool advanced = false;
      if (Step(state, op, &next)) {
        linearized[entry->op / 64] |= 1ull << (entry->op % 64);
        if (cache.insert(cache_key(next)).second) {
          stack.push_back({entry, state});
          state = std::move(next);
          Lift(entry);
          entry = head->next;
          advanced = true;
        } else {
          linearized[entry->op / 64] &= ~(1ull << (entry->op % 64));
        }
      }
      if (!advanced) entry = entry->next;
    } else {
      // An operation returned before any order explains it: backtrack.
      if (stack.empty()) return Verdict::kViolation;
      Frame frame = std::move(stack.back());
      stack.pop_back();
      state = std::move(frame.state);
      linearized[frame.call->op / 64] &= ~(1ull << (frame.call->op % 64));
      Unlift(frame.call);
      entry = frame.call->next;
    }
  }
  return Verdict::kLinearizable;
}

bool HasNoEffect(const Operation& op) {
  if (!op.known) return false;
  return op.kind == OpKind::kGet ||
         (op.kind != OpKind::kPut && !op.ok);  // failed cas, absent delete
}

// Removes operations without effect while the history stays
// non-linearizable. Removing a read only removes a constraint, so what
// remains is still a witness of the original violation.
std::vector<Operation> Shrink(std::vector<Operation> ops, uint64_t max_steps) {
  for (size_t i = ops.size(); i-- > 0;) {
    if (!HasNoEffect(ops[i])) continue;
    std::vector<Operation> fewer = ops;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(i));
    if (CheckKey(fewer, max_steps) == Verdict::kViolation)
      ops = std::move(fewer);
  }
  return ops;
}

// The operations a history had completed by time `t`: those that returned by
// then, with writes still open at `t` turned into unknown outcomes, and
// everything invoked later dropped. A violation among them is a violation of
// the whole history: nothing completed by `t` can have seen a write invoked
// after it, and an open write may take effect at any later point or never.
std::vector<Operation> CompletedBy(const std::vector<Operation>& ops,
                                   uint64_t t) {
  std::vector<Operation> out;
  for (const Operation& op : ops) {
    if (op.known && op.ret <= t) {
      out.push_back(op);
    } else if (op.invoke <= t && op.kind != OpKind::kGet) {
      Operation open = op;
      open.known = false;
      out.push_back(std::move(open));
    }
  }
  return out;
}

// The shortest failing prefix of a failing history, by binary search over
// return times.
std::vector<Operation> ShortestFailingPrefix(const std::vector<Operation>& ops,
                                             uint64_t max_steps) {
  std::vector<uint64_t> times;
  for (const Operation& op : ops) {
    if (op.known) times.push_back(op.ret);
  }
  std::sort(times.begin(), times.end());
  size_t lo = 0, hi = times.size();  // the prefix up to times[hi - 1] fails
  while (lo + 1 < hi) {
    const size_t mid = (lo + hi) / 2;
    if (CheckKey(CompletedBy(ops, times[mid - 1]), max_steps) ==
        Verdict::kViolation) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  if (hi == 0) return ops;
  std::vector<Operation> prefix = CompletedBy(ops, times[hi - 1]);
  return CheckKey(prefix, max_steps) == Verdict::kViolation ? prefix : ops;
}

std::string Show(const std::optional<std::string>& value) {
  return value.has_value() ? absl::StrCat("\"", *value, "\"") : "absent";
}

}  // namespace

std::string Describe(const Operation& op) {
  std::string what;
  switch (op.kind) {
    case OpKind::kPut:
      what = absl::StrCat("put ", op.key, "=", op.value);
      break;
    case OpKind::kGet:
      what = absl::StrCat("get ", op.key);
      break;
    case OpKind::kDelete:
      what = absl::StrCat("delete ", op.key);
      break;
    case OpKind::kCas:
      what = absl::StrCat("cas ", op.key, " ", Show(op.expected), " -> \"",
                          op.value, "\"");
      break;
  }
  std::string outcome;
  if (!op.known) {
    outcome = "unknown outcome";
  } else if (op.kind == OpKind::kGet) {
    outcome = Show(op.output);
  } else if (op.kind == OpKind::kPut) {
    outcome = "ok";
  } else if (op.kind == OpKind::kDelete) {
    outcome = op.ok ? "ok" : "not found";
  } else {
    outcome =
        op.ok ? "ok" : absl::StrCat("compare failed, was ", Show(op.output));
  }
  return absl::StrCat("[", op.invoke, ", ",
                      op.known ? absl::StrCat(op.ret) : std::string("never"),
                      "] client ", op.client, ": ", what, " -> ", outcome);
}

CheckResult Check(const std::vector<Operation>& history,
                  uint64_t max_steps_per_key) {
  std::map<std::string, std::vector<Operation>> by_key;
  CheckResult result;
  for (const Operation& op : history) {
    if (op.kind == OpKind::kGet && !op.known) continue;
    by_key[op.key].push_back(op);
    ++result.operations;
  }
  result.keys = by_key.size();
  std::vector<Operation> smallest;
  for (const auto& [key, ops] : by_key) {
    const Verdict verdict = CheckKey(ops, max_steps_per_key);
    if (verdict == Verdict::kInconclusive) result.inconclusive = true;
    if (verdict != Verdict::kViolation) continue;
    std::vector<Operation> witness = Shrink(
        ShortestFailingPrefix(ops, max_steps_per_key), max_steps_per_key);
    if (result.linearizable || witness.size() < smallest.size()) {
      result.linearizable = false;
      result.key = key;
      smallest = std::move(witness);
    }
  }
  if (!result.linearizable) {
    std::sort(smallest.begin(), smallest.end(),
              [](const Operation& a, const Operation& b) {
                return a.invoke < b.invoke;
              });
    result.explanation =
        absl::StrCat("history of key ", result.key, " is not linearizable (",
                     smallest.size(), " operations):");
    for (const Operation& op : smallest)
      absl::StrAppend(&result.explanation, "\n  ", Describe(op));
  }
  return result;
}

}  // namespace raftkv::testing::linearizability

// The simulator's model of one node and of what is in flight: the pieces a run
// is made of, apart from the run loop and its checks (simulator.cc). Thread
// safety: plain data, owned by one Simulation. Invariants: SimNode::chain[i] is
// the hash of the node's durable log through index i; commands only grows
// between crashes.
#ifndef RAFTKV_TESTING_SIM_SIM_STATE_H_
#define RAFTKV_TESTING_SIM_SIM_STATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "raft/core.h"
#include "storage/memory_log_storage.h"

namespace raftkv::testing::sim {

using raft::Core;
using raft::Entry;
using raft::LogIndex;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Ready;
using raft::Role;
using raft::Term;

inline uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

inline uint64_t HashEntry(uint64_t prev, Term term, const std::string& data) {
  uint64_t h = Mix(prev, term);
  for (char c : data) h = Mix(h, static_cast<uint8_t>(c));
  return Mix(h, data.size());
}

// The state machine: the set of command ids applied, serialized as "id,id,...".
inline std::string EncodeState(const std::set<uint64_t>& commands) {
  std::string out;
  for (uint64_t id : commands) absl::StrAppend(&out, id, ",");
  return out;
}

inline std::set<uint64_t> DecodeState(const std::string& data) {
  std::set<uint64_t> commands;
  for (absl::string_view part : absl::StrSplit(data, ',', absl::SkipEmpty())) {
    uint64_t id = 0;
    if (absl::SimpleAtoi(part, &id)) commands.insert(id);
  }
  return commands;
}

struct InFlight {
  uint64_t deliver_at;
  uint64_t seq;
  Message message;
  bool operator>(const InFlight& other) const {
    return deliver_at != other.deliver_at ? deliver_at > other.deliver_at
                                          : seq > other.seq;
  }
};

struct SimNode {
  NodeId id = 0;
  storage::MemoryLogStorage
      storage;                 // what this node has synced: survives crashes
  std::unique_ptr<Core> core;  // null while crashed
  uint64_t incarnation = 0;
  uint64_t restart_at = 0;
  uint64_t tick_period = 10;
  uint64_t next_tick_at = 0;
  std::optional<Ready> pending_write;
  uint64_t write_done_at = 0;
  // Volatile state machine, rebuilt from the durable snapshot on restart.
  std::set<uint64_t> commands;
  LogIndex applied = 0;
  // Durable state machine snapshot (what storage's compaction point stands
  // for).
  LogIndex snap_index = 0;
  std::string snap_data;
  // Hash chain of the durable log: chain[i] covers entries 1..i.
  std::vector<uint64_t> chain{0};
  LogIndex last_commit_seen = 0;
  // acked_[0, acked_verified) are known to be in `commands` (which only grows
  // until a crash).
  size_t acked_verified = 0;
  // Log index -> command id this incarnation proposed there.
  std::map<LogIndex, uint64_t> proposals;
};

struct PendingRead {
  NodeId node;
  uint64_t incarnation;
  size_t acked_before;  // every write acknowledged before the read began
  std::optional<LogIndex> index;
};

}  // namespace raftkv::testing::sim

#endif  // RAFTKV_TESTING_SIM_SIM_STATE_H_
